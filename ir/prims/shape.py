"""Primitives that move data without arithmetic. All are linear."""
from __future__ import annotations

import numpy as np

from .. import batching, ops
from ..core import ArrayType, Value, Var
from ..index import (
    broadcast_terms,
    is_size1_reshape,
    reshape_terms,
    slice_terms,
    transpose_terms,
    unslice_target,
)
from ..primitive import ACCUMULATE, CONCAT, REMAP, SHAPE, Lowering, Primitive, register


def _reshape_shape(x: ArrayType, *, shape: tuple[int, ...]) -> ArrayType:
    if int(np.prod(shape, dtype=np.int64)) != x.size:
        raise ValueError(f"cannot reshape {x} into shape {shape}")
    return x.with_shape(shape)


register(Primitive("reshape", SHAPE, batch=batching.shape_prefixed("shape"),
                   lowering=Lowering(REMAP, index=reshape_terms, inline_if=is_size1_reshape),
                   shape=_reshape_shape,
                   impl=lambda x, shape: np.reshape(x, shape),
                   jvp=lambda ts, x, out, shape: ops.reshape(ts[0], shape),
                   vjp=lambda ct, x, out, shape: (ops.reshape(ct, x.shape),),
                   params=("shape",), linear=True))


def _transpose_shape(x: ArrayType, *, perm: tuple[int, ...]) -> ArrayType:
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"{perm} is not a permutation of the axes of {x}")
    return x.with_shape(tuple(x.shape[p] for p in perm))


register(Primitive("transpose", SHAPE, batch=batching.transpose,
                   lowering=Lowering(REMAP, index=transpose_terms),
                   shape=_transpose_shape,
                   impl=lambda x, perm: np.transpose(x, perm),
                   jvp=lambda ts, x, out, perm: ops.transpose(ts[0], perm),
                   vjp=lambda ct, x, out, perm: (ops.transpose(ct, tuple(np.argsort(perm))),),
                   params=("perm",), linear=True))


def _broadcast_shape(x: ArrayType, *, shape: tuple[int, ...]) -> ArrayType:
    if tuple(np.broadcast_shapes(x.shape, shape)) != tuple(shape):
        raise ValueError(f"cannot broadcast {x} to shape {shape}")
    return x.with_shape(shape)


register(Primitive("broadcast_to", SHAPE, batch=batching.broadcast_to,
                   lowering=Lowering(REMAP, index=broadcast_terms),
                   shape=_broadcast_shape,
                   impl=lambda x, shape: np.broadcast_to(x, shape),
                   jvp=lambda ts, x, out, shape: ops.broadcast_to(ts[0], shape),
                   vjp=lambda ct, x, out, shape: (ops.unbroadcast(ct, x.shape),),
                   params=("shape",), linear=True))


# slice: out[i] = x[starts + i * steps] per axis, out has `shape`. Steps may be negative.
def _slice_check(full: tuple[int, ...], starts: tuple[int, ...], steps: tuple[int, ...],
                 shape: tuple[int, ...]) -> None:
    if not len(full) == len(starts) == len(steps) == len(shape):
        raise ValueError("slice params must give one entry per axis")
    for n, s, st, m in zip(full, starts, steps, shape, strict=True):
        if st == 0:
            raise ValueError("slice step cannot be zero")
        if m and not (0 <= s < n and 0 <= s + (m - 1) * st < n):
            raise ValueError(f"slice start {s} step {st} size {m} out of bounds for axis of {n}")


def slice_index(starts: tuple[int, ...], steps: tuple[int, ...], shape: tuple[int, ...]) -> tuple:
    return tuple(slice(s, s + m * st if s + m * st >= 0 else None, st) if m else slice(0, 0)
                 for s, st, m in zip(starts, steps, shape, strict=True))


def _slice_shape(x: ArrayType, *, starts: tuple[int, ...], steps: tuple[int, ...],
                 shape: tuple[int, ...]) -> ArrayType:
    _slice_check(x.shape, starts, steps, shape)
    return x.with_shape(shape)


