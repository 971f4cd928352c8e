"""scipy inside differentiated code: the registry of scipy callables adjit implements, and
the hooks that make those callables accept adjit values.

scipy.special's functions are numpy ufuncs: on a tracer (or a recorded Tensor) they reach
`__array_ufunc__` like `np.exp` does, and `UFUNC_RULES` (by identity, built on first use)
says which primitive or formula each one is. Everything else in scipy is Python that calls
`np.asarray` on its arguments first, so a traced value cannot flow through it. For those,
`REGISTRY` maps a scipy callable to an adjit implementation written with numpy over
tracers (tracer/scipy_impl.py; the functions of other modules' `SCIPY_FUNCTIONS` dicts,
`MODULES`, are merged in), and `install()` replaces each registered attribute (a function
in its scipy module and in the public namespace, `scipy.special.logsumexp`; a method of a
distribution instance, `scipy.stats.norm.logpdf`) by a thin wrapper:

- given an adjit value anywhere among its arguments (a Tracer, a declared Sym, a recorded
  Tensor; inside lists and tuples too), the wrapper runs the adjit implementation: traced
  directly inside a trace, recorded with `record.apply` for Tensors (so the gradient is
  kept, exactly as for numpy functions), recorded in the declared graph for Syms;
- given anything else it calls scipy's original unchanged (one isinstance test per
  argument: see `wrapper_overhead`). It keeps `__wrapped__`, the name and the docstring.

Nothing else in scipy is changed. A scipy module is hooked when adjit is imported if it is
already imported, else right after its own import (`_Finder`, a `sys.meta_path` entry that
only watches the registered modules), so importing adjit does not import scipy. A name bound
to the original before the hooks were installed (`from scipy.special import logsumexp`
above `import adjit`) is found while tracing: `substituted(fn)` swaps the wrapper into the
traced function's module globals for the duration of the trace, and `resolve(fn)` turns a
registered original given to a transformation (`adjit.grad(logsumexp)`) into its wrapper.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.abc
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from .tensor import Tensor
from .values import Tracer

# Modules whose `SCIPY_FUNCTIONS` (a dict {scipy callable or dotted name: implementation})
# are merged into the registry; a module that does not exist is skipped.
MODULES = ["adjit.tracer.scipy_impl", "adjit.tracer.sp_linalg"]

# The scipy modules a dotted name may start with, longest first (the attribute path after it
# may go through an object: scipy.stats.norm.pdf is `pdf` of the instance scipy.stats.norm).
_SCIPY_MODULES = ("scipy.special", "scipy.stats", "scipy.signal", "scipy.linalg",
                  "scipy.integrate")

REGISTRY: dict[Any, Callable[..., Any]] = {}  # original scipy callable -> adjit impl
WRAPPERS: dict[Any, Callable[..., Any]] = {}  # original scipy callable -> installed wrapper
_PENDING: dict[str, list[tuple[str, Callable[..., Any]]]] = {}  # module -> [(path, impl)]
_BY_CALLABLE: list[tuple[Any, Callable[..., Any]]] = []  # callable keys, installed as found
_ADJIT_TYPES = (Tracer, Tensor)
_loaded = False


# ---- the wrapper ------------------------------------------------------------------------------

def _any_adjit(values: Any) -> bool:
    for a in values:
        if isinstance(a, _ADJIT_TYPES):
            return True
        t = type(a)
        if (t is list or t is tuple) and _any_adjit(a):
            return True
    return False


def _leaves(values: Any) -> Iterator[Any]:
    for a in values:
        if isinstance(a, (list, tuple)):
            yield from _leaves(a)
        else:
            yield a


def call_impl(impl: Callable[..., Any], name: str, args: tuple[Any, ...],
              kwargs: dict[str, Any], original: Callable[..., Any] | None = None) -> Any:
    """Run the adjit implementation of a scipy callable on arguments holding adjit values
    (Tensors that need no gradient: scipy's `original` on their arrays)."""
    leaves = list(_leaves([*args, *kwargs.values()]))
    if any(isinstance(a, Tensor) for a in leaves):
        from .record import apply

        return apply(impl, args, kwargs, name=name, key=impl, eager=original)
    from .explicit import Sym, _recorded

    if any(isinstance(a, Sym) for a in leaves):
        return _recorded(impl, args, kwargs)
    return impl(*args, **kwargs)


def make_wrapper(original: Callable[..., Any], impl: Callable[..., Any],
                 name: str) -> Callable[..., Any]:
    adjit_types = _ADJIT_TYPES
    sequences = (list, tuple)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # the loop is written out: this test is all a call with plain arrays pays
        for a in args:
            if isinstance(a, adjit_types) or (type(a) in sequences and _any_adjit(a)):
                return call_impl(impl, name, args, kwargs, original)
        if kwargs and _any_adjit(kwargs.values()):
            return call_impl(impl, name, args, kwargs, original)
        return original(*args, **kwargs)

    functools.update_wrapper(wrapper, original)
    wrapper.__adjit_impl__ = impl  # type: ignore[attr-defined]
    wrapper.__adjit_scipy__ = name  # type: ignore[attr-defined]
    return wrapper


# ---- the registry -----------------------------------------------------------------------------

def _load() -> None:
    """Read the `SCIPY_FUNCTIONS` of every module in MODULES (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for modname in MODULES:
        try:
            module = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name != modname:  # the module exists but fails to import: a bug to see
                raise
            continue
        for key, impl in getattr(module, "SCIPY_FUNCTIONS", {}).items():
            if isinstance(key, str):
                mod = next((m for m in _SCIPY_MODULES if key.startswith(m + ".")), None)
                if mod is None:
                    raise ValueError(f"{modname}.SCIPY_FUNCTIONS: {key!r} is not in a scipy "
                                     f"module adjit hooks ({', '.join(_SCIPY_MODULES)})")
                _PENDING.setdefault(mod, []).append((key[len(mod) + 1:], impl))
            else:
                _BY_CALLABLE.append((key, impl))


def install() -> None:
    """Hook every registered callable of the scipy modules imported so far, and watch for the
    import of the others (idempotent; called when adjit is imported)."""
    _load()
    for mod in list(_PENDING):
        if mod in sys.modules:
            _install_module(mod)
    if _BY_CALLABLE:
        _install_callables()
    if _PENDING and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def _install_module(modname: str) -> None:
    module = sys.modules[modname]
    for path, impl in _PENDING.pop(modname, []):
        *owners, attr = path.split(".")
        obj: Any = module
        try:
            for o in owners:
                obj = getattr(obj, o)
            original = getattr(obj, attr)
        except AttributeError:
            continue  # not in this scipy version
        if getattr(original, "__adjit_impl__", None) is not None:
            continue
        _hook(original, impl, f"{modname}.{path}", [(obj, attr)] if owners else
              _homes(original, module, attr))
    _install_callables()


def _homes(fn: Any, public: types.ModuleType, attr: str) -> list[tuple[Any, str]]:
    """Where a module function is reachable: its public module and its defining module."""
    places = [(public, attr)]
    defining = sys.modules.get(getattr(fn, "__module__", "") or "")
    if defining is not None and defining is not public and getattr(defining, attr, None) is fn:
        places.append((defining, attr))
    return places


def _install_callables() -> None:
    """Hook the callables given as keys (another module's SCIPY_FUNCTIONS) once their public
    module is imported."""
    for entry in list(_BY_CALLABLE):
        fn, impl = entry
        name = getattr(fn, "__name__", None)
        publics = [sys.modules[m] for m in _SCIPY_MODULES if m in sys.modules
                   and getattr(sys.modules[m], name or "", None) is fn]
        if not publics or fn in WRAPPERS:
            continue
        _BY_CALLABLE.remove(entry)
        places = [(m, name) for m in publics]
        places += [p for p in _homes(fn, publics[0], name) if p[0] not in publics]
        _hook(fn, impl, f"{publics[0].__name__}.{name}", places)


def _hook(original: Any, impl: Callable[..., Any], name: str,
          places: list[tuple[Any, str]]) -> None:
    wrapper = make_wrapper(original, impl, name)
    REGISTRY[original] = impl
    WRAPPERS[original] = wrapper
    for owner, attr in places:
        setattr(owner, attr, wrapper)


class _Finder(importlib.abc.MetaPathFinder):
    """Installs the hooks of a registered scipy module right after it is imported."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _PENDING:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: types.ModuleType) -> None:
            run(module)
            sys.modules.setdefault(fullname, module)
            _install_module(fullname)

        spec.loader = _Loader(loader, exec_module)
        return spec


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: Any, exec_module: Callable[[types.ModuleType], None]) -> None:
        self.inner = inner
        self._exec = exec_module

    def create_module(self, spec: Any) -> Any:
        return self.inner.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._exec(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


# ---- while tracing ----------------------------------------------------------------------------

def resolve(fn: Any) -> Any:
    """A registered scipy original given as the function to a transformation: its wrapper."""
    if not WRAPPERS:
        return fn
    try:
        return WRAPPERS.get(fn, fn)
    except TypeError:  # unhashable callable object
        return fn


@contextlib.contextmanager
def substituted(fn: Any) -> Iterator[None]:
    """While tracing `fn`: a registered scipy original bound to a global name of its module
    (imported before adjit hooked scipy) is the wrapper."""
    if not WRAPPERS:
        yield
        return
    undo: list[tuple[dict[str, Any], str, Any]] = []
    seen: set[int] = set()
    for g in _globals_of(fn):
        if id(g) in seen:
            continue
        seen.add(id(g))
        for k, v in list(g.items()):
            if isinstance(v, (types.FunctionType, types.MethodType)):
                w = WRAPPERS.get(v)
                if w is not None:
                    undo.append((g, k, v))
                    g[k] = w
    try:
        yield
    finally:
        for g, k, v in undo:
            g[k] = v


def _globals_of(fn: Any) -> Iterator[dict[str, Any]]:
    for _ in range(8):  # unwrap methods, partials and decorators
        if isinstance(fn, types.MethodType):
            fn = fn.__func__
        elif isinstance(fn, functools.partial):
            fn = fn.func
        elif getattr(fn, "__wrapped__", None) is not None and \
                getattr(fn, "__adjit_impl__", None) is None:
            if isinstance(fn, types.FunctionType):
                yield fn.__globals__
            fn = fn.__wrapped__
        else:
            break
    if isinstance(fn, types.FunctionType):
        yield fn.__globals__
    inner = getattr(fn, "fun", None)  # an adjit transformation
    if inner is not None and inner is not fn and hasattr(fn, "specializations"):
        yield from _globals_of(inner)


# ---- ufuncs -----------------------------------------------------------------------------------

_UFUNC_RULES: dict[Any, Callable[..., Any]] | None = None


def ufunc_rule(ufunc: Any) -> Callable[..., Any] | None:
    """The adjit implementation of a scipy.special ufunc, or None (not scipy's, or not
    supported)."""
    global _UFUNC_RULES
    if "scipy.special" not in sys.modules:
        return None
    if _UFUNC_RULES is None:
        from .scipy_impl import ufunc_rules

        _UFUNC_RULES = ufunc_rules()
    return _UFUNC_RULES.get(ufunc)


def wrapper_overhead(n: int = 200000) -> float:
    """Seconds a hooked scipy callable spends before calling scipy's original, on a plain
    array (measured: the wrapper around a function that returns at once)."""
    import time

    import numpy as np

    def nothing(*args: Any, **kwargs: Any) -> None:
        return None

    w = make_wrapper(nothing, nothing, "nothing")
    x = np.ones(3)
    t0 = time.perf_counter()
    for _ in range(n):
        nothing(x, axis=0)
    t1 = time.perf_counter()
    for _ in range(n):
        w(x, axis=0)
    t2 = time.perf_counter()
    return max(0.0, ((t2 - t1) - (t1 - t0)) / n)
