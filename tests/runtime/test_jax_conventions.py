"""JAX's calling conventions that users bring along: `has_aux`, `nondiff_argnums` on custom
rules, `in_axes` given as a structure. Each against closed forms, composed with the other
transformations."""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import adjit

X = np.array([0.3, -1.2, 0.8])


def _with_aux(x):
    return np.sum(x ** 3), {"double": 2 * x, "n": np.sum(x > 0)}


def test_grad_and_value_and_grad_with_aux() -> None:
    g, aux = adjit.grad(_with_aux, has_aux=True)(X)
    np.testing.assert_allclose(g, 3 * X ** 2)
    np.testing.assert_allclose(aux["double"], 2 * X)
    assert aux["n"] == 2
    (v, aux2), g2 = adjit.value_and_grad(_with_aux, has_aux=True)(X)
    np.testing.assert_allclose(v, np.sum(X ** 3))
    np.testing.assert_allclose(g2, g)
    np.testing.assert_allclose(aux2["double"], 2 * X)
    # inside another transformation: the aux of an inner grad is traced along
    outer = adjit.jit(lambda x: adjit.grad(_with_aux, has_aux=True)(x)[1]["double"] * 3)
    np.testing.assert_allclose(outer(X), 6 * X)
    h = adjit.jacfwd(lambda x: adjit.grad(_with_aux, has_aux=True)(x)[0])(X)
    np.testing.assert_allclose(h, np.diag(6 * X))
    with pytest.raises(adjit.TraceError, match="has_aux"):
        adjit.grad(lambda x: np.sum(x), has_aux=True)(X)


def test_vjp_with_aux() -> None:
    out, back, aux = adjit.vjp(lambda x: (np.sin(x), np.cos(x)), X, has_aux=True)
    np.testing.assert_allclose(out, np.sin(X))
    np.testing.assert_allclose(aux, np.cos(X))
    np.testing.assert_allclose(back(np.ones(3))[0], np.cos(X))


def test_custom_rules_with_nondiff_argnums() -> None:
    @partial(adjit.custom_vjp, nondiff_argnums=(0,))
    def power(n, x):
        return x ** n

    power.defvjp(lambda n, x: (power(n, x), x), lambda n, x, ct: (2 * n * x ** (n - 1) * ct,))
    # the rule says twice the true derivative, so the test sees that it was used
    np.testing.assert_allclose(adjit.grad(lambda x: np.sum(power(3, x)))(X), 6 * X ** 2)

    @partial(adjit.custom_jvp, nondiff_argnums=(1,))
    def scaled(x, k):
        return np.sin(x) * k

    @scaled.defjvp
    def _(k, primals, tangents):
        (x,), (t,) = primals, tangents
        return scaled(x, k), 2 * np.cos(x) * k * t

    np.testing.assert_allclose(adjit.grad(lambda x: np.sum(scaled(x, 3.0)))(X), 6 * np.cos(X))
    np.testing.assert_allclose(adjit.jvp(lambda x: scaled(x, 3.0), (X,), (np.ones(3),))[1],
                               6 * np.cos(X))
    np.testing.assert_allclose(scaled(X, 3.0), 3 * np.sin(X))  # on arrays: the function
    with pytest.raises(adjit.TraceError, match="nondiff_argnums"):
        adjit.grad(lambda x: np.sum(power(x, x)))(X)


def test_vmap_in_axes_structures() -> None:
    xs = np.arange(12.0).reshape(4, 3)
    d = {"a": xs, "b": X}
    f = adjit.vmap(lambda d: d["a"] * d["b"], in_axes=({"a": 0, "b": None},))
    np.testing.assert_allclose(f(d), xs * X)
    g = adjit.vmap(lambda p: p[0] @ p[1], in_axes=((1, None),))
    np.testing.assert_allclose(g((xs.T, X)), xs @ X)
    per_ex = adjit.vmap(adjit.grad(lambda p, x: np.sum(np.tanh(x @ p["w"]))),
                        in_axes=({"w": None}, 0))({"w": np.ones((3, 2))}, xs)
    assert per_ex["w"].shape == (4, 3, 2)
    with pytest.raises(adjit.TraceError, match="in_axes"):
        adjit.vmap(lambda d: d["a"], in_axes=({"a": 0},))(d)


def test_a_gradient_of_a_non_scalar_or_complex_output_is_a_type_error() -> None:
    """As JAX's grad: a TypeError (and adjit's TraceError, naming the user's line)."""
    for f in (lambda x: x * (1.0 + 0.2j), lambda x: x * 2):
        with pytest.raises(TypeError) as info:
            adjit.grad(f)(np.ones(3) if f(1.0) == 2 else 1.0)
        assert isinstance(info.value, adjit.TraceError)
        assert isinstance(info.value, adjit.OutputTypeError)
