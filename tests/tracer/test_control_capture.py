"""Python control flow on traced values is captured as `cond` / `while` (tracer/autograph.py,
tracer/control.py), traced once and differentiated, checked with the reference interpreter:
trace -> differentiate -> evaluate, against the same Python function run by numpy and
against finite differences. One trace serves every input: the loops' trip counts and the
branches are decided when the graph runs."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pytest
from adjit.ir import Graph, evaluate, verify
from adjit.passes.pipeline import differentiate
from adjit.tracer import trace
from adjit.tracer.convert import converted, converted_source, why_unconverted
from check import numeric_jacobian
from control_graphs import euler, newton_sqrt, tutorial

import adjit

# ---- helpers ---------------------------------------------------------------------------------

def _prims(g: Graph) -> list[str]:
    """Every primitive in g, sub-graphs included."""
    out = []
    for e in g.eqns:
        out.append(e.prim)
        for _, sub in e.subgraphs():
            out += _prims(sub)
    return out


def _joint(fn: Callable[..., Any], example: Sequence[Any], wrt: Sequence[int] = (0,),
           static: Sequence[int] = ()) -> Graph:
    traced = trace(fn, example, static)
    verify(traced.graph)
    joint = differentiate(traced.graph, list(wrt)).simplified
    verify(joint)
    return joint


def check(fn: Callable[..., Any], cases: Sequence[Sequence[Any]], wrt: Sequence[int] = (0,),
          rtol: float = 1e-6, atol: float = 1e-8) -> Graph:
    """Trace fn once on cases[0]; every case then gives fn's value (numpy) and its finite-
    difference gradients, through the one graph."""
    joint = _joint(fn, cases[0], wrt)
    for args in cases:
        value, *grads = evaluate(joint, *args)
        np.testing.assert_allclose(value, fn(*args), rtol=1e-12, atol=1e-12)
        for k, g in zip(wrt, grads, strict=True):
            expected = numeric_jacobian(fn, *args, argnum=k)
            np.testing.assert_allclose(g, expected, rtol=rtol, atol=atol)
    return joint


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---- the tutorial function -------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(), (10,)])
def test_tutorial_gradient_is_f_over_a_for_every_input(shape: tuple[int, ...]) -> None:
    joint = _joint(tutorial, (np.ones(shape),))
    assert {"while", "cond"} <= set(_prims(joint)) | {"while_grad"}
    branches = set()
    for seed in range(12):
        a = _rng(seed).normal(size=shape)
        value, grad = evaluate(joint, a)
        assert np.isclose(value, tutorial(a))
        # f(a) = k * sum(a) with k = 2^n (times 100 on the else branch): grad = f(a) / sum(a)
        np.testing.assert_allclose(grad, np.full(shape, value / np.sum(a)), rtol=1e-12)
        branches.add(bool(np.sum(a) > 0))
    assert branches == {True, False}


def test_tutorial_graph_has_one_while_and_one_cond_at_the_users_lines() -> None:
    g = trace(tutorial, (np.ones(3),)).graph
    (loop,) = [e for e in g.eqns if e.prim == "while"]
    (cond,) = [e for e in g.eqns if e.prim == "cond"]
    assert loop.loc.source.strip() == "while np.linalg.norm(b) < 1000:"
    assert cond.loc.source.strip() == "if b.sum() > 0:"
    text = str(g)
    assert "body: graph body(b: f64[3]) -> f64[3]:" in text and "branches[1]: graph if_true" in text


# ---- if --------------------------------------------------------------------------------------

def piecewise(x):
    s = x.sum()
    if s > 1:
        y = x * 3
    elif s > -1:
        y = x ** 2
    else:
        y = -np.sin(x)
    return y.sum()


def test_if_elif_else() -> None:
    cases = [(np.array([1.0, 2.0]),), (np.array([0.1, -0.3]),), (np.array([-2.0, 0.5]),)]
    check(piecewise, cases)


def ternary(x):
    y = x * 2 if x.sum() > 0 else x ** 3
    z = np.sum(y) + (1.0 if x[0] > x[1] else np.sum(np.cos(x)))
    return z * (x[1] if x.shape[0] > 1 else 0.0)  # a condition known while tracing


def test_conditional_expressions() -> None:
    check(ternary, [(np.array([0.5, 0.2]),), (np.array([-0.5, 0.2]),), (np.array([-0.5, -0.1]),)])


def assigned_in_one_branch(x):
    c = x
    if x.sum() > 0:
        c = x * 4
        d = c + 1  # noqa: F841  (assigned in one branch only, never used after)
    return np.sum(c * x)


def test_value_assigned_in_one_branch_and_used_after() -> None:
    check(assigned_in_one_branch, [(np.array([1.0, 2.0]),), (np.array([-1.0, 0.5]),)])


def early_return(x):
    s = x.sum()
    if s > 0:
        return np.sum(x ** 2)
    y = x * 3
    return np.sum(np.sin(y))


def test_early_return_inside_if() -> None:
    check(early_return, [(np.array([1.0, 0.5]),), (np.array([-1.0, 0.2]),)])


def known_condition(x):
    if x.ndim == 1 and x.shape[0] > 2:
        return np.sum(x)
    return np.sum(x * 2)


def test_condition_known_while_tracing_is_plain_python() -> None:
    g = trace(known_condition, (np.ones(3),)).graph
    assert "cond" not in _prims(g)
    check(known_condition, [(np.ones(3),)])


def boolean_operators(x):
    s = x.sum()
    if s > 0 and x[0] < 1 or not x[1] > 0:
        y = x * 2
    else:
        y = x * 5
    if 0 < x[0] < 1:
        y = y + 1
    return np.sum(y * x)


def test_and_or_not_and_comparison_chains() -> None:
    cases = [(np.array(v),) for v in ([0.5, 0.2], [1.5, 0.2], [-1.5, -0.2], [-1.5, 0.2])]
    check(boolean_operators, cases)


# ---- while -----------------------------------------------------------------------------------

def several_carried(x, W, n):
    i = 0
    h = x
    s = 0.0
    M = W
    acc = np.zeros(2)
    while i < n:
        h = np.sin(M @ h)
        s = s + h.sum()
        acc = acc + h[:2] * s
        M = M * 0.9
        i = i + 1
    return s + acc.sum() + h.sum() + M.sum()


def test_several_carried_values_of_different_shapes() -> None:
    x, W = _rng(0).normal(size=3), _rng(1).normal(size=(3, 3))
    joint = check(several_carried, [(x, W, np.int64(n)) for n in (3, 0, 1, 6)], wrt=(0, 1))
    assert "while_grad" in _prims(joint)


def break_in_while(x):
    y = x
    i = 0
    while i < 100:
        y = y * 1.5
        if y.sum() > 10:
            break
        i = i + 1
    return y.sum() + i


def continue_in_while(x, n):
    i = 0
    acc = x * 0
    while i < n:
        i = i + 1
        if np.sum(x * i) > 2:
            continue
        acc = acc + x * i
    return acc.sum()


def test_break_in_while_switches_to_a_traced_loop() -> None:
    g = trace(break_in_while, (np.ones(2),)).graph
    assert "while" in _prims(g)
    check(break_in_while, [(np.array(v),) for v in ([1.0, 2.0], [0.1, 0.2], [20.0, 0.0])])


def test_continue_in_while() -> None:
    x = np.array([0.3, 0.15])
    check(continue_in_while, [(x, np.int64(n)) for n in (6, 2, 0)])


def test_newton_iteration_gradient_is_the_implicit_derivative() -> None:
    joint = _joint(newton_sqrt, (np.array(2.0),))
    for a in (2.0, 0.3, 50.0):
        root, grad = evaluate(joint, np.array(a))
        np.testing.assert_allclose(root, np.sqrt(a), rtol=1e-14)
        np.testing.assert_allclose(grad, 1 / (2 * np.sqrt(a)), rtol=1e-9)


def while_with_else(x):
    y = x
    while y.sum() < 5:
        y = y * 2
        if y[0] > 3:
            break
    else:
        y = y + 100
    return y.sum()


def test_while_else_runs_only_without_break() -> None:
    check(while_with_else, [(np.array(v),) for v in ([0.5, 0.5], [1.0, 0.1], [0.1, 2.0])])


def return_from_loop(x):
    y = x
    while True:
        y = y * 2
        if np.abs(y).sum() > 10:
            return y.sum()


def test_return_inside_a_loop() -> None:
    check(return_from_loop, [(np.array(v),) for v in ([0.5, 0.5], [3.0, 0.1], [-0.1, 0.02])])


# ---- for -------------------------------------------------------------------------------------

def test_euler_integrator_with_a_traced_step_count() -> None:
    x, dt = np.array([0.3, -1.0, 2.0]), np.array(0.05)
    joint = check(euler, [(x, np.int64(n), dt) for n in (20, 0, 1, 7)], wrt=(0, 2))
    assert "while_grad" in _prims(joint)


def for_with_break(x, n):
    total = x * 0
    for i in range(n):
        total = total + x * i
        if total.sum() > 5:
            break
    else:
        total = total * 2
    return total.sum()


def test_for_over_traced_range_with_break_and_else() -> None:
    x = np.array([0.4, 0.3])
    check(for_with_break, [(x, np.int64(n)) for n in (10, 3, 0)])


def promoted_sum(x, n):
    s = 0
    for k in range(1, n + 1):
        s = s + x / k
    return np.sum(s)


def test_carried_python_scalar_is_promoted_to_the_bodys_type() -> None:
    check(promoted_sum, [(np.array([1.0, 2.0, 3.0]), np.int64(n)) for n in (4, 1)])


def constant_loop(x):
    for k in range(3):
        x = x * (k + 1.0)
    return np.sum(x)


def test_constant_range_unrolls_and_is_noted() -> None:
    g = trace(constant_loop, (np.ones(2),)).graph
    assert "while" not in _prims(g)
    (note,) = g.notes
    line = constant_loop.__code__.co_firstlineno + 1
    assert note == f"for loop at test_control_capture.py:{line} unrolled (3 iterations, " \
                   "constant range)"
    assert f"# {note}" in str(g)


def nested_loops(x, n, m):
    i = 0
    while i < n:
        for _ in range(m):
            x = x * 0.9 + 0.1 * np.cos(x)
        for k in range(2):  # constant: unrolled inside the traced loop
            x = x + 0.01 * k * x
        i = i + 1
    return x.sum()


def test_nested_loops() -> None:
    x = np.array([0.5, -0.7])
    check(nested_loops, [(x, np.int64(n), np.int64(m)) for n, m in ((3, 2), (2, 0), (0, 4))])


def loop_in_branch(x, n):
    if x.sum() > 0:
        for _ in range(n):
            x = x * 1.1 + 0.1
    else:
        x = -x
    return np.sum(x * x)


def test_loop_inside_a_branch() -> None:
    check(loop_in_branch, [(np.array(v), np.int64(3)) for v in ([1.0, 0.5], [-1.0, 0.5])])


def break_in_constant_range(x):
    total = x * 0
    for k in range(10, 0, -2):
        total = total + k * x
        if total.sum() > 12:
            break
    return total.sum()


def break_over_a_tuple(x):
    total = x * 0
    for w in (1.0, 2.0, 3.0, 4.0):
        total = total + w * x
        if total.sum() > 3:
            break
    return total.sum()


def test_traced_break_in_a_constant_loop() -> None:
    # A range continues as a `while` from the item where the break became traced; any
    # other iterable runs its remaining items under the break flag's `cond`.
    g = trace(break_in_constant_range, (np.ones(2),)).graph
    assert "while" in _prims(g)
    check(break_in_constant_range, [(np.array(v),) for v in ([0.1, 0.2], [1.0, 0.5], [9.0, 9.0])])
    g = trace(break_over_a_tuple, (np.ones(2),)).graph
    top = [e.prim for e in g.eqns]  # the first item's `if`, then 3 guarded items
    assert top.count("cond") == 4 and "while" not in _prims(g)
    check(break_over_a_tuple, [(np.array(v),) for v in ([0.1, 0.2], [1.0, 0.5], [9.0, 9.0])])


def unrolled_notes(X):
    s = 0.0
    for row in X:
        s = s + np.sum(row ** 2)
    k = 0
    while k < 2:
        s = s * 2
        k += 1
    return s


def test_unrolled_loops_are_noted_with_why() -> None:
    notes = trace(unrolled_notes, (np.ones((3, 2)),)).graph.notes
    line = unrolled_notes.__code__.co_firstlineno
    assert notes == ((f"for loop at test_control_capture.py:{line + 2} unrolled (3 iterations, "
                      "over the rows of a traced array)"),
                     (f"while loop at test_control_capture.py:{line + 5} unrolled (2 "
                      "iterations, condition known while tracing)"))


# ---- builtins, helpers, recursion ------------------------------------------------------------

def builtins_on_tracers(x):
    a = max(x[0], x[1])
    b = min(x[2], 0.5, x[0])
    c = abs(x[1] - x[2])
    d = sum(x)
    e = sum([x[0], x[1]], 1.0)
    m = max(x) + min(x, key=lambda v: v * v)
    return a * b + c + d * e + m


def test_max_min_abs_sum_on_traced_values() -> None:
    cases = [(np.array(v),) for v in ([0.3, 0.8, -0.2], [0.9, 0.1, 0.7], [-0.5, -0.9, 0.4])]
    check(builtins_on_tracers, cases)


def _scaled(v):
    if v.sum() > 0:
        return v * 2
    return v * 0.5


def uses_helper(x):
    return np.sum(_scaled(x) ** 2)


def test_helper_function_of_the_same_module_is_converted() -> None:
    g = check(uses_helper, [(np.array([1.0, 0.5]),), (np.array([-1.0, 0.5]),)])
    assert "cond" in _prims(g)


def _tower(x, depth):
    if depth == 0:
        return x
    y = _tower(x, depth - 1)
    if y.sum() > 3:
        return y * 0.5
    return y * 1.5 + 0.1


def recursive(x, depth):
    return np.sum(_tower(x, depth))


def test_recursion_with_a_python_int_depth() -> None:
    traced = trace(recursive, (np.ones(2), 4), static=(1,))
    assert _prims(traced.graph).count("cond") == 4
    joint = differentiate(traced.graph, [0]).simplified
    for v in ([1.0, 0.5], [-1.0, 0.2], [2.0, 2.0]):
        x = np.array(v)
        value, grad = evaluate(joint, x)
        np.testing.assert_allclose(value, recursive(x, 4), rtol=1e-12)
        np.testing.assert_allclose(grad, numeric_jacobian(lambda x: recursive(x, 4), x),
                                   rtol=1e-6)


class _Model:
    def __init__(self, k: float) -> None:
        self.k = k

    def loss(self, x):
        if x.sum() > 0:
            y = x * self.k
        else:
            y = -x
        return np.sum(y * y)


def test_methods_closures_and_lambdas_are_converted() -> None:
    check(_Model(3.0).loss, [(np.array([1.0, 0.5]),), (np.array([-1.0, 0.5]),)])

    def make(limit: float) -> Callable[[Any], Any]:
        def doubled_until(x):
            while x.sum() < limit:
                x = x * 2
            return np.sum(x)

        return doubled_until

    check(make(10.0), [(np.array([1.0, 0.5]),), (np.array([0.01, 0.02]),)])
    check(lambda x: np.sum(x * 2 if x[0] > 0 else np.sin(x)),
          [(np.array([1.0, 0.5]),), (np.array([-1.0, 0.5]),)])


def integer_condition(x, n):
    if n:
        return np.sum(x)
    return np.sum(x * 2)


def test_non_bool_condition_is_compared_with_zero() -> None:
    joint = _joint(integer_condition, (np.ones(2), np.int64(0)))
    for n, expected in ((0, 2.0), (5, 1.0), (-1, 1.0)):
        np.testing.assert_allclose(evaluate(joint, np.ones(2), np.int64(n))[1], [expected] * 2)


# ---- the rewrite keeps Python's semantics ----------------------------------------------------

def python_jumps(items, target):
    found = []
    for i, v in enumerate(items):
        if v < 0:
            continue
        for j in range(3):
            if j == 2:
                break
            found.append((i, j))
        if v == target:
            return found, "hit"
        while True:
            v -= 1
            if v < target:
                break
    else:  # noqa: PLW0120  (the rewrite must keep for/else and while/else as they are)
        found.append("else")
    k = 0
    while k < 10:
        k += 3
    else:  # noqa: PLW0120
        found.append(k)
    return found, "miss" if not found or 0 < k < 20 else None


def test_converted_code_runs_plain_python_unchanged() -> None:
    fn = converted(python_jumps)
    assert fn is not python_jumps
    for items, target in (([1, -2, 5], 5), ([3, 4], 9), ([], 0), ([-1, 2], 2)):
        assert fn(items, target) == python_jumps(items, target)


def test_converted_source_is_printable() -> None:
    text = converted_source(tutorial)
    assert "ag__.while_stmt(ag__f_while_test_1, ag__f_while_body_2, (b,), ('b',))" in text
    assert "c, = ag__.if_stmt(b.sum() > 0, ag__f_if_true_3, ag__f_if_false_4, (c,), ('c',))" \
        in text


def test_a_module_edited_after_import_runs_unconverted(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import importlib
    import linecache

    source = "import numpy as np\n\ndef f(x):\n    if x.sum() > 0:\n        return x\n" \
             "    return x * 2\n"
    (tmp_path / "edited_module.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("edited_module")
    (tmp_path / "edited_module.py").write_text(source.replace("x * 2", "x * 3.0"))
    linecache.checkcache()
    assert converted(module.f) is module.f
    assert why_unconverted(module.f) == "its source file has changed since it was loaded"


K = 1.0


def declares_global(x):
    global K  # noqa: PLW0602
    if x.sum() > K:
        return np.sum(x)
    return np.sum(x * 2)


def test_unconverted_function_says_why_in_the_truth_value_error() -> None:
    with pytest.raises(adjit.TraceError) as info:
        trace(declares_global, (np.ones(2),), concrete=False)  # no guard without values
    text = str(info.value)
    assert "declares_global runs as written, unconverted, because it declares global" in text
    assert "if x.sum() > K:" in text


# ---- errors ----------------------------------------------------------------------------------

def branch_only(x):
    if x.sum() > 0:
        c = x * 2
    return c.sum()


def test_variable_assigned_in_one_branch_only_is_an_error_at_its_use() -> None:
    with pytest.raises(adjit.TraceError) as info:
        trace(branch_only, (np.ones(2),))
    text = str(info.value)
    line = branch_only.__code__.co_firstlineno
    assert "c is assigned in the if branch but not the else branch" in text
    assert f"test_control_capture.py:{line + 1}" in text  # the if
    assert f"test_control_capture.py:{line + 3} in branch_only" in text  # the use
    assert "return c.sum()" in text


def vector_condition(x):
    if x > 0:
        return np.sum(x)
    return np.sum(-x)


def test_non_scalar_condition_is_numpys_ambiguity_error_at_the_users_line() -> None:
    with pytest.raises(adjit.TraceError) as info:
        trace(vector_condition, (np.ones(3),))
    text = str(info.value)
    assert "truth value of an array with more than one element is ambiguous" in text
    line = vector_condition.__code__.co_firstlineno + 1
    assert f"test_control_capture.py:{line} in vector_condition" in text
    assert "if x > 0:\n         ^^^^^" in text


def body_local(x, n):
    i = 0
    while i < n:
        t = x * i
        i = i + 1
    return np.sum(t)


def test_variable_defined_only_inside_a_traced_loop_is_an_error_at_its_use() -> None:
    with pytest.raises(adjit.TraceError, match="t is assigned in the while loop but not "
                                               "before it"):
        trace(body_local, (np.ones(2), np.int64(3)))


def growing(x, n):
    for _ in range(n):
        x = np.concatenate([x, x])
    return np.sum(x)


def test_carried_value_that_changes_shape_is_an_error_naming_it() -> None:
    with pytest.raises(adjit.TraceError, match=r"x changes from f64\[2\] to f64\[4\] in the "
                                               r"for loop"):
        trace(growing, (np.ones(2), np.int64(3)))


def returns_none_on_one_path(x):
    if x.sum() > 0:
        return np.sum(x)


def test_falling_off_the_end_under_a_traced_condition_is_an_error() -> None:
    with pytest.raises(adjit.TraceError, match="returns an array .* on one path and None"):
        trace(returns_none_on_one_path, (np.ones(2),))


def appends_in_loop(x, n):
    out = []
    i = 0
    while i < n:
        out.append(x * i)
        i = i + 1
    return np.sum(out[0])


def test_value_leaking_out_of_a_traced_loop_is_an_error() -> None:
    with pytest.raises(adjit.TraceError, match="computed inside a traced loop or branch is "
                                               "used outside it"):
        trace(appends_in_loop, (np.ones(2), np.int64(2)))
