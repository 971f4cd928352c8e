"""numpy.linalg on tracers: `FUNCTIONS` (merged into numpy_api's table). scipy.linalg is in
sp_linalg.py, built with the helpers here.

Everything is built from the solve/decomposition primitives of ir/prims/decomp.py, which
take (B, m, n) stacks: numpy's leading batch axes are broadcast, flattened into B and
restored. inv, det, pinv, lstsq, matrix_power, the norms, cho_solve, solve_banded,
solve_sylvester ... are compositions, so their derivatives come from the primitives' rules.

Where numpy reads only one triangle (eigh's UPLO, cholesky), the matrix handed to the
primitive is rebuilt from that triangle, so derivatives are with respect to the entries
numpy reads (the other triangle's gradient is zero), and a finite-difference check on a
non-symmetric input agrees. Bad shapes are a TraceError at the user's line.

Complex matrices: solve, inv, det, slogdet, eigh (Hermitian, from the triangle read and the
real part of the diagonal, as LAPACK's heevd), svd, eig/eigvals, pinv, lstsq, matrix_power,
matrix_rank, cond, cholesky (a = L L^H), qr and the spectral/nuclear norms
(ir/prims/decomp_complex.py has their rules and the phase gauge of complex vectors).
scipy.linalg stays real: a complex operand is a TraceError (`_real_only`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from adjit.ir import Lit, Value, current_loc, ops
from adjit.ir.builder import emit, emit_multi
from adjit.ir.errors import TraceError
from adjit.ir.prims import decomp as D

from .values import Tracer, wrap

# ---- helpers ----------------------------------------------------------------------------------


def _val(x: Any, what: str, min_ndim: int = 2, square: bool = True,
         complex_ok: bool = False) -> Value:
    """x as a float IR value with at least `min_ndim` axes (square last two when asked);
    complex values are kept where the caller's derivative rules handle them (`complex_ok`),
    refused otherwise."""
    from .numpy_api import _t

    t = _t(x)
    v = t.val if complex_ok else _real_only(t.val, what)
    if v.dtype not in ("f32", "f64", "c64", "c128"):
        v = ops.convert(v, "f64")
    if v.type.ndim < min_ndim:
        raise TraceError(f"{what}: {v.type.ndim}-dimensional array given; the array must be "
                         f"at least {min_ndim}-dimensional", loc=current_loc())
    if square and min_ndim >= 2 and v.shape[-1] != v.shape[-2]:
        raise TraceError(f"{what}: the last 2 dimensions of the array must be square, got "
                         f"{v.shape[-2]}x{v.shape[-1]}", loc=current_loc(),
                         hint="use np.linalg.lstsq or pinv for non-square matrices")
    return v


def _flat(v: Value) -> tuple[Value, tuple[int, ...]]:
    """(..., m, n) -> (B, m, n) and the batch shape."""
    batch = v.shape[:-2]
    return ops.reshape(v, (int(np.prod(batch, dtype=np.int64)),) + v.shape[-2:]), batch


def _unflat(v: Value, batch: tuple[int, ...]) -> Tracer:
    return wrap(ops.reshape(v, batch + v.shape[1:]))


def _real_only(v: Value, what: str) -> Value:
    """Where a function's rules are real only (the scipy.linalg functions), a complex
    operand is refused, never cut to its real part."""
    if v.dtype in ("c64", "c128"):
        raise TraceError(f"{what} of a complex array is not supported (its derivative rules "
                         "are for real matrices)", loc=current_loc(),
                         hint="split it into real and imaginary parts, e.g. the real 2n x 2n "
                              "form [[A.real, -A.imag], [A.imag, A.real]]")
    return v


def _common(a: Value, b: Value, complex_ok: bool = False) -> tuple[Value, Value]:
    if not complex_ok:
        _real_only(a, "linear algebra")
        _real_only(b, "linear algebra")
    dt = ops.promote_dtypes(a.dtype, b.dtype)
    return ops.convert(a, dt), ops.convert(b, dt)


def _bcast_batch(a: Value, b: Value) -> tuple[Value, Value, tuple[int, ...]]:
    try:
        batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    except ValueError:
        raise TraceError(f"the batch axes of {a.shape} and {b.shape} do not broadcast",
                         loc=current_loc()) from None
    return (ops.broadcast_to(a, batch + a.shape[-2:]), ops.broadcast_to(b, batch + b.shape[-2:]),
            batch)


def _tri_sym(v: Value, lower: bool) -> Value:
    """The symmetric (complex: Hermitian) matrix numpy sees when it reads only one triangle
    of v. LAPACK's Hermitian routines read only the real part of the diagonal."""
    strict = D.tril(v, -1) if lower else D.triu(v, 1)
    if v.type.is_complex:
        eye = Lit.make(np.eye(v.shape[-1], dtype=bool), "bool")
        d = ops.select(eye, ops.to_complex(ops.real(v)), 0)
        return ops.add(ops.add(strict, d), ops.conj(_mT(strict)))
    t = D.tril(v) if lower else D.triu(v)
    return ops.add(t, _mT(strict))


