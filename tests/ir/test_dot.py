"""`ir.dot.to_dot`: Graphviz text with forward/adjoint colors and faded pruned equations."""
from __future__ import annotations

import re

import pytest
from ir_samples import model_grad, nested

from adjit.ir import parse
from adjit.ir.dot import ADJOINT_FILL, FORWARD_FILL, PRUNED_COLOR, to_dot


def node_lines(dot: str) -> dict[str, str]:
    """Node name -> its attribute text, for `name [..];` lines."""
    found = re.findall(r"^\s*(\w+) \[(.*)\];$", dot, re.MULTILINE)
    return {name: attrs for name, attrs in found if name not in ("node", "edge", "graph")}


def test_nodes_edges_and_colors() -> None:
    g = model_grad()
    dot = to_dot(g)
    nodes = node_lines(dot)
    assert sorted(nodes) == sorted([f"in{i}" for i in range(3)] + [f"e{i}" for i in range(9)]
                                   + ["out0", "out1"])
    assert 'label="%0 = matmul x, w : f32[8,3]\\n' \
           'model.py:5"' in nodes["e0"]
    forward = [f"e{i}" for i, e in enumerate(g.eqns) if not e.role]
    adjoint = [f"e{i}" for i, e in enumerate(g.eqns) if e.role.startswith("vjp")]
    assert len(forward) == 5 and len(adjoint) == 4
    assert all(f'fillcolor="{FORWARD_FILL}"' in nodes[n] for n in forward)
    assert all(f'fillcolor="{ADJOINT_FILL}"' in nodes[n] for n in adjoint)
    # %3 = mul %2, %2 uses %2 twice; x feeds %0 and %8.
    assert dot.count("  e2 -> e3;") == 2
    assert "  in0 -> e0;" in dot and "  in0 -> e8;" in dot
    assert "  e4 -> out0;" in dot and "  e8 -> out1;" in dot
    assert dot.startswith('digraph "loss_grad" {') and dot.endswith("}\n")
    assert dot.count("{") == dot.count("}")


def test_pruned_equations_are_faded() -> None:
    g = model_grad()
    pruned = {id(g.eqns[5]), id(g.eqns[7])}
    nodes = node_lines(to_dot(g, pruned=pruned))
    for name in ("e5", "e7"):
        assert "style=dashed" in nodes[name] and f'fontcolor="{PRUNED_COLOR}"' in nodes[name]
        assert "fillcolor" not in nodes[name]
    assert "style=dashed" not in nodes["e6"]
    assert f'e3 -> e5 [style=dashed, color="{PRUNED_COLOR}"];' in to_dot(g, pruned=pruned)


def test_deterministic_and_titled() -> None:
    g = model_grad()
    assert to_dot(g) == to_dot(g) == to_dot(parse(str(g)))
    assert 'label="step 3: after prune";' in g.to_dot(title="step 3: after prune")
    assert 'label="graph loss_grad";' in to_dot(g)


def test_labels_are_escaped() -> None:
    g = parse('graph q(x: f32[]) -> f32[]:\n  %0 = neg x : f32[]  # "quoted" \\ role\n'
              '  return %0')
    assert r'\"quoted\" \\ role' in to_dot(g)


def test_subgraphs_are_clusters(subgraph_prims: None) -> None:
    dot = to_dot(nested())
    assert "subgraph cluster_e1_g0 {" in dot
    assert 'label="fn: graph double";' in dot
    assert 'label="branches[1]: graph sine";' in dot
    assert "e1 -> e1_g0_in0 [lhead=cluster_e1_g0, style=dotted, arrowhead=odot];" in dot
    # The same names as the text: numbering goes on inside sub-graphs.
    assert '"%6 = sin a : f64[3]"' in dot and '"%7 = add %3, %1 : f64[3]"' in dot


def test_dot_parses_with_pydot_when_available(subgraph_prims: None) -> None:
    pydot = pytest.importorskip("pydot")
    for g in (model_grad(), nested()):
        (parsed,) = pydot.graph_from_dot_data(to_dot(g, pruned={id(g.eqns[1])}))
        assert parsed.get_name() == f'"{g.name}"'
