"""`ir.verify` accepts well-formed graphs and names the first problem in malformed ones."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from ir_samples import NESTED, literals, model_grad, nested

from adjit.ir import ArrayType, Eqn, Graph, IRError, Lit, Loc, Var, parse, verify

F3 = ArrayType("f32", (3,))


def chain() -> tuple[Var, Eqn, Eqn]:
    """x -> %0 = tanh x -> %1 = mul %0, 2.0"""
    x = Var(F3, "x")
    e0 = Eqn("tanh", (x,), (Var(F3),))
    e1 = Eqn("mul", (e0.out, Lit.make(2.0, "f32")), (Var(F3),))
    return x, e0, e1


def test_well_formed_graphs_pass(subgraph_prims: None) -> None:
    x, e0, e1 = chain()
    for g in (Graph("ok", (x,), (e0, e1), (e1.out, x, Lit.make(1, "i32"))), model_grad(),
              literals(), nested(), parse(NESTED)):
        verify(g)


def check_rejects(g: Graph, *fragments: str) -> IRError:
    with pytest.raises(IRError) as info:
        verify(g)
    for fragment in fragments:
        assert fragment in str(info.value)
    return info.value


def test_use_before_definition() -> None:
    x, e0, e1 = chain()
    err = check_rejects(Graph("g", (x,), (e1, e0), (e1.out,)),
                        "graph g: equation 0 (mul): uses a f32[3] value before it is defined")
    assert "in IR: %0 = mul <undefined" in str(err)


def test_undefined_input_and_output() -> None:
    x, e0, e1 = chain()
    check_rejects(Graph("g", (), (e0, e1), (e1.out,)), "equation 0 (tanh): uses x: f32[3] before")
    check_rejects(Graph("g", (x,), (e0,), (e1.out,)), "graph g: output 0: uses")


def test_each_var_is_defined_once() -> None:
    x, e0, e1 = chain()
    again = Eqn("neg", (x,), e0.outputs)
    check_rejects(Graph("g", (x,), (e0, again), (x,)),
                  "equation 1 (neg): defines %0 a second time")
    check_rejects(Graph("g", (x, x), (), (x,)), "graph g: input x: defines x a second time")
    over_input = Eqn("neg", (e0.out,), (x,))
    check_rejects(Graph("g", (x,), (e0, over_input), (x,)),
                  "equation 1 (neg): defines x a second time")


def test_wrong_output_type_names_the_equation() -> None:
    x, e0, _ = chain()
    bad = Eqn("mul", (e0.out, e0.out), (Var(ArrayType("f32", (4,))),),
              loc=Loc("/src/model.py", 7, "loss"), role="vjp(tanh)")
    err = check_rejects(Graph("g", (x,), (e0, bad), (bad.out,)),
                        "equation 1 (mul): outputs have types (f32[4]) but the shape rule gives "
                        "(f32[3])", "in IR: %1 = mul %0, %0 : f32[4]")
    assert "/src/model.py:7 in loss" in str(err)


def test_wrong_number_of_outputs() -> None:
    x, e0, _ = chain()
    bad = Eqn("neg", (e0.out,), (Var(F3), Var(F3)))
    check_rejects(Graph("g", (x,), (e0, bad), (x,)), "shape rule gives (f32[3])")


def test_shape_rule_rejects_operands() -> None:
    x = Var(F3, "x")
    bad = Eqn("mul", (x, Lit.make(2.0, "f64")), (Var(F3),))
    check_rejects(Graph("g", (x,), (bad,), (bad.out,)),
                  "equation 0 (mul): the shape rule rejects operands (f32[3], f64[])")


def test_unknown_primitive() -> None:
    x = Var(F3, "x")
    bad = Eqn("frobnicate", (x,), (Var(F3),))
    check_rejects(Graph("g", (x,), (bad,), (bad.out,)), "unknown primitive 'frobnicate'")


@pytest.mark.parametrize("params, fragment", [
    ((), "missing ['axes'], unexpected []"),
    ((("axes", (0,)), ("keepdims", False)), "missing [], unexpected ['keepdims']"),
    ((("axes", (0,)), ("axes", (0,))), "do not match"),
    ((("axis", 0),), "missing ['axes'], unexpected ['axis']"),
    ((("axes", [0]),), "is not hashable"),
])
def test_params_must_be_exactly_the_declared_ones(params: tuple, fragment: str) -> None:
    x = Var(F3, "x")
    bad = Eqn("reduce_sum", (x,), (Var(ArrayType("f32", ())),), params)
    check_rejects(Graph("g", (x,), (bad,), (bad.out,)), fragment)


def test_params_must_be_sorted() -> None:
    x = Var(ArrayType("f32", (2, 2)), "x")
    bad = Eqn("matmul", (x, x), (Var(x.type),), (("transpose_b", False), ("transpose_a", False)))
    check_rejects(Graph("g", (x,), (bad,), (bad.out,)), "params must be a sorted tuple")


def test_literals_must_match_their_type() -> None:
    x = Var(F3, "x")
    forged = Lit(np.zeros(3, np.float64), F3)
    bad = Eqn("add", (x, forged), (Var(F3),))
    check_rejects(Graph("g", (x,), (bad,), (bad.out,)), "does not match its type f32[3]")


def test_non_values_and_notes() -> None:
    x = Var(F3, "x")
    check_rejects(Graph("g", (x,), (Eqn("neg", (3.0,), (Var(F3),)),), (x,)),
                  "neither a Var nor a Lit")
    check_rejects(Graph("g", (x,), (), (x,), ("two\nlines",)), "must be a single line")
    eqn = Eqn("neg", (x,), (Var(F3),), role="vjp(neg)\nmore")
    check_rejects(Graph("g", (x,), (eqn,), (x,)), "role 'vjp(neg)\\nmore' must be a single line")


def test_subgraphs_are_verified_recursively(subgraph_prims: None) -> None:
    g = nested()
    call = g.eqns[1]
    body = call.p["fn"]
    broken = body.replace(eqns=(dataclasses.replace(body.eqns[0], prim="nope"),))
    bad = g.replace(eqns=(g.eqns[0], call.replace(params=(("fn", broken),)), *g.eqns[2:]))
    check_rejects(bad, "graph outer: equation 1 (test_call).fn (graph double): equation 0 "
                       "(nope): unknown primitive 'nope'", "in IR: %2 = nope a, 2.0")


def test_subgraphs_are_closed(subgraph_prims: None) -> None:
    g = nested()
    call = g.eqns[1]
    body = call.p["fn"]
    outer = g.eqns[0].out  # defined in the enclosing graph only
    leaky_eqn = body.eqns[0].replace(inputs=(outer, body.eqns[0].inputs[1]))
    leaky = body.replace(eqns=(leaky_eqn,), outputs=leaky_eqn.outputs)
    bad = g.replace(eqns=(g.eqns[0], call.replace(params=(("fn", leaky),)), *g.eqns[2:]))
    err = check_rejects(bad, "(test_call).fn (graph double): equation 0 (mul): uses")
    assert "sub-graphs are closed" in str(err)
