"""adjit.custom_vjp (JAX's convention) and adjit.autograd.Function in traced code: the
passes use the user's rule instead of differentiating the body."""
from __future__ import annotations

import numpy as np
import pytest

import adjit
from adjit import autograd


@adjit.custom_vjp
def log1pexp(x):
    return np.log1p(np.exp(x))


def _fwd(x):
    return log1pexp(x), x


def _bwd(x, g):
    return (g / (1 + np.exp(-x)),)


log1pexp.defvjp(_fwd, _bwd)


@adjit.custom_vjp
def clip_gradient(x):
    return x


clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (np.clip(g, -1.0, 1.0),))


def test_stable_rule_is_used_where_the_body_overflows():
    g = adjit.grad(lambda x: log1pexp(x).sum())(np.array([800.0, 0.0, -3.0]))
    np.testing.assert_allclose(g, [1.0, 0.5, 1 / (1 + np.exp(3.0))])
    plain = adjit.grad(lambda x: np.log1p(np.exp(x)).sum())(np.array([800.0]))
    assert np.isnan(plain[0])  # what the rule is for


def test_gradient_clip_and_value_unchanged():
    np.testing.assert_allclose(adjit.grad(lambda x: (clip_gradient(x) * 10).sum())(np.ones(3)),
                               np.ones(3))
    np.testing.assert_allclose(adjit.jit(log1pexp)(np.array([1.0])), np.log1p(np.e))
    np.testing.assert_allclose(log1pexp(np.array([1.0])), np.log1p(np.e))  # plain numpy


def test_second_derivative_differentiates_the_rule():
    assert adjit.grad(adjit.grad(log1pexp))(0.0) == pytest.approx(0.25)


def test_inspect_shows_the_rule_in_place():
    ins = adjit.inspect(adjit.grad(lambda x: log1pexp(x).sum()), np.ones(2))
    assert "= custom_vjp[" in ins.adjoint.format(locs=False)
    assert "custom_vjp" not in ins.simplified.format(locs=False)


def test_forward_mode_is_refused():
    from adjit.ir.errors import NotDifferentiable
    from adjit.passes.jvp import jvp

    traced = adjit.inspect(adjit.jit(log1pexp), np.ones(2)).traced
    with pytest.raises(NotDifferentiable, match="forward mode"):
        jvp(traced, [0])


def test_missing_rule_is_a_clear_error():
    @adjit.custom_vjp
    def f(x):
        return x * 2

    with pytest.raises(adjit.TraceError, match="defvjp"):
        adjit.grad(lambda x: f(x).sum())(np.ones(2))


class DoubledExp(autograd.Function):
    """exp, whose backward deliberately doubles the true gradient (to see it used)."""

    @staticmethod
    def forward(ctx, x):
        r = np.exp(x)
        ctx.save_for_backward(r)
        return r

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        return g * r * 2


def test_function_rule_in_traced_and_recorded_code():
    x = np.array([0.0, 1.0])
    np.testing.assert_allclose(adjit.grad(lambda x: DoubledExp.apply(x).sum())(x),
                               2 * np.exp(x))
    t = adjit.tensor(x, requires_grad=True)
    DoubledExp.apply(t).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), 2 * np.exp(x))


SCALE = np.array([1.0, 1.0])


@adjit.custom_vjp
def scaled_grad(x):
    return np.sin(x)


scaled_grad.defvjp(lambda x: (np.sin(x), np.cos(x)), lambda c, g: (g * c * SCALE,))


class ScaledBackward(autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * SCALE


def test_arrays_the_rules_capture_are_read_at_every_call():
    """bwd's (and Function.backward's) captured arrays are inputs of the compiled code, as
    the traced function's own are: they were baked in as constants, stale after a write."""
    global SCALE
    x = np.array([0.5, 1.5])
    g = adjit.grad(lambda x: scaled_grad(x).sum())
    h = adjit.grad(lambda x: ScaledBackward.apply(x).sum())
    for _ in range(2):
        np.testing.assert_allclose(g(x), np.cos(x) * SCALE, rtol=1e-15)
        np.testing.assert_allclose(h(x), SCALE, rtol=1e-15)
        SCALE *= 3.0  # in place
    SCALE = np.array([-1.0, 5.0])  # rebound
    np.testing.assert_allclose(g(x), np.cos(x) * SCALE, rtol=1e-15)
    np.testing.assert_allclose(h(x), SCALE, rtol=1e-15)


@adjit.custom_vjp
def branchy(x):
    if np.sum(x) > 0:
        return np.sin(x)
    return x


def _branchy_fwd(x):
    if np.sum(x) > 0:
        return np.sin(x), np.cos(x)
    return x, np.ones_like(x)


branchy.defvjp(_branchy_fwd, lambda c, g: (g * c,))


def test_control_flow_in_the_rules_compiles():
    """An `if` on a traced value in fwd (or the function, or a checkpointed one) raised
    'the truth value of a traced array is not known': adjit called them unconverted."""
    x = np.array([0.3, -0.2, 0.5])
    g = adjit.grad(lambda x: branchy(x).sum())
    np.testing.assert_allclose(g(x), np.cos(x), rtol=1e-15)
    np.testing.assert_allclose(g(-x), np.ones(3))
    h = adjit.grad(lambda x: adjit.checkpoint(lambda y: np.sin(y) if y[0] > 0 else y)(x).sum())
    np.testing.assert_allclose(h(x), np.cos(x), rtol=1e-15)


@adjit.custom_vjp
def _sin_x(x):
    return np.sin(x) * x


def _sin_x_fwd(x):
    y = _sin_x(x)  # the function itself: a custom_vjp equation again (JAX's semantics)
    return y, (x, y)


def _sin_x_bwd(res, g):
    x, y = res  # not the true derivative, so that a test can tell the rule was used
    return (g * 3.0 * (np.cos(x) * x + y * x),)


_sin_x.defvjp(_sin_x_fwd, _sin_x_bwd)


def test_grad_of_grad_goes_through_the_residuals_and_the_rule_again() -> None:
    # d/dx of bwd's 3 (x cos x + x y) reaches y, a residual fwd computed with the function,
    # whose derivative is the rule's again; the second derivative was computed as if the
    # residuals were constants (and fwd's own call as the plain function)
    x = 0.7
    s, c = np.sin(x), np.cos(x)
    y = s * x
    d1 = 3 * (c * x + y * x)
    d2 = 3 * (c - x * s + y + x * d1)
    fn = lambda x: _sin_x(x) + x  # noqa: E731
    np.testing.assert_allclose(adjit.grad(fn)(x), d1 + 1, rtol=1e-14)
    np.testing.assert_allclose(adjit.grad(adjit.grad(fn))(x), d2, rtol=1e-14)
    xs = np.array([0.3, 1.1])
    h = adjit.jacrev(adjit.grad(lambda v: np.sum(_sin_x(v))))(xs)
    ss, cs = np.sin(xs), np.cos(xs)
    ys = ss * xs
    d1s = 3 * (cs * xs + ys * xs)
    np.testing.assert_allclose(h, np.diag(3 * (cs - xs * ss + ys + xs * d1s)), rtol=1e-14)
