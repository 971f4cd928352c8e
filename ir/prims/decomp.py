"""Solves and matrix decompositions: `LIBRARY` primitives over stacks of matrices.

Every primitive here takes 3-d operands, a stack of B matrices (B, m, n) (the front end,
tracer/np_linalg.py, flattens numpy's leading batch axes into B and restores them), and
lowers to one call of a kernel of codegen/linalg_kernels.py that loops over the stack and
calls LAPACK through numba's np.linalg. The set is small; inverse, determinant, pinv,
lstsq, matrix powers, norms and the scipy functions are compositions of these and
ordinary ops, so their derivatives come from these rules.

- `solve[transpose_a](a, b)`: x with op(a) x = b, op(a) = a or a^T; b is (B, n, k).
- `triangular_solve[lower, transpose_a, unit_diagonal](a, b)`: the same with a
  triangular (only the `lower` or upper triangle of a is read; its diagonal is taken as ones
  when `unit_diagonal`).
- `slogdet(a)` -> (sign (B,), log|det| (B,)).
- `cholesky(a)`: the lower factor L, L L^T = a. a must be symmetric (the front end builds
  it from the triangle numpy reads); the kernel reads its lower triangle.
- `eigh[lower](a)` -> (w (B, n) ascending, v (B, n, n)), a symmetric as for cholesky;
  `lower` is the triangle LAPACK reduces (numpy's UPLO), which decides eigenvector signs.
- `svd[full_matrices](a)` -> (u, s, vt), numpy's conventions (signs included: the same
  LAPACK routine, gesdd).
- `qr(a)` -> (q, r), numpy's 'reduced' mode.
- `expm(a)`, `sqrtm(a)`: the matrix exponential and principal square root.

Derivative rules (real matrices; Giles 2008, Murray 2016 for cholesky, Seeger et al. 2017,
Townsend 2016 for svd, Walter & Lehmann 2018 for qr). They are written with `ir.ops` and
these primitives, so they can be differentiated again. Degenerate inputs, as in JAX: equal
eigenvalues (eigh) or singular values (svd) put 1/0 in the F matrix and give inf/NaN
derivatives of the vectors; a zero singular value makes the u/v derivatives of a non-square
svd infinite; a singular matrix gives NaN/inf from solve, and derivatives of det that are
NaN. The kernels never raise: where LAPACK fails (a singular solve, a cholesky of a matrix
that is not positive definite), the result is NaN. docs/design-notes.md has the details.

Complex stacks: solve, triangular_solve, slogdet (sign complex, log|det| real), eigh
(Hermitian; w real), svd (s real), cholesky (a = L L^H) and qr take them, their rules for
complex operands are in decomp_complex.py, which also registers `eig`; expm and sqrtm
refuse them.
The numpy reference implementations (the interpreter's) are in decomp_ref.py.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..builder import emit
from ..core import REAL_OF, ArrayType, Lit, Value, Var
from ..errors import NotDifferentiable
from ..primitive import LIBRARY, Primitive, register
from . import decomp_ref as R

# ---- helpers: stacks of matrices in the array language --------------------------------------


def _active(v: Value) -> bool:
    return isinstance(v, Var) and v.type.is_float


def mT(x: Value) -> Value:
    """The transpose of each matrix of a (B, m, n) stack."""
    return ops.transpose(x, (0, 2, 1))


def mm(a: Value, b: Value, ta: bool = False, tb: bool = False) -> Value:
    return ops.matmul(a, b, transpose_a=ta, transpose_b=tb)


def _mask(n: int, m: int, k: int, upper: bool = False) -> Lit:
    """Boolean (n, m): True on and below diagonal k (on and above when `upper`)."""
    lower = np.tri(n, m, k, dtype=bool)
    return Lit.make(np.tri(n, m, k - 1, dtype=bool) == 0 if upper else lower, "bool")


def tril(x: Value, k: int = 0) -> Value:
    return ops.select(_mask(x.shape[-2], x.shape[-1], k), x, 0)


def triu(x: Value, k: int = 0) -> Value:
    return ops.select(_mask(x.shape[-2], x.shape[-1], k, upper=True), x, 0)


def eye(b: int, n: int, dtype: str) -> Value:
    return ops.broadcast_to(Lit.make(np.eye(n), dtype), (b, n, n))


def diag_part(x: Value) -> Value:
    """(B, n, n) -> (B, n): the diagonal of each matrix."""
    n = x.shape[-1]
    return ops.reduce_sum(ops.select(_diag(n), x, 0), (2,))


def _diag(n: int) -> Lit:
    return Lit.make(np.eye(n, dtype=bool), "bool")


def diag_embed(v: Value) -> Value:
    """(B, n) -> (B, n, n): the diagonal matrices of v."""
    b, n = v.shape
    return ops.select(_diag(n), ops.broadcast_to(ops.reshape(v, (b, n, 1)), (b, n, n)), 0)


def col(v: Value) -> Value:
    """(B, n) -> (B, 1, n): scales the columns of a matrix when multiplied with it."""
    return ops.reshape(v, (v.shape[0], 1, v.shape[1]))


def row(v: Value) -> Value:
    """(B, n) -> (B, n, 1): scales the rows."""
    return ops.reshape(v, (v.shape[0], v.shape[1], 1))


def sym(x: Value) -> Value:
    return ops.mul(0.5, ops.add(x, mT(x)))


def f_matrix(d: Value) -> Value:
    """F[b, i, j] = 1 / (d[b, j] - d[b, i]) off the diagonal, 0 on it. The inner select keeps
    the diagonal's 1/0 out of the graph, so second derivatives are not NaN there."""
    b, n = d.shape
    diff = ops.sub(col(d), row(d))
    off = ops.select(_diag(n), 1.0, diff)
    return ops.select(_diag(n), 0, ops.div(1.0, off))


