"""numpy's sorting and selection functions on tracers: sort, argsort, partition, median,
percentile and quantile (and their nan- forms), searchsorted, unique.

One primitive does the data-dependent work: `argsort` (ir/prims/sort.py), the stable
permutation that sorts the last axis. Sorted values are a gather through it, so the
gradient of `np.sort` is the gather's adjoint: each cotangent goes back to the element that
landed there (ties: to the one the stable sort put there). Order statistics (median,
percentile) gather fixed positions of the sorted array and interpolate linearly with
constant weights, as numpy's default method 'linear' does; the nan- forms gather at
positions computed from the count of non-NaN values (traced indices). The permutation is
an integer: no gradient.

`np.partition` returns the fully sorted array, which is a valid partition for every kth
(numpy leaves the order on either side of kth unspecified, so only positions kth can be
compared with numpy's). `np.unique` has a size that depends on the values: it works on
constants only.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from adjit.ir import Lit, Value, current_loc, ops
from adjit.ir.builder import emit
from adjit.ir.errors import TraceError

from .values import Tracer, wrap


def _api() -> Any:
    from . import numpy_api

    return numpy_api


def _last(x: Tracer, axis: Any) -> tuple[Tracer, int | None]:
    """x with `axis` moved last (axis None: x raveled), and where to move it back."""
    api = _api()
    if axis is None:
        return api.ravel(x), None
    if x.ndim == 0:
        raise TraceError("sorting needs an array with at least one axis (this one is 0-d)",
                         loc=current_loc(), hint="pass axis=None, or np.atleast_1d(x)")
    (ax,) = api._axes(axis, x.ndim)
    return (api.moveaxis(x, ax, -1) if ax != x.ndim - 1 else x), ax


def _back(x: Tracer, ax: int | None) -> Tracer:
    return x if ax is None or ax == x.ndim - 1 else _api().moveaxis(x, -1, ax)


def _perm(x: Tracer) -> Value:
    """The stable sorting permutation of x's last axis (booleans sort as integers)."""
    v = x.val if x.val.dtype != "bool" else ops.convert(x.val, "i64")
    return emit("argsort", v)


def gather_last(v: Value, idx: Value | np.ndarray) -> Value:
    """v[..., idx] row by row: idx has v's leading shape and in-range positions of its last
    axis (a constant array of positions is shared by every row)."""
    lead, n = v.shape[:-1], v.shape[-1]
    m = int(np.prod(lead, dtype=np.int64))
    if isinstance(idx, np.ndarray):
        k = idx.shape[-1]
        flat = (np.arange(m, dtype=np.int64)[:, None] * n + idx.astype(np.int64)[None, :])
        out = emit("gather", ops.reshape(v, (m * n,)), Lit.make(flat.reshape(lead + (k,)), "i64"),
                   axis=0)
        return out
    base = (np.arange(m, dtype=np.int64) * n).reshape(lead + (1,))
    flat = ops.add(idx, Lit.make(base, "i64"))
    return emit("gather", ops.reshape(v, (m * n,)), flat, axis=0)


def _stable(kind: Any, stable: Any) -> None:
    if kind not in (None, "quicksort", "mergesort", "heapsort", "stable") or stable is False:
        raise TraceError(f"np.sort kind={kind!r}, stable={stable!r} is not supported",
                         loc=current_loc(), hint="adjit always sorts stably")


def _no_order(order: Any) -> None:
    if order is not None:
        raise TraceError("sorting by field (order=) needs structured arrays, which adjit does "
                         "not trace", loc=current_loc())


def argsort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *,
            stable: Any = None) -> Tracer:
    _stable(kind, stable)
    _no_order(order)
    x, ax = _last(_api()._t(a), axis)
    if x.size == 0:
        return _back(wrap(ops.convert(x.val, "i64")), ax)
    return _back(wrap(_perm(x)), ax)


def sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *,
         stable: Any = None) -> Tracer:
    _stable(kind, stable)
    _no_order(order)
    t = _api()._t(a)
    x, ax = _last(t, axis)
    if x.size == 0:
        return _back(x, ax)
    return _back(wrap(gather_last(x.val, _perm(x)), t.weak), ax)


def _kth(kth: Any) -> None:
    if isinstance(kth, Tracer):
        raise TraceError("np.partition with a traced kth is not supported", loc=current_loc(),
                         hint="pass kth as a Python integer")


def partition(a: Any, kth: Any, axis: Any = -1, kind: str = "introselect",
              order: Any = None) -> Tracer:
    _kth(kth)
    return sort(a, axis=axis, order=order)


def argpartition(a: Any, kth: Any, axis: Any = -1, kind: str = "introselect",
                 order: Any = None) -> Tracer:
    _kth(kth)
    return argsort(a, axis=axis, order=order)


# ---- order statistics ---------------------------------------------------------------------------

_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def _static_q(q: Any, scale: float) -> np.ndarray:
    if isinstance(q, Tracer):
        raise TraceError("a traced quantile q makes the positions to read depend on data",
                         loc=current_loc(), hint="pass q as a number, list or numpy array")
    qa = np.asarray(q, dtype=np.float64) / scale
    if np.any((qa < 0) | (qa > 1)) or np.any(np.isnan(qa)):
        raise ValueError("Percentiles must be in the range [0, 100]" if scale == 100 else
                         "Quantiles must be in the range [0, 1]")
    return qa


def _rows(t: Tracer, axis: Any) -> tuple[Tracer, tuple[int, ...], tuple[int, ...]]:
    """t as (kept axes..., n): the reduced axes merged last; and the kept and reduced axes."""
    api = _api()
    axes = api._axes(axis, t.ndim)
    kept = tuple(i for i in range(t.ndim) if i not in axes)
    x = api.transpose(t, kept + axes) if kept + axes != tuple(range(t.ndim)) else t
    n = int(np.prod([t.shape[i] for i in axes], dtype=np.int64))
    return api.reshape(x, tuple(t.shape[i] for i in kept) + (n,)), kept, axes


