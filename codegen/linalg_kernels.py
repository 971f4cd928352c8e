"""Library kernels for the solve and decomposition primitives of ir/prims/decomp.py.

Generated code calls them by the primitive's name: inputs first, then the output arrays it
allocated (one per output of the primitive), then the params as keywords
(`lk.svd(a, a3, a4, a5, full_matrices=False)`); each loops over the stack's first axis and
fills its outputs. They are plain numpy as written (`ADJIT_NOJIT=1` runs the same text), and
`register()` makes them callable from numba-compiled code, where numba's np.linalg calls
LAPACK (scipy's): the same routines numpy calls (gesv, potrf, syevd, gesdd, geqrf/orgqr,
getrf), so the results, eigenvector and singular vector signs included, are numpy's.

No kernel raises: where LAPACK fails (a singular matrix in solve, a matrix that is not
positive definite in cholesky, no convergence), that matrix's results are NaN, as JAX.
`TAG` is a hash of this file, written into the generated module's import line so that an
edit here changes the generated source and its cache entry (as conv_kernels.py).
"""
from __future__ import annotations

import hashlib
import math
import pathlib
from typing import Any

import numpy as np

TAG = hashlib.sha256(pathlib.Path(__file__).read_bytes()).hexdigest()[:12]


def solve(a: Any, b: Any, out: Any, transpose_a: bool) -> None:
    for i in range(a.shape[0]):
        m = np.ascontiguousarray(a[i].T) if transpose_a else np.ascontiguousarray(a[i])
        try:
            out[i] = np.linalg.solve(m, np.ascontiguousarray(b[i]))
        except Exception:  # noqa: BLE001  (LinAlgError: a singular matrix)
            out[i] = np.nan


def triangular_solve(a: Any, b: Any, out: Any, lower: bool, transpose_a: bool,
                     unit_diagonal: bool) -> None:
    """Substitution. The matrix solved with is m = op(a); it is lower triangular when
    `lower` differs from `transpose_a`, and m[r, c] is a[c, r] when transposed."""
    n, k = b.shape[1], b.shape[2]
    forward = lower != transpose_a
    for i in range(a.shape[0]):
        for step in range(n):
            r = step if forward else n - 1 - step
            lo, hi = (0, r) if forward else (r + 1, n)
            d = 1.0 if unit_diagonal else a[i, r, r]
            for j in range(k):
                s = b[i, r, j]
                for c in range(lo, hi):
                    s -= (a[i, c, r] if transpose_a else a[i, r, c]) * out[i, c, j]
                out[i, r, j] = s / d


def slogdet(a: Any, sign: Any, logdet: Any) -> None:
    for i in range(a.shape[0]):
        try:
            s, ld = np.linalg.slogdet(np.ascontiguousarray(a[i]))
            sign[i] = s
            logdet[i] = ld
        except Exception:  # noqa: BLE001  (numba refuses infs and NaNs)
            sign[i] = np.nan
            logdet[i] = np.nan


def cholesky(a: Any, out: Any) -> None:
    for i in range(a.shape[0]):
        try:
            out[i] = np.linalg.cholesky(np.ascontiguousarray(a[i]))
        except Exception:  # noqa: BLE001  (not positive definite)
            out[i] = np.nan


# eigh and svd: in plain Python, scipy's LAPACK called directly; compiled, numba's
# np.linalg, which calls the same scipy LAPACK (numpy ships its own OpenBLAS build, whose
# float32 eigenvector and singular vector signs differ from scipy's about one time in ten;
# in float64 all three agree). So the plain and compiled runs give the same bits.

def _lapack(name: str, x: Any) -> Any:
    from scipy.linalg import lapack

    if x.dtype.kind == "c":  # complex: c/z, and the Hermitian eigensolver heevd
        return getattr(lapack, ("c" if x.dtype == np.complex64 else "z")
                       + name.replace("sy", "he"))
    return getattr(lapack, ("s" if x.dtype == np.float32 else "d") + name)


def _eigh_lower(x: Any) -> Any:
    w, v, info = _lapack("syevd", x)(x, compute_v=1, lower=1)
    if info:
        raise np.linalg.LinAlgError("syevd did not converge")
    return w, v


def _eigh_upper(x: Any) -> Any:
    """syevd on the upper triangle. numba's eigh always asks LAPACK for 'L', and syevd's
    eigenvector signs depend on the triangle it reduces, so numpy's 'U' results need their
    own call (`register` gives numba one, through numba's own LAPACK binding)."""
    w, v, info = _lapack("syevd", x)(x, compute_v=1, lower=0)
    if info:
        raise np.linalg.LinAlgError("syevd did not converge")
    return w, v


def _svd1(x: Any, full_matrices: bool) -> Any:
    u, s, vt, info = _lapack("gesdd", x)(x, compute_uv=1, full_matrices=int(full_matrices))
    if info:
        raise np.linalg.LinAlgError("gesdd did not converge")
    return u, s, vt


