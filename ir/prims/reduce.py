"""Reductions over a static set of axes (no keepdims: the tracer reshapes), arg-reductions
and cumulative sums."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..core import ArrayType, Value, Var
from ..primitive import REDUCE, Primitive, register


def _check_axes(x: ArrayType, axes: tuple[int, ...]) -> None:
    if any(not 0 <= a < x.ndim for a in axes) or len(set(axes)) != len(axes):
        raise ValueError(f"axes {axes} out of range for {x}")


def _reduce_shape(x: ArrayType, *, axes: tuple[int, ...]) -> ArrayType:
    _check_axes(x, axes)
    return x.with_shape(tuple(d for i, d in enumerate(x.shape) if i not in axes))


def keep_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """The reduced shape with the reduced axes kept as 1s."""
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def expand_back(v: Value, x: Value, axes: tuple[int, ...]) -> Value:
    """Broadcast a reduced value back over the input's shape."""
    return ops.broadcast_to(ops.reshape(v, keep_shape(x.shape, axes)), x.shape)


def _sum_vjp(ct: Value, x: Value, out: Var, axes: tuple[int, ...]) -> tuple[Value]:
    return (expand_back(ct, x, axes),)


register(Primitive("reduce_sum", REDUCE, shape=_reduce_shape,
                   # np.add.reduce: what np.sum calls, without its Python wrapper (the
                   # recorded front end runs this once per recorded sum)
                   impl=lambda x, axes: np.asarray(np.add.reduce(x, axis=axes)),
                   jvp=lambda ts, x, out, axes: ops.reduce_sum(ts[0], axes),
                   vjp=_sum_vjp, params=("axes",), linear=True, extra={"identity": 0}))


def _chooser_mask(x: Value, out: Var, axes: tuple[int, ...]) -> tuple[Value, Value]:
    """Where x attains the extremum, and how many places share it (ties split the gradient)."""
    mask = ops.ew("eq", x, expand_back(out, x, axes))
    count = ops.reduce_sum(ops.convert(mask, x.dtype), axes)
    return mask, count


def _chooser_vjp(ct: Value, x: Value, out: Var, axes: tuple[int, ...]) -> tuple[Value]:
    # The transpose of the JVP below, as JAX's reduce_max rule: (ct / count) * mask. Where the
    # extremum is NaN no element equals it (count = 0), so that slice's gradient is NaN, not a
    # silent zero; the JVP's (sum of the masked tangents) / count is NaN there too.
    mask, count = _chooser_mask(x, out, axes)
    share = expand_back(ops.div(ct, count), x, axes)
    return (ops.mul(share, ops.convert(mask, x.dtype)),)


def _chooser_jvp(ts: list[Value | None], x: Value, out: Var, axes: tuple[int, ...]) -> Value:
    mask, count = _chooser_mask(x, out, axes)
    picked = ops.select(mask, ts[0], ops.lit(0, x.dtype))
    return ops.div(ops.reduce_sum(picked, axes), count)


def _reduce_impl(fn: Any) -> Any:
    return lambda x, axes: np.asarray(fn(x, axis=axes))


for _name, _fn, _ident in (("reduce_max", np.max, -np.inf), ("reduce_min", np.min, np.inf)):
    register(Primitive(_name, REDUCE, shape=_reduce_shape, impl=_reduce_impl(_fn),
                       jvp=_chooser_jvp, vjp=_chooser_vjp, params=("axes",),
                       extra={"identity": _ident}))


def _prod_vjp(ct: Value, x: Value, out: Var, axes: tuple[int, ...]) -> tuple[Value]:
    # d prod / d x_i is the product of the others. Dividing out/x_i is wrong where x_i = 0, so
    # count zeros: none -> out/x; exactly one -> the product of the non-zeros at the zero, 0
    # elsewhere; more -> 0 everywhere.
    zero, one = ops.lit(0, x.dtype), ops.lit(1, x.dtype)
    is_zero = ops.ew("eq", x, zero)
    n_zero = expand_back(ops.reduce_sum(ops.convert(is_zero, x.dtype), axes), x, axes)
    nonzero_prod = expand_back(ops.emit("reduce_prod", ops.select(is_zero, one, x), axes=axes),
                               x, axes)
    safe_x = ops.select(is_zero, one, x)
    no_zero = ops.div(nonzero_prod, safe_x)
    one_zero = ops.select(is_zero, nonzero_prod, zero)
    grad = ops.select(ops.ew("eq", n_zero, zero), no_zero,
                      ops.select(ops.ew("eq", n_zero, one), one_zero, zero))
    return (ops.mul(expand_back(ct, x, axes), grad),)


def _prod_jvp(ts: list[Value | None], x: Value, out: Var, axes: tuple[int, ...]) -> Value:
    (g,) = _prod_vjp(ops.broadcast_to(ops.lit(1, x.dtype), out.shape), x, out, axes)
    return ops.reduce_sum(ops.mul(ts[0], g), axes)


register(Primitive("reduce_prod", REDUCE, shape=_reduce_shape,
                   impl=lambda x, axes: np.asarray(np.prod(x, axis=axes)),
                   jvp=_prod_jvp, vjp=_prod_vjp, params=("axes",), extra={"identity": 1}))


def _arg_shape(x: ArrayType, *, axis: int) -> ArrayType:
    _check_axes(x, (axis,))
    return ArrayType("i64", tuple(d for i, d in enumerate(x.shape) if i != axis))


def _arg_impl(fn: Any) -> Any:
    return lambda x, axis: np.asarray(fn(x, axis=axis))


for _name, _fn in (("argmax", np.argmax), ("argmin", np.argmin)):
    register(Primitive(_name, REDUCE, shape=_arg_shape,
                       impl=_arg_impl(_fn),
                       jvp=None, vjp=None, params=("axis",), nondiff=True))


def _cumsum_shape(x: ArrayType, *, axis: int) -> ArrayType:
    _check_axes(x, (axis,))
    return x


def flip(x: Value, axis: int) -> Value:
    starts = tuple(x.shape[a] - 1 if a == axis else 0 for a in range(x.type.ndim))
    steps = tuple(-1 if a == axis else 1 for a in range(x.type.ndim))
    return ops.emit("slice", x, starts=starts, steps=steps, shape=x.shape)


def _cumsum_vjp(ct: Value, x: Value, out: Var, axis: int) -> tuple[Value]:
    return (flip(ops.emit("cumsum", flip(ct, axis), axis=axis), axis),)


register(Primitive("cumsum", REDUCE, shape=_cumsum_shape,
                   impl=lambda x, axis: np.asarray(np.cumsum(x, axis=axis)),
                   jvp=lambda ts, x, out, axis: ops.emit("cumsum", ts[0], axis=axis),
                   vjp=_cumsum_vjp, params=("axis",), linear=True))
