"""Turn generated `Source` into a callable.

`compile_source(src, cache_dir, jit=True, signature_args=None)` writes the text to
`<folder>/<code_hash(text)[:20]>/<name>.py` (see `codegen.cache`: the hash leaves comment
lines out, so the same code generated from another script shares the entry; the folder is
checked, the file is written atomically and only when it differs), compiles the text *in
memory* into a module of its own (no bytecode file is written or read, and the module is not left in
`sys.modules`), and returns the `numba.njit(fastmath=False, error_model='numpy')` dispatcher
with adjit's verified disk cache (`codegen.kernelcache`); with `jit=False`, the plain Python
function. The module's other functions (`src.callees`: the sub-graphs of `cond` and `while`)
become numba callees of the main function (plain Python with `jit=False`); their machine code
is linked into the caller's, so the caller's cache entry holds everything. A split function
(`src.parts`, codegen/split.py) is its plain-Python driver, each piece a dispatcher of its own
(`fn.parts`, by name) with its own cache entry, compiled at its first call.

The returned object carries `__source__` (the text) and `__source_path__` (the file), and the
traceback machinery reads the text from memory (`linecache`) while the function lives, so a
changed file cannot make a traceback lie. numba compiles lazily at the first call;
`compile_for(fn, *args)` (or `signature_args=`) compiles for those arguments' types now.
Either way a numba failure is raised as `adjit.CodegenError` naming the generated file and
line, never as a numba traceback. With `worker=True`, a kernel that is not on disk yet is
compiled by a helper process (`codegen.worker`: numba never frees compiler memory) and loaded
from the cache entry it writes. Each compilation is logged (logger "adjit", INFO): what, how
(compiled, or loaded from the disk cache) and how long.
"""
from __future__ import annotations

import contextlib
import linecache
import logging
import pathlib
import re
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from adjit.ir.errors import CodegenError
from adjit.runtime.gcpause import gc_paused

from . import cache, conv_kernels, fastmath, fft_kernels, linalg_kernels, parallel, special
from .cpu_module import Source
from .library_calls import Library

log = logging.getLogger("adjit")


def source_path(src: Source, cache_dir: pathlib.Path) -> pathlib.Path:
    return cache.open_folder(cache_dir).source_path(src.text, src.name)


def write_source(src: Source, cache_dir: pathlib.Path) -> pathlib.Path:
    """Write the text once; a file with the right content is left alone, a damaged one is
    replaced."""
    return cache.open_folder(cache_dir).write_source(src.text, src.name)


def _module(text: str, path: pathlib.Path, modname: str) -> types.ModuleType:
    """The text run as a module named `modname`, compiled from memory with `path` as its file
    name (tracebacks show its lines): no bytecode is read or written, and it is not put in
    `sys.modules` (see `_importable`)."""
    module = types.ModuleType(modname)
    module.__file__ = str(path)
    try:
        code = compile(text, str(path), "exec", dont_inherit=True)
        exec(code, module.__dict__)  # noqa: S102  (our own generated text, from memory)
    except Exception as e:  # noqa: BLE001  (any failure to load is our bug)
        raise CodegenError(f"generated source {path} does not load: {e}",
                           hint="this is an adjit bug; please report it with that file") from None
    return module


def _keep_lines(owner: Any, path: pathlib.Path, text: str) -> None:
    """Tracebacks and numba's messages read `path`'s lines from memory while `owner` lives."""
    key = str(path)
    linecache.cache[key] = (len(text), None, text.splitlines(keepends=True), key)
    weakref.finalize(owner, linecache.cache.pop, key, None)


_LIVE: dict[str, list[Any]] = {}  # module name -> [module, users]: see `_importable`
_LIVE_LOCK = threading.Lock()
_REGISTER_LOCK = threading.Lock()


@contextlib.contextmanager
def _importable(module: types.ModuleType) -> Iterator[None]:
    """numba imports a function's module by name while it compiles or loads it (its
    `Environment` holds the module's globals): the module is in `sys.modules` only then, so
    that a dropped function leaves nothing behind."""
    name = module.__name__
    with _LIVE_LOCK:
        slot = _LIVE.setdefault(name, [module, 0])
        slot[1] += 1
        sys.modules[name] = slot[0]
    try:
        yield
    finally:
        with _LIVE_LOCK:
            slot[1] -= 1
            if slot[1] == 0:
                del _LIVE[name]
                if sys.modules.get(name) is slot[0]:
                    del sys.modules[name]


