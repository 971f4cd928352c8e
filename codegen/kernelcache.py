"""numba's disk cache for one generated module, reading only what `cache.Folder` verified.

numba's own cache (`njit(cache=True)`) unpickles its index file before it checks anything, finds
its files through the module's path and trusts them by name. `KernelCache` replaces it on the
dispatcher (`disp._cache`): one file per argument signature, `<entry>/<tag>.nbk`, named by a
hash of the signature and of everything else the machine code depends on (CPU, numba, llvmlite,
Python), and unpickled only after its HMAC, which also binds it to the module's text, is
verified. `on_miss(sig)`, when given, may fill a missing file (a compile worker); numba compiles
in this process otherwise, and the result is saved.
"""
from __future__ import annotations

import hashlib
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import llvmlite
import numba
from numba.core import compiler, sigutils
from numba.core.caching import _Cache
from numba.core.serialize import dumps

from adjit.runtime.gcpause import gc_paused

from .cache import Folder, code_hash

log = logging.getLogger("adjit")


class KernelCache(_Cache):
    def __init__(self, folder: Folder, text: str, name: str,
                 on_miss: Callable[[Any], bool] | None = None) -> None:
        self.folder = folder
        self.entry = folder.entry(text)
        self.text_hash = code_hash(text)  # comment lines (file:line) left out
        self.name = name
        self.on_miss = on_miss
        self._enabled = True
        self.last: tuple[str, float] | None = None  # how the last load went, and its time

    @property
    def cache_path(self) -> str:
        return str(self.entry)

    def enable(self) -> None:
        self._enabled = True

    def disable(self) -> None:
        self._enabled = False

    def flush(self) -> None:
        self.folder.remove_kernels(self.entry)

    def tag(self, sig: Any, codegen: Any) -> str:
        args, _ = sigutils.normalize_signature(sig)
        key = (repr(tuple(args)), codegen.magic_tuple(), numba.__version__,
               llvmlite.__version__, sys.version, numba.config.OPT, numba.config.BOUNDSCHECK)
        return hashlib.sha256(repr(key).encode()).hexdigest()[:24]

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        if not self._enabled:
            return None
        start = time.perf_counter()
        with gc_paused():  # numba imports its lazily registered implementations here
            target_context.refresh()
        tag = self.tag(sig, target_context.codegen())
        payload = self.folder.read_kernel(self.entry, self.text_hash, tag)
        how = "loaded from the disk cache"
        if payload is None and self.on_miss is not None and self.on_miss(sig):
            payload = self.folder.read_kernel(self.entry, self.text_hash, tag)
            how = "compiled by the compile worker"
        if payload is None:
            self.last = None
            return None
        import pickle

        with gc_paused():
            cres = compiler.CompileResult._rebuild(target_context, *pickle.loads(payload))
        self.folder.touch(self.entry)
        self.last = (how, time.perf_counter() - start)
        return cres

    def save_overload(self, sig: Any, cres: Any) -> None:
        if not self._enabled:
            return
        if any(not x.can_cache for x in cres.lifted) or cres.library.has_dynamic_globals:
            log.info("%s cannot be cached on disk (numba: lifted code or dynamic "
                     "globals)", self.name)
            return
        tag = self.tag(sig, cres.codegen)
        try:
            self.folder.write_kernel(self.entry, self.text_hash, tag, dumps(cres._reduce()))
        except OSError as e:
            log.warning("could not write %s to the disk cache: %s", self.name, e)


def entry_of(disp: Any) -> Path | None:
    cache = getattr(disp, "_cache", None)
    return cache.entry if isinstance(cache, KernelCache) else None
