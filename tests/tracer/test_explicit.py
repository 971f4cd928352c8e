"""The declared (explicit) API: variables, expressions, symbolic gradients (and gradients of
gradients), compilation, build-time shape errors, and the sympy bridge."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import adjit

ex = adjit.explicit


def test_issue_example() -> None:
    with ex.declaring():
        x = ex.var("x", shape=(4,), dtype="float64")
        y = 2 * ex.dot(x, x)
        (gx,) = ex.gradients(y, [x])
        fn = ex.function([x], [y, gx])
        value, g = fn(np.arange(4.0))
        assert value == 28.0 and g.tolist() == [0.0, 4.0, 8.0, 12.0]
        text = str(gx.graph)
        assert text.startswith("graph expr(x: f64[4]) -> f64[4]:") and "vjp(mul)" in text


def test_second_derivative_by_gradients_of_a_gradient() -> None:
    with ex.declaring():
        x = ex.var("x", shape=(3,))
        y = ex.sum(ex.sin(x) * x**3)
        (g,) = ex.gradients(y, [x])
        (h,) = ex.gradients(ex.sum(g), [x])
        fn = ex.function([x], h)
        xs = np.array([0.3, -1.2, 2.0])
        expected = -np.sin(xs) * xs**3 + 6 * np.cos(xs) * xs**2 + 6 * xs * np.sin(xs)
        np.testing.assert_allclose(fn(xs), expected, rtol=1e-12)


def test_gradient_wrt_intermediate_and_many_variables() -> None:
    with ex.declaring():
        w, b, x = ex.var("w", (3, 2)), ex.var("b", (2,)), ex.var("x", (5, 3))
        h = x @ w + b
        loss = ex.mean(ex.tanh(h) ** 2)
        gw, gb, gh = ex.gradients(loss, [w, b, h])
        fn = ex.function([w, b, x], [loss, gw, gb, gh])
        rng = np.random.default_rng(0)
        wv, bv, xv = rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(5, 3))
        loss_v, gw_v, gb_v, gh_v = fn(wv, bv, xv)
        value, (rw, rb) = adjit.value_and_grad(
            lambda w, b, x: np.mean(np.tanh(x @ w + b) ** 2), argnums=(0, 1))(wv, bv, xv)
        np.testing.assert_allclose(loss_v, value)
        np.testing.assert_allclose(gw_v, rw)
        np.testing.assert_allclose(gb_v, rb)
        t = np.tanh(xv @ wv + bv)
        np.testing.assert_allclose(gh_v, 2 * t * (1 - t**2) / t.size)


def test_shape_errors_name_the_building_line() -> None:
    with ex.declaring():
        a, b = ex.var("a", (2, 3)), ex.var("b", (4,))
        with pytest.raises(adjit.ShapeError) as info:
            a + b  # noqa: B018
        assert "test_explicit.py" in str(info.value) and "a + b" in str(info.value)
        with pytest.raises(adjit.ShapeError):
            ex.dot(a, b)


def test_function_checks_arguments() -> None:
    with ex.declaring():
        x = ex.var("x", (2,))
        fn = ex.function([x], ex.sum(x * 2))
        assert fn([1.0, 2.0]) == 6.0
        with pytest.raises(adjit.ShapeError, match="declared f64\\[2\\]"):
            fn(np.ones(3))
        y = ex.var("y", (2,))
        with pytest.raises(adjit.TraceError, match="depend on y"):
            ex.function([x], x * y)


def test_declared_graphs_are_separate() -> None:
    with ex.declaring():
        x = ex.var("x", (2,))
    with ex.declaring():
        y = ex.var("x", (2,))  # the same name in another graph is fine
        with pytest.raises(adjit.TraceError, match="different graphs"):
            x + y  # noqa: B018


def test_from_sympy_and_back_matches_sympy_diff() -> None:
    a, b = sp.symbols("a b", real=True)
    expr = sp.exp(-a) * sp.sin(b) ** 2 + sp.sqrt(a**2 + 1) - sp.log(1 + b**2) / a
    with ex.declaring():
        va, vb = ex.var("a", ()), ex.var("b", ())
        y = ex.from_sympy(expr, {a: va, b: vb})
        ga, gb = ex.gradients(y, [va, vb])
        assert sp.simplify(ex.to_sympy(y.graph) - expr) == 0
        assert sp.simplify(ex.to_sympy(ga) - sp.diff(expr, a)) == 0
        assert sp.simplify(ex.to_sympy(gb) - sp.diff(expr, b)) == 0
        fn = ex.function([va, vb], y)
        f = sp.lambdify((a, b), expr)
        assert np.isclose(fn(0.7, -1.3), f(0.7, -1.3))


def test_from_sympy_is_elementwise_over_arrays() -> None:
    t = sp.Symbol("t", real=True)
    with ex.declaring():
        x = ex.var("x", (5,))
        y = ex.from_sympy(sp.tanh(t) * t**3, {t: x})
        xs = np.linspace(-1, 1, 5)
        np.testing.assert_allclose(ex.function([x], y)(xs), np.tanh(xs) * xs**3)


def test_to_sympy_rejects_non_elementwise() -> None:
    with ex.declaring():
        x = ex.var("x", (3,))
        with pytest.raises(adjit.TraceError, match="not a scalar elementwise"):
            ex.to_sympy(ex.sum(x))


def test_declared_values_through_namedtuple_results_and_complex_properties() -> None:
    """np.linalg.eigh returns a namedtuple (it failed to rewrap), and z.real is a property
    (it was not recorded: 'no active Builder'); the declared gradients equal adjit.grad's."""
    import adjit
    from adjit import explicit as E

    a_ = E.var("A", (3, 3))
    z_ = E.var("z", (4,), dtype=np.complex128)
    w, _ = np.linalg.eigh(a_ + a_.T)
    loss = (np.sum(w ** 2) + np.sum(np.abs(np.fft.fft(z_)) ** 2) + np.max(z_).real
            + np.quantile(a_, 0.3) + z_.imag[0])
    f = E.function([a_, z_], [loss, *E.gradients(loss, [a_, z_])])
    a = np.random.default_rng(0).standard_normal((3, 3))
    z = np.array([1 + 2j, 3 - 1j, 0.5j, -1.0])

    def ref(a, z):
        return (np.sum(np.linalg.eigvalsh(a + a.T) ** 2) + np.sum(np.abs(np.fft.fft(z)) ** 2)
                + np.max(z).real + np.quantile(a, 0.3) + z.imag[0])

    value, ga, gz = f(a, z)
    want = adjit.grad(ref, argnums=(0, 1))(a, z)
    np.testing.assert_allclose(value, ref(a, z), rtol=1e-12)
    np.testing.assert_allclose(ga, want[0], rtol=1e-10)
    np.testing.assert_allclose(gz, want[1], rtol=1e-10)
