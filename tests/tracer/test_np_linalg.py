"""numpy.linalg and scipy.linalg through adjit: values against numpy/scipy, reverse and forward
derivatives against central differences of the numpy functions, second order, float32,
batches, the recorded Tensor API, and errors.

To keep the test short, the cases are grouped: each group is one function returning a
tuple (one entry per case), compiled once for values, once for its VJP (each case checked
with its own cotangent, the others zero) and once for its JVP. These large graphs run their
generated code as plain Python (`plain` fixture, ADJIT_NOJIT): numba's np.linalg costs
seconds to compile per kernel and graph, and the numba kernels are checked against the
reference interpreter primitive by primitive in tests/codegen (linalg_graphs.py). The
second-order, float32, recorded and failure tests compile with numba, end to end.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl
from hypothesis import given, settings
from hypothesis import strategies as st

import adjit
from adjit.ir import TraceError
from adjit.tracer.sp_linalg import SCIPY_FUNCTIONS

from check import numeric_jacobian

LA = np.linalg
SP = {name.rsplit(".", 1)[1]: impl for name, impl in SCIPY_FUNCTIONS.items()}
RNG = np.random.default_rng(7)
A = RNG.standard_normal((4, 4)) + 2 * np.eye(4)
B = RNG.standard_normal((4, 2))
I4 = np.eye(4)


def spd(a):  # noqa: ANN001, ANN201
    return a @ a.T + 4 * I4


def numpy_cases(a, b):  # noqa: ANN001, ANN201
    tall, wide = a[:, :3], a[:3]
    stack = np.stack([a, 2 * a])
    return (
        LA.solve(a, b), LA.solve(a, b[:, 0]), LA.inv(a), LA.det(a), LA.slogdet(a)[1],
        LA.cholesky(spd(a)), LA.cholesky(spd(a) + np.triu(a, 1)),  # numpy reads the lower one
        LA.cholesky(spd(a), upper=True),
        LA.eigh(a)[0], LA.eigh(a)[1], LA.eigh(a, "U")[1], LA.eigvalsh(a, "U"),
        *LA.svd(tall, full_matrices=False), *LA.svd(wide, full_matrices=False), *LA.svd(a),
        LA.svd(tall, compute_uv=False), *LA.qr(tall), *LA.qr(a), LA.qr(tall, mode="r"),
        LA.pinv(tall), LA.pinv(wide), LA.lstsq(tall, b)[0], LA.lstsq(tall, b[:, 0])[0],
        LA.matrix_power(a, 3), LA.matrix_power(a, -2), LA.matrix_power(a, 1),
        *(LA.norm(b[:, 0], o) for o in (None, 1, 2, np.inf, -np.inf, 3, -1.5)),
        *(LA.norm(a, o) for o in (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)),
        LA.norm(stack, "nuc", axis=(2, 1)), LA.norm(stack, 1, axis=(0, 2), keepdims=True),
        LA.norm(stack, axis=1, keepdims=True), LA.norm(stack, 2, axis=(-2, -1)),
        np.trace(stack, 1, 1, 2), np.trace(stack, axis1=2, axis2=0), LA.cond(a),
        LA.cond(a, "fro"), LA.multi_dot([a, b, b.T]),
    )


def scipy_cases(a, b):  # noqa: ANN001, ANN201
    t = a + 2 * I4
    s = spd(a)
    c_low = SP["cho_factor"](s, lower=True) if _traced(a) else sl.cho_factor(s, lower=True)
    c_up = SP["cho_factor"](s) if _traced(a) else sl.cho_factor(s)
    f = {name: (SP[name] if _traced(a) else getattr(sl, name)) for name in SP}
    ab = np.stack([np.concatenate([np.zeros(1), a[0, 1:]]), a[1] + 3,
                   np.concatenate([a[2, :3], np.zeros(1)])])  # (l, u) = (1, 1) band storage
    return (
        f["solve_triangular"](t, b, lower=True), f["solve_triangular"](t, b, trans=1),
        f["solve_triangular"](t, b[:, 0], trans="T", lower=True, unit_diagonal=True),
        f["solve_triangular"](t, b, unit_diagonal=True),
        c_low[0], c_up[0], f["cho_solve"](c_low, b), f["cho_solve"](c_up, b[:, 0]),
        f["cholesky"](s), f["cholesky"](s + np.tril(a, -1), lower=True),
        f["expm"](0.5 * a), f["sqrtm"](s), f["solve_sylvester"](t, t[:2, :2] + 3, b),
        f["solve_banded"]((1, 1), ab, b), f["inv"](a), f["det"](a), f["solve"](a, b),
        f["solve"](s + np.triu(a, 1), b, assume_a="pos"), f["solve"](a, b, transposed=True),
    )


def _traced(a) -> bool:  # noqa: ANN001
    return not isinstance(a, np.ndarray)


BATCH_A = RNG.standard_normal((2, 3, 4, 4)) + 2 * np.eye(4)
BATCH_B = RNG.standard_normal((3, 4, 2))


def batched_cases(a, b):  # noqa: ANN001, ANN201
    s = a @ np.swapaxes(a, -1, -2) + 4 * I4
    return (LA.solve(a, b), LA.inv(a), LA.det(a), LA.slogdet(a)[1], LA.cholesky(s),
            *LA.eigh(a), *LA.svd(a[..., :3], full_matrices=False), *LA.qr(a[..., :3]),
            LA.norm(a, "nuc", axis=(-2, -1)), LA.matrix_power(a, 2), LA.pinv(a))


GROUPS = {"numpy": (numpy_cases, (A, B)), "scipy": (scipy_cases, (A, B)),
          "batched": (batched_cases, (BATCH_A, BATCH_B))}


@pytest.fixture
def plain(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the generated code as plain Python (see the module docstring)."""
    monkeypatch.setenv("ADJIT_NOJIT", "1")


