"""Tensor's operators, numpy protocols and PyTorch-style methods.

Every method is a function written with numpy calls (`np.sum(x, axis=dim)`), which run on
numpy arrays when nothing needs a gradient and on tracers when the call is recorded
(record.apply): one numpy surface serves the traced, declared and recorded front ends, and a
function added to it works here with no further code.
"""
from __future__ import annotations

import functools
import operator
import weakref
from collections import namedtuple
from typing import Any, Callable, Sequence

import numpy as np

from adjit.ir.builder import emit

from . import nn_functional as _nf
from .record import _record_flat, apply
from .tensor import _MODE, Tensor, get_default_dtype
from .values import Tracer

# ---- operators ----------------------------------------------------------------------------------

_BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
           "truediv": operator.truediv, "pow": operator.pow, "matmul": operator.matmul,
           "floordiv": operator.floordiv, "mod": operator.mod}
_COMPARE = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
            "eq": operator.eq, "ne": operator.ne, "and": operator.and_, "or": operator.or_}


# ---- PyTorch's type promotion for arithmetic ----------------------------------------------------
#
# numpy and torch differ: torch keeps a float tensor's dtype against integer tensors, 0-d
# tensors and numpy scalars (f32 * int64 is f32, numpy says f64), gives Python floats with an
# integer tensor the default dtype (numpy: f64), and divides integers into the default dtype.
# Each operand is a dimensioned tensor, a 0-d tensor or a Python (or numpy) scalar; a class
# counts only when its category (bool < integer < float) is higher than the classes above it.

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}
_INT64, _BOOL = np.dtype(np.int64), np.dtype(bool)


def _promote(a: np.dtype | None, b: np.dtype) -> np.dtype:
    if a is None:
        return b
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    return np.promote_types(a, b) if ca == cb else (a if ca > cb else b)


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    if higher is None or lower is None:
        return lower if higher is None else higher
    return higher if _CATEGORY[higher.kind] >= _CATEGORY[lower.kind] else lower


def result_dtype(operands: Sequence[Any], divide: bool = False) -> np.dtype | None:
    """The dtype torch gives an arithmetic operation on `operands` (None: not a case this
    knows, such as a list operand; numpy's rules then apply)."""
    dims = zero = scalar = None
    for x in operands:
        if isinstance(x, (Tensor, np.ndarray)):
            if x.dtype.kind not in _CATEGORY:
                return None
            if x.ndim:
                dims = _promote(dims, x.dtype)
            else:
                zero = _promote(zero, x.dtype)
        elif isinstance(x, (bool, np.bool_)):
            scalar = _promote(scalar, _BOOL)
        elif isinstance(x, (int, np.integer)):
            scalar = _promote(scalar, _INT64)
        elif isinstance(x, (float, np.floating)):
            scalar = _promote(scalar, get_default_dtype())
        else:
            return None
    dt = _combine(dims, _combine(zero, scalar))
    if dt is not None and divide and dt.kind != "f":
        dt = get_default_dtype()
    return dt


def _cast(x: Any, dt: np.dtype) -> Any:
    """An array operand in dtype `dt`; a Python scalar stays (numpy takes its dtype from the
    array), a numpy scalar becomes a Python one (numpy would let it decide the dtype)."""
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (int, float, bool)) or np.dtype(x.dtype) == dt:
        return x
    return x.astype(dt)


# Recorded operations are kept keyed by their function object (record.apply), so the
# functions made here are made once per operation and dtype.

@functools.cache
def _cast_op(op: Callable[..., Any], dt: np.dtype) -> Callable[..., Any]:
    def run(x: Any, y: Any) -> Any:
        return op(_cast(x, dt), _cast(y, dt))

    return run


@functools.cache
def _swapped(op: Callable[..., Any]) -> Callable[..., Any]:
    def run(a: Any, b: Any) -> Any:
        return op(b, a)

    return run


@functools.cache
def _scaled(op: Callable[..., Any]) -> Callable[..., Any]:
    def run(x: Any, other: Any, alpha: Any) -> Any:
        return op(x, alpha * other)

    return run


