"""Reductions over a static set of axes (no keepdims: the tracer reshapes), arg-reductions
and cumulative sums."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..core import ArrayType, Value, Var
from ..index import size1_reduce_terms
from ..primitive import REDUCE, REDUCTION, SCAN, Lowering, Primitive, register


def _reduction(op: str) -> Lowering:
    """A reduction with `op`; over size-1 axes only, a remap (nothing to combine)."""
    return Lowering(REDUCTION, op=op, index=size1_reduce_terms, commutative=op != "argmax"
                    and op != "argmin")


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


register(Primitive("reduce_sum", REDUCE, shape=_reduce_shape, lowering=_reduction("sum"),
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
                       lowering=_reduction(_name[len("reduce_"):]),
                       jvp=_chooser_jvp, vjp=_chooser_vjp, params=("axes",),
                       extra={"identity": _ident}))


def _others_product(x: Value, axes: tuple[int, ...]) -> Value:
    """At each position, the product over `axes` of every element but that one: the
    exclusive running products from the front and from the back (cumprod, below), multiplied.
    No division and no mask, so its own derivatives are exact at zeros too (a rule that
    divides out/x where x != 0 and special-cases zeros has the right value there but the
    wrong second derivative: an asymmetric Hessian of prod at a zero)."""
    nd = x.type.ndim
    keep = [a for a in range(nd) if a not in axes]
    perm = keep + sorted(axes)
    m = 1
    for a in axes:
        m *= x.shape[a]
    if m <= 1:
        return ops.broadcast_to(ops.lit(1, x.dtype), x.shape, x.dtype)
    moved = ops.transpose(x, perm) if perm != list(range(nd)) else x
    rows = tuple(x.shape[a] for a in keep)
    flat = ops.reshape(moved, rows + (m,))
    last = len(rows)
    before = shift(ops.emit("cumprod", flat, axis=last), last, 1, fill=1.0)
    after = flip(shift(ops.emit("cumprod", flip(flat, last), axis=last), last, 1, fill=1.0),
                 last)
    others = ops.reshape(ops.mul(before, after), moved.shape)
    if perm == list(range(nd)):
        return others
    inverse = [perm.index(a) for a in range(nd)]
    return ops.transpose(others, inverse)


def _prod_vjp(ct: Value, x: Value, out: Var, axes: tuple[int, ...]) -> tuple[Value]:
    return (ops.mul(expand_back(ct, x, axes), _others_product(x, axes)),)


def _prod_jvp(ts: list[Value | None], x: Value, out: Var, axes: tuple[int, ...]) -> Value:
    return ops.reduce_sum(ops.mul(ts[0], _others_product(x, axes)), axes)


register(Primitive("reduce_prod", REDUCE, shape=_reduce_shape, lowering=_reduction("prod"),
                   impl=lambda x, axes: np.asarray(np.prod(x, axis=axes)),
                   jvp=_prod_jvp, vjp=_prod_vjp, params=("axes",), extra={"identity": 1}))


def _arg_shape(x: ArrayType, *, axis: int) -> ArrayType:
    _check_axes(x, (axis,))
    return ArrayType("i64", tuple(d for i, d in enumerate(x.shape) if i != axis))


def _arg_impl(fn: Any) -> Any:
    return lambda x, axis: np.asarray(fn(x, axis=axis))


for _name, _fn in (("argmax", np.argmax), ("argmin", np.argmin)):
    register(Primitive(_name, REDUCE, shape=_arg_shape, lowering=_reduction(_name),
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


register(Primitive("cumsum", REDUCE, shape=_cumsum_shape, lowering=Lowering(SCAN, op="sum"),
                   impl=lambda x, axis: np.asarray(np.cumsum(x, axis=axis)),
                   jvp=lambda ts, x, out, axis: ops.emit("cumsum", ts[0], axis=axis),
                   vjp=_cumsum_vjp, params=("axis",), linear=True))


# ---- linear recurrences and cumprod ---------------------------------------------------------
#
# linrec(a, b): s_i = a_i * s_{i-1} + b_i along `axis` (s_{-1} = 0), a scan of two inputs. Its
# derivatives are linear recurrences again, so every rule below is smooth (no division, no
# masks) and derivatives of any order are exact, at zeros too:
#   JVP: t_s = linrec(a, t_a * s_prev + t_b), s_prev = s shifted by one (0 first);
#   VJP: l = the reverse recurrence l_i = ct_i + a_{i+1} l_{i+1}; ct_b = l, ct_a = l * s_prev.
# cumprod(x) = linrec(x, [1, 0, 0, ...]) in effect, lowered as its own scan (op prod). With
# P_i = prod_{l<i} x_l (the running product shifted by one, 1 first):
#   VJP: g_i = P_i * S_i, S_i = ct_i + x_{i+1} S_{i+1} (a reverse linear recurrence);
#   JVP: t_y = linrec(x, t * P).


def shift(x: Value, axis: int, by: int, fill: float = 0.0) -> Value:
    """x moved `by` (+1 or -1) places along `axis`, `fill` at the position left empty."""
    n = x.shape[axis]
    nd = x.type.ndim
    part = tuple(n - 1 if a == axis else d for a, d in enumerate(x.shape))
    src = tuple((1 if by < 0 else 0) if a == axis else 0 for a in range(nd))
    dst = tuple((1 if by > 0 else 0) if a == axis else 0 for a in range(nd))
    ones = (1,) * nd
    kept = ops.emit("slice", x, starts=src, steps=ones, shape=part)
    out = ops.emit("unslice", kept, starts=dst, steps=ones, shape=x.shape)
    if fill:
        edge = np.zeros(x.shape, x.type.np_dtype)
        at = [slice(None)] * nd
        at[axis] = 0 if by > 0 else n - 1
        edge[tuple(at)] = fill
        out = ops.add(out, ops.lit(edge, x.dtype))
    return out


def linrec(a: Value, b: Value, axis: int) -> Value:
    return ops.emit("linrec", a, b, axis=axis)


def reverse_linrec(a: Value, b: Value, axis: int) -> Value:
    """l_i = b_i + a_{i+1} l_{i+1} along `axis` (from the end)."""
    return flip(linrec(flip(shift(a, axis, -1), axis), flip(b, axis), axis), axis)


def _linrec_shape(a: ArrayType, b: ArrayType, *, axis: int) -> ArrayType:
    _check_axes(b, (axis,))
    if a.shape != b.shape:
        raise ValueError(f"linrec: coefficients {a.shape} and terms {b.shape} differ in shape")
    return b


def _linrec_impl(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    a, b = np.moveaxis(a, axis, 0), np.moveaxis(b, axis, 0)
    out = np.empty(b.shape, np.result_type(a, b))
    prev = np.zeros(b.shape[1:], out.dtype)
    for i in range(b.shape[0]):
        prev = out[i] = a[i] * prev + b[i]
    return np.moveaxis(out, 0, axis)


def _linrec_jvp(ts: list[Value | None], a: Value, b: Value, out: Var, axis: int) -> Value:
    ta, tb = ts
    term = tb if tb is not None else ops.zeros(b.type)
    if ta is not None:
        term = ops.add(term, ops.mul(ta, shift(out, axis, 1)))
    return linrec(a, term, axis)


def _linrec_vjp(ct: Value, a: Value, b: Value, out: Var, axis: int) -> tuple[Value, Value]:
    lam = reverse_linrec(a, ct, axis)
    return ops.mul(lam, shift(out, axis, 1)), lam


register(Primitive("linrec", REDUCE, shape=_linrec_shape, lowering=Lowering(SCAN, op="linear"),
                   impl=_linrec_impl, jvp=_linrec_jvp, vjp=_linrec_vjp, params=("axis",)))


def _cumprod_vjp(ct: Value, x: Value, out: Var, axis: int) -> tuple[Value]:
    before = shift(out, axis, 1, fill=1.0)  # P_i: the product of the elements before i
    return (ops.mul(before, reverse_linrec(x, ct, axis)),)


def _cumprod_jvp(ts: list[Value | None], x: Value, out: Var, axis: int) -> Value:
    return linrec(x, ops.mul(ts[0], shift(out, axis, 1, fill=1.0)), axis)


register(Primitive("cumprod", REDUCE, shape=_cumsum_shape, lowering=Lowering(SCAN, op="prod"),
                   impl=lambda x, axis: np.asarray(np.cumprod(x, axis=axis)),
                   jvp=_cumprod_jvp, vjp=_cumprod_vjp, params=("axis",)))
