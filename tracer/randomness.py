"""Random numbers drawn while a function is traced would be frozen into the compiled code
(a dropout mask the same on every call), so drawing them is an error that names the call.

While tracing, the functions of `numpy.random` (np.random.rand, normal, default_rng, ...)
are replaced by ones that raise, and a captured `Generator` or `RandomState` (a global
`rng`, `self.rng`) is replaced by a stand-in whose methods raise (captures.py). A generator
reached some other way (imported by name before, inside a library) is caught afterwards:
its state, or numpy's global one, changed during the trace.
"""
from __future__ import annotations

import contextlib
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from adjit.ir.errors import TraceError

from .loc import user_loc

_ACTIVE = [0]


def _error(what: str) -> TraceError:
    return TraceError(f"{what} was called while adjit traced the function: the random numbers "
                      f"would be frozen into the compiled code, the same on every call",
                      loc=user_loc(3),
                      hint="draw them outside the function and pass the array as an argument "
                           "(e.g. mask = rng.random(x.shape) < p; f(x, mask))")


def _refuse(name: str) -> Callable[..., Any]:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise _error(f"np.random.{name}")

    refused.__name__ = name
    return refused


class RandomStandIn:
    """What a traced function sees in place of a captured random generator."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            raise _error(f"{self._name}.{attr}")

        return refused


def is_generator(v: Any) -> bool:
    return isinstance(v, (np.random.Generator, np.random.RandomState))


@contextlib.contextmanager
def forbidden() -> Iterator[None]:
    """numpy.random's functions raise inside the block (re-entrant)."""
    if _ACTIVE[0]:
        _ACTIVE[0] += 1
        try:
            yield
        finally:
            _ACTIVE[0] -= 1
        return
    module = np.random
    saved = {k: v for k, v in vars(module).items()
             if callable(v) and not isinstance(v, (type, types.ModuleType))
             and not k.startswith("_")}
    state = module.get_state(legacy=False)
    _ACTIVE[0] = 1
    try:
        for k in saved:
            setattr(module, k, _refuse(k))
        yield
    finally:
        for k, v in saved.items():
            setattr(module, k, v)
        _ACTIVE[0] = 0
    after = module.get_state(legacy=False)
    if not _same_state(state, after):
        raise TraceError("numpy's global random state changed while adjit traced the "
                         "function: it drew random numbers, which would be frozen into the "
                         "compiled code", hint="draw them outside the function and pass the "
                                               "array as an argument")


def _same_state(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return bool(np.array_equal(a, b))
    return bool(a == b)
