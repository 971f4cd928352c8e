"""Kernel plans: golden plans of the target graphs, and invariants every plan keeps (each
equation in one kernel, kernels after what they read, outputs written)."""
from __future__ import annotations

import doctest
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "codegen"))

import adjit.passes.fuse as fuse_module
from adjit.ir import Graph, Lit, Var
from adjit.passes.fuse import KernelPlan, fuse
from codegen_graphs import (
    PRIM_CASES,
    TRICKY,
    build_group,
    mlp,
    rosenbrock,
    softmax_ce,
    sum_x2_exp,
    tanh_expr,
)


def test_docstring_example() -> None:
    result = doctest.testmod(fuse_module)
    assert result.attempted > 0 and result.failed == 0


GOLDEN = {
    "sum_x2_exp": (sum_x2_exp, """\
k0 loop(1000) %0-%10 reads x writes %10 | i0<1000[sum %3, store %10] | passes 1
memory passes: 1 (1 kernel)"""),
    "tanh_expr": (tanh_expr, """\
k0 loop(1000) %0-%30 reads x, y writes %25, %30 | i0<1000[sum %10, store %25, store %30] \
| passes 1
memory passes: 1 (1 kernel)"""),
    "softmax_ce": (softmax_ce, """\
k0 loop(8,10) %0-%28 reads z, y writes %28 | i0<8[i1<10[max %0, sum %14], \
i1<10[sum %4, sum %24], i1<10[sum %9, sum %21], i1<10[store %28]] | passes 4
memory passes: 4 (1 kernel)"""),
    "mlp": (mlp, """\
k0 matmul(16,12) %0 reads x, w1 writes %0 | passes 1
k1 loop(16,12) %1-%2 reads %0, b1 writes %2 | i0<16[i1<12[store %2]] | passes 1
k2 matmul(16,3) %3 reads %2, w2 writes %3 | passes 1
k3 loop(16,3) %4-%10 reads %3, b2, y writes %9, %10 | i0<16[i1<3[sum %7, acc %10, store %9]] \
| passes 1
k4 matmul(12,3) %11 reads %2, %9 writes %11 | passes 1
k5 matmul(16,12) %12 reads %9, w2 writes %12 | passes 1
k6 loop(16,12) %13-%16 reads %12, %2 writes %15, %16 | i0<16[i1<12[acc %16, store %15]] \
| passes 1
k7 matmul(20,12) %17 reads x, %15 writes %17 | passes 1
memory passes: 8 (8 kernels)"""),
    "rosenbrock": (rosenbrock, """\
k0 loop(49) %0-%19 reads x writes %19 | i0<49[sum %9, acc %17, acc %18] | passes 1
memory passes: 1 (1 kernel)"""),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_plan(name: str) -> None:
    make, text = GOLDEN[name]
    plan = fuse(make())  # the plan the back ends lower
    assert str(plan) == text
    assert plan.memory_passes == sum(k.passes for k in plan.kernels)


def _all_graphs() -> list[tuple[str, Graph]]:
    graphs = [(n, make()) for n, (make, _) in GOLDEN.items()]
    graphs += [(n, make()) for n, make in TRICKY.items()]
    names = list(PRIM_CASES)
    graphs += [(f"prims{i}", build_group(names[i:i + 10], "f64")[0])
               for i in range(0, len(names), 10)]
    return graphs


@pytest.mark.parametrize("name,graph", _all_graphs(), ids=[n for n, _ in _all_graphs()])
def test_plan_invariants(name: str, graph: Graph) -> None:
    plan = fuse(graph)
    owner: dict[int, int] = {}
    for k in plan.kernels:
        assert k.members, f"k{k.index} is empty"
        for i in k.members:
            assert i not in owner, f"eqn {i} in k{owner[i]} and k{k.index}"
            owner[i] = k.index
    assert sorted(owner) == list(range(len(graph.eqns)))
    written: dict[Var, int] = {}
    for k in plan.kernels:
        for v in k.reads:
            assert isinstance(v, Lit) or v in graph.inputs or written.get(v, k.index) < k.index, \
                f"k{k.index} reads {plan.name(v)} before it is written"
        for v in k.writes:
            written[v] = k.index
    for v in graph.outputs:
        if isinstance(v, Var) and v not in graph.inputs and v.shape != ():
            assert plan.buffer(v) in written, f"output {plan.name(v)} is never written"
    assert str(plan).splitlines()[-1].startswith(f"memory passes: {plan.memory_passes} ")
    # one line per kernel (the plans of control flow's functions are indented under theirs)
    top = [ln for ln in str(plan).splitlines() if not ln.startswith(" ")]
    assert isinstance(plan, KernelPlan) and len(plan.kernels) == len(top) - 1


def _scratch_rows(plan) -> list:
    from adjit.codegen.cpu import cpu_program

    return [t for k in cpu_program(plan.graph, plan, "k").kernels() for t in k.temps]


def test_scratch_only_for_small_rows() -> None:
    plan = fuse(softmax_ce(2, 100_000))
    assert not _scratch_rows(plan)  # a 100k row would not stay in cache: recomputed
    assert plan.kernels[0].passes == 4


def test_fusion_is_target_neutral_and_the_cpu_adds_scratch_rows_on_the_loop_ir() -> None:
    plan = fuse(softmax_ce(8, 10))
    (k,) = plan.kernels
    before = str(plan)
    (row,) = _scratch_rows(plan)  # exp(z - max), computed by the second sibling loop
    assert row.buf == "s3" and row.shape == (10,)
    assert str(plan) == before and len(k.roots) == len(set(map(id, k.roots)))


def test_registers_needing_two_loops_split_the_kernel() -> None:
    plan = fuse(TRICKY["conflict"]())
    assert [k.kind for k in plan.kernels] == ["loop", "loop"]
    assert plan.stored  # the row maxima cross to the second kernel as an array


def test_expensive_values_move_to_their_users() -> None:
    """tanh(w) read transposed only by a later kernel is computed there, not stored."""
    plan = fuse(TRICKY["two_indices"]())
    assert len(plan.kernels) == 2
    assert "tanh" in plan.eqn_text[plan.kernels[1].members[0]]


def test_cheap_values_are_recomputed_across_kernels() -> None:
    plan = fuse(TRICKY["chain"]())
    loops = [k for k in plan.kernels if k.kind == "loop"]
    assert loops[1].recomputed == [0] and loops[2].recomputed == [0]  # x * 3 is redone
    stored = {plan.name(v) for v in plan.stored}
    assert "%0" not in stored and "%1" in stored  # ... but sin(x) is stored once


def test_unsupported_primitive_is_a_codegen_error() -> None:
    from adjit.ir import ArrayType, Eqn
    from adjit.ir.errors import CodegenError

    x = Var(ArrayType("f64", (2,)), "x")
    y = Var(ArrayType("f64", (2,)))
    g = Graph("g", (x,), (Eqn("no_such_primitive", (x,), (y,)),), (y,))
    with pytest.raises(CodegenError, match="no_such_primitive"):
        fuse(g)


# A predicate vector whose elements feed conds (the batched `if` of adjit.vmap): its slices
# run in a loop over 2, and the bool[3] once sank into that loop and was stored for 2 elements.
PREDICATES = """graph g(a: f64[3,2]) -> (f64[2], f64[2]):
  %0 = reduce_sum[axes=(1,)] a : f64[3]
  %1 = gt %0, 0.0 : bool[3]
  %2 = slice[shape=(1,), starts=(0,), steps=(1,)] %1 : bool[1]
  %3 = reshape[shape=()] %2 : bool[]
  %4 = slice[shape=(1, 2), starts=(0, 0), steps=(1, 1)] a : f64[1,2]
  %5 = reshape[shape=(2,)] %4 : f64[2]
  %6 = cond %3, %5 : f64[2]
    branches[0]: graph if_false(a: f64[2]) -> f64[2]:
      %7 = neg a : f64[2]
      return %7
    branches[1]: graph if_true(a: f64[2]) -> f64[2]:
      %8 = mul a, 2.0 : f64[2]
      return %8
  %9 = slice[shape=(1,), starts=(2,), steps=(1,)] %1 : bool[1]
  %10 = reshape[shape=()] %9 : bool[]
  %11 = slice[shape=(1, 2), starts=(2, 0), steps=(1, 1)] a : f64[1,2]
  %12 = reshape[shape=(2,)] %11 : f64[2]
  %13 = cond %10, %12 : f64[2]
    branches[0]: graph if_false(a: f64[2]) -> f64[2]:
      %14 = neg a : f64[2]
      return %14
    branches[1]: graph if_true(a: f64[2]) -> f64[2]:
      %15 = mul a, 2.0 : f64[2]
      return %15
  return %6, %13
"""


def test_a_value_sinks_only_into_a_kernel_that_can_store_it(tmp_path: pathlib.Path) -> None:
    import numpy as np

    from adjit.codegen.compile import compile_source
    from adjit.codegen.cpu import emit_cpu
    from adjit.ir import evaluate, parse

    g = parse(PREDICATES)
    plan = fuse(g)
    for k in plan.kernels:
        for v in plan.stored:
            if plan.info[v].kernel == k.index and k.kind == "loop":
                assert tuple(d for d in v.shape if d != 1) == k.domain[:len(
                    [d for d in v.shape if d != 1])], plan
    src = emit_cpu(g, plan, "g_kernel")
    run = compile_source(src, tmp_path, jit=False)
    a = np.array([[1.0, 2.0], [-3.0, 1.0], [0.5, -2.0]])
    for got, want in zip(run(a, *src.consts), evaluate(g, a), strict=True):
        np.testing.assert_array_equal(got, want)


# The VJP of np.max(np.array([[x, x], [x, x]]), axis=1) (autograd's test_max_equal_values_2d):
# the last kernel is a loop(2) whose members were all sliced down to scalars (no root),
# reading the row counts (%10, a register of the kernel before) at constant indices.
SCALARS_OF_A_REGISTER = '''graph g(x: f64[], ct: f64[2]) -> (f64[2], f64[]):
  %0 = reshape[shape=(1,)] x : f64[1]
  %1 = concatenate[axis=0] %0, %0 : f64[2]
  %2 = concatenate[axis=0] %0, %0 : f64[2]
  %3 = reshape[shape=(1, 2)] %1 : f64[1,2]
  %4 = reshape[shape=(1, 2)] %2 : f64[1,2]
  %5 = concatenate[axis=0] %3, %4 : f64[2,2]
  %6 = reduce_max[axes=(1,)] %5 : f64[2]
  %7 = reshape[shape=(2, 1)] %6 : f64[2,1]
  %8 = eq %5, %7 : bool[2,2]
  %9 = convert[dtype='f64'] %8 : f64[2,2]
  %10 = reduce_sum[axes=(1,)] %9 : f64[2]
  %11 = div ct, %10 : f64[2]
  %12 = reshape[shape=(2, 1)] %11 : f64[2,1]
  %13 = mul %12, %9 : f64[2,2]
  %14 = slice[shape=(1, 2), starts=(0, 0), steps=(1, 1)] %13 : f64[1,2]
  %15 = slice[shape=(1, 2), starts=(1, 0), steps=(1, 1)] %13 : f64[1,2]
  %16 = reshape[shape=(2,)] %15 : f64[2]
  %17 = reshape[shape=(2,)] %14 : f64[2]
  %18 = slice[shape=(1,), starts=(0,), steps=(1,)] %16 : f64[1]
  %19 = reshape[shape=()] %18 : f64[]
  %20 = slice[shape=(1,), starts=(0,), steps=(1,)] %17 : f64[1]
  %21 = slice[shape=(1,), starts=(1,), steps=(1,)] %17 : f64[1]
  %22 = reshape[shape=()] %21 : f64[]
  %23 = add %19, %22 : f64[]
  %24 = reshape[shape=()] %20 : f64[]
  %25 = add %23, %24 : f64[]
  return %6, %25'''


def test_a_register_read_by_a_later_kernels_scalars_is_stored(tmp_path: pathlib.Path) -> None:
    """A later kernel's one-element results read a reduction's register at constant indices:
    the register is stored, and the kernel lists what it reads (it was a NameError)."""
    import numpy as np

    from adjit.codegen.compile import compile_source
    from adjit.codegen.cpu import emit_cpu
    from adjit.ir import evaluate, parse

    g = parse(SCALARS_OF_A_REGISTER)
    plan = fuse(g)
    src = emit_cpu(g, plan, "g_kernel")
    run = compile_source(src, tmp_path, jit=False)
    x, ct = np.array(1.0), np.array([1.0, 2.0])
    got = run(x, ct, *src.consts)
    for a, b in zip(got, evaluate(g, x, ct), strict=True):
        np.testing.assert_array_equal(a, b)
    assert got[1] == 2.0