def _mT(v: Value) -> Value:
    perm = list(range(v.type.ndim))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return ops.transpose(v, perm)


def _result(kind: str, *items: Any) -> Any:
    """numpy 2's named result tuples where numpy has them, else a plain tuple."""
    cls = getattr(getattr(np.linalg, "_linalg", None), kind, None)
    return cls(*items) if cls is not None else tuple(items)


def _mm(a: Value, b: Value) -> Value:
    """matmul of equal-batch (..., m, k) @ (..., k, n) stacks of any batch rank."""
    af, batch = _flat(a)
    bf, _ = _flat(b)
    return ops.reshape(ops.matmul(af, bf), batch + (a.shape[-2], b.shape[-1]))


# ---- numpy.linalg ---------------------------------------------------------------------------

def _solve_values(a: Value, b: Value, what: str, complex_ok: bool = False) -> Value:
    a, b = _common(a, b, complex_ok)
    vector = b.type.ndim == 1
    if vector:
        b = ops.reshape(b, b.shape + (1,))
    if b.shape[-2] != a.shape[-1]:
        raise TraceError(f"{what}: a is {a.shape[-2]}x{a.shape[-1]} but b has {b.shape[-2]} "
                         f"rows", loc=current_loc())
    a, b, batch = _bcast_batch(a, b)
    af, _ = _flat(a)
    bf, _ = _flat(b)
    x = ops.reshape(D.solve(af, bf), batch + b.shape[-2:])
    return ops.reshape(x, x.shape[:-1]) if vector else x


def solve(a: Any, b: Any) -> Tracer:
    av = _val(a, "np.linalg.solve", complex_ok=True)
    bv = _val(b, "np.linalg.solve", min_ndim=1, square=False, complex_ok=True)
    return wrap(_solve_values(av, bv, "np.linalg.solve", complex_ok=True))


def inv(a: Any) -> Tracer:
    v = _val(a, "np.linalg.inv", complex_ok=True)
    af, batch = _flat(v)
    return _unflat(D.inv(af), batch)


def _slogdet(v: Value) -> tuple[Value, Value]:
    af, batch = _flat(v)
    sign, logdet = emit_multi("slogdet", af)
    return ops.reshape(sign, batch), ops.reshape(logdet, batch)


def slogdet(a: Any) -> Any:
    sign, logdet = _slogdet(_val(a, "np.linalg.slogdet", complex_ok=True))
    return _result("SlogdetResult", wrap(sign), wrap(logdet))


def det(a: Any) -> Tracer:
    sign, logdet = _slogdet(_val(a, "np.linalg.det", complex_ok=True))
    return wrap(ops.mul(sign, ops.exp(logdet)))


def cholesky(a: Any, /, *, upper: bool = False) -> Tracer:
    v = _val(a, "np.linalg.cholesky", complex_ok=True)
    return wrap(_cholesky(v, upper, lower_read=True))


