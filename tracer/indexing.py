"""`x[key]` on tracers, with numpy's semantics.

Basic indexing (integers, slices with any step, None, Ellipsis) becomes one `slice`
and one `reshape`. Advanced indices (integer arrays, lists, traced integer arrays such
as an `argmax`, and every integer once one of those is present) become one `gather`
over their axes, merged into one, with a flat index broadcast as numpy broadcasts them.
numpy's placement rule holds: the broadcast index shape replaces the advanced entries
where they are adjacent in the key, and comes first where a slice, Ellipsis or None
separates them (`x[3, 2:, [1, 3]]` of a (5, 6, 7) array is (2, 4)). A constant boolean
array becomes the integer arrays of its True positions; a 0-d boolean, a new axis of
length 1 indexed by [0] or []. The gradient is gather's: a scatter-add.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from adjit.ir import Lit, Value, current_loc, ops
from adjit.ir.builder import emit
from adjit.ir.errors import ShapeError, TraceError

from .guards import in_bounds
from .values import Tracer, wrap


def index_value(index: Any, n: int) -> Value:
    """An integer index array (constant or traced) for an axis of length `n`, made non-negative."""
    if isinstance(index, Tracer):
        v = index.val
        if v.dtype not in ("i32", "i64"):
            raise TraceError(f"arrays used as indices must be of integer type, not {v.dtype}",
                             loc=current_loc())
        v = ops.convert(v, "i64")
        if n == 0 and v.type.size:
            raise ShapeError("index is out of bounds for axis with size 0", loc=current_loc())
        in_bounds(v, n)  # numpy's IndexError, while tracing and (by a guard) on later calls
        v = ops.select(ops.ew("lt", v, 0), ops.add(v, n), v)
        # Clamped as well: compiled code never reads or writes outside the array (a guard
        # cannot be made inside a traced loop or branch body).
        return ops.ew("minimum", ops.ew("maximum", v, 0), n - 1)
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


class _Key:
    """One entry of an index tuple, classified as numpy classifies it."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: Any = None) -> None:
        # slice, int, none, ellipsis (a marker), array (integer, constant or traced)
        self.kind = kind
        self.value = value


_INDEX_HELP = ("only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and "
               "integer or boolean arrays are valid indices")


def _index_array(k: Any) -> Any:
    """A list or array index as a numpy array (bool or integer) or a traced integer array."""
    if isinstance(k, np.ndarray) and k.dtype != object:
        return k
    if isinstance(k, list) and _holds_tracer(k):
        from .values import pack_objects

        obj = np.empty(len(k), dtype=object)
        for i, e in enumerate(k):  # one by one: numpy would ask a tracer for its values
            obj[i] = _index_array(e) if isinstance(e, list) else e
        return pack_objects(obj)
    arr = np.asarray(k)
    if arr.dtype == object:
        from .values import pack_objects

        return pack_objects(arr)
    if arr.size == 0 and arr.dtype.kind == "f":
        arr = arr.astype(np.int64)  # x[[]] indexes with an empty integer array, as numpy
    return arr


def _holds_tracer(k: Any) -> bool:
    return any(isinstance(e, Tracer) or (isinstance(e, list) and _holds_tracer(e)) for e in k)


