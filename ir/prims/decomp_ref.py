"""numpy reference implementations of the decomposition primitives (decomp.py,
decomp_complex.py): what the interpreter runs, and what the codegen tests compare the
kernels of codegen/linalg_kernels.py with. The same conventions as the kernels: NaN where
LAPACK fails, never an exception. (Split from decomp.py, which holds the rules.)
"""
from __future__ import annotations

import numpy as np


def _each(a: np.ndarray, fn, *rest: np.ndarray):  # noqa: ANN001, ANN202
    """fn applied to each matrix of the stack; NaN results where numpy raises LinAlgError.
    The result arrays are shaped by fn of an identity (which never fails)."""
    outs = None
    for i in range(a.shape[0]):
        with np.errstate(all="ignore"):
            try:
                r = fn(a[i], *(x[i] for x in rest))
            except np.linalg.LinAlgError:
                r = None
        if outs is None:
            shaped = fn(np.eye(*a.shape[1:], dtype=a.dtype), *(x[i] for x in rest))
            outs = [np.empty((a.shape[0],) + np.shape(o), _out_dtype(a.dtype, o))
                    for o in (shaped if isinstance(shaped, tuple) else (shaped,))]
        rs = (r if isinstance(r, tuple) else (r,)) if r is not None else (np.nan,) * len(outs)
        for o, x in zip(outs, rs, strict=True):
            o[i] = x
    return outs[0] if len(outs) == 1 else tuple(outs)


def _out_dtype(a: np.dtype, o: np.ndarray) -> np.dtype:
    """a's precision, complex where fn's result is (slogdet's sign), real where it is real
    (a complex matrix's singular values, eigh's eigenvalues, log|det|)."""
    real = np.finfo(a).dtype
    return np.result_type(real, np.complex64) if np.iscomplexobj(o) else real


def solve_impl(a: np.ndarray, b: np.ndarray, transpose_a: bool) -> np.ndarray:
    return _each(np.swapaxes(a, 1, 2) if transpose_a else a, np.linalg.solve, b)


def trsolve_impl(a: np.ndarray, b: np.ndarray, lower: bool, transpose_a: bool,
                  unit_diagonal: bool) -> np.ndarray:
    n = a.shape[-1]
    t = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        t = np.where(np.eye(n, dtype=bool), np.ones((), a.dtype), t)
    return solve_impl(t, b, transpose_a)


# eigh and svd call scipy's LAPACK (syevd, gesdd) directly, as the kernels do: numba's
# np.linalg uses scipy's LAPACK, numpy ships its own OpenBLAS build, and in float32 the two
# choose different eigenvector and singular vector signs about one time in ten (float64
# agrees in our checks). The reference follows the library the compiled code calls. (ir
# does not import codegen, so these few lines are codegen/linalg_kernels.py's again.)

def _lapack(name: str, x: np.ndarray):  # noqa: ANN202
    from scipy.linalg import lapack

    if x.dtype.kind == "c":  # the Hermitian eigensolver is heevd
        return getattr(lapack, ("c" if x.dtype == np.complex64 else "z")
                       + name.replace("sy", "he"))
    return getattr(lapack, ("s" if x.dtype == np.float32 else "d") + name)


def _eigh1(x: np.ndarray, lower: bool) -> tuple[np.ndarray, np.ndarray]:
    w, v, info = _lapack("syevd", x)(x, compute_v=1, lower=int(lower))
    if info:
        raise np.linalg.LinAlgError("syevd did not converge")
    return w, v


def _svd1(x: np.ndarray, full_matrices: bool) -> tuple[np.ndarray, ...]:
    u, s, vt, info = _lapack("gesdd", x)(x, compute_uv=1, full_matrices=int(full_matrices))
    if info:
        raise np.linalg.LinAlgError("gesdd did not converge")
    return u, s, vt


def _eigh_impl(a: np.ndarray, lower: bool) -> tuple[np.ndarray, np.ndarray]:
    return _each(a, lambda x: _eigh1(x, lower))


def _svd_impl(a: np.ndarray, full_matrices: bool) -> tuple[np.ndarray, ...]:
    return _each(a, lambda x: _svd1(x, full_matrices))


def _expm_impl(a: np.ndarray) -> np.ndarray:
    import scipy.linalg

    return np.asarray(scipy.linalg.expm(a), a.dtype)


def _sqrtm_impl(a: np.ndarray) -> np.ndarray:
    import scipy.linalg

    def one(x: np.ndarray) -> np.ndarray:
        r = scipy.linalg.sqrtm(x)
        return np.full(x.shape, np.nan) if np.iscomplexobj(r) and np.any(r.imag) else r.real
    return _each(a, one)


IMPLS = {"slogdet": lambda a: _each(a, lambda x: tuple(np.linalg.slogdet(x))),
         "cholesky": lambda a: _each(a, np.linalg.cholesky), "eigh": _eigh_impl,
         "svd": _svd_impl, "qr": lambda a: _each(a, lambda x: tuple(np.linalg.qr(x))),
         "expm": _expm_impl, "sqrtm": _sqrtm_impl}


def _geev_to_complex(wr: np.ndarray, wi: np.ndarray, vr: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """A real geev's (wr, wi, vr) as numpy returns them: a conjugate pair j, j+1 has
    eigenvectors vr[:, j] +- i vr[:, j+1]."""
    w = wr + 1j * wi
    v = vr.astype(w.dtype)
    j = 0
    while j < len(wr):
        if wi[j] != 0 and j + 1 < len(wr):
            v[:, j] = vr[:, j] + 1j * vr[:, j + 1]
            v[:, j + 1] = np.conj(v[:, j])
            j += 2
        else:
            j += 1
    return w, v


def eig1(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy's eig of one matrix through scipy's LAPACK (the library the compiled kernel
    calls, codegen/linalg_kernels.py; compiled, numba's geev)."""
    from scipy.linalg import lapack

    prefix = {np.float32: "s", np.float64: "d", np.complex64: "c", np.complex128: "z"}
    geev = getattr(lapack, prefix[x.dtype.type] + "geev")
    if x.dtype.kind == "c":
        w, _, vr, info = geev(x, compute_vl=0, compute_vr=1)
    else:
        wr, wi, _, vr, info = geev(x, compute_vl=0, compute_vr=1)
    if info:
        raise np.linalg.LinAlgError("geev did not converge")
    return (w, vr) if x.dtype.kind == "c" else _geev_to_complex(wr, wi, vr)


def eig_impl(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ct = np.result_type(a.dtype, np.complex64)
    w = np.empty(a.shape[:2], ct)
    v = np.empty(a.shape, ct)
    for i in range(a.shape[0]):
        try:
            with np.errstate(all="ignore"):
                w[i], v[i] = eig1(a[i])
        except (np.linalg.LinAlgError, ValueError):
            w[i] = np.nan
            v[i] = np.nan
    return w, v
