"""scipy.linalg on tracers: `SCIPY_FUNCTIONS`, keyed by dotted name (tracer/scipy_api.py
resolves them when scipy.linalg is imported, so that importing adjit does not import
scipy.linalg). Compositions of the primitives of ir/prims/decomp.py, built with
np_linalg.py's helpers (split from it). Real matrices only: a complex operand is a
TraceError (np_linalg._real_only).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from adjit.ir import Lit, Value, current_loc, ops
from adjit.ir.builder import emit
from adjit.ir.errors import TraceError
from adjit.ir.prims import decomp as D

from .np_linalg import (_bcast_batch, _cholesky, _common, _flat, _mT, _solve_values, _tri_sym,
                        _unflat, _val, det, inv)
from .values import Tracer, wrap

def _sp_val(x: Any, what: str, square: bool = True) -> Value:
    return _val(x, what, square=square)


def _trans(trans: Any) -> bool:
    if trans in (0, "N"):
        return False
    if trans in (1, "T", 2, "C"):  # real matrices: 'C' is 'T'
        return True
    raise TraceError(f"trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}",
                     loc=current_loc())


def _tri_solve_values(a: Value, b: Value, lower: bool, transpose_a: bool, unit: bool,
                      what: str) -> Value:
    a, b = _common(a, b)
    vector = b.type.ndim == 1
    if vector:
        b = ops.reshape(b, b.shape + (1,))
    if b.shape[-2] != a.shape[-1]:
        raise TraceError(f"{what}: shapes of a {a.shape} and b {b.shape} are incompatible",
                         loc=current_loc())
    a, b, batch = _bcast_batch(a, b)
    af, _ = _flat(a)
    bf, _ = _flat(b)
    x = ops.reshape(D.trsolve(af, bf, lower, transpose_a, unit), batch + b.shape[-2:])
    return ops.reshape(x, x.shape[:-1]) if vector else x


def sp_solve_triangular(a: Any, b: Any, trans: Any = 0, lower: bool = False,
                        unit_diagonal: bool = False, overwrite_b: bool = False,
                        check_finite: bool = True) -> Tracer:
    av = _sp_val(a, "scipy.linalg.solve_triangular")
    bv = _val(b, "scipy.linalg.solve_triangular", min_ndim=1, square=False)
    return wrap(_tri_solve_values(av, bv, bool(lower), _trans(trans), bool(unit_diagonal),
                                  "scipy.linalg.solve_triangular"))


def sp_cholesky(a: Any, lower: bool = False, overwrite_a: bool = False,
                check_finite: bool = True) -> Tracer:
    v = _sp_val(a, "scipy.linalg.cholesky")
    # LAPACK potrf reads the triangle it writes: the upper one unless lower=True
    return wrap(_cholesky(v, upper=not lower, lower_read=bool(lower)))


def sp_cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False,
                  check_finite: bool = True) -> tuple[Tracer, bool]:
    """(c, lower): c holds the factor in its `lower` (or upper) triangle and a's own entries
    in the other one, as scipy's (LAPACK's potrf leaves them)."""
    v = _sp_val(a, "scipy.linalg.cho_factor")
    f = _cholesky(v, upper=not lower, lower_read=bool(lower))
    fl, batch = _flat(f)
    vl, _ = _flat(v)
    other = D.triu(vl, 1) if lower else D.tril(vl, -1)
    c = ops.add(fl, other)
    return _unflat(c, batch), bool(lower)


def sp_cho_solve(c_and_lower: Any, b: Any, overwrite_b: bool = False,
                 check_finite: bool = True) -> Tracer:
    try:
        c, lower = c_and_lower
    except (TypeError, ValueError):
        raise TraceError("scipy.linalg.cho_solve takes (c, lower) as returned by cho_factor",
                         loc=current_loc()) from None
    cv = _sp_val(c, "scipy.linalg.cho_solve")
    bv = _val(b, "scipy.linalg.cho_solve", min_ndim=1, square=False)
    what = "scipy.linalg.cho_solve"
    if lower:  # a = L L^T: x = L^-T (L^-1 b)
        y = _tri_solve_values(cv, bv, True, False, False, what)
        return wrap(_tri_solve_values(cv, y, True, True, False, what))
    # a = U^T U: x = U^-1 (U^-T b)
    y = _tri_solve_values(cv, bv, False, True, False, what)
    return wrap(_tri_solve_values(cv, y, False, False, False, what))


def sp_solve(a: Any, b: Any, lower: bool = False, overwrite_a: bool = False,
             overwrite_b: bool = False, check_finite: bool = True, assume_a: Any = None,
             transposed: bool = False) -> Tracer:
    what = "scipy.linalg.solve"
    av = _sp_val(a, what)
    bv = _val(b, what, min_ndim=1, square=False)
    if assume_a in ("sym", "symmetric", "her", "hermitian", "pos", "positive definite"):
        av = _tri_sym(av, bool(lower))  # scipy reads one triangle
    elif assume_a in ("lower triangular", "upper triangular"):
        return wrap(_tri_solve_values(av, bv, assume_a.startswith("lower"), bool(transposed),
                                      False, what))
    elif assume_a in ("diagonal", "tridiagonal", "banded"):
        raise TraceError(f"{what} with assume_a={assume_a!r} is not supported",
                         loc=current_loc(), hint="the default assume_a=None (general) is")
    elif assume_a not in (None, "gen", "general"):
        raise TraceError(f"{what}: unknown assume_a={assume_a!r}", loc=current_loc())
    if transposed:
        av = _mT(av)
    return wrap(_solve_values(av, bv, what))


def sp_inv(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Tracer:
    _sp_val(a, "scipy.linalg.inv")
    return inv(a)


def sp_det(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Tracer:
    _sp_val(a, "scipy.linalg.det")
    return det(a)


def _square_prim(name: str, a: Any, what: str) -> Tracer:
    v = _sp_val(a, what)
    af, batch = _flat(v)
    return _unflat(emit(name, af), batch)


def sp_expm(A: Any) -> Tracer:  # noqa: N803
    return _square_prim("expm", A, "scipy.linalg.expm")


def sp_sqrtm(A: Any, disp: Any = True, blocksize: Any = 64) -> Tracer:  # noqa: N803
    """The real principal square root; a matrix without one (an eigenvalue on the closed
    negative real axis, where scipy returns a complex result) gives NaN."""
    return _square_prim("sqrtm", A, "scipy.linalg.sqrtm")


def sp_solve_sylvester(a: Any, b: Any, q: Any) -> Tracer:
    what = "scipy.linalg.solve_sylvester"
    av, bv = _sp_val(a, what), _sp_val(b, what)
    qv = _val(q, what, square=False)
    if av.type.ndim != 2 or bv.type.ndim != 2 or qv.shape != (av.shape[0], bv.shape[0]):
        raise TraceError(f"{what}: a {av.shape}, b {bv.shape} and q {qv.shape} do not fit "
                         f"(a is n x n, b m x m, q n x m)", loc=current_loc())
    dt = ops.promote_dtypes(av.dtype, bv.dtype, qv.dtype)
    av, bv, qv = (ops.convert(x, dt) for x in (av, bv, qv))
    x = D.sylvester(*(ops.reshape(x, (1,) + x.shape) for x in (av, bv, qv)))
    return wrap(ops.reshape(x, qv.shape))


def sp_solve_banded(l_and_u: Any, ab: Any, b: Any, overwrite_ab: bool = False,
                    overwrite_b: bool = False, check_finite: bool = True) -> Tracer:
    """The band storage ab[u + i - j, j] = a[i, j] unpacked into the dense a, then solve."""
    what = "scipy.linalg.solve_banded"
    try:
        lo, up = (int(x) for x in l_and_u)
    except (TypeError, ValueError):
        raise TraceError(f"{what}: (l, u) must be two integers", loc=current_loc()) from None
    abv = _val(ab, what, square=False)
    bv = _val(b, what, min_ndim=1, square=False)
    if abv.type.ndim != 2 or abv.shape[0] != lo + up + 1:
        raise TraceError(f"{what}: ab must be ({lo + up + 1}, n) for (l, u) = ({lo}, {up}), "
                         f"got {abv.shape}", loc=current_loc())
    n = abv.shape[1]
    i, j = np.indices((n, n))
    band = (i - j <= lo) & (j - i <= up)
    src = np.where(band, (up + i - j) * n + j, 0).reshape(-1)
    flat = ops.reshape(abv, (abv.shape[0] * n,))
    dense = ops.reshape(emit("gather", flat, Lit.make(src, "i64"), axis=0), (n, n))
    dense = ops.select(Lit.make(band, "bool"), dense, 0)
    return wrap(_solve_values(dense, bv, what))


SCIPY_FUNCTIONS: dict[Any, Callable[..., Any]] = {
    f"scipy.linalg.{name}": fn for name, fn in (
        ("solve_triangular", sp_solve_triangular), ("cho_factor", sp_cho_factor),
        ("cho_solve", sp_cho_solve), ("cholesky", sp_cholesky), ("expm", sp_expm),
        ("sqrtm", sp_sqrtm), ("solve_sylvester", sp_solve_sylvester),
        ("solve_banded", sp_solve_banded), ("inv", sp_inv), ("det", sp_det),
        ("solve", sp_solve))}