def _slice_impl(x: np.ndarray, starts: tuple[int, ...], steps: tuple[int, ...],
                shape: tuple[int, ...]) -> np.ndarray:
    return x[slice_index(starts, steps, shape)]


def _slice_vjp(ct: Value, x: Value, out: Var, starts: tuple[int, ...], steps: tuple[int, ...],
               shape: tuple[int, ...]) -> tuple[Value]:
    return (ops.emit("unslice", ct, starts=starts, steps=steps, shape=x.shape),)


register(Primitive("slice", SHAPE, batch=batching.shape_prefixed("shape", "starts"),
                   lowering=Lowering(REMAP, index=slice_terms),
                   shape=_slice_shape, impl=_slice_impl,
                   jvp=lambda ts, x, out, **p: ops.emit("slice", ts[0], **p),
                   vjp=_slice_vjp, params=("starts", "steps", "shape"), linear=True))


# unslice: the adjoint of slice. Zeros of `shape` with x placed at the sliced positions.
def _unslice_shape(x: ArrayType, *, starts: tuple[int, ...], steps: tuple[int, ...],
                   shape: tuple[int, ...]) -> ArrayType:
    _slice_check(shape, starts, steps, x.shape)
    return x.with_shape(shape)


def _unslice_impl(x: np.ndarray, starts: tuple[int, ...], steps: tuple[int, ...],
                  shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=x.dtype)
    out[slice_index(starts, steps, x.shape)] = x
    return out


def _unslice_vjp(ct: Value, x: Value, out: Var, starts: tuple[int, ...], steps: tuple[int, ...],
                 shape: tuple[int, ...]) -> tuple[Value]:
    return (ops.emit("slice", ct, starts=starts, steps=steps, shape=x.shape),)


register(Primitive("unslice", SHAPE, batch=batching.shape_prefixed("shape", "starts"),
                   lowering=Lowering(ACCUMULATE, op="sum", target=unslice_target),
                   shape=_unslice_shape, impl=_unslice_impl,
                   jvp=lambda ts, x, out, **p: ops.emit("unslice", ts[0], **p),
                   vjp=_unslice_vjp, params=("starts", "steps", "shape"), linear=True))


def _concat_shape(*xs: ArrayType, axis: int) -> ArrayType:
    first = xs[0]
    if not 0 <= axis < first.ndim:
        raise ValueError(f"axis {axis} out of range for {first}")
    for t in xs[1:]:
        if t.dtype != first.dtype or t.ndim != first.ndim or any(
                a != b for i, (a, b) in enumerate(zip(t.shape, first.shape, strict=True))
                if i != axis):
            raise ValueError(f"cannot concatenate {first} and {t} along axis {axis}")
    shape = list(first.shape)
    shape[axis] = sum(t.shape[axis] for t in xs)
    return first.with_shape(tuple(shape))


def _concat_vjp(ct: Value, *xs: Value, out: Var, axis: int) -> tuple[Value | None, ...]:
    cts: list[Value | None] = []
    offset = 0
    for x in xs:
        if isinstance(x, Var) and x.type.is_float:
            starts = tuple(offset if a == axis else 0 for a in range(x.type.ndim))
            cts.append(ops.emit("slice", ct, starts=starts, steps=(1,) * x.type.ndim,
                                shape=x.shape))
        else:
            cts.append(None)
        offset += x.shape[axis]
    return tuple(cts)


def _concat_jvp(ts: list[Value | None], *xs: Value, out: Var, axis: int) -> Value | None:
    if all(t is None for t in ts):
        return None
    filled = [ops.zeros(x.type) if t is None else t for t, x in zip(ts, xs, strict=True)]
    return ops.emit("concatenate", *filled, axis=axis)


register(Primitive("concatenate", SHAPE, batch=batching.concatenate,
                   lowering=Lowering(CONCAT),
                   shape=_concat_shape,
                   impl=lambda *xs, axis: np.concatenate(xs, axis=axis),
                   jvp=_concat_jvp, vjp=_concat_vjp, params=("axis",), linear=True))