def solve(a: Value, b: Value, transpose_a: bool = False) -> Var:
    return emit("solve", a, b, transpose_a=transpose_a)


def trsolve(a: Value, b: Value, lower: bool, transpose_a: bool = False,
            unit_diagonal: bool = False) -> Var:
    return emit("triangular_solve", a, b, lower=lower, transpose_a=transpose_a,
                unit_diagonal=unit_diagonal)


def inv(a: Value) -> Var:
    return solve(a, eye(a.shape[0], a.shape[-1], a.dtype))


def sylvester(a: Value, b: Value, q: Value) -> Value:
    """X with a X + X b = q for stacks a (B, n, n), b (B, m, m), q (B, n, m), as one dense
    solve of the (n m) x (n m) Kronecker system: kron(a, I_m) + kron(I_n, b^T) acting on X's
    rows laid end to end. O((n m)^3): meant for the small matrices of sqrtm's derivative and
    scipy's solve_sylvester."""
    bt, n = a.shape[0], a.shape[-1]
    m = b.shape[-1]
    big = (bt, n, m, n, m)
    ka = ops.mul(ops.broadcast_to(ops.reshape(a, (bt, n, 1, n, 1)), big),
                 Lit.make(np.eye(m)[None, :, None, :], a.dtype))
    kb = ops.mul(ops.broadcast_to(ops.reshape(mT(b), (bt, 1, m, 1, m)), big),
                 Lit.make(np.eye(n)[:, None, :, None], a.dtype))
    k = ops.reshape(ops.add(ka, kb), (bt, n * m, n * m))
    x = solve(k, ops.reshape(q, (bt, n * m, 1)))
    return ops.reshape(x, (bt, n, m))


# ---- shape rules ----------------------------------------------------------------------------

def _stack(a: ArrayType, what: str, square: bool = True) -> None:
    if a.ndim != 3 or not a.is_float:
        raise TypeError(f"{what} needs a float (B, m, n) stack of matrices, got {a}")
    if square and a.shape[1] != a.shape[2]:
        raise ValueError(f"{what} needs square matrices, got {a.shape[1]}x{a.shape[2]}")


def _solve_shape(a: ArrayType, b: ArrayType, **_: bool) -> ArrayType:
    _stack(a, "solve")
    if b.ndim != 3 or b.shape[:2] != a.shape[:2] or b.dtype != a.dtype:
        raise ValueError(f"solve: right-hand side {b} does not fit {a}")
    return b