def _numba_eigh_lower(x: Any) -> Any:
    def impl(x: Any) -> Any:  # the signature of _eigh_lower, as numba requires
        return np.linalg.eigh(x)
    return impl


def _numba_svd1(x: Any, full_matrices: bool) -> Any:
    def impl(x: Any, full_matrices: bool) -> Any:
        return np.linalg.svd(x, full_matrices)
    return impl


def eigh(a: Any, w: Any, v: Any, lower: bool) -> None:
    for i in range(a.shape[0]):
        try:
            x = np.ascontiguousarray(a[i])
            wi, vi = _eigh_lower(x) if lower else _eigh_upper(x)
            w[i] = wi
            v[i] = vi
        except Exception:  # noqa: BLE001  (no convergence)
            w[i] = np.nan
            v[i] = np.nan


def svd(a: Any, u: Any, s: Any, vt: Any, full_matrices: bool) -> None:
    for i in range(a.shape[0]):
        try:
            ui, si, vti = _svd1(np.ascontiguousarray(a[i]), full_matrices)
            u[i] = ui
            s[i] = si
            vt[i] = vti
        except Exception:  # noqa: BLE001  (no convergence)
            u[i] = np.nan
            s[i] = np.nan
            vt[i] = np.nan


def _eig1(x: Any) -> Any:
    """numpy's eig of one matrix (LAPACK geev; a real matrix's conjugate pairs assembled
    into complex eigenvectors as numpy does). Compiled: `_numba_eig1`."""
    from adjit.ir.prims.decomp_ref import eig1

    return eig1(x)


def eig(a: Any, w: Any, v: Any) -> None:
    for i in range(a.shape[0]):
        try:
            wi, vi = _eig1(np.ascontiguousarray(a[i]))
            w[i] = wi
            v[i] = vi
        except Exception:  # noqa: BLE001  (no convergence)
            w[i] = np.nan
            v[i] = np.nan


def qr(a: Any, q: Any, r: Any) -> None:
    for i in range(a.shape[0]):
        try:
            qi, ri = np.linalg.qr(np.ascontiguousarray(a[i]))
            q[i] = qi
            r[i] = ri
        except Exception:  # noqa: BLE001  (numba refuses infs and NaNs)
            q[i] = np.nan
            r[i] = np.nan


# Pade coefficients of degree 13 (Higham 2005, "The scaling and squaring method for the
# matrix exponential revisited"), and the 1-norm up to which degree 13 needs no scaling.
_B13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
        129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
        40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def _norm1(x: Any) -> float:
    best = 0.0
    for c in range(x.shape[1]):
        t = 0.0
        for r in range(x.shape[0]):
            t += abs(x[r, c])
        best = max(best, t)
    return best


def _expm1(x: Any) -> Any:
    """exp of one float64 matrix: Pade 13 with scaling and squaring."""
    n = x.shape[0]
    nrm = _norm1(x)
    sq = 0
    if nrm > _THETA13:
        sq = max(0, int(math.ceil(math.log2(nrm / _THETA13))))
    a = x / (2.0 ** sq)
    ident = np.eye(n)
    b = _B13
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2
             + b[1] * ident)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 \
        + b[0] * ident
    r = np.ascontiguousarray(np.linalg.solve(v - u, v + u))  # LAPACK's result is F-ordered
    for _ in range(sq):
        r = r @ r
    return r


def expm(a: Any, out: Any) -> None:
    for i in range(a.shape[0]):
        x = np.ascontiguousarray(a[i]).astype(np.float64)
        try:
            out[i] = _expm1(x)
        except Exception:  # noqa: BLE001
            out[i] = np.nan


def _sqrtm1(x: Any) -> Any:
    """The principal square root of one float64 matrix: scaled Denman-Beavers iteration
    (Higham 2008, (6.28)) in its product form, then one Newton correction. A matrix with an
    eigenvalue on the closed negative real axis has no real principal root: NaN."""
    n = x.shape[0]
    ident = np.eye(n)
    m = x.copy()
    y = x.copy()
    extra = -1  # iterations still to run once converged (quadratic: two more are plenty)
    for _ in range(100):
        det = abs(np.linalg.det(m))
        if not (det > 0.0) or not np.isfinite(det):
            return np.full((n, n), np.nan)
        g = det ** (-1.0 / (2 * n))
        mi = np.ascontiguousarray(np.linalg.inv(m))
        y_new = (g * 0.5) * (y @ (ident + mi / (g * g)))
        m = 0.5 * (ident + 0.5 * ((g * g) * m + mi / (g * g)))
        diff = np.abs(y_new - y).max()
        y = y_new
        if extra < 0 and diff <= 1e-10 * max(np.abs(y).max(), 1e-300):
            extra = 2
        if extra == 0:
            break
        if extra > 0:
            extra -= 1
    if extra != 0:
        return np.full((n, n), np.nan)
    res = np.abs(y @ y - x).max()
    if not (res <= 1e-6 * max(np.abs(x).max(), 1e-300)):
        return np.full((n, n), np.nan)
    return y