def _cholesky(v: Value, upper: bool, lower_read: bool) -> Value:
    af, batch = _flat(_tri_sym(v, lower_read))
    low = emit("cholesky", af)
    out = ops.reshape(low, batch + v.shape[-2:])
    return ops.conj(_mT(out)) if upper else out  # numpy's upper factor is L^H


def _uplo(uplo: Any) -> bool:
    if uplo not in ("L", "U"):
        raise TraceError(f"UPLO must be 'L' or 'U', got {uplo!r}", loc=current_loc())
    return uplo == "L"


def eigh(a: Any, UPLO: str = "L") -> Any:  # noqa: N803  (numpy's name)
    v = _val(a, "np.linalg.eigh", complex_ok=True)
    lower = _uplo(UPLO)
    af, batch = _flat(_tri_sym(v, lower))
    w, vec = emit_multi("eigh", af, lower=lower)
    return _result("EighResult", _unflat(w, batch), _unflat(vec, batch))


def eigvalsh(a: Any, UPLO: str = "L") -> Tracer:  # noqa: N803
    return eigh(a, UPLO)[0]


def _svd(v: Value, full_matrices: bool) -> tuple[Value, Value, Value]:
    m, n = v.shape[-2:]
    af, batch = _flat(v)
    u, s, vt = emit_multi("svd", af, full_matrices=bool(full_matrices) and m != n)
    return (ops.reshape(u, batch + u.shape[1:]), ops.reshape(s, batch + s.shape[1:]),
            ops.reshape(vt, batch + vt.shape[1:]))


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    v = _val(a, "np.linalg.svd", square=False, complex_ok=True)
    if not compute_uv:
        return wrap(_svd(v, False)[1])
    u, s, vt = _svd(v, full_matrices)
    if full_matrices and v.shape[-1] != v.shape[-2]:
        # The extra columns of a full u (rows of vt) have no derivative; s from a reduced
        # svd keeps s differentiable in both modes when only s is used (dead code goes).
        s = _svd(v, False)[1]
    return _result("SVDResult", wrap(u), wrap(s), wrap(vt))


def eig(a: Any) -> Any:
    """w, v of a real or complex matrix, both complex (numpy 2: a real matrix with real
    eigenvalues still gets complex arrays from adjit, whose output dtypes cannot depend on
    the data; numpy returns float64 there)."""
    v = _val(a, "np.linalg.eig", complex_ok=True)
    af, batch = _flat(v)
    w, vec = emit_multi("eig", af)
    return _result("EigResult", _unflat(w, batch), _unflat(vec, batch))


def eigvals(a: Any) -> Tracer:
    return eig(a)[0]


def svdvals(x: Any, /) -> Tracer:
    return svd(x, compute_uv=False)


def qr(a: Any, mode: str = "reduced") -> Any:
    v = _val(a, "np.linalg.qr", square=False, complex_ok=True)
    m, n = v.shape[-2:]
    if mode not in ("reduced", "r", "complete") or (mode == "complete" and m > n):
        raise TraceError(f"np.linalg.qr with mode={mode!r} is not supported"
                         + (" for a tall matrix" if mode == "complete" else ""),
                         loc=current_loc(), hint="mode='reduced' (the default) and 'r' are")
    af, batch = _flat(v)
    q, r = emit_multi("qr", af)
    if mode == "r":
        return _unflat(r, batch)
    return _result("QRResult", _unflat(q, batch), _unflat(r, batch))


def _pinv_values(v: Value, rcond: Any) -> Value:
    u, s, vt = _svd(v, False)
    cutoff = ops.mul(emit("reduce_max", s, axes=(s.type.ndim - 1,)), float(rcond))
    cutoff = ops.reshape(cutoff, cutoff.shape + (1,))
    large = ops.ew("gt", s, cutoff)
    safe = ops.select(large, s, 1.0)
    sinv = ops.select(large, ops.div(1.0, safe), 0.0)
    # V diag(1/s) U^H
    scaled = ops.mul(ops.conj(_mT(vt)), ops.reshape(sinv, sinv.shape[:-1] + (1, sinv.shape[-1])))
    return _mm(scaled, ops.conj(_mT(u)))


