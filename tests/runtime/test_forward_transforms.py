"""jvp, hvp, jacfwd/jacrev/jacobian, hessian: closed forms, scipy's Rosenbrock Hessian,
composition with grad and jit, captured state read at every call."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import rosen_hess, rosen_hess_prod

import adjit


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


X = np.array([1.2, 0.8, -0.5, 2.0])
V = np.array([1.0, 0.5, -1.0, 0.3])


def test_jvp_is_the_directional_derivative():
    x = np.array([0.3, 1.0, 2.0])
    v = np.array([1.0, 0.5, -1.0])
    out, t = adjit.jvp(lambda x: np.sin(x) * x, (x,), (v,))
    np.testing.assert_allclose(out, np.sin(x) * x)
    np.testing.assert_allclose(t, (np.cos(x) * x + np.sin(x)) * v)
    with pytest.raises(TypeError, match="tangent"):
        adjit.jvp(np.sin, (x,), (np.ones(2),))


def test_hvp_and_hessian_match_scipy():
    np.testing.assert_allclose(adjit.hvp(rosen, X, V), rosen_hess_prod(X, V), rtol=1e-12)
    np.testing.assert_allclose(adjit.hessian(rosen)(X), rosen_hess(X), rtol=1e-12)


def test_jacobians_forward_and_reverse_agree():
    f = lambda x: np.tanh(x[:3]) * x[1:]  # noqa: E731
    jf, jr = adjit.jacfwd(f)(X), adjit.jacrev(f)(X)
    assert jf.shape == jr.shape == (3, 4)
    np.testing.assert_allclose(jf, jr, rtol=1e-12)
    np.testing.assert_allclose(adjit.jacobian(f, mode="fwd")(X), jf)
    np.testing.assert_allclose(adjit.jacobian(f)(X), jr)
    with pytest.raises(ValueError, match="mode"):
        adjit.jacobian(f, mode="sideways")


def test_closed_forms_and_composition():
    assert adjit.hessian(lambda x: (x**3).sum())(np.array([2.0]))[0, 0] == pytest.approx(12.0)
    # grad of a jvp, jvp of a grad
    g = adjit.grad(lambda x: adjit.jvp(lambda y: (y**3).sum(), (x,), (np.ones(2),))[1])
    np.testing.assert_allclose(g(np.array([1.0, 2.0])), [6.0, 12.0])
    _, t = adjit.jvp(adjit.grad(lambda y: (y**3).sum()), (np.array([1.0, 2.0]),),
                     (np.ones(2),))
    np.testing.assert_allclose(t, [6.0, 12.0])


def test_captured_arrays_are_read_at_every_call():
    w = np.ones(4)
    h = adjit.hessian(lambda x: (w * x**3).sum())
    assert h(X)[0, 0] == pytest.approx(6 * X[0])
    w[:] = 2.0
    assert h(X)[0, 0] == pytest.approx(12 * X[0])


def _loop(x):
    y = x
    while np.sum(y * y) < 100.0:
        y = y * 1.5 + 0.1
    return y


def test_jacobians_batch_their_basis_and_go_through_loops() -> None:
    """jacfwd/jacrev are vmaps of jvp/vjp over the basis (one graph, not one copy per
    element), and the user's function is converted when adjit's wrapper calls it."""
    x = np.array([0.3, 0.4])
    jf, jr = adjit.jacfwd(_loop)(x), adjit.jacrev(_loop)(x)
    eps = 1e-6
    fd = np.stack([(_loop(x + eps * e) - _loop(x - eps * e)) / (2 * eps) for e in np.eye(2)],
                  axis=-1)
    np.testing.assert_allclose(jf, fd, rtol=1e-6)
    np.testing.assert_allclose(jr, fd, rtol=1e-6)
    a = np.arange(30.0) / 10
    hess = adjit.hessian(lambda a: np.sum(np.sin(a) ** 2))(a)
    np.testing.assert_allclose(hess, np.diag(2 * np.cos(2 * a)), atol=1e-12)


def test_control_flow_in_a_helper_of_another_user_module(tmp_path, monkeypatch) -> None:
    (tmp_path / "helper_mod.py").write_text(
        "import numpy as np\n\n"
        "def clipped(x):\n"
        "    if np.sum(x) > 1.0:\n"
        "        return x / np.sum(x)\n"
        "    return x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import helper_mod

    f = adjit.jit(lambda x: helper_mod.clipped(x) * 2)
    np.testing.assert_allclose(f(np.array([0.2, 0.3])), [0.4, 0.6])
    np.testing.assert_allclose(f(np.array([2.0, 2.0])), [1.0, 1.0])
    assert f.compilations == 1  # a cond, not a guard per branch


def test_a_hessian_vector_product_is_pruned_and_says_what_went() -> None:
    """Pruning across orders: the HVP's graph keeps only work that reaches the product (the
    gradient's own value is not returned, so what only it needs goes), and the report
    names what was removed."""
    from adjit.passes.dce import live_eqns
    from adjit.runtime.forward import _Compiled

    def rosen(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    x, v = np.linspace(-1, 1, 6), np.ones(6)
    np.testing.assert_allclose(adjit.hvp(rosen, x, v), rosen_hess_prod(x, v))
    ins = adjit.inspect(_Compiled.of(rosen, "hvp", None), x, v)
    assert all(live_eqns(ins.pruned)) and all(live_eqns(ins.simplified))
    report = str(ins.prune_report)
    assert report.startswith("pruned ") and "vjp(" in report, report
    assert "pruned IR" in str(ins)


def test_jacobians_and_hessians_of_pytrees_have_jax_structure() -> None:
    """A dict of parameters (or a tuple of argnums) in, a pytree out: the result is the
    output's structure holding the input's, blocks of shape out_leaf + in_leaf."""
    rng = np.random.default_rng(3)
    p = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    X = rng.standard_normal((5, 3))

    def loss(p, X):
        return np.sum(np.tanh(X @ p["w"] + p["b"]) ** 2)

    def flat_loss(v):  # the same function of one vector [w.ravel(), b]
        return loss({"w": v[:6].reshape(3, 2), "b": v[6:]}, X)

    v = np.concatenate([p["w"].ravel(), p["b"]])
    H_flat = adjit.hessian(flat_loss)(v)
    H = adjit.hessian(loss)(p, X)
    np.testing.assert_allclose(H["w"]["w"], H_flat[:6, :6].reshape(3, 2, 3, 2), rtol=1e-10)
    np.testing.assert_allclose(H["w"]["b"], H_flat[:6, 6:].reshape(3, 2, 2), rtol=1e-10)
    np.testing.assert_allclose(H["b"]["w"], H_flat[6:, :6].reshape(2, 3, 2), rtol=1e-10)
    np.testing.assert_allclose(H["b"]["b"], H_flat[6:, 6:], rtol=1e-10)
    # tuple argnums and a tuple output: J[i][j] = d out_i / d arg_j
    x, y = rng.standard_normal(3), rng.standard_normal(2)

    def two(x, y):
        return np.sin(x) * np.sum(y), np.outer(y, x)

    for jac in (adjit.jacfwd, adjit.jacrev):
        J = jac(two, argnums=(0, 1))(x, y)
        np.testing.assert_allclose(J[0][0], np.diag(np.cos(x)) * np.sum(y), rtol=1e-12)
        np.testing.assert_allclose(J[0][1], np.outer(np.sin(x), np.ones(2)), rtol=1e-12)
        assert J[1][0].shape == (2, 3, 3) and J[1][1].shape == (2, 3, 2)
        np.testing.assert_allclose(J[1][1][:, :, 0], np.outer([1, 0], x), rtol=1e-12)


def test_hessian_of_an_array_valued_function_has_one_block_per_output() -> None:
    """hessian is jacfwd(jacrev(f)) as in JAX: out.shape + x.shape + x.shape, and a pytree
    result gives one Hessian per leaf."""
    x = np.array([1.0, 2.0, 0.5])
    h = adjit.hessian(lambda x: x ** 3)(x)
    want = np.zeros((3, 3, 3))
    for i in range(3):
        want[i, i, i] = 6 * x[i]
    np.testing.assert_allclose(h, want)
    hs = adjit.hessian(lambda x: (np.sin(x[0]) * x, np.sum(x ** 4)))(x)
    assert hs[0].shape == (3, 3, 3)
    np.testing.assert_allclose(hs[1], np.diag(12 * x ** 2))
    np.testing.assert_allclose(hs[0][1, 0, 1], np.cos(x[0]))
    np.testing.assert_allclose(hs[0][0, 0, 0], 2 * np.cos(x[0]) - x[0] * np.sin(x[0]))


def _with_aux(x, y):
    return np.sin(x) * y, {"norm": np.sum(x * x), "twice": y * 2}


def test_has_aux_on_the_jacobians_hessian_jvp_and_linearize() -> None:
    # JAX's has_aux: the function returns (out, aux); out is differentiated, aux comes back
    x, y = np.array([0.1, 0.5, 0.9]), np.array([1.0, 2.0, 3.0])
    aux = {"norm": np.sum(x * x), "twice": y * 2}

    def same_aux(got):
        assert set(got) == set(aux)
        for k in aux:
            np.testing.assert_allclose(got[k], aux[k], rtol=1e-15)

    for jac in (adjit.jacfwd(_with_aux, has_aux=True), adjit.jacrev(_with_aux, has_aux=True),
                adjit.jacobian(_with_aux, mode="fwd", has_aux=True)):
        j, a = jac(x, y)
        np.testing.assert_allclose(j, np.diag(np.cos(x) * y), rtol=1e-15)
        same_aux(a)
    (jx, jy), a = adjit.jacrev(_with_aux, argnums=(0, 1), has_aux=True)(x, y)
    np.testing.assert_allclose(jy, np.diag(np.sin(x)), rtol=1e-15)
    same_aux(a)
    h, a = adjit.hessian(lambda v: (np.sum(np.sin(v) ** 2), np.cos(v)), has_aux=True)(x)
    np.testing.assert_allclose(h, np.diag(2 * np.cos(2 * x)), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(a, np.cos(x), rtol=1e-15)
    out, tan, a = adjit.jvp(_with_aux, (x, y), (np.ones(3), np.zeros(3)), has_aux=True)
    np.testing.assert_allclose(tan, np.cos(x) * y, rtol=1e-15)
    same_aux(a)
    out, f_jvp, a = adjit.linearize(_with_aux, x, y, has_aux=True)
    np.testing.assert_allclose(f_jvp(np.zeros(3), np.ones(3)), np.sin(x), rtol=1e-15)
    same_aux(a)
    with pytest.raises(adjit.TraceError, match="return a pair"):
        adjit.jacfwd(np.sin, has_aux=True)(x)