def _classify(key: Any, shape: tuple[int, ...]) -> tuple[list[_Key], list[int]]:
    """numpy's reading of `key` for an array of `shape`: the entries (Ellipsis expanded,
    boolean arrays turned into the integer arrays of their True positions, a 0-d boolean
    into an integer array over a new axis of length 1), and where such new axes go."""
    if isinstance(key, tuple):
        entries = list(key)
    else:
        entries = [key]
    raw: list[tuple[str, Any]] = []
    for k in entries:
        if k is None:
            raw.append(("none", None))
        elif k is Ellipsis:
            raw.append(("ellipsis", None))
        elif isinstance(k, slice):
            raw.append(("slice", k))
        elif isinstance(k, Tracer):
            if k.val.dtype == "bool":
                raise TraceError("a traced boolean mask must be the only index",
                                 loc=current_loc(), hint="write x[mask] with a mask of x's "
                                                         "shape, or use np.where(mask, x, 0)")
            if k.val.dtype not in ("i32", "i64"):
                raise TraceError(f"arrays used as indices must be of integer type, not "
                                 f"{k.val.dtype}", loc=current_loc(), hint=_INDEX_HELP)
            raw.append(("array", k))
        elif isinstance(k, (bool, np.bool_)):
            raw.append(("bool0", bool(k)))
        elif isinstance(k, (int, np.integer)):
            raw.append(("int", int(k)))
        elif isinstance(k, (list, tuple, np.ndarray)):  # x[(0, 1), (3, 3)]: a tuple inside
            arr = _index_array(list(k) if isinstance(k, tuple) else k)  # the key is a sequence
            if isinstance(arr, np.ndarray) and arr.dtype == bool:
                raw.append(("bool0", bool(arr)) if arr.ndim == 0 else ("boolarr", arr))
            elif isinstance(arr, np.ndarray) and arr.dtype.kind not in "iu":
                raise TraceError(f"arrays used as indices must be of integer (or boolean) type, "
                                 f"not {arr.dtype}", loc=current_loc(), hint=_INDEX_HELP)
            elif isinstance(arr, np.ndarray) and arr.ndim == 0:
                raw.append(("int", int(arr)))  # a 0-d integer array acts as an integer
            else:
                raw.append(("array", arr))
        else:
            raise TraceError(f"cannot index an array with {type(k).__name__}: {_INDEX_HELP}",
                             loc=current_loc())
    if sum(1 for kind, _ in raw if kind == "ellipsis") > 1:
        raise TraceError("an index can only have a single ellipsis ('...')", loc=current_loc())
    used = sum(k.ndim if kind == "boolarr" else 1 for kind, k in raw
               if kind in ("slice", "int", "array", "boolarr"))
    if used > len(shape):
        raise ShapeError(f"too many indices for array: array is {len(shape)}-dimensional, but "
                         f"{used} were indexed", loc=current_loc())
    out: list[_Key] = []
    new_axes: list[int] = []  # source positions where a 0-d boolean adds an axis
    axis = 0
    for kind, k in raw:
        if kind == "ellipsis":  # (kept as a marker: it separates advanced indices even
            out.append(_Key("ellipsis"))  # where it stands for no axis)
            out.extend(_Key("slice", slice(None)) for _ in range(len(shape) - used))
            axis += len(shape) - used
        elif kind == "none":
            out.append(_Key("none"))
        elif kind == "bool0":
            new_axes.append(axis + len(new_axes))
            out.append(_Key("array", np.zeros(1 if k else 0, dtype=np.int64)))
        elif kind == "boolarr":
            dims = shape[axis:axis + k.ndim]
            for i, (d, m) in enumerate(zip(dims, k.shape, strict=True)):
                if d != m:
                    raise ShapeError(f"boolean index did not match indexed array along axis "
                                     f"{axis + i}; size of axis is {d} but size of "
                                     f"corresponding boolean axis is {m}", loc=current_loc())
            out.extend(_Key("array", nz) for nz in np.nonzero(k))
            axis += k.ndim
        else:
            out.append(_Key(kind, k))
            axis += 1
    if not any(kind == "ellipsis" for kind, _ in raw):
        out.extend(_Key("slice", slice(None)) for _ in range(len(shape) - used))
    return out, new_axes