def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = np._NoValue
         ) -> Tracer:
    v = _val(a, "np.linalg.pinv", square=False, complex_ok=True)
    if rcond is None:
        if rtol is np._NoValue:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(v.shape[-2:]) * np.finfo(np.float32 if v.dtype == "f32"
                                                 else np.float64).eps
        else:
            rcond = rtol
    if not isinstance(rcond, (int, float, np.number)):
        raise TraceError("np.linalg.pinv: rcond must be a number (a per-matrix array is not "
                         "supported)", loc=current_loc())
    return wrap(_pinv_values(v, rcond))


def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple[Tracer, Tracer, Tracer, Tracer]:
    """x, residuals, rank, s. Only x (and s) are differentiable. numpy's residuals are
    empty when the rank is below n; adjit cannot make a shape depend on data, so the
    residuals here are the sums of squares whenever m > n (empty when m <= n): a rank-
    deficient matrix gets numbers where numpy gives an empty array."""
    av = _val(a, "np.linalg.lstsq", square=False, complex_ok=True)
    bv = _val(b, "np.linalg.lstsq", min_ndim=1, square=False, complex_ok=True)
    av, bv = _common(av, bv, complex_ok=True)
    if av.type.ndim != 2 or bv.type.ndim > 2:
        raise TraceError("np.linalg.lstsq takes a 2-d a and a 1-d or 2-d b", loc=current_loc())
    m, n = av.shape
    if bv.shape[0] != m:
        raise TraceError(f"np.linalg.lstsq: a has {m} rows but b has {bv.shape[0]}",
                         loc=current_loc())
    eps = np.finfo(np.float32 if av.dtype in ("f32", "c64") else np.float64).eps
    rc = eps * max(m, n) if rcond is None else (eps if rcond < 0 else rcond)
    vec = bv.type.ndim == 1
    b2 = ops.reshape(bv, (m, 1)) if vec else bv
    x = _mm(_pinv_values(av, rc), b2)
    s = _svd(av, False)[1]
    smax = emit("reduce_max", s, axes=(0,))
    rank = ops.reduce_sum(ops.convert(ops.ew("gt", s, ops.mul(smax, float(rc))), "i64"), (0,))
    if m > n:
        r = ops.sub(b2, _mm(av, x))
        res = ops.reduce_sum(ops.real(ops.mul(ops.conj(r), r)), (0,))  # |r|^2: real
    else:
        res = Lit.make(np.zeros((0,)), ops.real_dtype(av.dtype))
    x = ops.reshape(x, (n,)) if vec else x
    return wrap(x), wrap(res), wrap(rank), wrap(s)


def matrix_power(a: Any, n: Any) -> Tracer:
    if not isinstance(n, (int, np.integer)):
        raise TraceError(f"np.linalg.matrix_power: the exponent must be an integer, got {n!r}",
                         loc=current_loc())
    from .numpy_api import _t

    t = _t(a)
    v = t.val
    if v.type.ndim < 2 or v.shape[-1] != v.shape[-2]:
        raise TraceError(f"np.linalg.matrix_power: the last 2 dimensions must be square, got "
                         f"shape {v.shape}", loc=current_loc())
    n = int(n)
    if n == 0:
        eye = Lit.make(np.eye(v.shape[-1]), v.dtype)
        return wrap(ops.broadcast_to(eye, v.shape))
    if n < 0:
        v = _val(a, "np.linalg.matrix_power", complex_ok=True)
        af, batch = _flat(v)
        v = ops.reshape(D.inv(af), v.shape)
        n = -n
    result = None
    z = v
    while n:  # binary powering, as numpy
        if n & 1:
            result = z if result is None else _mm(result, z)
        n >>= 1
        if n:
            z = _mm(z, z)
    return wrap(result)


