"""Complex np.linalg and np.linalg.eig: values against numpy, reverse and forward derivatives
(JAX's convention) against central differences, second order, complex64, batches, the
recorded Tensor API, and refusals of what stays real-only.

Complex eigenvectors and singular vectors have a free phase per column (ir/prims/
decomp_complex.py), so the derivative checks use functions that do not depend on it: |v|,
eigenvalues, singular values, u diag(s) vh, projectors v v^H. eig of a real matrix returns
complex arrays. A suite of plain-Python groups (conftest `_PLAIN_PYTHON`); the tests marked
`compiled` run numba's kernels (zheevd, zgesdd, geev...).
"""
from __future__ import annotations

import numpy as np
import pytest

import adjit
from adjit.ir import TraceError
from adjit.tracer.sp_linalg import SCIPY_FUNCTIONS
from complex_check import check_function

SP = {name.rsplit(".", 1)[1]: impl for name, impl in SCIPY_FUNCTIONS.items()}
LA = np.linalg
RNG = np.random.default_rng(11)
Z = RNG.standard_normal((4, 4)) + 1j * RNG.standard_normal((4, 4)) + 2 * np.eye(4)
A = RNG.standard_normal((4, 4))
ZB = RNG.standard_normal((2, 3, 3)) + 1j * RNG.standard_normal((2, 3, 3)) + 2 * np.eye(3)
RHS = RNG.standard_normal((4, 2)) + 1j * RNG.standard_normal((4, 2))


def value_cases(z, a, zb, rhs):  # noqa: ANN001, ANN201
    tall, wide = z[:, :3], z[:3]
    return (*LA.eig(z), *LA.eig(a), LA.eigvals(zb), *LA.eig(zb), *LA.eigh(z),
            *LA.eigh(z, "U"), LA.eigvalsh(zb), *LA.svd(tall, full_matrices=False),
            *LA.svd(wide, full_matrices=False), *LA.svd(z), LA.svd(zb, compute_uv=False),
            *LA.slogdet(z), LA.det(z), LA.det(zb), LA.inv(z), LA.inv(zb), LA.solve(z, rhs),
            LA.solve(z, rhs[:, 0]), LA.norm(z, "nuc"), LA.norm(z, 2), LA.norm(z, -2),
            LA.norm(zb, "nuc", axis=(2, 1), keepdims=True), LA.pinv(tall), LA.pinv(wide),
            LA.lstsq(tall, rhs)[0], LA.lstsq(tall, rhs)[1], LA.matrix_rank(z),
            LA.matrix_power(z, -2), LA.cholesky(_hpd(z)), LA.cholesky(_hpd(zb), upper=True),
            LA.cholesky(z + 6 * np.eye(4)), *LA.qr(tall), *LA.qr(z), LA.qr(zb, mode="r"),
            LA.cond(z), LA.cond(wide), LA.cond(z, "fro"), LA.cond(zb, 1))


def _hpd(z):  # noqa: ANN001, ANN202
    """A Hermitian positive definite matrix from z (of z's precision: 4 I is exact in
    float32)."""
    return z @ np.conj(np.swapaxes(z, -1, -2)) + 4 * np.eye(z.shape[-1], dtype=np.float32)


def test_values_match_numpy() -> None:
    got = adjit.jit(value_cases)(Z, A, ZB, RHS)
    want = value_cases(Z, A, ZB, RHS)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, f"case {i}: shape {g.shape}, numpy {w.shape}"
        # eig of a real matrix is complex here even when numpy gives float64
        assert g.dtype == w.dtype or (g.dtype == np.complex128 and w.dtype == np.float64), \
            f"case {i}: {g.dtype}, numpy {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-10, err_msg=f"case {i}")


# Gauge-invariant functions of each decomposition, one real or complex array each.

def _eig_f(z):  # noqa: ANN001, ANN202
    w, v = LA.eig(z)
    return np.concatenate([w, np.abs(v).ravel(), LA.eigvals(2 * z)])


def _eig_real_f(a):  # noqa: ANN001, ANN202
    w, v = LA.eig(a)
    return np.concatenate([w, np.abs(v).ravel()])


def _eig_batched_f(zb):  # noqa: ANN001, ANN202
    w, v = LA.eig(zb)
    return np.concatenate([w.ravel(), (v * np.conj(v)).ravel()])


def _eigh_f(z):  # noqa: ANN001, ANN202
    w, v = LA.eigh(z)
    wu, vu = LA.eigh(z, "U")
    p = v[:, :2] @ np.conj(v[:, :2]).T  # the projector on two eigenvectors
    return np.concatenate([w, np.abs(v).ravel(), wu, np.abs(vu).ravel(), p.ravel()])


