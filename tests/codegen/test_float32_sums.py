"""float32 sums accumulate in float64 and are rounded once (passes/lower.py `wide`,
codegen/cpu_sums.py): the shape of the generated code, numba and plain Python
against the reference interpreter, and accuracy against the exact sum where float32
accumulation would lose it.

Relative error of a float32 sum of n terms added in order grows like sqrt(n) * 6e-8 (and
linearly for terms of one sign): 2^22 terms of 0.1 in float32 order are off by about 1e-3.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from adjit.ir import ArrayType, Builder, Graph, Var, building, emit, evaluate, ops
from conftest import Compiled, Compiler

BIG = 2**22


def _check_small(c: Compiled, args: list[np.ndarray]) -> None:
    """numba and plain Python equal the interpreter (float32 tolerance), arrays' dtypes kept
    (numba returns a 0-d result as a Python float) and 0-d values rounded to float32."""
    ref = evaluate(c.graph, *args)
    for how, outs in (("numba", c(*args)), ("plain Python", c.run_py(*args))):
        for i, (out, r) in enumerate(zip(outs, ref, strict=True)):
            got = np.asarray(out)
            assert got.dtype == r.dtype or (got.ndim == 0 and got == np.float32(got)), \
                f"output {i} ({how}): {got.dtype} != {r.dtype}"
            np.testing.assert_allclose(got, r, rtol=1e-6, atol=1e-6,
                                       err_msg=f"{c.graph.name} output {i} ({how})")


def _rel(got: np.ndarray, exact: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(got, np.float64) - exact) / np.abs(exact)))


def _graph(name: str, shapes: list[tuple[tuple[int, ...], str]], body) -> Graph:
    xs = [Var(ArrayType(dt, s), f"x{i}") for i, (s, dt) in enumerate(shapes)]
    with building(Builder()) as b:
        outs = body(*xs)
        return b.graph(name, tuple(xs), tuple(outs))


def full_sum(n: int, dtype: str) -> Graph:
    return _graph("full", [((n,), dtype)], lambda x: [ops.reduce_sum(ops.mul(x, x), (0,))])


def row_sums(rows: int, n: int) -> Graph:
    return _graph("rows", [((rows, n), "f32")], lambda x: [ops.reduce_sum(x, (1,))])


def col_sums(n: int, cols: int) -> Graph:
    return _graph("cols", [((n, cols), "f32")], lambda x: [ops.reduce_sum(x, (0,))])


def scatter(n: int, size: int) -> Graph:
    def body(v: Var, idx: Var) -> list:
        return [emit("scatter_add", v, idx, axis=0, size=size)]
    return _graph("scatter", [((n,), "f32"), ((n,), "i64")], body)


@pytest.mark.parametrize("n", [7, 1000])
def test_full_sum_register(n: int, compiled: Compiler) -> None:
    c = compiled(("f32sum", n), lambda: full_sum(n, "f32"))
    text = c.source.text
    assert re.search(r"^    (v\d+)_w = np\.float64\(0\.0\)$", text, re.MULTILINE), text
    # still the vectorizable add, now on the float64 register
    assert re.search(r"(v\d+)_w = fm\.reassoc_add\(\1_w, ", text), text
    assert re.search(r"^    (v\d+) = np\.float32\(\1_w\)$", text, re.MULTILINE), text
    _check_small(c, [np.linspace(-1, 2, n, dtype=np.float32)])


def test_float64_sums_are_unchanged(compiled: Compiler) -> None:
    c = compiled(("f64sum", 1000), lambda: full_sum(1000, "f64"))
    assert "_w" not in c.source.text and "astype" not in c.source.text


def test_full_sum_accuracy(compiled: Compiler) -> None:
    c = compiled(("f32sum", BIG), lambda: full_sum(BIG, "f32"))
    x = np.full(BIG, 0.1, np.float32)
    x[::3] = 1.7
    (got,) = c(x)
    assert got == np.float32(got)  # rounded to float32 (numba returns it as a Python float)
    assert _rel(got, np.sum(x.astype(np.float64) ** 2)) < 1e-7


def test_row_sums_register_per_row(compiled: Compiler) -> None:
    c = compiled(("rows", 3, 5), lambda: row_sums(3, 5))
    # the register is reset and rounded inside the row loop
    assert re.search(r"^        (v\d+)_w = np\.float64\(0\.0\)$", c.source.text, re.MULTILINE)
    assert re.search(r"^        (v\d+) = np\.float32\(\1_w\)$", c.source.text, re.MULTILINE)
    _check_small(c, [np.arange(15, dtype=np.float32).reshape(3, 5) / 7])
    big = compiled(("rows", 2, BIG // 2), lambda: row_sums(2, BIG // 2))
    x = np.full((2, BIG // 2), 0.1, np.float32)
    assert _rel(big(x)[0], x.astype(np.float64).sum(axis=1)) < 1e-7


def test_column_sums_accumulate_in_a_float64_array(compiled: Compiler) -> None:
    c = compiled(("cols", 6, 3), lambda: col_sums(6, 3))
    text = c.source.text
    m = re.search(r"^    (a\d+)_w = np\.zeros\(\(3,\), np\.float64\)$", text, re.MULTILINE)
    assert m, text
    assert re.search(rf"^    {m.group(1)} = {m.group(1)}_w\.astype\(np\.float32\)$", text,
                     re.MULTILINE), text
    _check_small(c, [np.arange(18, dtype=np.float32).reshape(6, 3) / 7])
    big = compiled(("cols", BIG // 4, 4), lambda: col_sums(BIG // 4, 4))
    x = np.full((BIG // 4, 4), 0.1, np.float32)
    assert _rel(big(x)[0], x.astype(np.float64).sum(axis=0)) < 1e-7


def test_scatter_add_accumulates_in_float64(compiled: Compiler) -> None:
    """The adjoint of x[idx] with repeated indices: many terms per element."""
    c = compiled(("scatter", 10, 4), lambda: scatter(10, 4))
    assert re.search(r"(a\d+)_w\[.*\] \+= ", c.source.text), c.source.text
    idx = np.array([0, 1, 1, 3, 3, 3, 0, 2, 1, 3])
    _check_small(c, [np.linspace(0, 1, 10, dtype=np.float32), idx])
    big = compiled(("scatter", BIG, 2), lambda: scatter(BIG, 2))
    v = np.full(BIG, 0.1, np.float32)
    idx = np.arange(BIG) % 2
    exact = np.bincount(idx, v.astype(np.float64))
    assert _rel(big(v, idx)[0], exact) < 1e-7


def test_walked_accumulators_stay_float32(compiled: Compiler) -> None:
    """A shifted-slice gradient (a few terms per element, each stored once) is not widened."""
    def body(x: Var) -> list:
        a = emit("unslice", ops.sin(x), starts=(0,), steps=(1,), shape=(9,))
        b = emit("unslice", ops.cos(x), starts=(1,), steps=(1,), shape=(9,))
        return [ops.add(a, b)]
    c = compiled("walk32", lambda: _graph("walk", [((8,), "f32")], body))
    assert "_w" not in c.source.text and "astype" not in c.source.text
    _check_small(c, [np.linspace(0, 1, 8, dtype=np.float32)])
