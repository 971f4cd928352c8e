"""adjit.custom_jvp and adjit.checkpoint: a forward-mode rule used by every transformation
(reverse mode through its transpose), composed with grad, vjp, jvp, hessian and jit."""
import numpy as np
import pytest

import adjit
from adjit.ir import parse

X = np.array([0.3, 1.2, -0.7])
Y = np.array([2.0, -1.0, 0.5])


@adjit.custom_jvp
def scaled_sin(x, y):
    return np.sin(x) * y


@scaled_sin.defjvp
def _scaled_sin_jvp(primals, tangents):
    # Twice the true derivative, so that a test can tell the rule was used.
    (x, y), (tx, ty) = primals, tangents
    return scaled_sin(x, y), 2.0 * (np.cos(x) * y * tx + np.sin(x) * ty)


def _loss(x, y):
    return np.sum(scaled_sin(x, y) ** 2)


def _loss_rule(x, y):  # what the rule says _loss's derivatives are, written out
    return np.sin(x) * y, (2 * np.cos(x) * y, 2 * np.sin(x))


def test_value_is_the_function_and_numpy_calls_run_it() -> None:
    np.testing.assert_allclose(scaled_sin(X, Y), np.sin(X) * Y)
    np.testing.assert_allclose(adjit.jit(scaled_sin)(X, Y), np.sin(X) * Y)


def test_reverse_mode_uses_the_rule_transposed() -> None:
    gx, gy = adjit.grad(_loss, argnums=(0, 1))(X, Y)
    val, (dx, dy) = _loss_rule(X, Y)
    np.testing.assert_allclose(gx, 2 * val * dx)
    np.testing.assert_allclose(gy, 2 * val * dy)
    out, pullback = adjit.vjp(scaled_sin, X, Y)
    ct = np.array([1.0, -2.0, 0.5])
    vx, vy = pullback(ct)
    np.testing.assert_allclose(vx, ct * dx)
    np.testing.assert_allclose(vy, ct * dy)


def test_forward_mode_uses_the_rule() -> None:
    tx, ty = np.array([1.0, 0.0, 2.0]), np.array([0.5, 1.0, -1.0])
    out, t = adjit.jvp(scaled_sin, (X, Y), (tx, ty))
    _, (dx, dy) = _loss_rule(X, Y)
    np.testing.assert_allclose(out, np.sin(X) * Y)
    np.testing.assert_allclose(t, dx * tx + dy * ty)


def test_second_order_differentiates_the_rule() -> None:
    # The rule is a graph: d/dx of the rule's 2*cos(x)*y is -2*sin(x)*y.
    h = adjit.hessian(lambda x: np.sum(scaled_sin(x, Y)))(X)
    np.testing.assert_allclose(h, np.diag(-2 * np.sin(X) * Y), atol=1e-15)
    hv = adjit.hvp(lambda x: np.sum(scaled_sin(x, Y)), X, np.ones(3))
    np.testing.assert_allclose(hv, -2 * np.sin(X) * Y)


