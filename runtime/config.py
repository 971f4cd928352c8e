"""The only module that reads adjit's environment variables.

ADJIT_CACHE_DIR   where generated source and compiled kernels are cached (default
                  ~/.cache/adjit); it must be yours and writable by no one else (codegen/cache.py)
ADJIT_CACHE_MAX_MB=500  the disk cache's size bound; least recently used entries go first
ADJIT_COMPILE_WORKER=0  compile in this process (default: kernels not on disk yet are compiled
                  by a helper process, whose compiler memory numba would otherwise never free)
ADJIT_LOG=compile report each compilation: what, why, how long (logger "adjit", INFO)
ADJIT_NOJIT=1     run the generated source as plain Python (debugging)
ADJIT_CHECKS=1    verify the IR after every pass
ADJIT_DUMP=after:prune[,after:simplify]  print the IR after the named passes
"""
from __future__ import annotations

import os
import pathlib
from typing import Any


def requested_cache_dir() -> pathlib.Path:
    """The cache folder asked for; `codegen.cache.open_folder` checks it before use."""
    root = os.environ.get("ADJIT_CACHE_DIR")
    if root:
        return pathlib.Path(root).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "adjit"


def cache_folder() -> Any:
    """The checked cache folder (`codegen.cache.Folder`): the requested one when it is safe,
    else a private temporary folder for this process (with a warning)."""
    from adjit.codegen.cache import open_folder

    return open_folder(requested_cache_dir(), cache_max_bytes())


def cache_dir() -> pathlib.Path:
    """The folder compiled code is cached in (see `cache_folder`)."""
    return cache_folder().path


def cache_max_bytes() -> int:
    text = os.environ.get("ADJIT_CACHE_MAX_MB", "").strip() or "500"
    try:
        mb = float(text)
    except ValueError:
        mb = -1.0
    if not mb > 0:
        raise ValueError(f"ADJIT_CACHE_MAX_MB must be a positive number of megabytes, got "
                         f"{text!r}")
    return int(mb * 2**20)


def compile_worker() -> bool:
    return os.environ.get("ADJIT_COMPILE_WORKER", "1") not in ("", "0")


def log_topics() -> set[str]:
    """ADJIT_LOG=compile[,...]: what to report on stderr."""
    return {t.strip() for t in os.environ.get("ADJIT_LOG", "").split(",") if t.strip()}


def nojit() -> bool:
    return os.environ.get("ADJIT_NOJIT", "") not in ("", "0")


def checks() -> bool:
    return os.environ.get("ADJIT_CHECKS", "") not in ("", "0")


def dump_after() -> set[str]:
    spec = os.environ.get("ADJIT_DUMP", "")
    return {part.split(":", 1)[1] for part in spec.split(",") if part.startswith("after:")}
