"""Unmodified third-party numpy code, and property tests of compiled gradients over random
shapes and broadcasting."""
from __future__ import annotations

import numpy as np
from check import numeric_jacobian
from hypothesis import given, settings
from hypothesis import strategies as st

import adjit


def test_scipy_rosen_as_shipped_matches_rosen_der() -> None:
    from scipy.optimize import rosen, rosen_der

    x = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    g = adjit.grad(rosen)(x)
    np.testing.assert_allclose(g, rosen_der(x), rtol=1e-12)
    value, _ = adjit.value_and_grad(rosen)(x)
    np.testing.assert_allclose(value, rosen(x), rtol=1e-12)


def _broadcastable(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    shape = draw(st.lists(st.integers(1, 4), min_size=0, max_size=3))
    other = [d if draw(st.booleans()) else 1 for d in shape]
    drop = draw(st.integers(0, len(other)))
    return tuple(shape), tuple(other[drop:])


shapes = st.composite(_broadcastable)()


def _f(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.sum(np.tanh(x * y + np.sin(x)) * y - np.exp(-(x - y) ** 2))


_grad = adjit.grad(_f, argnums=(0, 1))


@settings(max_examples=15, deadline=None)
@given(shapes, st.booleans(), st.integers(0, 2**16))
def test_compiled_gradient_of_broadcasting_function(sh, swap: bool, seed: int) -> None:  # noqa: ANN001
    a_shape, b_shape = (sh[1], sh[0]) if swap else sh
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=a_shape), rng.normal(size=b_shape)
    ga, gb = _grad(a, b)
    assert np.shape(ga) == a_shape and np.shape(gb) == b_shape
    np.testing.assert_allclose(ga, numeric_jacobian(_f, a, b, argnum=0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gb, numeric_jacobian(_f, a, b, argnum=1), rtol=1e-5, atol=1e-7)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.data())
def test_compiled_reductions_over_random_axes(shape, data) -> None:  # noqa: ANN001
    axes = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), unique=True, max_size=3))
    axes = tuple(sorted({a % len(shape) for a in axes})) or None
    keep = data.draw(st.booleans())

    def f(x: np.ndarray) -> np.ndarray:
        m = np.max(x, axis=axes, keepdims=True)
        return np.sum(np.mean(np.exp(x - m), axis=axes, keepdims=keep) ** 2)

    x = np.random.default_rng(0).normal(size=shape)
    g = adjit.grad(f)(x)
    np.testing.assert_allclose(g, numeric_jacobian(f, x), rtol=1e-5, atol=1e-7)


def test_float32_stays_float32_through_compilation() -> None:
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    w = np.random.default_rng(1).normal(size=4).astype(np.float32)
    value, (gx, gw) = adjit.value_and_grad(
        lambda x, w, s: np.sum(np.tanh(x @ w) * s), argnums=(0, 1))(x, w, 0.5)
    assert isinstance(value, np.float32) and gx.dtype == np.float32 and gw.dtype == np.float32


def test_zero_d_and_python_scalar_arguments() -> None:
    f = adjit.grad(lambda x, s: np.sin(x) * s**2, argnums=(0, 1))
    gx, gs = f(np.array(0.5), 3.0)
    assert gx.shape == () and gs.shape == ()
    np.testing.assert_allclose(gx, np.cos(0.5) * 9)
    np.testing.assert_allclose(gs, np.sin(0.5) * 6)


def test_unused_argument_gets_zero_gradient() -> None:
    g = adjit.grad(lambda x, y: np.sum(x**2), argnums=(0, 1))(np.ones(2), np.ones((2, 3)))
    assert g[1].shape == (2, 3) and not g[1].any()


def test_prod_with_zero_is_product_of_others() -> None:
    g = adjit.grad(np.prod)(np.array([2.0, 0.0, 3.0, 4.0]))
    assert g.tolist() == [0.0, 24.0, 0.0, 0.0]
