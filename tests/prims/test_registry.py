"""The primitive registry is complete: every primitive has its rules, the derived elementwise
table is up to date with its declarations, and every primitive has a test case."""
from __future__ import annotations

import pytest
from adjit.ir import PRIMS
from adjit.ir.primitive import ELEMENTWISE
from adjit.ir.prims import _derived
from adjit.ir.prims.elementwise_decls import DECLS
from prim_cases import CASES

NAMES = sorted(PRIMS)


@pytest.mark.parametrize("name", NAMES)
def test_rules_present(name: str) -> None:
    prim = PRIMS[name]
    assert prim.name == name
    assert callable(prim.shape) and callable(prim.impl), f"{name} lacks a shape rule or impl"
    if prim.nondiff:
        # No rules at all: a pass must treat the output as constant, never call a rule.
        assert prim.jvp is None and prim.vjp is None, f"nondiff {name} has derivative rules"
    else:
        assert callable(prim.jvp) and callable(prim.vjp), f"{name} lacks a jvp or vjp rule"
    if prim.kind == ELEMENTWISE:
        assert prim.code and prim.args, f"elementwise {name} lacks its scalar code or args"
    assert callable(prim.batching_rule()), f"{name} has no batching rule"
    # Rules that transform sub-graphs get the passes handed in, so the primitive says so.
    if any(p in ("branches", "body", "cond") for p in prim.params):
        assert prim.takes_passes, f"{name} has sub-graphs but does not take the passes"


def test_ir_never_imports_passes() -> None:
    """ir is the lower layer: rules that need a pass receive it (`SubgraphPasses`)."""
    import pathlib
    import re

    import adjit.ir

    root = pathlib.Path(adjit.ir.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"(from|import)\s+adjit\.passes|from \.\.+passes", text), path


def test_batching_rules_are_declared_beside_the_primitive() -> None:
    from adjit.ir import batching

    assert PRIMS["matmul"].batching_rule() is batching.matmul
    assert PRIMS["exp"].batching_rule() is batching.elementwise
    assert PRIMS["reduce_sum"].batching_rule() is batching.axes_shifted
    assert PRIMS["cond"].batching_rule() is batching.per_example


def test_declarations_are_registered_and_derived() -> None:
    names = [d.name for d in DECLS]
    assert len(set(names)) == len(names), "a declaration appears twice"
    assert set(names) == set(_derived.TABLE), "_derived.TABLE and elementwise_decls disagree"
    for d in DECLS:
        prim = PRIMS[d.name]
        assert prim.kind == ELEMENTWISE and prim.args == d.args and prim.expr == d.expr
        assert prim.code == _derived.TABLE[d.name]["code"]
        assert prim.extra.get("domain") == d.domain


def test_derived_table_is_up_to_date() -> None:
    """`_derived.py` is what `python -m adjit.ir.prims.derive` writes today."""
    from adjit.ir.prims import derive

    assert derive.decls_hash() == _derived.DECLS_HASH, \
        "elementwise_decls.py changed: run `python -m adjit.ir.prims.derive`"
    assert derive.derive_all() == _derived.TABLE, \
        "_derived.py is stale: run `python -m adjit.ir.prims.derive`"


def _decompositions_tested() -> set[str]:
    """Decompositions with several outputs or symmetric inputs (ir/prims/decomp.py) are
    checked through numpy's functions in tests/tracer/test_np_linalg.py and
    tests/complex/test_linalg_complex.py (see tests/prims/linalg_cases.py)."""
    import pathlib

    tests = pathlib.Path(__file__).parents[1]
    text = ((tests / "tracer" / "test_np_linalg.py").read_text()
            + (tests / "complex" / "test_linalg_complex.py").read_text())
    names = {"cholesky": "LA.cholesky", "eigh": "LA.eigh", "svd": "LA.svd", "qr": "LA.qr",
             "slogdet": "LA.slogdet", "eig": "LA.eig("}
    return {name for name, call in names.items() if call in text}


def _control_tested() -> set[str]:
    """Control-flow primitives' rules transform sub-graphs, so they are tested with the passes
    (tests/passes/test_control_rules.py), which must name each one."""
    import pathlib

    text = (pathlib.Path(__file__).parents[1] / "passes" / "test_control_rules.py").read_text()
    return {name for name, p in PRIMS.items() if p.kind == "control" and f'"{name}"' in text
            or (p.kind == "control" and name == "while_grad" and "differentiate" in text)}


def test_every_primitive_has_a_test_case() -> None:
    covered = {c.prim for c in CASES} | _control_tested() | _decompositions_tested()
    missing = sorted(set(PRIMS) - covered)
    assert not missing, f"primitives without a case in tests/prims/prim_cases.py: {missing}"
    unknown = sorted({c.prim for c in CASES} - set(PRIMS))
    assert not unknown, f"cases for unregistered primitives: {unknown}"


def test_case_kinds_match_the_registry() -> None:
    for c in CASES:
        prim = PRIMS[c.prim]
        expected = "nondiff" if prim.nondiff else c.kind
        assert c.kind == expected, f"{c.id}: kind {c.kind!r}, primitive nondiff={prim.nondiff}"
        assert set(c.params) == set(prim.params), \
            f"{c.id}: params {sorted(c.params)}, primitive declares {prim.params}"


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(set(ids)) == len(ids), sorted({i for i in ids if ids.count(i) > 1})
