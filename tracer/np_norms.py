"""np.linalg's norms, cond and matrix_rank on tracers (split from np_linalg.py, whose
`FUNCTIONS` table lists them): vector and matrix norms from abs, sums, max/min and the
singular values (2, -2, 'nuc'; of a complex matrix from its complex svd, every other norm of
a complex array is that of its moduli).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from adjit.ir import Value, current_loc, ops
from adjit.ir.builder import emit
from adjit.ir.errors import TraceError
from adjit.ir.prims import decomp as D

from .np_linalg import _flat, _svd, _val
from .values import Tracer, wrap

_INF = float("inf")


def _reduce(prim: str, v: Value, axes: tuple[int, ...]) -> Value:
    return emit(prim, v, axes=tuple(sorted(axes)))


def _vector_norm(v: Value, ord: Any, axes: tuple[int, ...]) -> Value:
    a = ops.ew("abs", v)
    if ord is None or ord == 2:
        return ops.ew("sqrt", ops.reduce_sum(ops.mul(v, v), axes))
    if ord == _INF:
        return _reduce("reduce_max", a, axes)
    if ord == -_INF:
        return _reduce("reduce_min", a, axes)
    if ord == 0:
        return ops.reduce_sum(ops.convert(ops.ew("ne", v, 0), v.dtype), axes)
    if ord == 1:
        return ops.reduce_sum(a, axes)
    if isinstance(ord, str):
        raise TraceError(f"invalid norm order {ord!r} for vectors", loc=current_loc())
    p = float(ord)
    return ops.pow(ops.reduce_sum(ops.pow(a, p), axes), 1.0 / p)


def _matrix_norm(v: Value, ord: Any, r: int, c: int) -> Value:
    """The matrix norm over axes (r, c) (r != c, non-negative)."""
    if ord in (None, "fro", "f"):
        return ops.ew("sqrt", ops.reduce_sum(ops.mul(v, v), (r, c)))
    if ord in (1, -1, _INF, -_INF):
        a = ops.ew("abs", v)
        inner, outer = (r, c) if ord in (1, -1) else (c, r)  # 1: column sums; inf: row sums
        sums = ops.reduce_sum(a, (inner,))
        outer -= 1 if outer > inner else 0
        return _reduce("reduce_max" if ord in (1, _INF) else "reduce_min", sums, (outer,))
    if ord in (2, -2, "nuc"):
        nd = v.type.ndim
        rest = [i for i in range(nd) if i not in (r, c)]
        m = ops.transpose(v, rest + [r, c])
        s = _svd(m, False)[1]
        last = (s.type.ndim - 1,)
        if ord == "nuc":
            return ops.reduce_sum(s, last)
        return _reduce("reduce_max" if ord == 2 else "reduce_min", s, last)
    raise TraceError(f"invalid norm order {ord!r} for matrices", loc=current_loc())


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tracer:
    from .numpy_api import _t

    t = _stack_list(x) if isinstance(x, (list, tuple)) else _t(x)
    v = t.val
    if v.dtype in ("c64", "c128"):
        matrix = (isinstance(axis, (tuple, list)) and len(axis) == 2) or (axis is None
                                                                          and v.type.ndim == 2)
        if matrix and ord in (2, -2, "nuc"):  # from the complex matrix's singular values
            nd = v.type.ndim
            ax = (0, 1) if axis is None else tuple(int(x) % nd for x in axis)
            if ax[0] == ax[1]:
                raise TraceError("Duplicate axes given.", loc=current_loc())
            r = _matrix_norm(v, ord, ax[0], ax[1])
            if keepdims:
                r = ops.reshape(r, tuple(1 if i in ax else d for i, d in enumerate(v.shape)))
            return wrap(r)
        v = ops.ew("abs", v)  # every other norm is that of the moduli
    elif v.dtype not in ("f32", "f64"):
        v = ops.convert(v, "f64")
    nd = v.type.ndim
    if axis is None:
        if ord is None or (ord in ("fro", "f") and nd == 2):
            flat = ops.reshape(v, (int(np.prod(v.shape, dtype=np.int64)),))
            r = ops.ew("sqrt", ops.reduce_sum(ops.mul(flat, flat), (0,)))
            if keepdims:
                r = ops.reshape(r, (1,) * nd)
            return wrap(r)
        if nd not in (1, 2):
            raise TraceError("Improper number of dimensions to norm.", loc=current_loc())
        axes: tuple[int, ...] = tuple(range(nd))
    else:
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        try:
            axes = tuple(int(a) % nd if -nd <= int(a) < nd else _bad_axis(a, nd) for a in axes)
        except TypeError:
            raise TraceError(f"'axis' must be None, an integer or a tuple of integers, got "
                             f"{axis!r}", loc=current_loc()) from None
    if len(axes) == 1:
        r = _vector_norm(v, ord, axes)
    elif len(axes) == 2:
        if axes[0] == axes[1]:
            raise TraceError("Duplicate axes given.", loc=current_loc())
        r = _matrix_norm(v, ord, axes[0], axes[1])
    else:
        raise TraceError("Improper number of dimensions to norm.", loc=current_loc())
    if keepdims:
        r = ops.reshape(r, tuple(1 if i in axes else d for i, d in enumerate(v.shape)))
    return wrap(r)


def _bad_axis(a: Any, nd: int) -> int:
    raise TraceError(f"axis {a} is out of bounds for an array of dimension {nd}",
                     loc=current_loc())


def _stack_list(x: Any) -> Tracer:
    """np.linalg.norm([t1, t2]): a list of tracers and numbers as one array."""
    from .numpy_api import _t, stack

    if isinstance(x, (list, tuple)):
        return stack([_stack_list(e) if isinstance(e, (list, tuple)) else _t(e) for e in x])
    return _t(x)


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2
                ) -> Tracer:
    from .numpy_api import _t, reshape

    t = _t(x)
    if axis is None:
        r = norm(reshape(t, (-1,)), ord=ord)
        if keepdims:
            r = reshape(r, (1,) * t.ndim)
        return r
    return norm(t, ord=ord, axis=axis, keepdims=keepdims)


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Tracer:
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def cond(x: Any, p: Any = None) -> Tracer:
    # the spectral condition numbers take any shape (from the singular values), the others
    # need an inverse
    v = _val(x, "np.linalg.cond", square=p not in (None, 2, -2), complex_ok=True)
    if p in (None, 2, -2):
        s = _svd(v, False)[1]
        last = (s.type.ndim - 1,)
        hi, lo = _reduce("reduce_max", s, last), _reduce("reduce_min", s, last)
        return wrap(ops.div(hi, lo) if p != -2 else ops.div(lo, hi))
    nd = v.type.ndim
    af, batch = _flat(v)
    vi = ops.reshape(D.inv(af), v.shape)
    if v.type.is_complex:  # these norms are those of the moduli
        v, vi = ops.ew("abs", v), ops.ew("abs", vi)
    return wrap(ops.mul(_matrix_norm(v, p, nd - 2, nd - 1), _matrix_norm(vi, p, nd - 2, nd - 1)))


def matrix_rank(A: Any, tol: Any = None, hermitian: bool = False, *, rtol: Any = None  # noqa: N803
                ) -> Tracer:
    v = _val(A, "np.linalg.matrix_rank", min_ndim=1, square=False, complex_ok=True)
    if v.type.ndim < 2:
        return wrap(ops.convert(ops.ne(emit("reduce_max", ops.ew("abs", v), axes=(0,)), 0),
                                "i64"))
    s = _svd(v, False)[1]
    last = (s.type.ndim - 1,)
    smax = _reduce("reduce_max", s, last)
    if tol is None:
        r = rtol if rtol is not None else max(v.shape[-2:]) * np.finfo(
            np.float32 if v.dtype in ("f32", "c64") else np.float64).eps
        tol_v = ops.mul(smax, float(r))
    elif isinstance(tol, (int, float, np.number)):
        tol_v = ops.broadcast_to(ops.lit(float(tol), s.dtype), smax.shape)
    else:
        raise TraceError("np.linalg.matrix_rank: tol must be a number", loc=current_loc())
    big = ops.ew("gt", s, ops.reshape(tol_v, tol_v.shape + (1,)))
    return wrap(ops.reduce_sum(ops.convert(big, "i64"), last))
