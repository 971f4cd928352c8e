"""cond / while / while_grad in the reference interpreter: values, reverse mode through an
unbounded data-dependent trip count, forward mode, against finite differences."""
from __future__ import annotations

import numpy as np
from adjit.ir import Graph, Var, emit_multi, evaluate, ops
from adjit.ir.verify import verify
from adjit.passes.adjoint import adjoint
from adjit.passes.jvp import jvp
from adjit.passes.pipeline import differentiate
from check import numeric_jacobian
from control_graphs import F, S, graph, tutorial_graph

_graph = graph


def numpy_f(a: np.ndarray) -> float:
    b = a * 2
    while np.linalg.norm(b) < 1000:
        b = b * 2
    c = b if b.sum() > 0 else 100 * b
    return float(c.sum())


def test_tutorial_gradient_is_f_over_a_for_both_branches() -> None:
    g = tutorial_graph()
    verify(g)
    joint = differentiate(g, [0]).simplified
    verify(joint)
    seen = set()
    for seed in range(8):
        a = np.random.default_rng(seed).normal(size=3)
        value, grad = evaluate(joint, a)
        assert np.isclose(value, numpy_f(a))
        k = value / a.sum()  # f is k * sum(a) with k = 2^n (times 100 on the other branch)
        np.testing.assert_allclose(grad, np.full(3, k))
        seen.add(a.sum() * 2 > 0)
    assert seen == {True, False}


def test_while_with_consts_against_finite_differences() -> None:
    # x <- x + dt * sin(x) * w, while t < T: a data-dependent count, consts dt and w
    cond = _graph("cond", [S, F, S, F], lambda dt, w, t, x: ops.ew("lt", t, 1.0))
    body = _graph("body", [S, F, S, F], lambda dt, w, t, x: [
        ops.add(t, dt), ops.add(x, ops.mul(dt, ops.mul(ops.ew("sin", x), w)))])

    def f(dt: Var, w: Var, x0: Var) -> Var:
        _, x = emit_multi("while", dt, w, ops.lit(0.0, "f64"), x0, cond=cond, body=body,
                          n_consts=2)
        return ops.reduce_sum(ops.mul(x, x), (0,))

    g = _graph("euler", [S, F, F], f)

    def numpy_euler(dt: np.ndarray, w: np.ndarray, x: np.ndarray) -> float:
        t = 0.0
        while t < 1.0:
            t, x = t + dt, x + dt * np.sin(x) * w
        return float(np.sum(x * x))

    args = (np.array(0.07), np.array([0.5, 1.0, -0.3]), np.array([0.2, -1.0, 2.0]))
    joint = differentiate(g, [1, 2]).simplified
    verify(joint)
    value, gw, gx = evaluate(joint, *args)
    assert np.isclose(value, numpy_euler(*args))
    np.testing.assert_allclose(gw, numeric_jacobian(numpy_euler, *args, argnum=1), rtol=1e-6)
    np.testing.assert_allclose(gx, numeric_jacobian(numpy_euler, *args, argnum=2), rtol=1e-6)
    # forward mode through the same loop
    t = np.array([0.3, -0.2, 0.9])
    _, jt = evaluate(jvp(g, [2]), *args, t)
    np.testing.assert_allclose(jt, gx @ t, rtol=1e-9)


def test_cond_vjp_only_differentiates_the_branch_taken() -> None:
    then = _graph("then", [F], lambda x: ops.ew("exp", x))
    other = _graph("other", [F], lambda x: ops.ew("log", x))  # NaN for negative x
    g = _graph("f", [F], lambda x: ops.reduce_sum(emit_multi(
        "cond", ops.ew("gt", ops.reduce_sum(x, (0,)), 0.0), x, branches=(other, then))[0], (0,)))
    x = np.array([-1.0, 2.0, 0.5])
    _, grad = evaluate(adjoint(g, [0]), x)
    np.testing.assert_allclose(grad, np.exp(x))


def test_prune_replaces_a_cond_with_a_known_predicate_and_reports_it() -> None:
    from adjit.passes.prune import prune

    then = _graph("then", [F], lambda x: ops.ew("exp", x))
    other = _graph("other", [F], lambda x: ops.ew("sin", x))

    def f(x: Var) -> Var:
        three = ops.reduce_sum(ops.broadcast_to(ops.lit(1.0, "f64"), (3,)), (0,))
        pred = ops.ew("gt", three, 0.0)  # constant, though not a Python bool
        (c,) = emit_multi("cond", pred, x, branches=(other, then))
        return ops.reduce_sum(c, (0,))

    g = _graph("f", [F], f)
    joint = adjoint(g, [0])
    pruned, report = prune(joint, wrt=[0], forward=g)
    assert not any(e.prim == "cond" for e in pruned.eqns)
    assert "predicate is always True, replaced by its branch" in str(report)
    x = np.array([0.1, -0.2, 0.3])
    np.testing.assert_allclose(evaluate(pruned, x)[1], np.exp(x))