def _positions(qa: np.ndarray, n: int, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each q: the two sorted positions to read and the weight of the second."""
    pos = qa * (n - 1)
    lo = np.floor(pos)
    hi = np.minimum(lo + 1, n - 1)
    if method == "linear":
        frac = pos - lo
    elif method == "lower":
        frac = np.zeros_like(pos)
    elif method == "higher":
        lo, frac = np.ceil(pos), np.zeros_like(pos)
    elif method == "nearest":
        lo, frac = np.around(pos), np.zeros_like(pos)  # numpy rounds half to even
    else:  # midpoint
        frac = np.where(pos > lo, 0.5, 0.0)
    return lo.astype(np.int64), hi.astype(np.int64), frac


def _lerp(a: Value, b: Value, t: Value | float) -> Value:
    """numpy's _lerp: a + (b - a) t, computed from b's side where t >= 1/2 (exact at t = 1)."""
    d = ops.sub(b, a)
    return ops.select(ops.ew("ge", t, 0.5), ops.sub(b, ops.mul(d, ops.sub(1.0, t))),
                      ops.add(a, ops.mul(d, t)))


def _finish(r: Tracer, qa: np.ndarray, t: Tracer, kept: tuple[int, ...],
            axes: tuple[int, ...], keepdims: bool) -> Tracer:
    """(kept..., nq) -> q.shape + kept (+ 1s where the axes were, with keepdims)."""
    api = _api()
    lead = r.shape[:-1]
    r = api.moveaxis(r, -1, 0) if r.ndim > 1 else r
    if keepdims:
        lead = tuple(1 if i in axes else d for i, d in enumerate(t.shape))
    return api.reshape(r, qa.shape + lead)


def _float_rows(x: Tracer) -> Tracer:
    return x if x.val.dtype in ("f32", "f64") else wrap(ops.convert(x.val, "f64"))


def quantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
             method: str = "linear", keepdims: bool = False, *, weights: Any = None,
             interpolation: Any = None, _scale: float = 1.0, _nan: bool = False) -> Tracer:
    api = _api()
    api._no_out(out, "quantile")
    method = interpolation or method
    if method not in _METHODS or weights is not None:
        raise TraceError(f"np.quantile with method={method!r}"
                         f"{' and weights' if weights is not None else ''} is not supported",
                         loc=current_loc(), hint=f"methods: {', '.join(_METHODS)}")
    qa = _static_q(q, _scale)
    t = api._t(a)
    x, kept, axes = _rows(t, axis)
    x = _float_rows(x)
    n = x.shape[-1]
    if n == 0:
        raise TraceError("the quantile of an empty array is NaN with a warning in numpy; "
                         "adjit refuses it", loc=current_loc())
    s = wrap(gather_last(x.val, _perm(x)))
    if _nan:
        r = _nan_quantile(s, qa.ravel(), method)
    else:
        lo, hi, frac = _positions(qa.ravel(), n, method)
        vlo, vhi = gather_last(s.val, lo), gather_last(s.val, hi)
        r = _lerp(vlo, vhi, Lit.make(frac.astype(s.val.type.np_dtype), s.val.dtype))
        last = gather_last(s.val, np.array([n - 1]))  # NaN sorts last: any NaN makes it NaN
        r = ops.select(ops.ew("ne", last, last), ops.broadcast_to(last, r.shape), r)
    return _finish(wrap(r), qa, t, kept, axes, keepdims)


def _nan_quantile(s: Tracer, qa: np.ndarray, method: str) -> Value:
    """Quantiles of the non-NaN values, which the sort put first: positions from their count."""
    if method != "linear":
        raise TraceError(f"np.nanquantile with method={method!r} is not supported",
                         loc=current_loc(), hint="method='linear' (numpy's default) is")
    v = s.val
    dt = v.dtype
    n = v.shape[-1]
    count = ops.reduce_sum(ops.convert(ops.ew("eq", v, v), dt), (v.type.ndim - 1,))
    count = ops.reshape(count, count.shape + (1,))
    pos = ops.mul(ops.sub(count, 1.0), Lit.make(qa.astype(v.type.np_dtype), dt))
    lo_f = ops.ew("maximum", ops.ew("floor", pos), 0.0)
    frac = ops.sub(pos, lo_f)
    lo = ops.ew("minimum", ops.convert(lo_f, "i64"), n - 1)
    hi = ops.ew("minimum", ops.add(lo, 1), ops.ew("maximum", ops.sub(ops.convert(count, "i64"),
                                                                          1), 0))
    r = _lerp(gather_last(v, lo), gather_last(v, hi), frac)
    nan = ops.lit(np.nan, dt)
    return ops.select(ops.ew("eq", count, 0.0), ops.broadcast_to(nan, r.shape), r)


def percentile(a: Any, q: Any, axis: Any = None, out: Any = None,
               overwrite_input: bool = False, method: str = "linear", keepdims: bool = False,
               *, weights: Any = None, interpolation: Any = None) -> Tracer:
    return quantile(a, q, axis, out, overwrite_input, method, keepdims, weights=weights,
                    interpolation=interpolation, _scale=100.0)


def median(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Tracer:
    return quantile(a, 0.5, axis, out, keepdims=keepdims)


def nanquantile(a: Any, q: Any, axis: Any = None, out: Any = None,
                overwrite_input: bool = False, method: str = "linear", keepdims: bool = False,
                *, weights: Any = None, interpolation: Any = None) -> Tracer:
    return quantile(a, q, axis, out, overwrite_input, method, keepdims, weights=weights,
                    interpolation=interpolation, _nan=True)


def nanpercentile(a: Any, q: Any, axis: Any = None, out: Any = None,
                  overwrite_input: bool = False, method: str = "linear", keepdims: bool = False,
                  *, weights: Any = None, interpolation: Any = None) -> Tracer:
    return quantile(a, q, axis, out, overwrite_input, method, keepdims, weights=weights,
                    interpolation=interpolation, _scale=100.0, _nan=True)


def nanmedian(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
              keepdims: bool = False) -> Tracer:
    return quantile(a, 0.5, axis, out, keepdims=keepdims, _nan=True)


# ---- searching ----------------------------------------------------------------------------------

def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None) -> Tracer:
    """Counts instead of a binary search: the index of v in sorted a is how many elements of
    a sort before it (side 'left', <) or not after it ('right', <=), NaN sorting last. That
    is len(a) comparisons per value, fine for the small tables a differentiated function
    searches; the result is an integer (no gradient)."""
    api = _api()
    t = api._t(a)
    if t.ndim != 1:
        raise TraceError("np.searchsorted: a must be 1-d", loc=current_loc())
    if sorter is not None:
        t = api.take(t, sorter)
    (av, vv), _ = api._operands(t, v)
    av, vv = ops.coerce(av, vv)
    ve = ops.reshape(vv, vv.shape + (1,))
    if side == "left":
        before = ops.ew("lt", av, ve)
    elif side == "right":
        before = ops.ew("le", av, ve)
    else:
        raise ValueError(f"side must be 'left' or 'right' (got {side!r})")
    if av.dtype in ("f32", "f64"):  # numpy's order puts NaN after every number
        v_nan = ops.ew("ne", ve, ve)
        a_num = ops.ew("eq", av, av)
        before = ops.ew("logical_or", before, ops.ew("logical_and", v_nan, a_num))
        if side == "right":
            before = ops.ew("logical_or", before, ops.ew("logical_and", v_nan,
                                                         ops.ew("ne", av, av)))
    return wrap(ops.reduce_sum(ops.convert(before, "i64"), (ve.type.ndim - 1,)))


def unique(ar: Any, *args: Any, **kwargs: Any) -> Any:
    t = _api()._t(ar)
    if isinstance(t.val, Lit):
        res = np.unique(np.asarray(t.val.value), *args, **kwargs)
        if isinstance(res, tuple):
            return tuple(wrap(Lit.make(np.asarray(r))) for r in res)
        return wrap(Lit.make(np.asarray(res)))
    raise TraceError("np.unique of a traced array has a size that depends on the values, "
                     "which adjit cannot compile", loc=current_loc(),
                     hint="compute np.unique outside the traced function (or on a constant), "
                          "or use np.sort(x) and compare neighbours: the sorted values keep "
                          "a static shape")


def _sort_method(self: Tracer, *args: Any, **kwargs: Any) -> None:
    raise TraceError("x.sort() sorts the array in place, which adjit cannot trace",
                     loc=current_loc(), hint="write x = np.sort(x) (a new array)")


def _partition_method(self: Tracer, *args: Any, **kwargs: Any) -> None:
    raise TraceError("x.partition() partitions the array in place, which adjit cannot trace",
                     loc=current_loc(), hint="write x = np.partition(x, kth) (a new array)")


FUNCTIONS: dict[Any, Callable[..., Any]] = {
    np.sort: sort, np.argsort: argsort, np.partition: partition,
    np.argpartition: argpartition, np.median: median, np.percentile: percentile,
    np.quantile: quantile, np.nanmedian: nanmedian, np.nanpercentile: nanpercentile,
    np.nanquantile: nanquantile, np.searchsorted: searchsorted, np.unique: unique,
}

# Array methods: (name, function); in-place ones refuse.
METHODS: dict[str, Callable[..., Any]] = {
    "argsort": argsort, "argpartition": argpartition, "searchsorted": searchsorted,
    "sort": _sort_method, "partition": _partition_method,
}