@pytest.mark.parametrize("group", GROUPS)
def test_values_match_numpy_and_scipy(group: str, plain: None) -> None:
    fn, args = GROUPS[group]
    got = adjit.jit(fn)(*args)
    want = fn(*args)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        g = np.asarray(g)
        assert g.shape == np.shape(w), f"case {i}: shape {g.shape}, numpy {np.shape(w)}"
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-10, err_msg=f"case {i}")


def _fd_vjp(fn, args, i, ct):  # noqa: ANN001, ANN202
    """<ct, case i>'s gradient wrt each float argument, by central differences."""
    def scalar(*xs):  # noqa: ANN002, ANN202
        return np.sum(np.asarray(fn(*xs)[i]) * ct)
    return [numeric_jacobian(scalar, *args, argnum=k) for k in range(len(args))]


@pytest.mark.parametrize("group", GROUPS)
def test_reverse_mode_matches_finite_differences(group: str, plain: None) -> None:
    fn, args = GROUPS[group]
    outs, pullback = adjit.vjp(fn, *args)
    rng = np.random.default_rng(0)
    for i, o in enumerate(outs):
        cts = [np.zeros(np.shape(x)) for x in outs]
        cts[i] = rng.standard_normal(np.shape(o))
        got = pullback(tuple(cts))
        want = _fd_vjp(fn, args, i, cts[i])
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6,
                                       err_msg=f"case {i}, gradient wrt argument {k}")


@pytest.mark.parametrize("group", GROUPS)
def test_forward_mode_matches_finite_differences(group: str, plain: None) -> None:
    fn, args = GROUPS[group]
    rng = np.random.default_rng(1)
    tangents = tuple(rng.standard_normal(np.shape(x)) for x in args)
    _, t_out = adjit.jvp(fn, args, tangents)
    eps = 1e-6
    plus = fn(*(x + eps * t for x, t in zip(args, tangents, strict=True)))
    minus = fn(*(x - eps * t for x, t in zip(args, tangents, strict=True)))
    for i, (g, p, m) in enumerate(zip(t_out, plus, minus, strict=True)):
        np.testing.assert_allclose(g, (np.asarray(p) - m) / (2 * eps), rtol=1e-5, atol=1e-6,
                                   err_msg=f"case {i}")


