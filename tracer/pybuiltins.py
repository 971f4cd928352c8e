"""Python's `max`, `min` and `sum` for traced values (converted code calls these in place of
the builtins; `abs` needs nothing, `Tracer.__abs__` traces it), and the `math` module's
functions of one traced number (`math.sqrt(np.sum(x ** 2))`).

The builtins compare with `>` and ask Python for the truth value, which a tracer does not
have. These versions keep the builtins' results exactly: `max` returns the *first*
maximal item (so the gradient goes to it, as numpy's `np.maximum` would not promise),
NaN compares false, `key=` and `default=` work, and anything without a tracer goes to
the builtin itself.
"""
from __future__ import annotations

import builtins
import functools
import math
from typing import Any, Callable

import numpy as np
from adjit.ir import context

from .loc import user_loc
from .values import Tracer

_MISSING = object()


def _pick_extreme(better: Callable[[Any, Any], Any], builtin: Callable[..., Any], args: tuple,
                  key: Callable[[Any], Any] | None, default: Any) -> Any:
    from . import numpy_api as api
    from .control import truth

    if len(args) == 1:
        items = args[0]
        if isinstance(items, Tracer):
            if items.ndim == 0:
                raise TypeError("iteration over a 0-d array")
            if items.ndim == 1 and key is None:
                with context(loc=user_loc(3)):
                    return (api.max_ if builtin is builtins.max else api.min_)(items)
        items = list(items)
    else:
        items = list(args)
    keys = [key(i) for i in items] if key is not None else items
    if not any(isinstance(x, Tracer) for x in (*items, *keys)):
        kw: dict[str, Any] = {} if default is _MISSING else {"default": default}
        if key is not None:
            kw["key"] = key
        return builtin(items, **kw) if len(args) == 1 else builtin(*items, **kw)
    if not items:
        if default is _MISSING:
            raise ValueError(f"{builtin.__name__}() arg is an empty sequence")
        return default
    loc = user_loc(3)
    best, best_key = items[0], keys[0]
    for item, k in zip(items[1:], keys[1:], strict=True):
        pred = truth(better(k, best_key), loc)  # strict: ties keep the first, as the builtin
        if isinstance(pred, bool):
            if pred:
                best, best_key = item, k
            continue
        with context(loc=loc):
            p = Tracer(pred)
            best = api.where(p, item, best)
            best_key = best if key is None else api.where(p, k, best_key)
    return best


def py_max(*args: Any, key: Callable[[Any], Any] | None = None, default: Any = _MISSING) -> Any:
    return _pick_extreme(lambda a, b: a > b, builtins.max, args, key, default)


def py_min(*args: Any, key: Callable[[Any], Any] | None = None, default: Any = _MISSING) -> Any:
    return _pick_extreme(lambda a, b: a < b, builtins.min, args, key, default)


def py_sum(iterable: Any, /, start: Any = 0) -> Any:
    """`sum(x)` over a traced array adds its rows: one reduction instead of one add each."""
    if isinstance(iterable, Tracer):
        from . import numpy_api as api

        if iterable.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        with context(loc=user_loc(2)):
            total = api.sum_(iterable, axis=0)
            return total if type(start) is int and start == 0 else start + total
    return builtins.sum(iterable, start)