def multi_dot(arrays: Any, *, out: Any = None) -> Tracer:
    from .numpy_api import matmul

    if out is not None:
        raise TraceError("np.linalg.multi_dot(..., out=...) writes in place", loc=current_loc())
    arrays = list(arrays)
    if len(arrays) < 2:
        raise TraceError("np.linalg.multi_dot needs at least two arrays", loc=current_loc())
    r = arrays[0]
    for x in arrays[1:]:
        r = matmul(r, x)
    return r


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: Any = None) -> Tracer:
    """np.trace of an n-d array: the sum over the diagonal of axes (axis1, axis2), which
    leaves the other axes in order."""
    from .numpy_api import _t, astype

    if out is not None:
        raise TraceError("np.trace(..., out=...) writes in place", loc=current_loc())
    t = _t(a)
    v = t.val
    nd = v.type.ndim
    if nd < 2:
        raise TraceError("np.trace: diag requires an array of at least two dimensions",
                         loc=current_loc())
    a1, a2 = int(axis1) % nd, int(axis2) % nd
    if a1 == a2:
        raise TraceError("np.trace: axis1 and axis2 cannot be the same", loc=current_loc())
    rest = [i for i in range(nd) if i not in (a1, a2)]
    m = ops.transpose(v, rest + [a1, a2])
    rows, cols = v.shape[a1], v.shape[a2]
    k = int(offset)
    mask = np.eye(rows, cols, k, dtype=bool)
    summed = ops.reduce_sum(ops.select(Lit.make(mask, "bool"), m, 0), (nd - 2, nd - 1))
    if v.dtype == "bool":
        summed = ops.reduce_sum(ops.select(Lit.make(mask, "bool"), ops.convert(m, "i64"), 0),
                                (nd - 2, nd - 1))
    r = wrap(summed, t.weak)
    return astype(r, dtype) if dtype is not None else r


def tril(m: Any, k: int = 0) -> Tracer:
    from .numpy_api import _t

    t = _t(m)
    if t.ndim < 2:
        raise TraceError("np.tril of a 1-d array is not supported", loc=current_loc())
    return wrap(D.tril(t.val, int(k)), t.weak)


def triu(m: Any, k: int = 0) -> Tracer:
    from .numpy_api import _t

    t = _t(m)
    if t.ndim < 2:
        raise TraceError("np.triu of a 1-d array is not supported", loc=current_loc())
    return wrap(D.triu(t.val, int(k)), t.weak)


# The norms, cond and matrix_rank (np_norms.py) use the helpers above: imported here, after
# them.
from .np_norms import cond, matrix_norm, matrix_rank, norm, vector_norm  # noqa: E402

FUNCTIONS: dict[Any, Callable[..., Any]] = {
    np.tril: tril, np.triu: triu,
    np.linalg.solve: solve, np.linalg.inv: inv, np.linalg.det: det,
    np.linalg.slogdet: slogdet, np.linalg.cholesky: cholesky, np.linalg.eigh: eigh,
    np.linalg.eigvalsh: eigvalsh, np.linalg.eig: eig, np.linalg.eigvals: eigvals,
    np.linalg.svd: svd, np.linalg.qr: qr, np.linalg.pinv: pinv,
    np.linalg.lstsq: lstsq, np.linalg.matrix_power: matrix_power, np.linalg.norm: norm,
    np.linalg.multi_dot: multi_dot, np.linalg.cond: cond, np.linalg.matrix_rank: matrix_rank,
    np.trace: trace,
}
for _n, _f in (("svdvals", svdvals), ("vector_norm", vector_norm),
               ("matrix_norm", matrix_norm)):
    if hasattr(np.linalg, _n):
        FUNCTIONS[getattr(np.linalg, _n)] = _f
if hasattr(np.linalg, "trace"):
    FUNCTIONS[np.linalg.trace] = lambda x, /, *, offset=0, dtype=None: trace(
        x, offset, -2, -1, dtype)