def second_order(a):  # noqa: ANN001, ANN201
    s = spd(a)
    w = np.arange(16.0).reshape(4, 4) / 10
    return (np.sum(LA.inv(a) * w) + LA.det(a) + np.sum(LA.eigh(a)[0] * w[0])
            + LA.norm(a, "nuc") + np.sum(LA.cholesky(s) * w) + np.sum(LA.qr(a[:, :3])[1])
            + np.sum(np.abs(LA.eigh(a)[1]) * w) + np.sum(LA.svd(a[:3])[1] * w[0, :3])
            + np.sum(SP["expm"](0.3 * a) * w) + np.sum(SP["sqrtm"](s) * w)
            + np.sum(SP["solve_triangular"](a, w, lower=True)) + LA.slogdet(a)[1])


def _second_order_numpy(a):  # noqa: ANN001, ANN201
    s = spd(a)
    w = np.arange(16.0).reshape(4, 4) / 10
    return (np.sum(LA.inv(a) * w) + LA.det(a) + np.sum(LA.eigh(a)[0] * w[0])
            + LA.norm(a, "nuc") + np.sum(LA.cholesky(s) * w) + np.sum(LA.qr(a[:, :3])[1])
            + np.sum(np.abs(LA.eigh(a)[1]) * w) + np.sum(LA.svd(a[:3])[1] * w[0, :3])
            + np.sum(sl.expm(0.3 * a) * w) + np.sum(sl.sqrtm(s) * w)
            + np.sum(sl.solve_triangular(a, w, lower=True)) + LA.slogdet(a)[1])


def test_second_order_reverse_over_reverse_and_forward_over_reverse(plain: None) -> None:
    g = adjit.grad(second_order)
    first = g(A)
    want = numeric_jacobian(_second_order_numpy, A)
    np.testing.assert_allclose(first, want, rtol=1e-5, atol=1e-6)
    v = np.random.default_rng(2).standard_normal(A.shape)
    eps = 1e-5
    fd = (g(A + eps * v) - g(A - eps * v)) / (2 * eps)
    # forward over reverse: the Hessian times v
    np.testing.assert_allclose(adjit.hvp(second_order, A, v), fd, rtol=1e-5, atol=1e-5)
    # reverse over reverse: the gradient of <grad, v> is also H v (H is symmetric)
    gg = adjit.grad(lambda a: np.sum(adjit.grad(second_order)(a) * v))(A)
    np.testing.assert_allclose(gg, fd, rtol=1e-5, atol=1e-5)