def _promoting(op: Callable[..., Any], operands: Sequence[Any],
               divide: bool) -> Callable[..., Any]:
    """`op` with its operands cast to torch's result dtype, when that differs from numpy's
    (the dtype follows from the operands' dtypes, shapes and scalar types, all part of a
    recorded operation's cache key)."""
    a, b = operands[0], operands[1]
    if isinstance(a, Tensor) and a.dtype.kind == "f" and (
            type(b) is float or (isinstance(b, Tensor) and b.dtype == a.dtype)):
        return op  # the common case: the same float dtype, or a float tensor and a float
    dt = result_dtype(operands, divide)
    if dt is None:
        return op
    return _cast_op(op, dt)


_DIVIDE = ("truediv", "div")


def _binary(name: str, op: Callable[[Any, Any], Any], reflected: bool,
            promote: bool = True) -> Callable[..., Any]:
    divide = name in _DIVIDE
    if reflected:
        def rop(a: Any, b: Any) -> Any:
            return op(b, a)

        def method(self: Tensor, other: Any) -> Any:
            if type(other) is float and self._np.dtype.kind == "f":
                # 2.0 * t: torch's dtype is t's, so `_promoting`'s cast would change nothing
                if self.requires_grad and _MODE.enabled:
                    return _record_flat(rop, (self, other), name, None, False, 2)
                return apply(rop, (self, other), name=name)
            fn = _promoting(op, (other, self), divide) if promote else op
            return apply(rop if fn is op else _swapped(fn), (self, other), name=name)
    elif promote:
        def method(self: Tensor, other: Any) -> Any:
            # `_promoting`'s common case first, checked here: it runs on every operator
            dt = self._np.dtype
            if dt.kind == "f" and (type(other) is float or isinstance(other, Tensor)
                                   and other._np.dtype is dt):
                if _MODE.enabled:  # recorded: what apply would do, without it
                    if type(other) is float:
                        if self.requires_grad:
                            return _record_flat(op, (self, other), name, None, False, 2)
                    elif self.requires_grad or other.requires_grad:
                        return _record_flat(op, (self, other), name, None, True, 2)
                return apply(op, (self, other), name=name)
            return apply(_promoting(op, (self, other), divide), (self, other), name=name)
    else:
        def method(self: Tensor, other: Any) -> Any:
            if isinstance(other, Tensor) and (self.requires_grad or other.requires_grad) \
                    and _MODE.enabled:  # a @ b: recorded, what apply would do, without it
                return _record_flat(op, (self, other), name, None, True, 2)
            return apply(op, (self, other), name=name)
    return method


for _n, _op in _BINARY.items():
    # matmul: torch asks for one dtype and numpy promotes; the numpy result is kept
    setattr(Tensor, f"__{_n}__", _binary(_n, _op, False, _n != "matmul"))
    setattr(Tensor, f"__r{_n}__", _binary(_n, _op, True, _n != "matmul"))
for _n, _op in _COMPARE.items():
    setattr(Tensor, f"__{_n}__", _binary(_n, _op, False, False))
Tensor.__neg__ = lambda self: apply(operator.neg, (self,), name="neg")
Tensor.__abs__ = lambda self: apply(operator.abs, (self,), name="abs")
Tensor.__invert__ = lambda self: apply(operator.invert, (self,), name="invert")
Tensor.__hash__ = object.__hash__


def _iop(name: str) -> Callable[..., Any]:
    op = _BINARY[name]

    def method(self: Tensor, other: Any) -> Tensor:
        return self._inplace(lambda t, o: apply(op, (t, o), name=name), f"__i{name}__",
                             (other,))

    return method


for _n in ("add", "sub", "mul", "truediv", "pow"):
    setattr(Tensor, f"__i{_n}__", _iop(_n))


# ---- numpy protocols ----------------------------------------------------------------------------

# ufuncs that follow torch's type promotion, as the operators do (np.float64(2) * t is
# float32 for a float32 t: torch takes a numpy scalar for a Python number)
_PROMOTING = {np.add: False, np.subtract: False, np.multiply: False, np.true_divide: True,
              np.power: False, np.floor_divide: False, np.remainder: False,
              np.maximum: False, np.minimum: False}