def _svd_f(z):  # noqa: ANN001, ANN202
    parts = []
    for m in (z, z[:, :3], z[:3]):
        u, s, vh = LA.svd(m, full_matrices=False)
        parts += [np.abs(u).ravel(), s, np.abs(vh).ravel(), (u[:, :2] * s[:2] @ vh[:2]).ravel()]
    parts += [LA.svd(z, compute_uv=False), LA.svd(z[:, :3])[1]]
    return np.concatenate(parts)


def _svd_batched_f(zb):  # noqa: ANN001, ANN202
    u, s, vh = LA.svd(zb[:, :, :2], full_matrices=False)
    return np.concatenate([np.abs(u).ravel(), s.ravel(), np.abs(vh).ravel()])


def _solve_f(z, rhs):  # noqa: ANN001, ANN202
    sign, logdet = LA.slogdet(z)
    return np.concatenate([LA.solve(z, rhs).ravel(), LA.inv(z).ravel(), [sign, logdet],
                           [LA.det(z), LA.det(z[:2, :2])], LA.matrix_power(z, -2).ravel()])


def _batched_solve_f(zb):  # noqa: ANN001, ANN202
    return np.concatenate([LA.inv(zb).ravel(), LA.det(zb), LA.slogdet(zb)[0]])


def _norms_f(z):  # noqa: ANN001, ANN202
    return np.stack([LA.norm(z, "nuc"), LA.norm(z, 2), LA.norm(z, -2),
                     LA.norm(z[:, :3], "nuc"), LA.norm(z[None], "nuc", axis=(2, 1))[0]])


def _chol_qr_f(z):  # noqa: ANN001, ANN202
    q, r = LA.qr(z[:, :3])
    qs, rs = LA.qr(z)
    return np.concatenate([LA.cholesky(_hpd(z)).ravel(), LA.cholesky(z + 6 * np.eye(4)).ravel(),
                           LA.cholesky(_hpd(z), upper=True).ravel(), q.ravel(), r.ravel(),
                           qs.ravel(), rs.ravel(), [LA.cond(z), LA.cond(z, "fro")]])


def _batched_chol_qr_f(zb):  # noqa: ANN001, ANN202
    q, r = LA.qr(zb)
    return np.concatenate([LA.cholesky(_hpd(zb)).ravel(), q.ravel(), r.ravel()])


def _pinv_f(z, rhs):  # noqa: ANN001, ANN202
    return np.concatenate([LA.pinv(z[:, :3]).ravel(), LA.pinv(z[:2]).ravel(),
                           LA.lstsq(z[:, :3], rhs)[0].ravel(), LA.lstsq(z[:, :3], rhs)[1]])


@pytest.mark.parametrize("fn,args", [
    (_eig_f, (Z,)), (_eig_real_f, (A,)), (_eig_batched_f, (ZB,)), (_eigh_f, (Z,)),
    (_svd_f, (Z,)), (_svd_batched_f, (ZB,)), (_solve_f, (Z, RHS)), (_batched_solve_f, (ZB,)),
    (_norms_f, (Z,)), (_pinv_f, (Z, RHS)), (_chol_qr_f, (Z,)), (_batched_chol_qr_f, (ZB,)),
], ids=["eig", "eig-real", "eig-batched", "eigh", "svd", "svd-batched", "solve-inv-det",
        "batched-inv-det", "norms", "pinv-lstsq", "cholesky-qr-cond", "batched-cholesky-qr"])
def test_derivatives_match_finite_differences(fn, args) -> None:  # noqa: ANN001
    check_function(adjit, fn, list(args))


def _loss(z, dtype=np.float64):  # noqa: ANN001, ANN202
    w, v = LA.eig(z)
    wh, vh = LA.eigh(z)
    u, s, _ = LA.svd(z)
    return (np.sum(np.abs(w) ** 2) + np.sum(np.abs(v) * np.arange(16, dtype=dtype).reshape(4, 4))
            + np.sum(wh * np.arange(4, dtype=dtype)) + np.sum(np.abs(vh[0])) + np.sum(s ** 1.5)
            + np.sum(np.abs(u[1])) + np.abs(LA.det(z)) + np.real(LA.slogdet(z)[0])
            + np.sum(np.abs(LA.inv(z))) + LA.norm(z, "nuc") + np.sum(np.abs(LA.qr(z)[1]))
            + np.sum(np.abs(LA.cholesky(_hpd(z)))))


def test_second_order() -> None:
    """The gradient of <grad, c> (reverse over reverse), as a function of z, against central
    differences of the gradient."""
    c = RNG.standard_normal(Z.shape) + 1j * RNG.standard_normal(Z.shape)
    g = adjit.grad(_loss)

    def inner(z):  # noqa: ANN001, ANN202
        return np.real(np.sum(adjit.grad(_loss)(z) * c))
    gg = adjit.grad(inner)(Z)
    t = RNG.standard_normal(Z.shape) + 1j * RNG.standard_normal(Z.shape)
    eps = 1e-5
    fd = np.real(np.sum((g(Z + eps * t) - g(Z - eps * t)) * c)) / (2 * eps)
    np.testing.assert_allclose(np.real(np.sum(gg * t)), fd, rtol=1e-5, atol=1e-6)