def _real_stack(a: ArrayType, what: str, square: bool = True) -> None:
    """expm and sqrtm have real rules only: no complex operand."""
    _stack(a, what, square)
    if a.is_complex:
        raise TypeError(f"{what} of a complex stack is not supported, got {a}")


def _cholesky_shape(a: ArrayType) -> ArrayType:
    _stack(a, "cholesky")
    return a


def _square_shape(a: ArrayType) -> ArrayType:
    _real_stack(a, "this decomposition")
    return a


def _real_of(a: ArrayType) -> ArrayType:
    """The real type of a complex stack's singular values, eigh's eigenvalues, log|det|."""
    return a.with_dtype(REAL_OF.get(a.dtype, a.dtype))


def _slogdet_shape(a: ArrayType) -> tuple[ArrayType, ArrayType]:
    _stack(a, "slogdet")
    t = a.with_shape(a.shape[:1])
    return t, _real_of(t)


def _eigh_shape(a: ArrayType, *, lower: bool) -> tuple[ArrayType, ArrayType]:
    _stack(a, "eigh")
    return _real_of(a.with_shape(a.shape[:2])), a


def _svd_shape(a: ArrayType, *, full_matrices: bool) -> tuple[ArrayType, ...]:
    _stack(a, "svd", square=False)
    b, m, n = a.shape
    k = min(m, n)
    mu, nv = (m, n) if full_matrices else (k, k)
    return a.with_shape((b, m, mu)), _real_of(a.with_shape((b, k))), a.with_shape((b, nv, n))


def _qr_shape(a: ArrayType) -> tuple[ArrayType, ArrayType]:
    _stack(a, "qr", square=False)
    b, m, n = a.shape
    k = min(m, n)
    return a.with_shape((b, m, k)), a.with_shape((b, k, n))


# ---- rules ----------------------------------------------------------------------------------

def _solve_vjp(ct: Value, a: Value, b: Value, out: Var, transpose_a: bool
               ) -> tuple[Value | None, Value | None]:
    ct_b = solve(a, ct, not transpose_a)
    ct_a = None
    if _active(a):  # d x = -op(a)^-1 op(da) x
        ct_a = ops.neg(mm(out, ct_b, tb=True) if transpose_a else mm(ct_b, out, tb=True))
    return ct_a, ct_b if _active(b) else None


def _solve_jvp(ts: list[Value | None], a: Value, b: Value, out: Var, transpose_a: bool
               ) -> Value | None:
    ta, tb = ts
    rhs = tb
    if ta is not None:
        rhs = ops.add_any(rhs, ops.neg(mm(ta, out, ta=transpose_a)))
    return solve(a, rhs, transpose_a)


def _tri_mask(x: Value, lower: bool, unit_diagonal: bool) -> Value:
    k = (-1 if lower else 1) if unit_diagonal else 0
    return tril(x, k) if lower else triu(x, k)


def _trsolve_vjp(ct: Value, a: Value, b: Value, out: Var, lower: bool, transpose_a: bool,
                 unit_diagonal: bool) -> tuple[Value | None, Value | None]:
    ct_b = trsolve(a, ct, lower, not transpose_a, unit_diagonal)
    ct_a = None
    if _active(a):
        g = mm(out, ct_b, tb=True) if transpose_a else mm(ct_b, out, tb=True)
        ct_a = ops.neg(_tri_mask(g, lower, unit_diagonal))
    return ct_a, ct_b if _active(b) else None


def _trsolve_jvp(ts: list[Value | None], a: Value, b: Value, out: Var, lower: bool,
                 transpose_a: bool, unit_diagonal: bool) -> Value | None:
    ta, tb = ts
    rhs = tb
    if ta is not None:
        rhs = ops.add_any(rhs, ops.neg(mm(_tri_mask(ta, lower, unit_diagonal), out,
                                          ta=transpose_a)))
    return trsolve(a, rhs, lower, transpose_a, unit_diagonal)