def getitem(x: Tracer, key: Any) -> Tracer:
    """`x[key]` with numpy's rules. Integer arrays (and, when any array is present, the
    integers too) are advanced indices: their broadcast shape B replaces them in place when
    they are adjacent in the key, and goes first when a slice, Ellipsis or None separates
    them (numpy's rule)."""
    from .masked import Masked, select, unsupported

    if isinstance(x, Masked):
        raise unsupported("indexing")
    if isinstance(key, Tracer) and key.val.dtype == "bool":
        return select(x, key)
    keys, new_axes = _classify(key, x.shape)
    v = x.val
    if new_axes:  # a 0-d boolean index: a new axis of length 1, indexed by [0] or []
        shape = list(v.shape)
        for a in new_axes:
            shape.insert(a, 1)
        v = ops.reshape(v, tuple(shape))
    # Pass 1: basic indexing of every source axis; integers select and drop their axis,
    # arrays keep theirs whole for pass 2.
    starts, steps, sizes = [], [], []
    src_axis = 0
    for k in keys:
        if k.kind in ("none", "ellipsis"):
            continue
        n = v.shape[src_axis]
        if k.kind == "slice":
            try:
                start, stop, step = k.value.indices(n)
            except (ValueError, TypeError) as e:  # a zero step, a non-integer bound
                raise TraceError(f"bad slice {k.value}: {e}", loc=current_loc()) from None
            size = len(range(start, stop, step))
            k.value = size
            starts.append(start if size else 0)
            steps.append(step)
            sizes.append(size)
        elif k.kind == "int":
            if not -n <= k.value < n:
                raise ShapeError(f"index {k.value} is out of bounds for axis {src_axis} with "
                                 f"size {n}", loc=current_loc())
            starts.append(k.value % n)
            steps.append(1)
            sizes.append(1)
        else:
            k.value = index_value(k.value, n)
            starts.append(0)
            steps.append(1)
            sizes.append(n)
        src_axis += 1
    if tuple(sizes) != v.shape or any(s != 1 for s in steps):
        v = emit("slice", v, starts=tuple(starts), steps=tuple(steps), shape=tuple(sizes))
    # Drop the integer-indexed axes.
    kept = [k for k in keys if k.kind not in ("none", "ellipsis")]
    v = ops.reshape(v, tuple(d for d, k in zip(v.shape, kept, strict=True) if k.kind != "int"))
    adv_pos = [i for i, k in enumerate(keys) if k.kind == "array"
               or (k.kind == "int" and any(j.kind == "array" for j in keys))]
    if not any(k.kind == "array" for k in keys):
        return wrap(ops.reshape(v, tuple(1 if k.kind == "none" else k.value for k in keys
                                         if k.kind in ("none", "slice"))), x.weak)
    adjacent = adv_pos == list(range(adv_pos[0], adv_pos[-1] + 1))
    v, bshape = _gather(v, [k for k in keys if k.kind != "int"], adjacent)
    dims = [1 if k.kind == "none" else k.value for k in keys if k.kind in ("none", "slice")]
    at = sum(1 for k in keys[:adv_pos[0]] if k.kind in ("none", "slice")) if adjacent else 0
    return wrap(ops.reshape(v, tuple(dims[:at]) + bshape + tuple(dims[at:])), x.weak)


def _gather(v: Value, keys: list[_Key], adjacent: bool) -> tuple[Value, tuple[int, ...]]:
    """Index `v` (integer axes dropped; `keys` hold its slices, kept whole, its index arrays
    and the None entries) by its index arrays: one gather over their merged axes. The result
    has the broadcast index shape B in place of those axes when `adjacent`, else first."""
    kept = [k for k in keys if k.kind not in ("none", "ellipsis")]
    axes = [i for i, k in enumerate(kept) if k.kind == "array"]
    idx = [k.value for k in kept if k.kind == "array"]
    try:
        bshape = tuple(np.broadcast_shapes(*[i.shape for i in idx]))
    except ValueError:
        shapes = " ".join(str(i.shape) for i in idx)
        raise ShapeError(f"shape mismatch: indexing arrays could not be broadcast together "
                         f"with shapes {shapes}", loc=current_loc()) from None
    if not adjacent and axes != list(range(len(axes))):
        rest = [a for a in range(v.type.ndim) if a not in axes]
        v = ops.transpose(v, axes + rest)
        axes = list(range(len(axes)))
    first = axes[0]  # the indexed axes are now consecutive from `first`
    dims = [v.shape[a] for a in axes]
    if len(axes) > 1:
        v = ops.reshape(v, v.shape[:first] + (int(np.prod(dims, dtype=np.int64)),)
                        + v.shape[first + len(axes):])
    flat = None
    stride = 1
    for iv, d in reversed(list(zip(idx, dims, strict=True))):
        term = ops.mul(iv, stride) if stride != 1 else iv
        flat = term if flat is None else ops.add(flat, term)
        stride *= d
    flat = ops.broadcast_to(flat, bshape) if flat.shape != bshape else flat
    return emit("gather", v, flat, axis=first), bshape


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