def _loss_small(z):  # noqa: ANN001, ANN202
    # (a part of _loss: its complex64 compile is the suite's slowest otherwise, and the
    # complex128 test compiles all of it)
    return (np.sum(np.abs(LA.eig(z)[0]) ** 2) + np.sum(LA.svd(z)[1] ** 1.5)
            + np.abs(LA.det(z)))


@pytest.mark.compiled
def test_compiled_complex64_stays_complex64() -> None:
    z = Z.astype(np.complex64)
    val, grad = adjit.value_and_grad(_loss_small)(z)
    assert np.asarray(val).dtype == np.float32 and grad.dtype == np.complex64
    want_val, want = _loss_small(Z), _plain_grad(Z, _loss_small)  # (the interpreter)
    np.testing.assert_allclose(val, want_val, rtol=1e-4)
    np.testing.assert_allclose(grad, want, rtol=2e-3, atol=2e-3)
    outs = adjit.jit(lambda z, a: (*LA.eig(z), *LA.eig(a), *LA.eigh(z), *LA.svd(z),
                                   *LA.slogdet(z)))(z, A.astype(np.float32))
    assert [o.dtype for o in outs] == [np.complex64] * 4 + [np.float32, np.complex64,
                                                            np.complex64, np.float32,
                                                            np.complex64, np.complex64,
                                                            np.float32]


@pytest.mark.compiled
def test_compiled_values_and_gradient() -> None:
    got = adjit.jit(lambda z, a: (*LA.eig(z), *LA.eig(a), *LA.eigh(z, "U"),
                                  *LA.svd(z[:, :3], full_matrices=False), LA.det(z)))(Z, A)
    want = (*LA.eig(Z), *LA.eig(A), *LA.eigh(Z, "U"), *LA.svd(Z[:, :3], full_matrices=False),
            LA.det(Z))
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-10, err_msg=f"output {i}")
    np.testing.assert_allclose(adjit.grad(_loss)(Z), _plain_grad(Z), rtol=1e-10, atol=1e-12)


def _plain_grad(z, fn=_loss):  # noqa: ANN001, ANN202
    import os

    old = os.environ.get("ADJIT_NOJIT")
    os.environ["ADJIT_NOJIT"] = "1"
    try:
        return adjit.grad(fn)(z)
    finally:
        if old is None:
            del os.environ["ADJIT_NOJIT"]
        else:
            os.environ["ADJIT_NOJIT"] = old


@pytest.mark.compiled
def test_recorded_tensor_api() -> None:
    t = adjit.tensor(Z, requires_grad=True)
    w, v = LA.eig(t)
    wh, _ = LA.eigh(t)
    y = (np.abs(w).sum() + np.abs(v[0]).sum() + (wh * wh).sum() + LA.svd(t)[1].sum()
         + np.abs(LA.det(t)) + np.abs(LA.solve(t, RHS)).sum())
    y.backward()

    def f(z):  # noqa: ANN001, ANN202
        w, v = LA.eig(z)
        wh, _ = LA.eigh(z)
        return (np.abs(w).sum() + np.abs(v[0]).sum() + (wh * wh).sum() + LA.svd(z)[1].sum()
                + np.abs(LA.det(z)) + np.abs(LA.solve(z, RHS)).sum())
    np.testing.assert_allclose(np.asarray(y.detach()), f(Z), rtol=1e-10)
    assert t.grad.dtype == np.complex128
    np.testing.assert_allclose(t.grad.numpy(), adjit.grad(f)(Z), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("fn", [lambda z: SP["cholesky"](z), lambda z: SP["inv"](z),
                                lambda z: SP["solve_triangular"](z, z),
                                lambda z: SP["expm"](z), lambda z: LA.eigh(z[None], "X")],
                         ids=["sp-cholesky", "sp-inv", "sp-solve_triangular", "sp-expm",
                              "bad-uplo"])
def test_what_stays_unsupported_raises(fn) -> None:  # noqa: ANN001
    """scipy.linalg's functions keep real rules (trans='C', cho_factor's layout ... are not
    written for complex): refused, never cut to the real part."""
    with pytest.raises(TraceError):
        adjit.jit(fn)(Z)


def test_wide_qr_is_not_differentiable() -> None:
    from adjit.ir.errors import NotDifferentiable

    with pytest.raises(NotDifferentiable):
        adjit.grad(lambda z: np.sum(np.abs(LA.qr(z)[1])))(Z[:3])


def test_full_matrices_vectors_of_a_non_square_matrix_are_not_differentiable() -> None:
    from adjit.ir.errors import NotDifferentiable

    with pytest.raises(NotDifferentiable):
        adjit.grad(lambda z: np.sum(np.abs(LA.svd(z)[0])))(Z[:, :3])
