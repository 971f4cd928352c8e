"""Sum accumulations (unslice, scatter_add, leading-axis sums and the adds merged into them):
contributions to one index are summed before one `+=`; where the indices walk the array with
a loop (a walk: codegen/cpu_sums.py), every element is written once, with `=`, from registers
carried across iterations (the innermost loop) or as the first contribution (an outer loop). Golden
structure of the generated code, and numba and plain Python against the reference
interpreter at rtol 1e-12 (only the order of the floating-point additions may differ)."""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from adjit.ir import ArrayType, Builder, Graph, Var, building, emit, evaluate, ops
from adjit.codegen.cpu_sums import MAX_CARRY, sum_walks
from adjit.passes.lower import Layout, lower
from codegen_graphs import random_args, rosenbrock
from conftest import Compiled, Compiler

import adjit

RTOL = 1e-12


class _Acc:
    """What the CPU's sums pass decides for the one array a kernel sums into: its walk
    (None: none) and whether the array is allocated zeroed."""

    def __init__(self, c: Compiled) -> None:
        walks = sum_walks(lower(c.graph, c.plan, "k", Layout(cpu=True)))
        ((self.walk,),) = [list(w.values()) for w in walks if w]
        self.zero = self.walk is None or not self.walk.full


def _code(text: str) -> list[str]:
    """The generated lines without comments and blank lines."""
    return [ln.split("#")[0].rstrip() for ln in text.splitlines()
            if ln.strip() and not ln.strip().startswith("#")]


def _grad_array(c: Compiled) -> str:
    """The name of the array returned last (the gradient)."""
    m = re.search(r"return \(.*\b(a\d+),?\)", c.source.text)
    assert m, c.source.text
    return m.group(1)


def _writes(c: Compiled, op: str) -> list[str]:
    """The lines writing the gradient array with `op` ('=' or '+=')."""
    a = _grad_array(c)
    return [ln.strip() for ln in _code(c.source.text)
            if re.match(rf"\s*{a}\[[^\]]*\] {re.escape(op)} ", ln)]


def _check(c: Compiled, args: list[np.ndarray], rtol: float = RTOL) -> None:
    ref = evaluate(c.graph, *args)
    for how, outs in (("numba", c(*args)), ("plain Python", c.run_py(*args))):
        for i, (out, r) in enumerate(zip(outs, ref, strict=True)):
            got = np.asarray(out)
            assert got.shape == r.shape and (got.ndim == 0 or got.dtype == r.dtype)
            np.testing.assert_allclose(got, r, rtol=rtol, atol=rtol,
                                       err_msg=f"{c.graph.name} output {i} ({how})")


# ---- graphs: stencils along one axis, as the adjoint of slicing emits them ----------------------