def _array_ufunc(self: Tensor, ufunc: np.ufunc, method: str, *inputs: Any,
                 **kwargs: Any) -> Any:
    if kwargs.get("out") is not None:
        return NotImplemented
    if method == "__call__" and not kwargs:  # np.tanh(t), np.add(t, 1.0): the ufunc itself,
        # so that apply takes its arguments by the quick path (the same graph as below)
        fn = ufunc
        if len(inputs) == 2 and ufunc in _PROMOTING:
            fn = _promoting(ufunc, inputs, _PROMOTING[ufunc])
        return apply(fn, inputs, name=ufunc.__name__)
    return apply(_UFUNC_CALLS[method], (ufunc, *inputs), kwargs, name=ufunc.__name__,
                 key=(ufunc, method))


def _ufunc_call(method: str) -> Callable[..., Any]:
    def call(ufunc: np.ufunc, *args: Any, **kwargs: Any) -> Any:
        return getattr(ufunc, method)(*args, **kwargs)

    return call


_UFUNC_CALLS = {m: _ufunc_call(m)
                for m in ("__call__", "reduce", "accumulate", "outer", "at", "reduceat")}


def _array_function(self: Tensor, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
    return apply(func, args, kwargs, name=func.__name__)


Tensor.__array_ufunc__ = _array_ufunc
Tensor.__array_function__ = _array_function


# ---- indexing -----------------------------------------------------------------------------------

def _concrete_masks(key: Any) -> Any:
    """A boolean mask in a key becomes the integer arrays of its True positions: its values
    are known when a tensor is indexed, and a traced boolean mask means something else
    (a masked value of the full shape, for traced reductions)."""
    keys = key if isinstance(key, tuple) else (key,)
    if not any(isinstance(k, (Tensor, np.ndarray)) and np.asarray(k).dtype == bool
               and np.ndim(k) > 0 for k in keys):
        return key
    out: list[Any] = []
    for k in keys:
        if isinstance(k, (Tensor, np.ndarray)) and np.asarray(k).dtype == bool and np.ndim(k):
            out.extend(np.nonzero(np.asarray(k)))
        else:
            out.append(k)
    return tuple(out)


def _check_bounds(shape: tuple[int, ...], key: Any) -> None:
    """numpy's IndexError for an integer index array out of range, raised now: the recorded
    operation's gather would clamp it. A broadcast view of one boolean costs no memory."""
    keys = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, (Tensor, np.ndarray)) and np.asarray(k).dtype.kind in "iu"
           for k in keys):
        plain = tuple(np.asarray(k) if isinstance(k, Tensor) else k for k in keys)
        np.broadcast_to(np.False_, shape)[plain]


def _basic(key: Any) -> bool:
    """Ints, slices, None and Ellipsis only: numpy and PyTorch index a view with it."""
    return all(k is None or k is Ellipsis or isinstance(k, (int, np.integer, slice))
               and not isinstance(k, bool) for k in (key if isinstance(key, tuple) else (key,)))


def _getitem(self: Tensor, key: Any) -> Any:
    key = _concrete_masks(key)
    _check_bounds(self.shape, key)
    if not _basic(key):  # a gather: a copy, in PyTorch too
        return apply(operator.getitem, (self, key), name="IndexBackward0")
    keys = key if isinstance(key, tuple) else (key,)
    name = "SliceBackward0" if any(isinstance(k, slice) for k in keys) else "SelectBackward0"
    out = apply(operator.getitem, (self, key), name=name)
    if isinstance(out, Tensor):
        out._base = (weakref.ref(self), lambda base, view: _setitem(base, key, view))
    return out


def _set_static(x: Any, key: Any, value: Any) -> Any:
    """`x[key] = value` as a new value (a gather and a select), for a key of Python and
    numpy indices."""
    n = int(np.prod(x.shape))
    pos = np.arange(n).reshape(x.shape)[key]
    chosen = np.zeros(n, bool)
    chosen[pos.ravel()] = True
    source = np.zeros(n, np.int64)
    source[pos.ravel()] = np.arange(pos.size)
    spread = np.broadcast_to(value, pos.shape).reshape(-1)[source]
    flat = x.reshape(-1)
    return np.where(chosen, spread.astype(flat.dtype), flat).reshape(x.shape)


