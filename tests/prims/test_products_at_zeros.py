"""Products are polynomials: their derivatives of every order exist at zeros, and rules that
divide by x where x != 0 and special-case zeros get the first right but not the second (the
Hessian of prod at a zero came out asymmetric, with rows of zeros). reduce_prod, cumprod and
linrec have smooth rules (running products and linear recurrences): checked here against the
exact Hessian and against central differences of the compiled gradient."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import adjit


def _prod_hessian(x: np.ndarray) -> np.ndarray:
    """d2 prod / dx_i dx_j: the product of the others (i != j), 0 on the diagonal."""
    n = x.size
    h = np.zeros((n, n))
    for i, j in itertools.permutations(range(n), 2):
        h[i, j] = np.prod(np.delete(x, [i, j]))
    return h


@pytest.mark.parametrize("x", [[2.0, 0.0, 3.0, 5.0], [2.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0, 1.5],
                               [1.0, 2.0, 3.0, 4.0]])
def test_the_hessian_of_prod_is_exact_at_zeros(x):
    x = np.asarray(x)
    assert np.array_equal(adjit.hessian(np.prod)(x), _prod_hessian(x))


def _central(f, x, h=1e-5):
    rows = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        rows.append(((f(x + e) - f(x - e)) / (2 * h)).ravel())
    return np.array(rows).T


@pytest.mark.parametrize("x", [[0.5, 2.0, 0.0, 3.0, 0.7], [0.0, 2.0, 1.5, 0.0, 0.7],
                               [0.5, -2.0, 1.5, 3.0, 0.7]])
def test_the_hessians_of_cumprod_and_of_prod_over_an_axis_at_zeros(x):
    x = np.asarray(x)

    def f(v):
        return np.sum(np.cumprod(v) * np.arange(1.0, 6.0)) + np.sum(
            np.prod(v.reshape(1, 5) * np.ones((2, 1)), axis=1) ** 2)

    grad = adjit.grad(f)
    assert np.allclose(adjit.hessian(f)(x), _central(grad, x), rtol=1e-6, atol=1e-6)