def sqrtm(a: Any, out: Any) -> None:
    for i in range(a.shape[0]):
        x = np.ascontiguousarray(a[i]).astype(np.float64)
        try:
            out[i] = _sqrtm1(x)
        except Exception:  # noqa: BLE001
            out[i] = np.nan


KERNELS = {"solve": solve, "triangular_solve": triangular_solve, "slogdet": slogdet,
           "cholesky": cholesky, "eigh": eigh, "svd": svd, "qr": qr, "expm": expm,
           "sqrtm": sqrtm, "eig": eig}
_registered = False


def register() -> None:
    """Make every function here callable from numba-compiled code (idempotent). numba is
    imported only here, so the plain-Python path does not need it."""
    global _registered
    if _registered:
        return
    from numba.extending import overload, register_jitable

    overload(_eigh_upper)(_numba_eigh_upper)
    overload(_eigh_lower)(_numba_eigh_lower)
    overload(_svd1)(_numba_svd1)
    overload(_eig1)(_numba_eig1)
    for fn in (_norm1, _expm1, _sqrtm1, *KERNELS.values()):
        register_jitable(fn)
    _registered = True


def _numba_eigh_upper(x: Any) -> Any:
    """numba's own eigh (numba/np/linalg.py, `eigh_impl`) with uplo 'U': its LAPACK binding
    `numba_ez_xxxevd` takes the triangle as an argument."""
    from numba.np import linalg as nl
    from numba.np.numpy_support import as_dtype

    nl.ensure_lapack()
    w_dtype = as_dtype(getattr(x.dtype, "underlying_float", x.dtype))
    evd = nl._LAPACK().numba_ez_xxxevd(x.dtype)
    kind = ord(nl.get_blas_kind(x.dtype, "eigh"))
    jobz, uplo = ord("V"), ord("U")
    copy_f = nl._copy_to_fortran_order
    check = nl._handle_err_maybe_convergence_problem
    keep = nl._dummy_liveness_func

    def impl(x: Any) -> Any:  # the signature of _eigh_upper, as numba requires
        n = x.shape[-1]
        acpy = copy_f(x)
        w = np.empty(n, dtype=w_dtype)
        if n == 0:
            return (w, acpy)
        r = evd(kind, jobz, uplo, n, acpy.ctypes, n, w.ctypes)
        check(r)
        keep([acpy.size, w.size])
        return (w, acpy)
    return impl


def _numba_eig1(x: Any) -> Any:
    """Compiled eig. numba's own np.linalg.eig refuses a real matrix with complex
    eigenvalues (before numpy 2.5), so a real matrix calls LAPACK's geev through numba's
    binding (`numba_ez_rgeev`, as numba/np/linalg.py's `eig_impl`) and assembles the
    conjugate pairs itself; a complex one is numba's eig (zgeev)."""
    from numba import types
    from numba.np import linalg as nl
    from numba.np.numpy_support import as_dtype

    if isinstance(x.dtype, types.Complex):
        def cimpl(x: Any) -> Any:  # the signature of _eig1, as numba requires
            return np.linalg.eig(x)
        return cimpl
    nl.ensure_lapack()
    geev = nl._LAPACK().numba_ez_rgeev(x.dtype)
    kind = ord(nl.get_blas_kind(x.dtype, "eig"))
    cdtype = as_dtype(types.complex64 if x.dtype == types.float32 else types.complex128)
    copy_f = nl._copy_to_fortran_order
    check = nl._handle_err_maybe_convergence_problem
    keep = nl._dummy_liveness_func

    def impl(x: Any) -> Any:
        n = x.shape[-1]
        acpy = copy_f(x)
        wr = np.empty(n, dtype=x.dtype)
        wi = np.empty(n, dtype=x.dtype)
        vl = np.empty((n, 1), dtype=x.dtype)
        vr = np.empty((n, n), dtype=x.dtype)  # C order: LAPACK's column j is row j here
        w = np.empty(n, dtype=cdtype)
        v = np.empty((n, n), dtype=cdtype)
        if n == 0:
            return (w, v)
        r = geev(kind, ord("N"), ord("V"), n, acpy.ctypes, n, wr.ctypes, wi.ctypes,
                 vl.ctypes, 1, vr.ctypes, n)
        check(r)
        keep([acpy.size, vl.size, vr.size, wr.size, wi.size])
        j = 0
        while j < n:
            w[j] = complex(wr[j], wi[j])
            if wi[j] != 0.0 and j + 1 < n:
                w[j + 1] = complex(wr[j + 1], wi[j + 1])
                for k in range(n):
                    v[k, j] = complex(vr[j, k], vr[j + 1, k])
                    v[k, j + 1] = complex(vr[j, k], -vr[j + 1, k])
                j += 2
            else:
                for k in range(n):
                    v[k, j] = complex(vr[j, k], 0.0)
                j += 1
        return (w, v)
    return impl