def _setitem(self: Tensor, key: Any, value: Any) -> None:
    if any(isinstance(k, Tensor) for k in (key if isinstance(key, tuple) else (key,))):
        key = tuple(np.asarray(k) if isinstance(k, Tensor) else k
                    for k in (key if isinstance(key, tuple) else (key,)))
    self._inplace(lambda t, v: apply(lambda a, b: _set_static(a, key, b), (t, v),
                                     name="CopySlices", key=False), "__setitem__", (value,))


Tensor.__getitem__ = _getitem
Tensor.__setitem__ = _setitem


def _iter(self: Tensor) -> Any:
    for i in range(len(self)):
        yield self[i]


Tensor.__iter__ = _iter

# ---- methods ------------------------------------------------------------------------------------

Values = namedtuple("Values", "values indices")


def _axis(dim: Any) -> Any:
    return tuple(dim) if isinstance(dim, list) else dim


def _dims(args: Sequence[Any]) -> tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _logistic(x: Any) -> Any:
    if isinstance(x, Tracer):
        return Tracer(emit("logistic", x.val))
    with np.errstate(over="ignore"):
        return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))),
                        np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x)))).astype(x.dtype)


def _softmax(x: Any, dim: int) -> Any:
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / np.sum(e, axis=dim, keepdims=True)


def _log_softmax(x: Any, dim: int) -> Any:
    shifted = x - np.max(x, axis=dim, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))


