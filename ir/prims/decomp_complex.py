"""Complex matrices in the decompositions of decomp.py, and the general eigendecomposition.

decomp.py's rules are for real matrices; where a primitive's operand is complex its rules
call the ones here (solve and triangular_solve need none: x = a^-1 b is complex-linear in
(a, b), so their real rules hold as written). This module also registers

- `eig(a)` -> (w (B, n), v (B, n, n)), both complex, for a real or complex (B, n, n) stack:
  numpy's np.linalg.eig (LAPACK geev; a real matrix's conjugate pairs assembled as numpy
  does), eigenvectors of unit 2-norm.

The pairing of cotangent and tangent is ir/prims/complex.py's, <c, t> = Re(sum c * t) with
no conjugate, so a VJP is the plain transpose of its JVP: t -> A t B pulls back as
c -> A^T c B^T, t -> conj(t) as c -> conj(c), t -> Re(t) as c -> c (as complex).

Gauge. A complex eigenvector (eigh, eig) or singular vector pair (svd) is defined up to a
phase e^(i phi) per column, which LAPACK fixes by a convention that is not a smooth function
of the matrix. The rules choose a gauge (no phase change: diag(V^H dV) = 0 for eigh, and for
eig the change that keeps ||v|| = 1 with a real Re(v^H dv) term removed; for svd the whole
phase change of the pair goes to u), as JAX does. Only functions invariant under the phases
(|v|, u diag(s) vh, eigenvalues, projectors) have well-defined derivatives, and for those the
rules are right; a finite difference of a raw vector is not comparable.

Degenerate cases, as the real rules: equal eigenvalues (eigh, eig) or singular values (svd)
put 1/0 in the F matrix and give inf/NaN derivatives of the vectors (eigenvalue derivatives
stay finite for eigh; for eig a defective matrix has no derivative at all); a zero singular
value makes the phase term i Im(diag(u^H dA v)) / s, and the u and v derivatives of a
non-square svd, infinite.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..builder import emit
from ..core import COMPLEX_OF, ArrayType, Value
from ..primitive import LIBRARY, Primitive, register
from .decomp import (_phi, col, diag_embed, diag_part, f_matrix, mm, mT, row, solve, tril,
                     trsolve)
from .decomp_ref import eig_impl


def cT(x: Value) -> Value:
    """The conjugate transpose of each matrix of a (B, m, n) stack."""
    return ops.conj(mT(x))


def _i_times(x: Value) -> Value:
    """i x for a real x, as complex."""
    return emit("complex", ops.zeros(x.type), x)


# ---- slogdet: sign = det / |det| (complex), logdet = log |det| -------------------------------
# With q = tr(a^-1 da): d logdet = Re q and d sign = sign i Im q.

def slogdet_jvp(ts: list[Value | None], a: Value, out: tuple) -> tuple:
    (ta,) = ts
    sign, _ = out
    q = ops.reduce_sum(diag_part(solve(a, ta)), (1,))
    return ops.mul(sign, _i_times(ops.imag(q))), ops.real(q)


def slogdet_vjp(ct: tuple, a: Value, out: tuple) -> tuple[Value | None]:
    ct_s, ct_l = ct
    if ct_s is None and ct_l is None:
        return (None,)
    sign, _ = out
    # Re(ct_l Re q) = Re(ct_l q) and Re(ct_s sign i Im q) = Re(-i Re(i ct_s sign) q):
    # both are Re(k q) for one complex k per matrix, and q's cotangent is k a^-T.
    k = None if ct_l is None else ops.to_complex(ct_l)
    if ct_s is not None:
        k = ops.add_any(k, ops.neg(_i_times(ops.real(_i_times_c(ops.mul(ct_s, sign))))))
    b, n, _ = a.shape
    eye = ops.broadcast_to(ops.lit(np.eye(n), a.dtype), (b, n, n))
    inv_t = solve(a, eye, transpose_a=True)
    return (ops.mul(ops.reshape(k, (b, 1, 1)), inv_t),)


def _i_times_c(z: Value) -> Value:
    """i z for a complex z."""
    return emit("complex", ops.neg(ops.imag(z)), ops.real(z))


# ---- eigh of a Hermitian matrix: a = V diag(w) V^H, w real -----------------------------------
# P = V^H da V (Hermitian for a Hermitian da): dw = Re diag(P), dV = V (F o P).

def eigh_jvp(ts: list[Value | None], a: Value, out: tuple) -> tuple[Value, Value]:
    (ta,) = ts
    w, v = out
    p = mm(mm(cT(v), ta), v)
    return ops.real(diag_part(p)), mm(v, ops.mul(f_matrix(w), p))


def eigh_vjp(ct: tuple, a: Value, out: tuple) -> tuple[Value]:
    ct_w, ct_v = ct
    w, v = out
    ct_p = None if ct_w is None else ops.to_complex(diag_embed(ct_w))
    if ct_v is not None:
        ct_p = ops.add_any(ct_p, ops.mul(f_matrix(w), mm(v, ct_v, ta=True)))
    return (mm(mm(ops.conj(v), ct_p), v, tb=True),)  # conj(V) ct_P V^T


# ---- svd: a = U diag(s) V^H, vh = V^H, reduced (k = min(m, n)) ------------------------------
# P = U^H da V; ds = Re diag(P); with F = 1 / (s_j^2 - s_i^2):
#   U^H dU = F o (P S + S P^H) + i diag(Im P_ii / s_i)    (the pair's phase change, to u)
#   V^H dV = F o (S P + P^H S)
# plus (I - U U^H) da V S^-1 for a tall matrix and (I - V V^H) da^H U S^-1 for a wide one.

def svd_jvp(ta: Value, u: Value, s: Value, vt: Value) -> tuple[Value, Value, Value]:
    m, n = ta.shape[1:]
    v = cT(vt)
    p = mm(mm(cT(u), ta), v)
    f = f_matrix(ops.mul(s, s))
    ps = ops.mul(p, col(s))
    sp = ops.mul(row(s), p)
    phase = diag_embed(_i_times(ops.div(ops.imag(diag_part(p)), s)))
    du = mm(u, ops.add(ops.mul(f, ops.add(ps, cT(ps))), phase))
    dv = mm(v, ops.mul(f, ops.add(sp, cT(sp))))
    if m > n:
        dav = mm(ta, v)
        du = ops.add(du, ops.div(ops.sub(dav, mm(u, mm(cT(u), dav))), col(s)))
    if n > m:
        dahu = mm(cT(ta), u)
        dv = ops.add(dv, ops.div(ops.sub(dahu, mm(v, mm(vt, dahu))), col(s)))
    return du, ops.real(diag_part(p)), cT(dv)


def svd_vjp(ct_u: Value | None, ct_s: Value | None, ct_vt: Value | None, u: Value, s: Value,
            vt: Value) -> Value:
    """The transpose of svd_jvp, derived in the inner-product convention (gradients
    g = conj(c), adjoints A^H g B^H) and conjugated at the end."""
    m, k = u.shape[1:]
    n = vt.shape[-1]
    pbar = None if ct_s is None else ops.to_complex(diag_embed(ct_s))
    extra = None
    f = f_matrix(ops.mul(s, s))
    if ct_u is not None:
        gu = ops.conj(ct_u)
        om = mm(cT(u), gu)  # the gradient of U^H dU
        q = ops.mul(f, om)
        pbar = ops.add_any(pbar, ops.mul(ops.add(q, cT(q)), col(s)))
        pbar = ops.add(pbar, diag_embed(_i_times(ops.div(ops.imag(diag_part(om)), s))))
        if m > k:  # (I - U U^H) gu S^-1 V^H
            r = ops.sub(gu, mm(u, mm(cT(u), gu)))
            extra = mm(ops.div(r, col(s)), vt)
    if ct_vt is not None:
        gvh = ops.conj(ct_vt)  # the gradient of V^H; V's is its conjugate transpose
        om = mm(vt, cT(gvh))  # the gradient of V^H dV
        r = ops.mul(f, om)
        pbar = ops.add_any(pbar, ops.mul(row(s), ops.add(r, cT(r))))
        if n > k:  # U S^-1 gv^H (I - V V^H)
            rr = ops.sub(gvh, mm(mm(gvh, cT(vt)), vt))
            extra = ops.add_any(extra, mm(u, ops.div(rr, row(s))))
    g = ops.add_any(mm(mm(u, pbar), vt), extra)
    return ops.conj(g)


# ---- cholesky: a = L L^H, L lower with a real positive diagonal ------------------------------
# dL = L phi(L^-1 herm(da) L^-H), phi the lower triangle with the diagonal halved (real for a
# Hermitian argument). L^-H x is solved as conj(L)^-T x: triangular_solve has no conjugate.

def _herm(x: Value) -> Value:
    return ops.mul(0.5, ops.add(x, cT(x)))


def cholesky_jvp(ta: Value, low: Value) -> Value:
    x = trsolve(low, _herm(ta), lower=True)  # L^-1 dA
    y = cT(trsolve(low, cT(x), lower=True))  # X L^-H
    return mm(low, _phi(y))


def cholesky_vjp(ct: Value, low: Value) -> Value:
    """Murray's S = L^-H phi(L^H g) L^-1 in the inner-product convention (g = conj(ct)),
    its Hermitian part, conjugated."""
    lc = ops.conj(low)
    p = _phi(mm(cT(low), ops.conj(ct)))
    x = trsolve(lc, p, lower=True, transpose_a=True)  # L^-H P
    s = cT(trsolve(lc, cT(x), lower=True, transpose_a=True))  # X L^-1
    return ops.conj(_herm(s))


# ---- qr (m >= n): a = Q R, R upper with a real diagonal (LAPACK's Householder betas) ---------
# With C = Q^H da R^-1: Q^H dQ = Om = tril(C, -1) - tril(C, -1)^H + i Im diag(C) (anti-
# Hermitian; its imaginary diagonal is what keeps diag(dR) real), dR = (C - Om) R and
# dQ = da R^-1 + Q (Om - C).

def _imag_diag(x: Value) -> Value:
    return diag_embed(_i_times(ops.imag(diag_part(x))))


def qr_jvp(ta: Value, q: Value, r: Value) -> tuple[Value, Value]:
    e = mT(trsolve(r, mT(ta), lower=False, transpose_a=True))  # dA R^-1
    c = mm(cT(q), e)
    low = tril(c, -1)
    om = ops.add(ops.sub(low, cT(low)), _imag_diag(c))
    return ops.add(e, mm(q, ops.sub(om, c))), mm(ops.sub(c, om), r)


def qr_vjp(ct_q: Value | None, ct_r: Value | None, q: Value, r: Value) -> Value:
    """The transpose of qr_jvp in the inner-product convention (gradients g = conj(c)):
    Om's gradient G = Q^H gQ - gR R^H, C's -G + tril(G - G^H, -1) + i Im diag(G), and
    a's (gQ + Q C's) R^-H; conjugated at the end."""
    g = None
    if ct_q is not None:
        g = mm(cT(q), ops.conj(ct_q))
    if ct_r is not None:
        g = ops.add_any(g, ops.neg(mm(ops.conj(ct_r), cT(r))))
    gc = ops.add(ops.sub(tril(ops.sub(g, cT(g)), -1), g), _imag_diag(g))
    ge = mm(q, gc)
    if ct_q is not None:
        ge = ops.add(ge, ops.conj(ct_q))
    ga = cT(trsolve(r, cT(ge), lower=False))  # ge R^-H
    return ops.conj(ga)


# ---- eig: a V = V diag(w), columns of unit norm ----------------------------------------------
# P = V^-1 da V: dw = diag(P), dV = V (F o P) with F = 1 / (w_j - w_i), then the real part of
# each column's component along itself removed (d||v||^2 = 2 Re(v^H dv) = 0); the imaginary
# part is the phase gauge, left as it is.

def _eig_shape(a: ArrayType) -> tuple[ArrayType, ArrayType]:
    if a.ndim != 3 or not a.is_float or a.shape[1] != a.shape[2]:
        raise TypeError(f"eig needs a float or complex (B, n, n) stack, got {a}")
    c = a.with_dtype(COMPLEX_OF.get(a.dtype, a.dtype))
    return c.with_shape(a.shape[:2]), c


def _eig_jvp(ts: list[Value | None], a: Value, out: tuple) -> tuple[Value, Value]:
    (ta,) = ts
    w, v = out
    p = solve(v, mm(ops.to_complex(ta), v))
    x = mm(v, ops.mul(f_matrix(w), p))
    along = ops.real(ops.reduce_sum(ops.mul(ops.conj(v), x), (1,)))
    return diag_part(p), ops.sub(x, ops.mul(v, col(along)))


def _eig_vjp(ct: tuple, a: Value, out: tuple) -> tuple[Value | None]:
    ct_w, ct_v = ct
    w, v = out
    ct_p = None if ct_w is None else diag_embed(ct_w)
    if ct_v is not None:
        along = ops.real(ops.reduce_sum(ops.mul(ct_v, v), (1,)))
        ct_x = ops.sub(ct_v, ops.mul(ops.conj(v), col(along)))
        ct_p = ops.add_any(ct_p, ops.mul(f_matrix(w), mm(v, ct_x, ta=True)))
    if ct_p is None:
        return (None,)
    ct_a = solve(v, mm(ct_p, v, tb=True), transpose_a=True)  # V^-T ct_P V^T
    return (ct_a if a.type.is_complex else ops.real(ct_a),)


register(Primitive("eig", LIBRARY, shape=_eig_shape, impl=eig_impl, jvp=_eig_jvp,
                   vjp=_eig_vjp, params=(), extra={"library": "linalg"}))
