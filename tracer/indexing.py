"""`x[key]` on tracers, with numpy's semantics.

Basic indexing (integers, slices with any step, None, Ellipsis) becomes one `slice`
and one `reshape`. A single advanced index (an integer array, a list, a traced
integer such as an `argmax`) becomes a `gather` along its axis; several advanced
indices are combined into one flat index over their axes, as numpy broadcasts them.
A constant boolean mask becomes the integer indices of its True entries.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from adjit.ir import Lit, Value, current_loc, ops
from adjit.ir.builder import emit
from adjit.ir.errors import ShapeError, TraceError

from .values import Tracer, wrap


def index_value(index: Any, n: int) -> Value:
    """An integer index array (constant or traced) for an axis of length `n`, made non-negative."""
    if isinstance(index, Tracer):
        v = index.val
        if v.dtype not in ("i32", "i64"):
            raise TraceError(f"arrays used as indices must be of integer type, not {v.dtype}",
                             loc=current_loc())
        v = ops.convert(v, "i64")
        return ops.select(ops.ew("lt", v, 0), ops.add(v, n), v)
    arr = np.asarray(index)
    if arr.dtype == object:
        from .values import pack_objects

        return index_value(pack_objects(arr), n)
    if arr.dtype.kind not in "iu":
        raise TraceError(f"arrays used as indices must be of integer type, not {arr.dtype}",
                         loc=current_loc())
    if arr.size and (arr.max() >= n or arr.min() < -n):
        bad = arr.max() if arr.max() >= n else arr.min()
        raise ShapeError(f"index {bad} is out of bounds for axis with size {n}", loc=current_loc())
    return Lit.make(np.where(arr < 0, arr + n, arr).astype(np.int64), "i64")


def _is_advanced(k: Any) -> bool:
    if isinstance(k, Tracer):
        return True
    if isinstance(k, (list, np.ndarray)):
        return True
    return False


def _expand_key(key: Any, ndim: int) -> list[Any]:
    key = list(key) if isinstance(key, tuple) else [key]
    # Boolean arrays (constant) index by their True positions, one advanced index per axis.
    expanded: list[Any] = []
    for k in key:
        if isinstance(k, Tracer) and k.val.dtype == "bool":
            raise TraceError("a traced boolean mask must be the only index", loc=current_loc(),
                             hint="write x[mask] with a mask of x's shape, or use "
                                  "np.where(mask, x, 0)")
        if isinstance(k, (list, np.ndarray)) and np.asarray(k).dtype == bool:
            expanded.extend(np.nonzero(np.asarray(k)))
        elif isinstance(k, (bool, np.bool_)):
            raise TraceError("indexing with a Python bool is not supported", loc=current_loc())
        else:
            expanded.append(k)
    used = sum(1 for k in expanded if k is not None and k is not Ellipsis)
    if used > ndim:
        raise ShapeError(f"too many indices for array: array is {ndim}-dimensional, but {used} "
                         "were indexed", loc=current_loc())
    ell = [i for i, k in enumerate(expanded) if k is Ellipsis]
    if ell:
        i = ell[0]
        expanded[i:i + 1] = [slice(None)] * (ndim - used)
    else:
        expanded += [slice(None)] * (ndim - used)
    return expanded


def getitem(x: Tracer, key: Any) -> Tracer:
    from .masked import Masked, select, unsupported

    if isinstance(x, Masked):
        raise unsupported("indexing")
    if isinstance(key, Tracer) and key.val.dtype == "bool":
        return select(x, key)
    keys = _expand_key(key, x.ndim)
    # Pass 1: basic indexing on every axis; advanced indices keep their axis whole for now.
    starts, steps, sizes, out_shape, adv = [], [], [], [], []
    axis = 0
    for k in keys:
        if k is None:
            out_shape.append(("new", 1))
            continue
        n = x.shape[axis]
        if isinstance(k, slice):
            try:
                start, stop, step = k.indices(n)
            except (ValueError, TypeError) as e:  # a zero step, a traced bound
                raise TraceError(f"bad slice {k}: {e}", loc=current_loc()) from None
            size = len(range(start, stop, step))
            starts.append(start if size else 0)
            steps.append(step)
            sizes.append(size)
            out_shape.append(("keep", size))
        elif _is_advanced(k):
            starts.append(0)
            steps.append(1)
            sizes.append(n)
            out_shape.append(("adv", len(adv)))
            adv.append((axis, k))
        else:
            try:
                i = int(k)
            except TypeError:
                raise TraceError(f"cannot index an array with {type(k).__name__}",
                                 loc=current_loc()) from None
            if not -n <= i < n:
                raise ShapeError(f"index {i} is out of bounds for axis {axis} with size {n}",
                                 loc=current_loc())
            starts.append(i % n)
            steps.append(1)
            sizes.append(1)
            out_shape.append(("drop", 1))
        axis += 1
    v = x.val
    if tuple(sizes) != x.shape or any(s != 1 for s in steps):
        v = emit("slice", v, starts=tuple(starts), steps=tuple(steps), shape=tuple(sizes))
    if adv:
        return wrap(_advanced(v, out_shape, adv), x.weak)
    shape = tuple(s for kind, s in out_shape if kind in ("new", "keep"))
    return wrap(ops.reshape(v, shape), x.weak)


def _advanced(v: Value, layout: list[tuple[str, int]], adv: list[tuple[int, Any]]) -> Value:
    """Apply advanced indices to `v` (already basic-sliced, ints kept as size-1 axes)."""
    # Drop the integer-indexed axes first so axis numbers refer to what remains.
    src_axes = [i for i, (kind, _) in enumerate(layout) if kind != "new"]
    kinds = [layout[i][0] for i in src_axes]
    keep = [d for d, kind in zip(v.shape, kinds, strict=True) if kind != "drop"]
    v = ops.reshape(v, tuple(keep))
    pos = [i for i, kind in enumerate(k for k in kinds if k != "drop") if kind == "adv"]
    adv_axes = pos
    idx_vals = [index_value(k, v.shape[a]) for a, (_, k) in zip(adv_axes, adv, strict=True)]
    bshape = tuple(np.broadcast_shapes(*[i.shape for i in idx_vals]))
    if len(idx_vals) == 1:
        flat_idx, merged = idx_vals[0], v
        first = adv_axes[0]
    else:
        # Move the indexed axes together, merge them, and index the merged axis by a flat index.
        first = adv_axes[0]
        adjacent = adv_axes == list(range(first, first + len(adv_axes)))
        rest = [a for a in range(v.type.ndim) if a not in adv_axes]
        if not adjacent:
            first = 0
        perm = rest[:first] + adv_axes + rest[first:]
        moved = ops.transpose(v, perm)
        dims = [v.shape[a] for a in adv_axes]
        merged = ops.reshape(moved, moved.shape[:first] + (int(np.prod(dims)),)
                             + moved.shape[first + len(dims):])
        flat_idx = None
        stride = 1
        for iv, d in reversed(list(zip(idx_vals, dims, strict=True))):
            term = ops.broadcast_to(ops.mul(iv, stride) if stride != 1 else iv, bshape)
            flat_idx = term if flat_idx is None else ops.add(flat_idx, term)
            stride *= d
        flat_idx = ops.broadcast_to(flat_idx, bshape)
    out = emit("gather", merged, flat_idx, axis=first)
    # Re-insert np.newaxis positions (only supported when no advanced index moved them).
    news = [i for i, (kind, _) in enumerate(layout) if kind == "new"]
    if news:
        shape = list(out.shape)
        for i in news:
            shape.insert(min(i, len(shape)), 1)
        out = ops.reshape(out, tuple(shape))
    return out


def take_along(arr: Tracer, indices: Any, axis: Any) -> Tracer:
    if axis is None:
        from .numpy_api import ravel

        arr, axis = ravel(arr), 0
    ax = int(axis) % arr.ndim
    idx_t = indices.val.type if isinstance(indices, Tracer) else None
    ishape = idx_t.shape if idx_t is not None else np.shape(indices)
    if len(ishape) != arr.ndim:
        raise ShapeError("take_along_axis: indices and arr must have the same number of "
                         "dimensions", loc=current_loc())
    n = arr.shape[ax]
    out_shape = tuple(np.broadcast_shapes(
        tuple(d for i, d in enumerate(arr.shape) if i != ax),
        tuple(d for i, d in enumerate(ishape) if i != ax)))
    full = list(out_shape)
    full.insert(ax, ishape[ax])
    full = tuple(full)
    idx = ops.broadcast_to(index_value(indices, n), full)
    # Flat index into arr.ravel(): sum over axes of coordinate * stride, with idx on `ax`.
    arr_b = ops.broadcast_to(arr.val, tuple(arr.shape[i] if i == ax else full[i]
                                            for i in range(arr.ndim)))
    strides = np.cumprod((arr_b.shape[1:] + (1,))[::-1])[::-1]
    base = np.zeros(full, dtype=np.int64)
    for i in range(arr.ndim):
        if i != ax:
            coord = np.arange(full[i]).reshape([-1 if j == i else 1 for j in range(arr.ndim)])
            base = base + coord * int(strides[i])
    flat = ops.add(ops.mul(idx, int(strides[ax])) if strides[ax] != 1 else idx,
                   Lit.make(base, "i64"))
    src = ops.reshape(arr_b, (int(np.prod(arr_b.shape)),))
    return wrap(emit("gather", src, flat, axis=0), arr.weak)