def test_prune_drops_adjoint_of_carried_values_that_do_not_reach_the_gradient() -> None:
    from adjit.passes.prune import prune

    # carried: t (a counter), y (busy work that never reaches the loss) and x
    cond = _graph("cond", [S, F, F], lambda t, y, x: ops.ew("lt", t, 5.0))
    body = _graph("body", [S, F, F], lambda t, y, x: [
        ops.add(t, 1.0), ops.mul(y, ops.ew("sin", y)), ops.mul(x, ops.ew("cos", x))])

    def f(y0: Var, x0: Var) -> Var:
        _, _, x = emit_multi("while", ops.lit(0.0, "f64"), y0, x0, cond=cond, body=body,
                             n_consts=0)
        return ops.reduce_sum(x, (0,))

    g = _graph("f", [F, F], f)
    joint = adjoint(g, [1])
    pruned, report = prune(joint, wrt=[1], forward=g)
    assert "loop-carried v0, v1 carry no adjoint" in str(report)

    def vjp_eqns(graph: Graph) -> int:
        (wg,) = [e for e in graph.eqns if e.prim == "while_grad"]
        return len(wg.p["body_vjp"].eqns)

    assert vjp_eqns(pruned) < vjp_eqns(joint)
    y, x = np.array([0.1, 0.2, 0.3]), np.array([0.3, -0.5, 1.0])
    np.testing.assert_allclose(evaluate(pruned, y, x)[1], evaluate(joint, y, x)[1])
    np.testing.assert_allclose(evaluate(pruned, y, x)[1], numeric_jacobian(
        lambda y, x: evaluate(g, y, x)[0], y, x, argnum=1), rtol=1e-6)


def test_custom_vjp_rule_and_inlining() -> None:
    """`custom_vjp`'s value is its fwd graph's, its VJP is its bwd graph's (here a rule that
    deliberately differs from the true derivative), and inline_custom keeps the value."""
    import numpy as np

    from adjit.ir import ArrayType, Builder, Graph, Var, building, evaluate, ops
    from adjit.ir.builder import emit_multi
    from adjit.passes.adjoint import adjoint
    from adjit.passes.inline_custom import inline_custom

    t = ArrayType("f64", (3,))
    a = Var(t, "a")
    with building(Builder()) as fb:
        sq = ops.mul(a, a)
    fwd = Graph("fwd", (a,), tuple(fb.eqns), (sq, a))
    r, g = Var(t, "r"), Var(t, "g")
    with building(Builder()) as bb:
        rule = ops.mul(ops.mul(r, g), 3.0)  # 3 r g instead of 2 r g
    bwd = Graph("bwd", (r, g), tuple(bb.eqns), (rule,))
    x = Var(t, "x")
    with building(Builder()) as b:
        out, _ = emit_multi("custom_vjp", x, fwd=fwd, bwd=bwd, n_out=1, n_primal=1,
                            n_fwd_free=0)
        total = ops.reduce_sum(out, (0,))
    g_ = Graph("g", (x,), tuple(b.eqns), (total,))
    xs = np.array([1.0, -2.0, 0.5])
    assert evaluate(g_, xs)[0] == evaluate(inline_custom(g_), xs)[0] == np.sum(xs * xs)
    np.testing.assert_allclose(evaluate(adjoint(g_, [0]), xs)[1], 3 * xs)


def test_custom_jvp_rules_and_inlining() -> None:
    """`custom_jvp`'s value is its fwd graph's, forward mode inlines its jvp graph and reverse
    mode its bwd graph (both built from a rule 3x the true derivative), and inline_custom
    keeps the value."""
    import numpy as np

    import adjit
    from adjit.passes.adjoint import adjoint
    from adjit.passes.inline_custom import inline_custom
    from adjit.passes.jvp import jvp

    @adjit.custom_jvp
    def square(a):
        return a * a

    @square.defjvp
    def _(primals, tangents):
        return square(primals[0]), 6 * primals[0] * tangents[0]

    g_ = adjit.jit(lambda x: np.sum(square(x))).specialize((np.ones(3),)).traced.graph
    assert any(e.prim == "custom_jvp" for e in g_.eqns)
    xs = np.array([1.0, -2.0, 0.5])
    from adjit.ir import evaluate

    assert evaluate(g_, xs)[0] == evaluate(inline_custom(g_), xs)[0] == np.sum(xs * xs)
    np.testing.assert_allclose(evaluate(adjoint(g_, [0]), xs)[1], 6 * xs)
    t = np.array([1.0, 0.0, 2.0])
    np.testing.assert_allclose(evaluate(jvp(g_, [0]), xs, t)[1], np.sum(6 * xs * t))