def _math(fn: Callable[..., Any], ufunc: str | None = None,
          make: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """`math.<fn>` that traces a size-1 traced argument instead of asking for its float()
    (which would drop its derivative); a Python float comes out, so the result is weak."""
    def traced(*args: Any) -> Any:
        if not any(isinstance(a, Tracer) for a in args):
            return fn(*args)
        from . import numpy_api as api

        with context(loc=user_loc(2)):
            xs = []
            for a in args:
                if isinstance(a, Tracer):
                    if a.size != 1:
                        raise TypeError("only length-1 arrays can be converted to Python "
                                        "scalars")
                    a = api.astype(api.reshape(a, ()), "f64")
                    a = Tracer(a.val, weak=True)
                xs.append(a)
            out = make(*xs) if make is not None else api.elementwise(ufunc, *xs)
            return Tracer(out.val, weak=True)

    traced.__name__ = fn.__name__
    return traced


def _log(x: Any, base: Any = None) -> Any:
    from . import numpy_api as api

    out = api.elementwise("log", x)
    return out if base is None else api.elementwise("div", out, api.elementwise("log", base))


def _hypot(x: Any, y: Any) -> Any:
    from . import numpy_api as api

    e = api.elementwise
    return e("sqrt", e("add", e("mul", x, x), e("mul", y, y)))


REPLACEMENTS: dict[Any, Callable[..., Any]] = {builtins.max: py_max, builtins.min: py_min,
                                               builtins.sum: py_sum}
for _name, _ufunc in (("sqrt", "sqrt"), ("exp", "exp"), ("expm1", "expm1"), ("log2", "log2"),
                      ("log10", "log10"), ("log1p", "log1p"), ("sin", "sin"), ("cos", "cos"),
                      ("tan", "tan"), ("asin", "arcsin"), ("acos", "arccos"),
                      ("atan", "arctan"), ("atan2", "arctan2"), ("sinh", "sinh"),
                      ("cosh", "cosh"), ("tanh", "tanh"), ("fabs", "abs"), ("pow", "pow"),
                      ("asinh", "arcsinh"), ("acosh", "arccosh"), ("atanh", "arctanh"),
                      ("exp2", "exp2")):
    REPLACEMENTS[getattr(math, _name)] = _math(getattr(math, _name), _ufunc)
REPLACEMENTS[math.log] = _math(math.log, make=_log)
REPLACEMENTS[math.hypot] = _math(math.hypot, make=_hypot)


# ---- Python lists of traced values ---------------------------------------------------------
#
# numpy turns a list holding tracers into an object array of 0-d tracers (each one's
# `__array__`) without asking adjit: `np.array([x, y])` then works element by element, and
# `np.mean([x, y])` fails where numpy calls float() on the result. In converted code these
# calls come here first, and a (nested) list of traced values becomes one traced stack.

def _holds_tracer(obj: Any) -> bool:
    if isinstance(obj, Tracer):
        return True
    return isinstance(obj, (list, tuple)) and any(_holds_tracer(o) for o in obj)


def stack_nested(obj: Any) -> Any:
    """A (nested) list or tuple of traced values and numbers as one tracer, as np.array
    would stack it (the same shape at each level; dtypes promoted)."""
    from . import numpy_api as api

    if not isinstance(obj, (list, tuple)):
        return obj
    return api.stack([stack_nested(o) for o in obj])


def py_array(obj: Any, *args: Any, builtin: Callable[..., Any] = np.array, **kwargs: Any) -> Any:
    if not (isinstance(obj, Tracer) or _holds_tracer(obj)):
        return builtin(obj, *args, **kwargs)
    from . import numpy_api as api

    dtype = args[0] if args else kwargs.get("dtype")
    ndmin = kwargs.get("ndmin", 0)
    with context(loc=user_loc(2)):
        t = stack_nested(obj) if not isinstance(obj, Tracer) else obj
        if dtype is not None:
            t = api.astype(t, dtype)
        if t.ndim < ndmin:
            t = api.reshape(t, (1,) * (ndmin - t.ndim) + t.shape)
        return t


# numpy functions that take a sequence of arrays themselves (numpy dispatches on its items)
_SEQUENCE_FUNCTIONS = {np.concatenate, np.stack, np.vstack, np.hstack, np.dstack,
                       np.column_stack, np.block, np.einsum, np.select, np.piecewise,
                       np.meshgrid, np.broadcast_arrays, np.atleast_1d, np.atleast_2d,
                       np.atleast_3d, np.array_equal, np.einsum_path, np.linalg.multi_dot}
_PACKED: dict[Any, Callable[..., Any]] = {}


def lists_packed(f: Any) -> Any:
    """`f` (a numpy function adjit traces) called with its list arguments that hold
    traced values stacked into one traced array, so that numpy dispatches it to adjit."""
    if f in _SEQUENCE_FUNCTIONS:
        return f
    if f not in _PACKED:
        def call(*args: Any, **kwargs: Any) -> Any:
            if not any(isinstance(a, Tracer) for a in (*args, *kwargs.values())):
                with context(loc=user_loc(2)):
                    args = tuple(stack_nested(a) if _holds_tracer(a) else a for a in args)
            return f(*args, **kwargs)

        call.__name__ = getattr(f, "__name__", "call")
        _PACKED[f] = call
    return _PACKED[f]


def py_float(x: Any = 0.0) -> Any:
    """float() of a traced number stays traced (as a weak float64), keeping its derivative."""
    if not isinstance(x, Tracer):
        return float(x)
    from . import numpy_api as api

    if x.size != 1:
        raise TypeError("only length-1 arrays can be converted to Python scalars")
    with context(loc=user_loc(2)):
        return Tracer(api.astype(api.reshape(x, ()), "f64").val, weak=True)


REPLACEMENTS[np.array] = py_array
REPLACEMENTS[np.asarray] = functools.partial(py_array, builtin=np.asarray)
REPLACEMENTS[np.asanyarray] = functools.partial(py_array, builtin=np.asanyarray)
