"""Second derivatives through a data-dependent `while` (forward over reverse: the JVP of
`while_grad`), compiled, checked against finite differences of the gradient."""
import numpy as np
import pytest

import adjit


def _tutorial(x):  # the seed tutorial's loop: the trip count depends on x
    y = x * 2
    while np.linalg.norm(y) < 1000:
        y = y * 2
    return np.sum(y * y) * np.sum(np.sin(x))


def _damped(x):
    i = 0
    y = x
    while i < np.sum(x):
        y = np.sin(y) * 1.1 + 0.1 * x * np.sum(y)
        i = i + 1
    return np.sum(y ** 2)


def _fd_hessian(f, x, eps=1e-6):
    g = adjit.grad(f)
    return np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(x.size)])


@pytest.mark.parametrize("f", [_tutorial, _damped])
def test_hessian_through_a_data_dependent_loop(f) -> None:
    x = np.array([0.5, 1.0, 1.3])  # away from the sums where the trip count changes
    h = adjit.hessian(f)(x)
    np.testing.assert_allclose(h, _fd_hessian(f, x), rtol=1e-6, atol=1e-6)
    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(adjit.hvp(f, x, v), h @ v, rtol=1e-10)


def test_reverse_over_reverse_says_what_works() -> None:
    with pytest.raises(adjit.NotDifferentiable, match="adjit.hessian"):
        adjit.grad(lambda x: np.sum(adjit.grad(_damped)(x)))(np.array([0.5, 1.0]))
