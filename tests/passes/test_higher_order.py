"""Derivatives are graphs, so they differentiate again: grad of grad, and jvp of grad
(Hessian-vector products), checked with the reference interpreter."""
from __future__ import annotations

import numpy as np
from check import numeric_jacobian

import adjit
from adjit.ir import evaluate
from adjit.passes.adjoint import adjoint
from adjit.passes.jvp import jvp
from adjit.passes.pipeline import differentiate
from adjit.tracer import trace


def test_grad_of_grad_is_six_x() -> None:
    inner = adjit.grad(lambda x: np.sum(x**3))
    x = np.array([0.5, -1.0, 2.0])
    g = trace(lambda x: np.sum(inner(x)), [x]).graph
    second = differentiate(g, [0]).simplified
    value, d2 = evaluate(second, x)
    np.testing.assert_allclose(value, np.sum(3 * x**2))
    np.testing.assert_allclose(d2, 6 * x)


def test_hessian_vector_product_by_jvp_of_adjoint() -> None:
    def f(x: np.ndarray) -> np.ndarray:
        return np.sum(np.tanh(x) * np.sin(x[::-1]) + x[0] * x**2)

    x = np.random.default_rng(0).normal(size=5)
    v = np.random.default_rng(1).normal(size=5)
    joint = adjoint(trace(f, [x]).graph, [0])  # outputs: value, grad
    hvp = jvp(joint, [0])
    _, _, _, hv = evaluate(hvp, x, v)
    grad = lambda x: evaluate(adjoint(trace(f, [x]).graph, [0]), x)[1]  # noqa: E731
    hessian = numeric_jacobian(grad, x)
    np.testing.assert_allclose(hv, hessian @ v, rtol=1e-5, atol=1e-6)