def test_second_order_compiled() -> None:
    def f(a):  # noqa: ANN001, ANN202
        return LA.det(a) + np.sum(LA.eigh(a)[0] * np.arange(4.0)) + LA.norm(a, "nuc")

    v = np.random.default_rng(3).standard_normal(A.shape)
    g = adjit.grad(f)
    eps = 1e-5
    fd = (g(A + eps * v) - g(A - eps * v)) / (2 * eps)
    np.testing.assert_allclose(g(A), numeric_jacobian(f, A), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(adjit.hvp(f, A, v), fd, rtol=1e-5, atol=1e-5)


def float32_cases(a):  # noqa: ANN001, ANN201
    s = a @ a.T + 4 * np.eye(4, dtype=np.float32)
    return (np.sum(LA.inv(a)) + LA.det(a) + np.sum(LA.eigh(s)[0] ** 2) + LA.norm(a, "nuc")
            + np.sum(LA.cholesky(s)))


def test_float32_stays_float32() -> None:
    a = A.astype(np.float32)
    val, grad = adjit.value_and_grad(float32_cases)(a)
    assert np.asarray(val).dtype == np.float32 and grad.dtype == np.float32
    np.testing.assert_allclose(val, float32_cases(A), rtol=1e-4)
    np.testing.assert_allclose(grad, numeric_jacobian(float32_cases, A), rtol=2e-3, atol=2e-3)
    assert adjit.jit(lambda x: LA.svd(x))(a)[1].dtype == np.float32


def test_recorded_tensor_api() -> None:
    t = adjit.tensor(A, requires_grad=True)
    y = LA.det(t) + LA.norm(LA.inv(t), "fro") + LA.slogdet(t)[1]
    y.backward()

    def f(a):  # noqa: ANN001, ANN202
        return LA.det(a) + LA.norm(LA.inv(a), "fro") + LA.slogdet(a)[1]
    np.testing.assert_allclose(np.asarray(y.detach() if hasattr(y, "detach") else y), f(A),
                               rtol=1e-10)
    np.testing.assert_allclose(np.asarray(t.grad), numeric_jacobian(f, A), rtol=1e-5,
                               atol=1e-6)


def test_lstsq_returns_numpys_four_results(plain: None) -> None:
    x, res, rank, s = adjit.jit(lambda a, b: LA.lstsq(a, b))(A[:, :3], B)
    wx, wres, wrank, ws = LA.lstsq(A[:, :3], B)
    np.testing.assert_allclose(x, wx, rtol=1e-10)
    np.testing.assert_allclose(res, wres, rtol=1e-10)
    assert int(rank) == wrank
    np.testing.assert_allclose(s, ws, rtol=1e-12)


def test_failures_give_nan_not_exceptions() -> None:
    f = adjit.jit(lambda a: (LA.cholesky(a), LA.solve(a, a)))
    bad = -np.eye(3)
    chol, _ = f(bad)
    assert np.isnan(chol).all()
    _, x = f(np.zeros((3, 3)) + np.eye(3) * 0)
    assert not np.isfinite(x).all()


def test_bad_shapes_are_trace_errors_at_the_users_line() -> None:
    with pytest.raises(TraceError, match="square") as e:
        adjit.jit(lambda a: LA.inv(a))(np.ones((3, 4)))
    assert "test_np_linalg.py" in str(e.value)
    with pytest.raises(TraceError, match="at least 2-dimensional"):
        adjit.jit(lambda a: LA.det(a))(np.ones(3))
    with pytest.raises(TraceError, match="rows"):
        adjit.jit(lambda a: LA.solve(a, np.ones(3)))(np.eye(4))
    with pytest.raises(TraceError, match="ord"):
        adjit.jit(lambda a: LA.norm(a, "bogus"))(np.eye(4))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 5), k=st.integers(1, 3), lower=st.booleans(), trans=st.booleans(),
       unit=st.booleans(), seed=st.integers(0, 2**16))
def test_triangular_solve_kernel_and_reference_match_scipy(n: int, k: int, lower: bool,
                                                          trans: bool, unit: bool,
                                                          seed: int) -> None:
    from adjit.codegen import linalg_kernels as lk
    from adjit.ir import PRIMS

    rng = np.random.default_rng(seed)
    a = rng.standard_normal((2, n, n)) + 3 * np.eye(n)
    b = rng.standard_normal((2, n, k))
    want = np.stack([sl.solve_triangular(a[i], b[i], lower=lower, trans=int(trans),
                                         unit_diagonal=unit) for i in range(2)])
    out = np.empty_like(b)
    lk.triangular_solve(a, b, out, lower=lower, transpose_a=trans, unit_diagonal=unit)
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12)
    ref = PRIMS["triangular_solve"].impl(a, b, lower=lower, transpose_a=trans,
                                         unit_diagonal=unit)
    np.testing.assert_allclose(ref, want, rtol=1e-10, atol=1e-12)
