"""Printer goldens: the text form of hand-built graphs, byte for byte."""
from __future__ import annotations

import pytest
from ir_samples import LITERALS, MODEL_GRAD, NESTED, f32, literals, model_grad, nested

from adjit.ir import Graph, Var


def test_model_grad_golden() -> None:
    assert str(model_grad()) == MODEL_GRAD


def test_locs_false_drops_comments_but_keeps_notes() -> None:
    text = model_grad().format(locs=False)
    assert "model.py" not in text and "vjp" not in text
    assert "  # adjoint wrt w" in text
    assert "%8 = matmul[transpose_a=True] x, %7 : f32[4,3]\n" in text


def test_literal_golden() -> None:
    """Scalars print bare where the parser infers their dtype, with `:dtype` elsewhere."""
    assert str(literals()) == LITERALS


def test_subgraph_golden(subgraph_prims: None) -> None:
    """Sub-graphs print under their equation, each a closed scope; %N numbering goes on."""
    assert str(nested()) == NESTED


@pytest.mark.parametrize("names, printed", [
    (("x", "x", "x_1"), "x: f32[], x_1: f32[], x_1_1: f32[]"),
    ((None, "2bad", "ok"), "arg: f32[], arg_1: f32[], ok: f32[]"),
])
def test_input_names_are_unique_identifiers(names: tuple, printed: str) -> None:
    ins = tuple(Var(f32(), n) for n in names)
    g = Graph("g", ins, (), ins)
    assert str(g).splitlines()[0] == f"graph g({printed}) -> (f32[], f32[], f32[]):"