def test_rule_matches_finite_differences_when_it_is_right() -> None:
    @adjit.custom_jvp
    def softplus(x):
        return np.logaddexp(x, 0.0)

    @softplus.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return softplus(x), t / (1 + np.exp(-x))

    f = lambda x: np.sum(softplus(x) * np.cos(x))  # noqa: E731
    x = np.linspace(-3, 3, 7)
    eps = 1e-6
    fd = np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(7)])
    np.testing.assert_allclose(adjit.grad(f)(x), fd, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(adjit.jvp(f, (x,), (np.ones(7),))[1], fd.sum(), rtol=1e-7)


def test_graph_prints_and_parses() -> None:
    f = adjit.jit(lambda x: scaled_sin(x, Y))
    traced = f.specialize((X,)).traced.graph
    text = traced.format(locs=False)
    assert "custom_jvp" in text
    assert parse(text).format(locs=False) == text


def test_rule_errors_are_clear() -> None:
    @adjit.custom_jvp
    def f(x):
        return x * 2

    with pytest.raises(adjit.TraceError, match="has no rule"):
        adjit.grad(lambda x: np.sum(f(x)))(X)

    f.defjvp(lambda p, t: p[0] * 2)  # not a pair
    with pytest.raises(adjit.TraceError, match=r"\(primal_out, tangent_out\)"):
        adjit.grad(lambda x: np.sum(f(x)))(X)


def _block(w, x):
    return np.tanh(w * x) * np.exp(-x)


def test_checkpoint_gives_the_same_derivatives() -> None:
    ck = adjit.checkpoint(_block)
    w = np.array([0.5, -0.3, 1.1])
    loss = lambda w, x: np.sum(ck(w, ck(w, x)))  # noqa: E731
    ref = lambda w, x: np.sum(_block(w, _block(w, x)))  # noqa: E731
    for a, b in zip(adjit.grad(loss, argnums=(0, 1))(w, X),
                    adjit.grad(ref, argnums=(0, 1))(w, X), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(adjit.hessian(lambda w: loss(w, X))(w),
                               adjit.hessian(lambda w: ref(w, X))(w), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(adjit.jvp(lambda w: loss(w, X), (w,), (np.ones(3),))[1],
                               adjit.jvp(lambda w: ref(w, X), (w,), (np.ones(3),))[1])
    np.testing.assert_allclose(ck(w, X), _block(w, X))


def test_linearize_is_the_jvp_at_fixed_primals() -> None:
    x = X.copy()
    out, f_jvp = adjit.linearize(lambda x: np.sin(x) * x, x)
    x[:] = 0.0  # the primals were copied
    np.testing.assert_allclose(out, np.sin(X) * X)
    t = np.array([1.0, 2.0, -1.0])
    np.testing.assert_allclose(f_jvp(t), (np.cos(X) * X + np.sin(X)) * t)


def _layers(h, w):
    for _ in range(2):
        h = np.tanh(h @ w)
    return h


def test_checkpoint_recomputes_in_the_backward_pass() -> None:
    """The kernel plan of a checkpointed gradient has the block's products twice (forward,
    then recomputed for the backward); the block's intermediates are not kept for it."""
    rng = np.random.default_rng(1)
    ws = [rng.standard_normal((6, 6)) / 3 for _ in range(3)]
    x = rng.standard_normal((4, 6))
    ck = adjit.checkpoint(_layers)

    def loss(ws, x, block):
        for w in ws:
            x = block(x, w)
        return np.sum(x ** 2)

    g_ck = adjit.grad(lambda ws, x: loss(ws, x, ck))
    g = adjit.grad(lambda ws, x: loss(ws, x, _layers))
    for a, b in zip(g_ck(ws, x), g(ws, x), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    plan_ck, plan = (str(adjit.inspect(f, ws, x).plan) for f in (g_ck, g))
    # 3 blocks x 2 layers: 6 forward products, recomputed once more for the backward
    assert plan_ck.count("matmul") == plan.count("matmul") + 6
    source = adjit.inspect(g_ck, ws, x).source
    assert "remat" in source and ".reshape(" in source  # a view of the saved input, no copy


RULE_SCALE = np.ones(3)


@adjit.custom_jvp
def rule_scaled(x):
    return np.sin(x)


@rule_scaled.defjvp
def _rule_scaled_jvp(primals, tangents):
    return np.sin(primals[0]), tangents[0] * np.cos(primals[0]) * RULE_SCALE


def test_arrays_the_rule_captures_are_read_at_every_call() -> None:
    """The rule's captured arrays are inputs of the compiled code (they were constants,
    stale after `RULE_SCALE[1] = 4`), in reverse and forward mode."""
    g = adjit.grad(lambda x: np.sum(rule_scaled(x)))
    for k in range(2):
        np.testing.assert_allclose(g(X), np.cos(X) * RULE_SCALE, rtol=1e-15)
        np.testing.assert_allclose(adjit.jvp(rule_scaled, (X,), (Y,))[1],
                                   Y * np.cos(X) * RULE_SCALE, rtol=1e-15)
        RULE_SCALE[1] = 4.0 + k


@adjit.custom_jvp
def _exp_x(x):
    return np.exp(x) * x


@_exp_x.defjvp
def _exp_x_jvp(primals, tangents):
    # not the true derivative, and it calls the function itself for its value: a second
    # derivative differentiates the rule, whose f(x) again has this rule (JAX's semantics)
    (x,), (t,) = primals, tangents
    y = _exp_x(x)
    return y, 3.0 * t * (y + np.exp(x))


def test_a_rule_calling_its_function_uses_the_rule_at_every_order() -> None:
    x = 0.7
    e, f = np.exp(x), np.exp(x) * x
    d1 = 3 * (f + e)  # f' as the rule says; f'' = 3 (f' + e), f''' = 3 (f'' + e)
    d2 = 3 * (d1 + e)
    d3 = 3 * (d2 + e)
    fn = lambda x: _exp_x(x) * 1.0  # noqa: E731
    np.testing.assert_allclose(adjit.grad(fn)(x), d1, rtol=1e-14)
    np.testing.assert_allclose(adjit.grad(adjit.grad(fn))(x), d2, rtol=1e-14)
    np.testing.assert_allclose(adjit.hessian(fn)(x), d2, rtol=1e-14)
    np.testing.assert_allclose(adjit.jacfwd(adjit.jacfwd(fn))(x), d2, rtol=1e-14)
    np.testing.assert_allclose(adjit.jacfwd(adjit.grad(fn))(x), d2, rtol=1e-14)
    np.testing.assert_allclose(adjit.grad(adjit.grad(adjit.grad(fn)))(x), d3, rtol=1e-13)
    xs = np.array([0.1, 0.7])
    h = adjit.hessian(lambda v: np.sum(_exp_x(v)))(xs)
    es, fs = np.exp(xs), np.exp(xs) * xs
    np.testing.assert_allclose(h, np.diag(3 * (3 * (fs + es) + es)), rtol=1e-14)
