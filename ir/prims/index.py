"""Data-dependent addressing: gather along one axis with an integer index array, and its
adjoint scatter_add. Indices are in range (the tracer normalizes negative ones)."""
from __future__ import annotations

import numpy as np

from .. import batching, ops
from ..core import ArrayType, Value, Var
from ..index import gather_terms, scatter_target
from ..primitive import ACCUMULATE, INDEX, REMAP, Lowering, Primitive, register


def _gather_shape(x: ArrayType, idx: ArrayType, *, axis: int) -> ArrayType:
    if idx.dtype not in ("i32", "i64"):
        raise TypeError(f"gather indices must be integers, not {idx.dtype}")
    if not 0 <= axis < x.ndim:
        raise ValueError(f"axis {axis} out of range for {x}")
    return x.with_shape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])


def _gather_vjp(ct: Value, x: Value, idx: Value, out: Var, axis: int) -> tuple[Value | None, None]:
    return (ops.emit("scatter_add", ct, idx, axis=axis, size=x.shape[axis]), None)


register(Primitive("gather", INDEX, batch=batching.indexed,
                   lowering=Lowering(REMAP, index=gather_terms),
                   shape=_gather_shape,
                   impl=lambda x, idx, axis: np.take(x, idx, axis=axis),
                   jvp=lambda ts, x, idx, out, axis: (None if ts[0] is None else
                                                      ops.emit("gather", ts[0], idx, axis=axis)),
                   vjp=_gather_vjp, params=("axis",), linear=True))


def _scatter_shape(x: ArrayType, idx: ArrayType, *, axis: int, size: int) -> ArrayType:
    if idx.dtype not in ("i32", "i64"):
        raise TypeError(f"scatter indices must be integers, not {idx.dtype}")
    lead = x.shape[:axis]
    trail = x.shape[axis + idx.ndim:]
    if x.shape[axis:axis + idx.ndim] != idx.shape:
        raise ValueError(f"scatter_add: {x} does not hold {idx} at axis {axis}")
    return x.with_shape(lead + (size,) + trail)


def _scatter_impl(x: np.ndarray, idx: np.ndarray, axis: int, size: int) -> np.ndarray:
    out_shape = x.shape[:axis] + (size,) + x.shape[axis + idx.ndim:]
    out = np.zeros(out_shape, dtype=x.dtype)
    moved = np.moveaxis(out, axis, 0)
    src = np.moveaxis(x.reshape(x.shape[:axis] + (idx.size,) + x.shape[axis + idx.ndim:]), axis, 0)
    np.add.at(moved, idx.reshape(-1), src)
    return out


def _scatter_vjp(ct: Value, x: Value, idx: Value, out: Var, axis: int,
                 size: int) -> tuple[Value, None]:
    return (ops.emit("gather", ct, idx, axis=axis), None)


register(Primitive("scatter_add", INDEX, batch=batching.indexed,
                   lowering=Lowering(ACCUMULATE, op="sum", target=scatter_target),
                   shape=_scatter_shape, impl=_scatter_impl,
                   jvp=lambda ts, x, idx, out, axis, size: (
                       None if ts[0] is None else ops.emit("scatter_add", ts[0], idx, axis=axis,
                                                           size=size)),
                   vjp=_scatter_vjp, params=("axis", "size"), linear=True))
