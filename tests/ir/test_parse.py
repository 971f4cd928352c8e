"""`ir.parse` reads back what the printer writes, and hand-written IR; errors name the line."""
from __future__ import annotations

import numpy as np
import pytest
from ir_samples import LITERALS, MODEL_GRAD, NESTED, golden, literals, model_grad, nested

from adjit.ir import (ArrayType, Builder, Graph, IRError, Lit, Loc, Var, building, evaluate, ops,
                      parse, verify)


def rand_inputs(g: Graph, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(v.shape).astype(v.type.np_dtype) for v in g.inputs]


def assert_same_results(a: Graph, b: Graph, args: list[np.ndarray]) -> None:
    for x, y in zip(evaluate(a, *args), evaluate(b, *args), strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("text", [MODEL_GRAD, LITERALS])
def test_golden_text_round_trips(text: str) -> None:
    g = parse(text)
    verify(g)
    assert str(g) == text


def test_parsed_graph_evaluates_like_the_original() -> None:
    g = model_grad()
    assert_same_results(g, parse(str(g)), rand_inputs(g))
    lit = literals()
    args = [np.array([1.0, -2.0, 3.0]), np.array([[0, 1], [-1, 2]])]
    assert_same_results(lit, parse(str(lit)), args)


def test_subgraphs_round_trip(subgraph_prims: None) -> None:
    g = parse(NESTED)
    verify(g)
    assert str(g) == NESTED
    (switch,) = [e for e in g.eqns if e.prim == "test_switch"]
    assert [b.name for b in switch.p["branches"]] == ["negate", "sine"]
    assert switch.p["index"] == 1
    original = nested()
    assert_same_results(original, g, [np.array([0.5, -1.0, 2.0])])


def test_locations_and_roles() -> None:
    g = parse(golden("""
        graph f(x: f64[3]) -> f64[3]:
          %0 = sin x : f64[3]                 # model.py:12
          %1 = cos %0 : f64[3]                # model.py:13 vjp(sin) of the loss
          %2 = neg %1 : f64[3]                # jvp(cos)
          %3 = neg %2 : f64[3]
          return %3
    """))
    assert [(e.loc, e.role) for e in g.eqns] == [
        (Loc("model.py", 12), ""), (Loc("model.py", 13), "vjp(sin) of the loss"),
        (None, "jvp(cos)"), (None, "")]


def test_literal_dtypes_follow_the_printers_inference() -> None:
    g = parse(golden("""
        graph f(x: f32[2]) -> (f32[2], f32[], f64[], i32[]):
          %0 = mul x, 2.0 : f32[2]
          %1 = convert[dtype='f32'] 1.5 : f32[]
          return %0, %1, 2.0, 3:i32
    """))
    assert g.eqns[0].inputs[1] == Lit.make(2.0, "f32")
    # With no Var operand, a bare literal takes the output's dtype...
    assert g.eqns[1].inputs[0] == Lit.make(1.5, "f32")
    # ...and on the return line, f64 or i64 unless suffixed.
    assert g.outputs[2:] == (Lit.make(2.0, "f64"), Lit.make(3, "i32"))


def test_hand_written_text_is_accepted_and_canonicalized() -> None:
    """Notes anywhere in a body, unusual %names, params in any order, extra spaces."""
    g = parse(golden("""
        graph <lambda>(x: f32[4,2]) -> f32[]:
          %a = matmul[transpose_b=True,transpose_a=False]   x,x : f32[4,4]
          # the adjoint starts here
          %b = reduce_sum[axes=(0, 1)] %a : f32[]

          return %b
    """))
    assert g.name == "<lambda>" and g.notes == ("the adjoint starts here",)
    assert g.eqns[0].params == (("transpose_a", False), ("transpose_b", True))
    assert str(g) == golden("""
        graph <lambda>(x: f32[4,2]) -> f32[]:
          # the adjoint starts here
          %0 = matmul[transpose_b=True] x, x : f32[4,4]
          %1 = reduce_sum[axes=(0, 1)] %0 : f32[]
          return %1
    """)


def test_edge_cases_round_trip() -> None:
    texts = [
        "graph nothing() -> ():\n  return ",
        "graph ident(x: bool[0]) -> bool[0]:\n  return x",
        "graph empties(x: f32[0,2]) -> (f32[0,2], f32[2,0]):\n"
        "  %0 = add x, array<f32[0,2]>[] : f32[0,2]\n"
        "  return %0, array<f32[2,0]>[[], []]",
        "graph g(x: f64[]) -> f64[]:\n  # \n  #  two spaces\n  %0 = add x, -0.0 : f64[]\n"
        "  return %0",
        "graph h(x: f64[]) -> (f64[], f64[]):\n  return x, x",
    ]
    for text in texts:
        assert str(parse(text)) == text


def test_names_shadow_literals() -> None:
    """An input named like a literal means the input (the printer gives it that name)."""
    g = parse("graph g(inf: f64[]) -> f64[]:\n  %0 = add inf, inf : f64[]\n  return %0")
    assert all(isinstance(v, Var) for v in g.eqns[0].inputs)


def test_input_named_like_a_literal_round_trips() -> None:
    x = Var(ArrayType("f64", ()), "inf")
    with building(Builder()) as bld:
        y = ops.add(x, float("inf"))
    g = bld.graph("g", (x,), (y,))
    parsed = parse(str(g))
    assert evaluate(parsed, 1.0) == evaluate(g, 1.0)


BAD = [
    ("", 0, "empty IR text"),
    ("grph f(x: f32[]) -> f32[]:\n  return x", 1, "expected a header"),
    ("graph f(x: f32[], x: f32[]) -> f32[]:\n  return x", 1, "x is defined twice"),
    ("graph f(x: f33[]) -> f32[]:\n  return x", 1, "expected a type"),
    ("graph f(x: f32[]) -> f32[]:\n  %0 = mul x, x : f32[]", 1, "no `return` line"),
    ("graph f(x: f32[]) -> f64[]:\n  return x", 1, "the header says"),
    ("graph f(x: f32[]) -> f32[]:\n  %0 = tanh x : f32[]\n  %1 = frob %0 : f32[]\n  return %1",
     3, "unknown primitive 'frob'"),
    ("graph f(x: f32[]) -> f32[]:\n  %0 = tanh y : f32[]\n  return %0", 2, "undefined value 'y'"),
    ("graph f(x: f32[3]) -> f32[]:\n  %0 = tanh x : f32[]\n  return %0", 2,
     "`tanh` gives (f32[3]) here, but the text says (f32[])"),
    ("graph f(x: f32[3]) -> f32[3]:\n  %0 = mul x, 2 : f32[3]\n  return %0", 2,
     "`mul` does not accept operands (f32[3], i64[])"),
    ("graph f(x: f32[3]) -> f32[]:\n  %0 = reduce_sum[axes=(0,] x : f32[]\n  return %0", 2,
     "unclosed '[' in params"),
    ("graph f(x: f32[3]) -> f32[]:\n  %0 = reduce_sum[axes=] x : f32[]\n  return %0", 2,
     "cannot read params"),
    ("graph f(x: f32[3]) -> f32[]:\n  %0 = reduce_sum[axes=foo] x : f32[]\n  return %0", 2,
     "cannot read the literal 'foo'"),
    ("graph f(x: f32[3]) -> f32[]:\n  %0 = reduce_sum[axis=0] x : f32[]\n  return %0", 2,
     "does not accept"),
    ("graph f(x: f32[3]) -> f32[3]:\n  %0 = tanh x\n  return %0", 2, "expected ` : type`"),
    ("graph f(x: f32[3]) -> f32[3]:\n  %0 = tanh x : f32[3]\n  %0 = tanh x : f32[3]\n"
     "  return %0", 3, "%0 is defined twice"),
    ("graph f(x: f32[3]) -> f32[3]:\n  %0 = tanh x : f32[3]\n    %1 = tanh x : f32[3]\n"
     "  return %0", 3, "expected a sub-graph header"),
    ("graph f(x: f32[3]) -> f32[3]:\n  %0 = tanh x : f32[3]\n return %0", 3,
     "unexpected indentation"),
    ("graph f(x: f32[3]) -> f32[3]:\n  return x\n  %0 = tanh x : f32[3]", 3, "after its return"),
    ("graph f(x: f32[3]) -> f32[3]:\n  return x\ngraph g() -> ():\n  return", 3,
     "unexpected text after"),
    ("graph f(x: f32[3]) -> f32[3]:\n  %0 = add x, 2.0:f99 : f32[3]\n  return %0", 2,
     "unknown dtype 'f99'"),
    ("graph f(x: f32[3]) -> f32[3]:\n  %0 = add x, 2.5:i32 : f32[3]\n  return %0", 2,
     "a float literal cannot have dtype i32"),
    ("graph f(x: i32[3]) -> i32[3]:\n  %0 = add x, 99999999999:i32 : i32[3]\n  return %0", 2,
     "literal 99999999999 does not fit i32"),
    ("graph f(x: f32[3]) -> f32[3]:\n  %0 = add x, 1e300 : f32[3]\n  return %0", 2,
     "literal 1e+300 does not fit f32"),
    ("graph f(x: f32[2]) -> f32[2]:\n  %0 = add x, array<f32[2]>[1.0, 1e300] : f32[2]\n"
     "  return %0", 2, "too large for f32"),
    ("graph f(x: i32[3]) -> i32[3]:\n  %0 = add x, array<i32[2]>[1, 99999999999] : i32[3]\n"
     "  return %0", 2, "cannot read the array literal"),
    ("graph f(x: f32[3]) -> f32[3]:\n  %0 = add x, array<f32[2]>[1.0, 2.0] : f32[3]\n"
     "  return %0", 2, "does not accept"),
    ("graph f(x: f32[3]) -> f32[3]:\n  %0 = add x, array<f32[3]>[1.0, 2.0] : f32[3]\n"
     "  return %0", 2, "array literal has shape (2,)"),
    ("graph f(x: f32[3]) -> f32[3]:\n  %0 = add x, 1.0.0 : f32[3]\n  return %0", 2,
     "cannot read operand '1.0.0'"),
    ("graph f(x: f32[3]) -> f32[3]:\n  %0 = add x, x, : f32[3]\n  return %0", 2,
     "cannot read operand ''"),
    ("graph f(x: f32[3]) -> f32[3]:\n  mul x, x\n  return x", 2, "expected an equation"),
]


@pytest.mark.parametrize("text, line_no, fragment", BAD)
def test_errors_name_the_line(text: str, line_no: int, fragment: str) -> None:
    with pytest.raises(IRError) as info:
        parse(text)
    message = str(info.value)
    assert fragment in message
    if line_no:
        bad_line = text.splitlines()[line_no - 1].strip()
        assert message.startswith(f"line {line_no}: ")
        assert bad_line in message
        assert info.value.lineno == line_no


def test_subgraph_errors(subgraph_prims: None) -> None:
    dup = NESTED.replace("branches[1]:", "branches[0]:")
    with pytest.raises(IRError, match="line 11: param 'branches' is given twice"):
        parse(dup)
    gap = NESTED.replace("branches[1]:", "branches[2]:")
    with pytest.raises(IRError, match=r"line 7: sub-graphs branches\[...\] must be numbered"):
        parse(gap)
    # Sub-graphs are closed: the outer %0 is not visible inside.
    leak = NESTED.replace("%2 = mul a, 2.0", "%2 = mul %0, 2.0")
    with pytest.raises(IRError, match="line 5: undefined value '%0'"):
        parse(leak)