def stencil(shape: tuple[int, ...], axis: int, step: int, offsets: tuple[int, ...],
            dtype: str = "f64") -> Graph:
    """value and 'gradient' of sum_o f_o(x[.., c + o + step * j, ..]): the slices of x along
    `axis` at the given offsets (duplicates allowed), each a different function of its slice
    and the first one, and the unslices of those contributions summed by a tree of adds (as
    the adjoint merges them)."""
    n = shape[axis]
    span = max(offsets) - min(offsets)
    m = (n - 1 - span) // abs(step) + 1  # the slices' length along `axis`
    lo = -min(offsets)
    centre = lo if step > 0 else n - 1 - max(offsets)
    x = Var(ArrayType(dtype, shape), "x")
    with building(Builder()) as b:
        ys, parts = [], []
        for o in offsets:
            starts = tuple(centre + o if d == axis else 0 for d in range(len(shape)))
            steps = tuple(step if d == axis else 1 for d in range(len(shape)))
            out = tuple(m if d == axis else s for d, s in enumerate(shape))
            ys.append((emit("slice", x, starts=starts, steps=steps, shape=out), starts, steps))
        value = None
        for k, (y, starts, steps) in enumerate(ys):
            t = ops.add(ops.mul(ops.sin(y), ys[0][0]), ops.mul(float(k + 3), y))
            s = ops.reduce_sum(t, tuple(range(len(shape))))
            value = s if value is None else ops.add(value, s)
            parts.append(emit("unslice", ops.cos(t), starts=starts, steps=steps, shape=shape))
        while len(parts) > 1:  # a balanced tree: merged accumulations of merged ones
            parts = [ops.add(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
                     for i in range(0, len(parts), 2)]
        return b.graph("stencil", (x,), (value, parts[0]))


OFFSETS = [(0,), (0, 1), (1, 0), (-2, 2), (-1, 0, 1), (-2, -1, 0, 1, 2), (2, -2, 0, 1, -1),
           (0, 0, 1, 1, 2), (-1, 1, 1, -1)]


@pytest.mark.parametrize("step", [1, -1])
@pytest.mark.parametrize("offsets", OFFSETS, ids=str)
def test_1d_stencils_store_each_element_once(offsets: tuple[int, ...], step: int,
                                              compiled: Compiler) -> None:
    c = compiled(("stencil", offsets, step), lambda: stencil((23,), 0, step, offsets))
    assert len(c.plan.kernels) == 1
    acc = _Acc(c)
    assert acc.walk is not None and acc.walk.carried and not acc.zero
    depth = max(offsets) - min(offsets)
    assert acc.walk.depth == depth
    text = c.source.text
    assert not _writes(c, "+=") and "np.zeros" not in text
    # one store per iteration; the carried elements after the loop
    assert len(_writes(c, "=")) == 1 + depth
    assert len(re.findall(r"^\s+c\d+_\d+ = ", text, re.MULTILINE)) == 2 * depth  # reset and shift
    _check(c, random_args(c.graph))


def test_float32_registers_stay_float32(compiled: Compiler) -> None:
    c = compiled("stencil32", lambda: stencil((23,), 0, 1, (-1, 0, 1), "f32"))
    assert re.search(r"^    c\d+_1 = np\.float32\(0\.0\)$", c.source.text, re.MULTILINE)
    assert not _writes(c, "+=")
    _check(c, random_args(c.graph), rtol=1e-5)


@pytest.mark.parametrize("step", [1, -1])
@pytest.mark.parametrize("offsets", [(0, 1), (-2, 0, 2), (1, -1, 0, 0)], ids=str)
def test_2d_stencils_along_the_inner_axis_carry_per_row(offsets: tuple[int, ...], step: int,
                                                        compiled: Compiler) -> None:
    c = compiled(("stencil2d", 1, offsets, step), lambda: stencil((5, 9), 1, step, offsets))
    acc = _Acc(c)
    assert acc.walk is not None and acc.walk.carried and not acc.zero
    assert not _writes(c, "+=") and "np.zeros" not in c.source.text
    # registers reset per row, inside the outer loop
    assert re.search(r"^        c\d+_1 = 0\.0$", c.source.text, re.MULTILINE)
    _check(c, random_args(c.graph))


@pytest.mark.parametrize("step", [1, -1])
@pytest.mark.parametrize("offsets", [(0, 1), (-2, 0, 2), (1, -1, 0, 0)], ids=str)
def test_2d_stencils_along_the_outer_axis_store_first(offsets: tuple[int, ...], step: int,
                                                      compiled: Compiler) -> None:
    """x[1:, :] - x[:-1, :]: the walked loop is the outer one; the contribution that reaches
    an element first is stored with `=`, the others add to it; the rows no store reaches are
    zeroed before the loops."""
    c = compiled(("stencil2d", 0, offsets, step), lambda: stencil((9, 5), 0, step, offsets))
    acc = _Acc(c)
    assert acc.walk is not None and not acc.walk.carried and not acc.zero
    assert len(_writes(c, "+=")) == len(set(offsets)) - 1
    stores = _writes(c, "=")
    assert len([s for s in stores if "i1" in s]) == 1  # in the loop; the rest are fills
    assert all(re.search(r"\[\d*:\d*, :\] = 0\.0$", s) for s in stores if "i1" not in s)
    assert "np.zeros" not in c.source.text
    _check(c, random_args(c.graph))


@pytest.mark.parametrize("offsets", [(0, 2), (0, 4, -2), (0, 1)], ids=str)
@pytest.mark.parametrize("step", [2, -3])
def test_strided_stencils(offsets: tuple[int, ...], step: int, compiled: Compiler) -> None:
    """Steps other than +-1 leave gaps (zeroed array); offsets in step with it are still
    carried, others are added."""
    c = compiled(("strided", offsets, step), lambda: stencil((31,), 0, step, offsets))
    acc = _Acc(c)
    assert acc.zero and "np.zeros" in c.source.text
    in_step = all(o % abs(step) == 0 for o in offsets)
    assert (acc.walk is not None) == in_step
    assert bool(_writes(c, "+=")) != in_step
    _check(c, random_args(c.graph))


def test_far_offsets_store_first_instead_of_carrying(compiled: Compiler) -> None:
    """More lags than MAX_CARRY registers: the farthest contribution is stored first."""
    far = MAX_CARRY + 3
    c = compiled("far", lambda: stencil((40,), 0, 1, (0, 1, far)))
    acc = _Acc(c)
    assert acc.walk is not None and not acc.walk.carried and acc.walk.depth == far
    assert len(_writes(c, "+=")) == 2 and not re.search(r"\bc\d+_1\b", c.source.text)
    _check(c, random_args(c.graph))


def test_same_index_contributions_are_summed_before_one_add(compiled: Compiler) -> None:
    """A walk is impossible (a reversed and a forward slice of one array), but contributions
    to one index still make one `+=`."""
    def make() -> Graph:
        x = Var(ArrayType("f64", (12,)), "x")
        with building(Builder()) as b:
            fwd = emit("slice", x, starts=(1,), steps=(1,), shape=(10,))
            rev = emit("slice", x, starts=(10,), steps=(-1,), shape=(10,))
            t = ops.mul(fwd, rev)
            parts = [emit("unslice", ops.sin(t), starts=(1,), steps=(1,), shape=(12,)),
                     emit("unslice", ops.cos(t), starts=(10,), steps=(-1,), shape=(12,)),
                     emit("unslice", ops.exp(t), starts=(1,), steps=(1,), shape=(12,))]
            g = ops.add(ops.add(parts[0], parts[1]), parts[2])
            return b.graph("mixed", (x,), (ops.reduce_sum(t, (0,)), g))
    c = compiled("mixed", make)
    acc = _Acc(c)
    assert acc.walk is None and acc.zero
    assert [re.sub(r"v\d+", "v", s) for s in _writes(c, "+=")] == [
        f"{_grad_array(c)}[i0 + 1] += v + v", f"{_grad_array(c)}[10 - i0] += v"]
    _check(c, random_args(c.graph))


def test_a_row_of_a_larger_array_is_walked_in_a_zeroed_array(compiled: Compiler) -> None:
    """unslice into row 3 of a 2-D array: the other rows are never written, so the array is
    allocated zeroed; the row itself is still stored once per element."""
    def make() -> Graph:
        x = Var(ArrayType("f64", (1, 10)), "x")
        with building(Builder()) as b:
            a = emit("slice", x, starts=(0, 1), steps=(1, 1), shape=(1, 9))
            c0 = emit("slice", x, starts=(0, 0), steps=(1, 1), shape=(1, 9))
            t = ops.mul(a, ops.sin(c0))
            g = ops.add(emit("unslice", t, starts=(3, 1), steps=(1, 1), shape=(6, 10)),
                        emit("unslice", ops.cos(t), starts=(3, 0), steps=(1, 1), shape=(6, 10)))
            return b.graph("row", (x,), (g,))
    c = compiled("row", make)
    acc = _Acc(c)
    assert acc.walk is not None and acc.walk.carried and acc.zero
    assert "np.zeros" in c.source.text and not _writes(c, "+=")
    _check(c, random_args(c.graph))


def test_a_reduction_over_the_outer_loop_is_not_walked(compiled: Compiler) -> None:
    """sum over axis 0 plus a shifted unslice: several rows add to one element, so the
    accumulation stays a `+=` into zeros."""
    def make() -> Graph:
        x = Var(ArrayType("f64", (4, 8)), "x")
        with building(Builder()) as b:
            y = emit("slice", x, starts=(0, 1), steps=(1, 1), shape=(4, 7))
            s = ops.reduce_sum(ops.sin(y), (0,))
            u = emit("unslice", ops.reshape(s, (1, 7)), starts=(0, 1), steps=(1, 1),
                     shape=(1, 8))
            return b.graph("colsum", (x,), (u,))
    c = compiled("colsum", make)
    _check(c, random_args(c.graph))


# ---- the traced pipeline -------------------------------------------------------------------------

def _traced(compiled: Compiler, name: str, f: Any, x: np.ndarray) -> Compiled:
    ins = adjit.inspect(adjit.value_and_grad(f), x)
    c = compiled(("traced", name, x.shape), lambda: ins.simplified)
    _check(c, [x])
    value, grad = adjit.value_and_grad(f)(x)
    ref = evaluate(c.graph, x)
    np.testing.assert_allclose(grad, ref[-1], rtol=RTOL, atol=RTOL)
    np.testing.assert_allclose(value, ref[0], rtol=RTOL, atol=RTOL)
    return c


def rosen(x: Any) -> Any:
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def test_traced_rosenbrock_golden_loop(compiled: Compiler) -> None:
    """The benchmark's Rosenbrock: g[i] = carried + the two contributions at i, one store per
    element into np.empty, the last element after the loop."""
    c = _traced(compiled, "rosenbrock", rosen, np.random.default_rng(1).normal(size=1000))
    a = _grad_array(c)
    num = a[1:]
    code = _code(c.source.text)
    assert f"    {a} = np.empty((1000,), np.float64)" in code
    loop = code.index("    for i0 in range(999):")
    body = code[loop + 1:]
    assert [re.sub(r"v\d+", "v", ln) for ln in body[-4:]] == [
        f"        {a}[i0] = c{num}_1 + v + v",
        f"        c{num}_1 = v",
        f"    {a}[999] = c{num}_1",
        f"    return (v, {a})"]
    assert f"    c{num}_1 = 0.0" in code[:loop]
    assert not _writes(c, "+=") and "np.zeros" not in c.source.text


def test_rosenbrock_joint_graph_is_stored_once(compiled: Compiler) -> None:
    c = compiled("rosenbrock", lambda: rosenbrock(50))
    a = _grad_array(c)
    assert _writes(c, "=") == [f"{a}[i0] = c{a[1:]}_1 + v16", f"{a}[49] = c{a[1:]}_1"]
    assert not _writes(c, "+=")


TRACED = {
    "roll": (lambda x: np.sum(x * np.roll(x, 2) ** 2 + np.roll(x, -1) * np.sin(x)), (17,)),
    "diff": (lambda x: np.sum(np.diff(x) ** 2 * x[1:]) + np.sum(np.diff(x, 2) ** 2), (17,)),
    "three": (lambda x: np.sum(x[2:] * x[1:-1] * np.sin(x[:-2])), (17,)),
    "reversed": (lambda x: np.sum(x[-3::-1] * np.sin(x[:1:-1]) + x[-2:0:-1] ** 3), (17,)),
    "flip": (lambda x: np.sum(x * np.flip(x) ** 3), (17,)),
    "axis0": (lambda x: np.sum((x[1:, :] - x[:-1, :] ** 2) ** 2), (7, 5)),
    "axis1": (lambda x: np.sum((x[:, 1:] - x[:, :-1] ** 2) ** 2), (7, 5)),
    "both": (lambda x: np.sum((x[1:, 1:] - x[:-1, :-1]) ** 2 * x[1:, :-1]), (7, 5)),
    "strided": (lambda x: np.sum(x[2::2] * x[:-2:2]) + np.sum(x[1::3] ** 2), (19,)),
}


@pytest.mark.parametrize("name", list(TRACED))
def test_traced_patterns(name: str, compiled: Compiler) -> None:
    f, shape = TRACED[name]
    c = _traced(compiled, name, f, np.random.default_rng(2).normal(size=shape))
    if name in ("three", "reversed", "axis1", "diff"):
        assert not _writes(c, "+=")