def _slogdet_vjp(ct: tuple, a: Value, out: tuple) -> tuple[Value | None]:
    if a.type.is_complex:
        return C.slogdet_vjp(ct, a, out)
    _, ct_l = ct
    if ct_l is None:
        return (None,)
    b, n, _ = a.shape
    inv_t = solve(a, eye(b, n, a.dtype), transpose_a=True)  # a^-T
    return (ops.mul(ops.reshape(ct_l, (b, 1, 1)), inv_t),)


def _slogdet_jvp(ts: list[Value | None], a: Value, out: tuple) -> tuple:
    if a.type.is_complex:
        return C.slogdet_jvp(ts, a, out)
    (ta,) = ts
    return None, ops.reduce_sum(diag_part(solve(a, ta)), (1,))


def _phi(x: Value) -> Value:
    """The lower triangle with the diagonal halved."""
    n = x.shape[-1]
    return ops.mul(tril(x), Lit.make(1 - 0.5 * np.eye(n), x.dtype))


def _cholesky_vjp(ct: Value, a: Value, out: Var) -> tuple[Value]:
    if a.type.is_complex:
        return (C.cholesky_vjp(ct, out),)
    # Murray 2016: S = L^-T phi(L^T ct) L^-1, then the symmetric part.
    p = _phi(mm(out, ct, ta=True))
    x = trsolve(out, p, lower=True, transpose_a=True)  # L^-T P
    s = mT(trsolve(out, mT(x), lower=True, transpose_a=True))  # (L^-T X^T)^T = X L^-1
    return (sym(s),)


def _cholesky_jvp(ts: list[Value | None], a: Value, out: Var) -> Value:
    # dL = L phi(L^-1 sym(da) L^-T)
    (ta,) = ts
    if a.type.is_complex:
        return C.cholesky_jvp(ta, out)
    x = trsolve(out, sym(ta), lower=True)  # L^-1 dA
    y = mT(trsolve(out, mT(x), lower=True))  # X L^-T
    return mm(out, _phi(y))


def _eigh_vjp(ct: tuple, a: Value, out: tuple, lower: bool) -> tuple[Value]:
    if a.type.is_complex:
        return C.eigh_vjp(ct, a, out)
    ct_w, ct_v = ct
    w, v = out
    inner = None if ct_w is None else diag_embed(ct_w)
    if ct_v is not None:
        inner = ops.add_any(inner, ops.mul(f_matrix(w), mm(v, ct_v, ta=True)))
    return (mm(mm(v, inner), v, tb=True),)


def _eigh_jvp(ts: list[Value | None], a: Value, out: tuple, lower: bool
              ) -> tuple[Value, Value]:
    if a.type.is_complex:
        return C.eigh_jvp(ts, a, out)
    (ta,) = ts
    w, v = out
    p = mm(mm(v, ta, ta=True), v)  # V^T dA V
    return diag_part(p), mm(v, ops.mul(f_matrix(w), p))


def _svd_f(s: Value) -> Value:
    return f_matrix(ops.mul(s, s))  # 1 / (s_j^2 - s_i^2)