class _IEEEMath:
    """`math` (or `cmath`) for generated code run as plain Python. Python's `math` calls the
    C library numba calls, so the numbers are numba's to the last bit (numpy's own exp or
    tanh can differ by an ulp); where Python raises instead of following IEEE (exp overflow,
    log(0), sqrt(-1), cmath.log(0j)), numpy's function of the same name gives the IEEE
    value. Results are numpy scalars (float64, complex128), so the code's own divisions by
    zero give inf, as numba's do."""

    _NAMES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "atan2": "arctan2",
              "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh", "pow": "power",
              "fabs": "fabs"}

    def __init__(self, module: str = "math") -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        import importlib

        import numpy as np

        exact = getattr(importlib.import_module(self._module), name)
        ieee = getattr(np, self._NAMES.get(name, name), None)
        if not isinstance(ieee, np.ufunc):
            return exact

        def call(*a: Any) -> Any:
            try:
                r = exact(*a)
            except (OverflowError, ValueError, ZeroDivisionError):
                with np.errstate(all="ignore"):  # numba does not warn either
                    return ieee(*[np.complex128(x) if type(x) is complex else
                                  np.float64(x) if isinstance(x, (int, float)) else x
                                  for x in a])
            return np.float64(r) if type(r) is float else \
                np.complex128(r) if type(r) is complex else r

        setattr(self, name, call)
        return call


IEEE_MATH = _IEEEMath()
IEEE_CMATH = _IEEEMath("cmath")


def compile_source(src: Source, cache_dir: pathlib.Path | cache.Folder, jit: bool = True,
                   signature_args: Sequence[Any] | None = None, *, worker: bool = False,
                   ) -> Callable[..., Any]:
    """The compiled function for `src` (see the module docstring)."""
    folder = cache_dir if isinstance(cache_dir, cache.Folder) else cache.open_folder(cache_dir)
    if src.parts and jit:
        return _compile_split(src, folder, worker)
    path = folder.write_source(src.text, src.name)
    # numba names the module in its compiled code: the same name in every process.
    modname = f"adjit_generated_{path.parent.name}" + ("" if jit else "_py")
    module = _module(src.text, path, modname)
    fn = getattr(module, src.name, None)
    if fn is None:
        raise CodegenError(f"generated source {path} has no function {src.name!r}")
    if not jit:
        # numba's math follows IEEE (sqrt(-1) is NaN, 1/0 is inf); Python's raises. The
        # plain-Python rendering computes with numpy scalars instead, so both agree.
        module.math = IEEE_MATH
        if hasattr(module, "cmath"):
            module.cmath = IEEE_CMATH
        fn.__source__ = src.text
        fn.__source_path__ = str(path)
        _keep_lines(fn, path, src.text)
        return fn
    import numba

    from .kernelcache import KernelCache

    # numba's implementations of the `fm.*`, `ck.*`, `lk.*`, `fk.*`, `sf.*` calls, registered
    # only for a text that imports them (codegen/cpu.py `_header`): each registration adds to
    # what numba's typing context installs when it starts, which every process's first kernel,
    # a cache hit too, waits for; special imports scipy. Under a lock: a background compile
    # (runtime/background.py) may run this too.
    with _REGISTER_LOCK, gc_paused():  # (bounded work, once per process: runtime/gcpause.py)
        for lib in (fastmath, conv_kernels, linalg_kernels, fft_kernels, special):
            if f"from adjit.codegen import {lib.__name__.rpartition('.')[2]} as" in src.text:
                if lib is fastmath:  # (which caches its compiled implementations there)
                    fastmath.register(folder)
                else:
                    lib.register()
    # The sub-graph functions of control flow become numba callees: the main function
    # resolves them from its module's globals when it is compiled.
    for callee in src.callees:
        f = getattr(module, callee)
        if not isinstance(f, numba.core.dispatcher.Dispatcher):
            setattr(module, callee, numba.njit(fastmath=False, error_model="numpy")(f))
    # a multi-core loop (codegen/parallel.py) needs numba's parallel backend
    if "prange(" in src.text:
        parallel.configure()
    disp = numba.njit(fastmath=False, error_model="numpy",
                      parallel="prange(" in src.text)(fn)
    on_miss = None
    if worker:
        from . import worker as worker_mod

        def on_miss(sig: Any) -> bool:
            return worker_mod.fill(folder, src, sig)

    disp._cache = KernelCache(folder, src.text, src.name, on_miss)
    disp.__source__ = src.text
    disp.__source_path__ = str(path)
    disp.__adjit_module__ = module
    _keep_lines(disp, path, src.text)
    lazy = disp._compile_for_args

    def compile_for_args(*args: Any, **kws: Any) -> Any:
        # numba calls this on a first call with new argument types: wrap its errors.
        return _guarded(disp, lambda: lazy(*args, **kws))

    disp._compile_for_args = compile_for_args
    if signature_args is not None:
        compile_for(disp, *signature_args)
    return disp


