"""Turn generated `Source` into a callable.

`compile_source(src, cache_dir, jit=True, signature_args=None)` writes the text to
`cache_dir/<sha256(text)[:20]>.py` (atomically, and only when the file is not there, so its
mtime stays put and numba's on-disk cache, `njit(cache=True)`, hits in the next process),
imports it by path, and returns the `numba.njit(cache=True, fastmath=False,
error_model='numpy')` dispatcher; with `jit=False`, the plain Python function. The module's
other functions (`src.callees`: the sub-graphs of `cond` and `while`) are compiled the same
way, as numba callees of the main function; with `jit=False` they stay plain Python too.

The returned object carries `__source__` (the text) and `__source_path__` (the file). numba
compiles lazily at the first call; `compile_for(fn, *args)` (or `signature_args=`) compiles
for those arguments' types now. Either way a numba failure is raised as
`adjit.CodegenError` naming the generated file and line, never as a numba traceback.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import pathlib
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from adjit.ir.errors import CodegenError

from . import conv_kernels, fastmath
from .cpu import Source


def source_path(src: Source, cache_dir: pathlib.Path) -> pathlib.Path:
    digest = hashlib.sha256(src.text.encode()).hexdigest()[:20]
    return pathlib.Path(cache_dir) / f"{digest}.py"


def write_source(src: Source, cache_dir: pathlib.Path) -> pathlib.Path:
    """Write the text once; a file with the right content is left alone (numba's cache keys
    on its mtime), a damaged one is replaced."""
    cache_dir = pathlib.Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = source_path(src, cache_dir)
    try:
        if path.read_text() == src.text:
            return path
    except (OSError, UnicodeDecodeError):
        pass
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-", suffix=".py")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(src.text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _load(path: pathlib.Path, name: str, jit: bool = True) -> Callable[..., Any]:
    # numba's disk cache imports the function's module *by name* when it loads an entry, so
    # the name must be the same in every process: derive it from the file's hash. The plain
    # Python version is a module of its own, so that its callees stay plain functions.
    modname = f"adjit_generated_{path.stem}" + ("" if jit else "_py")
    module = sys.modules.get(modname)
    if module is None or getattr(module, "__file__", None) != str(path):
        spec = importlib.util.spec_from_file_location(modname, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[modname] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001  (any failure to load is our bug)
            sys.modules.pop(modname, None)
            raise CodegenError(f"generated source {path} does not load: {e}",
                               hint="this is an adjit bug; please report it with that "
                                    "file") from None
    fn = getattr(module, name, None)
    if fn is None:
        raise CodegenError(f"generated source {path} has no function {name!r}")
    return fn


def compile_source(src: Source, cache_dir: pathlib.Path, jit: bool = True,
                   signature_args: Sequence[Any] | None = None) -> Callable[..., Any]:
    """The compiled function for `src` (see the module docstring)."""
    path = write_source(src, cache_dir)
    fn = _load(path, src.name, jit)
    if not jit:
        fn.__source__ = src.text  # type: ignore[attr-defined]
        fn.__source_path__ = str(path)  # type: ignore[attr-defined]
        return fn
    import numba

    fastmath.register()  # numba's implementations of the `fm.*` calls the text may make
    conv_kernels.register()  # and of the `ck.*` library kernels
    # The sub-graph functions of control flow become numba callees: the main function
    # resolves them from its module's globals when it is compiled. Their machine code is
    # linked into the caller's, so a later process loads the caller from numba's cache
    # without compiling them.
    module = sys.modules[fn.__module__]
    for callee in src.callees:
        f = getattr(module, callee)
        if not isinstance(f, numba.core.dispatcher.Dispatcher):
            setattr(module, callee, numba.njit(cache=True, fastmath=False,
                                               error_model="numpy")(f))
    disp = numba.njit(cache=True, fastmath=False, error_model="numpy")(fn)
    disp.__source__ = src.text
    disp.__source_path__ = str(path)
    lazy = disp._compile_for_args

    def compile_for_args(*args: Any, **kws: Any) -> Any:
        # numba calls this on a first call with new argument types: wrap its errors.
        return _guarded(disp, lambda: lazy(*args, **kws))

    disp._compile_for_args = compile_for_args
    if signature_args is not None:
        compile_for(disp, *signature_args)
    return disp


def compile_for(fn: Any, *args: Any) -> Any:
    """Compile dispatcher `fn` for the types of `args` now (a cache hit loads it from disk)."""
    import numba

    if not hasattr(fn, "compile"):
        return fn  # plain Python (jit=False)
    sig = tuple(numba.typeof(a) for a in args)
    _guarded(fn, lambda: fn.compile(sig))
    return fn


def _guarded(disp: Any, compile: Callable[[], Any]) -> Any:
    """Run a numba compile; a numba error becomes a CodegenError, and a failure to load a
    damaged or stale on-disk cache entry empties numba's index and compiles afresh."""
    import numba

    path = pathlib.Path(getattr(disp, "__source_path__", "?"))
    text = getattr(disp, "__source__", "")
    for attempt in (0, 1):
        try:
            return compile()
        except numba.core.errors.NumbaError as e:
            raise _codegen_error(e, path, text) from None
        except Exception as e:  # noqa: BLE001  (numba's cache loader raises anything)
            cache = getattr(disp, "_cache", None)
            if attempt or cache is None or not hasattr(cache, "flush"):
                raise CodegenError(f"could not compile or load the generated kernel {path}: "
                                   f"{type(e).__name__}: {e}",
                                   hint="delete the cache directory and retry") from None
            cache.flush()
    raise AssertionError("unreachable")


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