def _svd_vjp(ct: tuple, a: Value, out: tuple, full_matrices: bool) -> tuple[Value]:
    ct_u, ct_s, ct_vt = ct
    u, s, vt = out
    b, m, n = a.shape
    k = min(m, n)
    if full_matrices and m != n:
        if ct_u is not None or ct_vt is not None:
            raise NotDifferentiable("the derivative of svd(full_matrices=True) of a non-square "
                                    "matrix is not defined for u and vh",
                                    hint="use full_matrices=False")
        u = emit("slice", u, starts=(0, 0, 0), steps=(1, 1, 1), shape=(b, m, k))
        vt = emit("slice", vt, starts=(0, 0, 0), steps=(1, 1, 1), shape=(b, k, n))
    if a.type.is_complex:
        return (C.svd_vjp(ct_u, ct_s, ct_vt, u, s, vt),)
    inner = None if ct_s is None else diag_embed(ct_s)
    extra = None
    if ct_u is not None or ct_vt is not None:
        f = _svd_f(s)
        if ct_u is not None:
            utgu = mm(u, ct_u, ta=True)
            j = ops.mul(ops.mul(f, ops.sub(utgu, mT(utgu))), col(s))
            inner = ops.add_any(inner, j)
            if m > k:  # (I - u u^T) ct_u S^-1 vt
                r = ops.sub(ct_u, mm(u, utgu))
                extra = mm(ops.div(r, col(s)), vt)
        if ct_vt is not None:
            vtgv = mm(vt, ct_vt, tb=True)  # v^T gv with v = vt^T, gv = ct_vt^T
            kk = ops.mul(row(s), ops.mul(f, ops.sub(vtgv, mT(vtgv))))
            inner = ops.add_any(inner, kk)
            if n > k:  # u S^-1 gv^T (I - v v^T)
                r = ops.sub(ct_vt, mm(vtgv, vt, ta=True))  # gv^T - (gv^T v) v^T
                extra = ops.add_any(extra, mm(u, ops.div(r, row(s))))
    ct_a = mm(mm(u, inner), vt)
    return (ops.add_any(ct_a, extra),)


def _svd_jvp(ts: list[Value | None], a: Value, out: tuple, full_matrices: bool) -> tuple:
    """A full svd of a non-square matrix: the extra columns of u (rows of vh) span a
    complement whose basis has no derivative, so their tangents are NaN; the first
    min(m, n) are the reduced svd's (the front end's s of a full svd comes from a reduced
    one, so forward mode through s alone is finite)."""
    (ta,) = ts
    u, s, vt = out
    b, m, n = a.shape
    if not (full_matrices and m != n):
        return _svd_jvp_reduced(ta, u, s, vt)
    k = min(m, n)
    u = emit("slice", u, starts=(0, 0, 0), steps=(1, 1, 1), shape=(b, m, k))
    vt = emit("slice", vt, starts=(0, 0, 0), steps=(1, 1, 1), shape=(b, k, n))
    du, ds, dvt = _svd_jvp_reduced(ta, u, s, vt)
    nan_u = ops.broadcast_to(ops.lit(np.nan, u.dtype), (b, m, m - k))
    nan_v = ops.broadcast_to(ops.lit(np.nan, u.dtype), (b, n - k, n))
    return (emit("concatenate", du, nan_u, axis=2), ds,
            emit("concatenate", dvt, nan_v, axis=1))


def _svd_jvp_reduced(ta: Value, u: Value, s: Value, vt: Value) -> tuple:
    m, n = ta.shape[1:]
    if ta.type.is_complex:
        return C.svd_jvp(ta, u, s, vt)
    p = mm(mm(u, ta, ta=True), vt, tb=True)  # u^T dA v
    ds = diag_part(p)
    f = _svd_f(s)
    dss = ops.mul(p, col(s))
    sds = ops.mul(row(s), p)
    du = mm(u, ops.mul(f, ops.add(dss, mT(dss))))
    dv = mm(vt, ops.mul(f, ops.add(sds, mT(sds))), ta=True)
    if m > n:
        dav = mm(ta, vt, tb=True)
        du = ops.add(du, ops.div(ops.sub(dav, mm(u, mm(u, dav, ta=True))), col(s)))
    if n > m:
        dahu = mm(ta, u, ta=True)
        dv = ops.add(dv, ops.div(ops.sub(dahu, mm(vt, mm(vt, dahu), ta=True)), col(s)))
    return du, ds, mT(dv)


def _qr_check(a: Value) -> None:
    if a.shape[1] < a.shape[2]:
        raise NotDifferentiable("the derivative of qr of a wide matrix (more columns than rows) "
                                "is not implemented", hint="differentiate qr of a.T instead")


def _qr_vjp(ct: tuple, a: Value, out: tuple) -> tuple[Value]:
    _qr_check(a)
    ct_q, ct_r = ct
    q, r = out
    if a.type.is_complex:
        return (C.qr_vjp(ct_q, ct_r, q, r),)
    m_ = None
    if ct_r is not None:
        m_ = mm(r, ct_r, tb=True)
    if ct_q is not None:
        m_ = ops.add_any(m_, ops.neg(mm(ct_q, q, ta=True)))
    copyltu = ops.add(tril(m_), mT(tril(m_, -1)))
    bb = mm(q, copyltu)
    if ct_q is not None:
        bb = ops.add(ct_q, bb)
    return (mT(trsolve(r, mT(bb), lower=False)),)  # b r^-T