def _compile_split(src: Source, folder: cache.Folder, worker: bool) -> Callable[..., Any]:
    """A split function (codegen/split.py): the module's plain-Python driver, calling each
    piece compiled by numba with a disk-cache entry of its own (`fn.parts`, by name)."""
    path = folder.write_source(src.text, src.name)
    module = _module(src.text, path, f"adjit_generated_{path.parent.name}_split")
    parts = {}
    for part in src.parts:
        parts[part.name] = compile_source(part, folder, worker=worker)
        setattr(module, part.name, parts[part.name])
    # the driver's convolutions call kernels compiled once for every caller
    module.ck = Library(lambda lib: compile_source(lib, folder, worker=worker))
    fn = getattr(module, src.name)
    fn.__source__ = src.text
    fn.__source_path__ = str(path)
    fn.parts = parts
    _keep_lines(fn, path, src.text)
    return fn


def compile_for(fn: Any, *args: Any) -> Any:
    """Compile dispatcher `fn` for the types of `args` now (a cache hit loads it from disk)."""
    import numba

    if not hasattr(fn, "compile"):
        return fn  # plain Python (jit=False)
    sig = tuple(numba.typeof(a) for a in args)
    _guarded(fn, lambda: fn.compile(sig))
    return fn


def _guarded(disp: Any, compile: Callable[[], Any]) -> Any:
    """Run a numba compile with the module importable; a numba error becomes a CodegenError,
    and a cache entry that fails to load is removed and compiled afresh."""
    import numba

    path = pathlib.Path(getattr(disp, "__source_path__", "?"))
    text = getattr(disp, "__source__", "")
    module = getattr(disp, "__adjit_module__", None)
    cache_ = getattr(disp, "_cache", None)
    before = len(disp.overloads)
    start = time.perf_counter()
    for attempt in (0, 1):
        try:
            with _importable(module) if module is not None else contextlib.nullcontext():
                result = compile()
            break
        except numba.core.errors.NumbaError as e:
            raise _codegen_error(e, path, text) from None
        except Exception as e:  # noqa: BLE001  (numba's loader raises anything)
            if attempt or cache_ is None or not hasattr(cache_, "flush"):
                raise CodegenError(f"could not compile or load the generated kernel {path}: "
                                   f"{type(e).__name__}: {e}",
                                   hint="run `python -m adjit cache clear` and retry") from None
            cache_.flush()
    if len(disp.overloads) > before and log.isEnabledFor(logging.INFO):
        sig = ", ".join(str(t) for t in list(disp.overloads)[-1])
        last = getattr(cache_, "last", None)
        how = last[0] if last else "compiled by numba (not in the disk cache)"
        log.info("numba: %s(%s) %s in %.1f ms", disp.__name__, sig, how,
                 (time.perf_counter() - start) * 1e3)
    return result


def _codegen_error(e: Exception, path: pathlib.Path, text: str) -> CodegenError:
    msg = str(e)
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip() and not ln.startswith("During")]
    first = "; ".join(lines[:2]) or type(e).__name__
    detail = ""
    m = re.search(re.escape(path.name) + r'", line (\d+)', msg)
    if m and text:
        lines = text.splitlines()
        n = int(m.group(1))
        code = lines[n - 1].strip() if 0 < n <= len(lines) else ""
        eqn = next((ln.strip() for ln in reversed(lines[:n - 1]) if ln.strip().startswith("# %")),
                   "")
        detail = f"\n  line {n}: {code}" + (f"\n  from {eqn[2:]}" if eqn else "")
    return CodegenError(f"numba could not compile the generated kernel {path}: {first}{detail}",
                        hint="this is an adjit bug; the generated source is kept at that path")