def _reduce_pick(fn: Callable[..., Any], arg: Callable[..., Any],
                 pairwise: Callable[..., Any]) -> Callable[..., Any]:
    def pick(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
        if dim is None:
            return fn(x)
        if not isinstance(dim, (int, np.integer)):  # x.max(other): elementwise, as torch's
            return pairwise(x, dim)
        return Values(fn(x, axis=dim, keepdims=keepdim),
                      arg(x, axis=dim, keepdims=keepdim))
    return pick


def _expand(x: Any, *sizes: Any) -> Any:
    sizes = _dims(sizes)
    shape = tuple(s if s != -1 else x.shape[i - (len(sizes) - x.ndim)]
                  for i, s in enumerate(sizes))
    return np.broadcast_to(x, shape)


def _logsumexp(x: Any, dim: Any, keepdim: bool = False) -> Any:
    """log(sum(exp(x))) over `dim`, shifted by the maximum (whose own derivative cancels)."""
    dim = tuple(dim) if isinstance(dim, (list, tuple)) else dim
    m = np.max(x, axis=dim, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)  # all -inf (or an inf): no shift, as torch
    out = np.log(np.sum(np.exp(x - m), axis=dim, keepdims=True)) + m
    return out if keepdim else np.squeeze(out, axis=dim)


def _squeeze(x: Any, dim: Any = None) -> Any:
    """torch's squeeze: a named dimension whose size is not 1 is left alone (numpy raises)."""
    if dim is None:
        return np.squeeze(x)
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    ones = tuple(d % x.ndim for d in dims if x.shape[d] == 1) if x.ndim else ()
    return np.squeeze(x, axis=ones) if ones else np.reshape(x, x.shape)


def _flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    shape = x.shape
    end = end_dim % len(shape) if shape else 0
    if not shape:
        return x.reshape(1)
    return x.reshape(shape[:start_dim] + (-1,) + shape[end + 1:])


def _norm(x: Any, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Any:
    if p in ("fro", 2, 2.0):
        return np.sqrt(np.sum(x * x, axis=_axis(dim), keepdims=keepdim))
    if p in (1, 1.0):
        return np.sum(np.abs(x), axis=_axis(dim), keepdims=keepdim)
    if p == np.inf:
        return np.max(np.abs(x), axis=_axis(dim), keepdims=keepdim)
    return np.sum(np.abs(x) ** p, axis=_axis(dim), keepdims=keepdim) ** (1.0 / p)


_METHODS: dict[str, tuple[Callable[..., Any], str | None]] = {
    "sum": (lambda x, dim=None, keepdim=False, dtype=None:
            np.sum(x, axis=_axis(dim), keepdims=keepdim, dtype=dtype), "sum"),
    "mean": (lambda x, dim=None, keepdim=False: np.mean(x, axis=_axis(dim), keepdims=keepdim),
             "mean"),
    "var": (lambda x, dim=None, unbiased=True, keepdim=False:
            np.var(x, axis=_axis(dim), ddof=1 if unbiased else 0, keepdims=keepdim), "var"),
    "std": (lambda x, dim=None, unbiased=True, keepdim=False:
            np.std(x, axis=_axis(dim), ddof=1 if unbiased else 0, keepdims=keepdim), "std"),
    "prod": (lambda x, dim=None, keepdim=False: np.prod(x, axis=dim, keepdims=keepdim), None),
    # named by _pick_method below: max(), max(dim) and max(other) differ
    "max": (_reduce_pick(np.max, np.argmax, np.maximum), None),
    "min": (_reduce_pick(np.min, np.argmin, np.minimum), None),
    "amax": (lambda x, dim=None, keepdim=False: np.max(x, axis=_axis(dim), keepdims=keepdim),
             "AmaxBackward0"),
    "amin": (lambda x, dim=None, keepdim=False: np.min(x, axis=_axis(dim), keepdims=keepdim),
             "AminBackward0"),
    "argmax": (lambda x, dim=None, keepdim=False: np.argmax(x, axis=dim, keepdims=keepdim),
               None),
    "argmin": (lambda x, dim=None, keepdim=False: np.argmin(x, axis=dim, keepdims=keepdim),
               None),
    "dot": (np.dot, "DotBackward0"),
    "matmul": (np.matmul, "MmBackward0"),
    "mm": (np.matmul, "MmBackward0"),
    "exp": (np.exp, "ExpBackward0"),
    "log": (np.log, "LogBackward0"),
    "sin": (np.sin, "SinBackward0"),
    "cos": (np.cos, "CosBackward0"),
    "tanh": (np.tanh, "TanhBackward0"),
    "sqrt": (np.sqrt, "SqrtBackward0"),
    "abs": (np.abs, "AbsBackward0"),
    "neg": (operator.neg, "NegBackward0"),
    "sigmoid": (_logistic, "SigmoidBackward0"),
    "relu": (_nf.relu, "ReluBackward0"),
    "norm": (_norm, "NormBackward1"),
    "reshape": (lambda x, *shape: np.reshape(x, _dims(shape)), "ViewBackward0"),
    "view": (lambda x, *shape: np.reshape(x, _dims(shape)), "ViewBackward0"),
    "flatten": (_flatten, "ViewBackward0"),
    "transpose": (lambda x, d0, d1: np.swapaxes(x, d0, d1), "TransposeBackward0"),
    "t": (lambda x: np.transpose(x), "TBackward0"),
    "permute": (lambda x, *dims: np.transpose(x, _dims(dims)), "PermuteBackward0"),
    "unsqueeze": (lambda x, dim: np.expand_dims(x, dim), "UnsqueezeBackward0"),
    "squeeze": (_squeeze, "SqueezeBackward0"),
    "expand": (_expand, "ExpandBackward0"),
    "asin": (np.arcsin, "AsinBackward0"),
    "acos": (np.arccos, "AcosBackward0"),
    "atan": (np.arctan, "AtanBackward0"),
    "rsqrt": (lambda x: 1.0 / np.sqrt(x), "RsqrtBackward0"),
    "logsumexp": (_logsumexp, "LogsumexpBackward0"),
    "masked_fill": (lambda x, mask, value: np.where(mask, np.asarray(value, x.dtype)
                                                    if not hasattr(value, "shape") else value,
                                                    x), "MaskedFillBackward0"),
    "clamp": (lambda x, min=None, max=None: np.clip(x, min, max), "ClampBackward1"),
    "clip": (lambda x, min=None, max=None: np.clip(x, min, max), "ClampBackward1"),
    "softmax": (_softmax, "SoftmaxBackward0"),
    "log_softmax": (_log_softmax, "LogSoftmaxBackward0"),
    "clone": (lambda x: np.copy(x), "CloneBackward0"),
    "float": (lambda x: x.astype(np.float32), "ToCopyBackward0"),
    "double": (lambda x: x.astype(np.float64), "ToCopyBackward0"),
    "long": (lambda x: x.astype(np.int64), None),
    "int": (lambda x: x.astype(np.int32), None),
    "bool": (lambda x: x.astype(bool), None),
    "to": (lambda x, dtype: x.astype(np.dtype(dtype)), "ToCopyBackward0"),
    "type": (lambda x, dtype: x.astype(np.dtype(dtype)), "ToCopyBackward0"),
}


def _method(fn: Callable[..., Any], name: str | None) -> Callable[..., Any]:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs and self.requires_grad and _MODE.enabled:
            return _record_flat(fn, (self,), name, None, True, 2)  # as apply would
        return apply(fn, (self, *args), kwargs, name=name)

    return method


def _view(method: Callable[..., Any], back: Callable[..., Any] | None) -> Callable[..., Any]:
    """A view method: its result remembers its tensor, and an in-place operation on it is
    written back (`Tensor._base`): `back(view_values, base_shape, *args)` is the base's new
    values; None where PyTorch refuses to write through the view (expand)."""
    def viewing(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        out = method(self, *args, **kwargs)
        if isinstance(out, Tensor):
            out._base = (weakref.ref(self), lambda base, view: _copy_back(base, view, back,
                                                                          args, kwargs))
        return out

    viewing.__name__ = method.__name__
    return viewing


def _copy_back(base: Tensor, view: Tensor, back: Callable[..., Any] | None,
               args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if back is None:
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location. Please clone() the "
                           "tensor before performing the operation.")
    shape = base.shape
    base._inplace(lambda t, v: apply(lambda b, x: back(x, shape, *args, **kwargs), (t, v),
                                     name="CopyBackwards", key=False), "copy_", (view,))


def _inverse_permutation(dims: Sequence[int], ndim: int) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort([d % ndim for d in dims]))


# How each view's values go back into its tensor's shape.
_VIEWS: dict[str, Callable[..., Any] | None] = {
    "reshape": lambda x, shape, *a: np.reshape(x, shape),
    "view": lambda x, shape, *a: np.reshape(x, shape),
    "flatten": lambda x, shape, *a, **k: np.reshape(x, shape),
    "unsqueeze": lambda x, shape, *a: np.reshape(x, shape),
    "squeeze": lambda x, shape, *a: np.reshape(x, shape),
    "transpose": lambda x, shape, d0, d1: np.swapaxes(x, d0, d1),
    "t": lambda x, shape: np.transpose(x),
    "permute": lambda x, shape, *dims: np.transpose(x, _inverse_permutation(_dims(dims),
                                                                            len(shape))),
    "expand": None,
}

for _n, (_fn, _name) in _METHODS.items():
    setattr(Tensor, _n, _view(_method(_fn, _name), _VIEWS[_n]) if _n in _VIEWS
            else _method(_fn, _name))


def _arith(op: Callable[[Any, Any], Any], name: str,
           divide: bool = False) -> tuple[Callable[..., Any], str]:
    """x.add(other, alpha=1) and the like: the operator, with torch's type promotion."""
    def method(self: Tensor, other: Any, alpha: Any = 1) -> Any:
        fn = _promoting(op, (self, other), divide)
        if alpha != 1:
            return apply(_scaled(fn), (self, other, alpha), name=name)
        return apply(fn, (self, other), name=name)

    def run(x: Any, other: Any, alpha: Any = 1) -> Any:  # for the in-place forms
        return op(x, alpha * other) if alpha != 1 else op(x, other)

    method.__name__ = name
    return method, run


for _n, _op, _name in (("add", operator.add, "AddBackward0"),
                       ("sub", operator.sub, "SubBackward0"),
                       ("mul", operator.mul, "MulBackward0"),
                       ("div", operator.truediv, "DivBackward0"),
                       ("pow", operator.pow, "PowBackward0")):
    _m, _run = _arith(_op, _name, divide=_n == "div")
    setattr(Tensor, _n, _m)
    _METHODS[_n] = (_run, _name)


def _trunc_divide(a: Any, b: Any) -> Any:
    """C's division: the quotient rounded toward zero (numpy's // rounds down)."""
    if np.result_type(*(getattr(x, "dtype", x) for x in (a, b))).kind in "fc":
        return np.trunc(a / b)
    q = a // b
    return q + ((a - q * b != 0) & ((a < 0) != (b < 0)))


_ROUNDED = {"floor": np.floor_divide, "trunc": _trunc_divide}


def _div(self: Tensor, other: Any, *, rounding_mode: str | None = None) -> Any:
    """torch's div: true division, or with `rounding_mode` "floor" (Python's //) or "trunc"
    (toward zero), which keep integer dtypes and have zero derivative."""
    if rounding_mode is None:
        return _METHODS_DIV(self, other)
    if rounding_mode not in _ROUNDED:
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or "
                         f"'floor' but found {rounding_mode!r}")
    return apply(_promoting(_ROUNDED[rounding_mode], (self, other), False), (self, other),
                 name="DivBackward0")


def _div_(self: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    return self._inplace(lambda t, o: _div(t, o, rounding_mode=rounding_mode), "div_",
                         (other,))


_METHODS_DIV = Tensor.div
Tensor.div = Tensor.divide = _div


def _pick_method(fn: Callable[..., Any], reduced: str, along: str,
                 pairwise: str) -> Callable[..., Any]:
    """max/min: the name depends on the call, as torch's does (max(), max(dim), max(other))."""
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        dim = args[0] if args else kwargs.get("dim")
        name = reduced if dim is None else along if isinstance(dim, (int, np.integer)) \
            else pairwise
        return apply(fn, (self, *args), kwargs, name=name)

    return method


Tensor.max = _pick_method(_METHODS["max"][0], "MaxBackward1", "MaxBackward0",
                          "MaximumBackward0")
Tensor.min = _pick_method(_METHODS["min"][0], "MinBackward1", "MinBackward0",
                          "MinimumBackward0")
Tensor.T = property(_view(lambda self: apply(np.transpose, (self,), name="TBackward0"),
                          lambda x, shape: np.transpose(x)))
Tensor.mT = property(_view(lambda self: apply(lambda x: np.swapaxes(x, -1, -2), (self,),
                                              name="TransposeBackward0"),
                           lambda x, shape: np.swapaxes(x, -1, -2)))
# Complex parts (tracer/np_complex.py). Gradients follow adjit's (JAX's) convention, not
# PyTorch's: d|z|^2/dz is 2 conj(z) here, 2 z in PyTorch.
Tensor.real = property(lambda self: apply(np.real, (self,), name="RealBackward0"))
Tensor.imag = property(lambda self: apply(np.imag, (self,), name="ImagBackward0"))
Tensor.conj = lambda self: apply(np.conj, (self,), name="ConjBackward0")
Tensor.conjugate = Tensor.conj
Tensor.angle = lambda self: apply(np.angle, (self,), name="AngleBackward0")


def _inplace_method(name: str) -> Callable[..., Any]:
    fn, bname = _METHODS[name]

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return self._inplace(lambda t, *a: apply(fn, (t, *a), kwargs, name=bname),
                             f"{name}_", args)

    return method


for _n in ("add", "sub", "mul", "pow", "exp", "log", "sigmoid", "relu", "clamp",
           "tanh", "abs", "sqrt", "neg"):
    setattr(Tensor, f"{_n}_", _inplace_method(_n))
Tensor.div_ = _div_  # (with rounding_mode)


def _filled(a: Any, b: Any) -> Any:
    return np.zeros_like(a) + b


def _copied(a: Any, b: Any) -> Any:
    return np.broadcast_to(b, a.shape).astype(a.dtype)


def _fill_(self: Tensor, value: Any) -> Tensor:
    return self._inplace(lambda t, v: apply(_filled, (t, v), name="FillBackward0"), "fill_",
                         (value,))


def _copy_(self: Tensor, src: Any) -> Tensor:
    return self._inplace(lambda t, s: apply(_copied, (t, s), name="CopyBackward0"), "copy_",
                         (src,))


Tensor.fill_ = _fill_
Tensor.copy_ = _copy_