def _qr_jvp(ts: list[Value | None], a: Value, out: tuple) -> tuple[Value, Value]:
    _qr_check(a)
    (ta,) = ts
    q, r = out
    if a.type.is_complex:
        return C.qr_jvp(ta, q, r)
    dx_rinv = mT(trsolve(r, mT(ta), lower=False, transpose_a=True))  # dA r^-1
    qt = mm(q, dx_rinv, ta=True)
    low = tril(qt, -1)
    do = ops.sub(low, mT(low))
    dq = ops.add(mm(q, ops.sub(do, qt)), dx_rinv)
    dr = mm(ops.sub(qt, do), r)
    return dq, dr


def _block_upper(x: Value, e: Value) -> Value:
    """The (B, 2n, 2n) stack [[x, e], [0, x]]."""
    z = ops.zeros(x.type)
    top = emit("concatenate", x, e, axis=2)
    bottom = emit("concatenate", z, x, axis=2)
    return emit("concatenate", top, bottom, axis=1)


def expm_frechet(x: Value, e: Value) -> Value:
    """The Frechet derivative of expm at x in direction e: the upper right block of
    expm([[x, e], [0, x]]) (Higham 2008, Thm 3.6)."""
    b, n, _ = x.shape
    big = emit("expm", _block_upper(x, e))
    return emit("slice", big, starts=(0, 0, n), steps=(1, 1, 1), shape=(b, n, n))


def _expm_vjp(ct: Value, a: Value, out: Var) -> tuple[Value]:
    return (expm_frechet(mT(a), ct),)  # the adjoint of L(a, .) is L(a^T, .)


def _sqrtm_vjp(ct: Value, a: Value, out: Var) -> tuple[Value]:
    # S S = A: dS S + S dS = dA; the adjoint of dS -> dS S + S dS is Y -> Y S^T + S^T Y
    st = mT(out)
    return (sylvester(st, st, ct),)


register(Primitive("solve", LIBRARY, shape=_solve_shape, impl=R.solve_impl, jvp=_solve_jvp,
                   vjp=_solve_vjp, params=("transpose_a",), extra={"library": "linalg"}))
register(Primitive("triangular_solve", LIBRARY, shape=_solve_shape, impl=R.trsolve_impl,
                   jvp=_trsolve_jvp, vjp=_trsolve_vjp,
                   params=("lower", "transpose_a", "unit_diagonal"),
                   extra={"library": "linalg"}))

_SHAPES = {"slogdet": _slogdet_shape, "cholesky": _cholesky_shape, "eigh": _eigh_shape,
             "svd": _svd_shape, "qr": _qr_shape, "expm": _square_shape,
             "sqrtm": _square_shape}
_RULES = {"slogdet": (_slogdet_jvp, _slogdet_vjp, ()),
          "cholesky": (_cholesky_jvp, _cholesky_vjp, ()),
          "eigh": (_eigh_jvp, _eigh_vjp, ("lower",)),
          "svd": (_svd_jvp, _svd_vjp, ("full_matrices",)),
          "qr": (_qr_jvp, _qr_vjp, ()),
          "expm": (lambda ts, a, out: expm_frechet(a, ts[0]), _expm_vjp, ()),
          "sqrtm": (lambda ts, a, out: sylvester(out, out, ts[0]), _sqrtm_vjp, ())}
for _name, (_jvp, _vjp, _params) in _RULES.items():
    register(Primitive(_name, LIBRARY, shape=_SHAPES[_name], impl=R.IMPLS[_name],
                       jvp=_jvp, vjp=_vjp, params=_params, extra={"library": "linalg"}))

# Complex operands' rules and the eig primitive (imported last: it uses the helpers above).
from . import decomp_complex as C  # noqa: E402
