"""Captured control flow through the compiled path: `@adjit.grad` on functions with Python
`if`/`while`/`for` on traced values compiles once, and that one compilation gives the right
gradient for inputs that take every branch and many trip counts."""
from __future__ import annotations

import numpy as np
from check import numeric_jacobian
from control_graphs import euler, newton_sqrt, tutorial

import adjit


def _numpy_tutorial(a: np.ndarray) -> tuple[float, int, bool]:
    """f(a), the trip count and the branch, by plain numpy."""
    b, n = a * 2, 0
    while np.linalg.norm(b) < 1000:
        b, n = b * 2, n + 1
    positive = bool(b.sum() > 0)
    return float((b if positive else 100 * b).sum()), n, positive


def test_tutorial_compiles_once_for_a_thousand_inputs() -> None:
    f = adjit.grad(tutorial)
    rng = np.random.default_rng(0)
    counts, branches = set(), set()
    for _ in range(1000):
        a = rng.normal(size=10) * 10 ** rng.uniform(-3, 2)
        value, n, positive = _numpy_tutorial(a)
        np.testing.assert_allclose(f(a), np.full(10, value / a.sum()), rtol=1e-9)
        counts.add(n)
        branches.add(positive)
    assert f.compilations == 1
    assert branches == {True, False} and len(counts) > 10


def test_tutorial_on_scalars() -> None:
    f = adjit.grad(tutorial)
    for a in (0.3, -2.5, 1e-3, 700.0):
        value, _, _ = _numpy_tutorial(np.array(a))
        np.testing.assert_allclose(f(np.float64(a)), value / a, rtol=1e-12)
    assert f.compilations == 1


def test_euler_with_a_traced_step_count_compiles_once() -> None:
    f = adjit.value_and_grad(euler, argnums=(0, 2))
    rng = np.random.default_rng(1)
    for k in range(40):
        x, n, dt = rng.normal(size=3), np.int64(rng.integers(0, 30)), np.array(0.05)
        value, (gx, gdt) = f(x, n, dt)
        np.testing.assert_allclose(value, euler(x, n, dt), rtol=1e-12)
        if k % 10 == 0:
            np.testing.assert_allclose(gx, numeric_jacobian(euler, x, n, dt, argnum=0),
                                       rtol=1e-6)
            np.testing.assert_allclose(gdt, numeric_jacobian(euler, x, n, dt, argnum=2),
                                       rtol=1e-6)
    assert f.compilations == 1


def test_newton_iteration_gradient_is_the_implicit_derivative() -> None:
    f = adjit.grad(newton_sqrt)
    for a in np.geomspace(1e-3, 1e4, 50):
        np.testing.assert_allclose(f(a), 1 / (2 * np.sqrt(a)), rtol=1e-8)
    assert f.compilations == 1


def jumps(x, n):
    i = 0
    acc = x * 0
    while i < n:
        i = i + 1
        if np.sum(x * i) > 3:
            break
        if i % 2 == 0:
            continue
        acc = acc + x * i
    if acc.sum() < 0:
        return np.sum(acc ** 2)
    return np.sum(np.sin(acc))


def test_break_continue_and_early_return_compile_once() -> None:
    f = adjit.grad(jumps)
    rng = np.random.default_rng(2)
    for _ in range(30):
        x, n = rng.normal(size=2) * 0.4, np.int64(rng.integers(0, 12))
        np.testing.assert_allclose(f(x, n), numeric_jacobian(jumps, x, n), rtol=1e-6,
                                   atol=1e-9)
    assert f.compilations == 1
