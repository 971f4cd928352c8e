"""Property: for random valid graphs, the text round-trips and the parsed graph computes the
same thing. `str(parse(str(g))) == str(g)`, `verify` accepts both, `evaluate` agrees exactly
(NaNs included), and `to_dot` cannot tell them apart.

The generator builds random chains of elementwise, comparison/select, convert, reduce,
reshape, transpose, broadcast_to, matmul, slice, cumsum, concatenate and gather equations
over random f32/f64 shapes, with weak Python scalars, typed scalar literals (some printed
with a `:dtype` suffix), float/int array literals, random locations, roles and notes.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adjit.ir import (ArrayType, Builder, Graph, Lit, Loc, Value, Var, building, context, emit,
                      evaluate, ops, parse, verify)
from adjit.ir.dot import to_dot

Draw = Callable[[st.SearchStrategy[Any]], Any]
NewInput = Callable[[ArrayType], Value]

FLOATS = st.sampled_from([0.5, -3.0, 2.0, 0.0, -0.0, 0.1, 1e-7, 1e30, float("nan"), float("inf"),
                          float("-inf")]) | st.floats(width=32)
LOCS = (None, Loc("model.py", 3), Loc("/src/layers.py", 41, "dense"))
ROLES = (None, "vjp(tanh)", "jvp(mul)", "vjp(matmul) of the loss", "recompute")


def shapes(min_ndim: int = 0) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(st.integers(1, 4), min_size=min_ndim, max_size=3).map(tuple)


def array_types() -> st.SearchStrategy[ArrayType]:
    return st.builds(ArrayType, st.sampled_from(["f32", "f64"]), shapes())


def array_lit(draw: Draw, t: ArrayType) -> Lit:
    elements = {"bool": st.booleans(), "i32": st.integers(-9, 9), "i64": st.integers(-9, 9)}
    values = draw(st.lists(elements.get(t.dtype, FLOATS), min_size=t.size, max_size=t.size))
    return Lit.make(np.array(values).reshape(t.shape), t.dtype)


def pick(draw: Draw, pool: list[Value]) -> Value:
    return draw(st.sampled_from(pool))


# ---- one random equation (or a few) per op --------------------------------------------------

def unary(draw: Draw, pool: list[Value], new_input: NewInput) -> Value:
    name = draw(st.sampled_from(["neg", "exp", "tanh", "sin", "abs", "sqrt", "log1p",
                                 "logistic", "stop_gradient", "floor"]))
    return ops.ew(name, pick(draw, pool))


def other_operand(draw: Draw, x: Value, new_input: NewInput) -> Any:
    """A second operand that broadcasts with x: weak scalar, typed literal, array, input."""
    kind = draw(st.sampled_from(["weak", "lit", "array", "input", "self"]))
    if kind == "weak":
        return draw(FLOATS)
    if kind == "lit":
        return Lit.make(draw(FLOATS), draw(st.sampled_from(["f32", "f64"])))
    if kind == "self":
        return x
    tail = x.shape[len(x.shape) - draw(st.integers(0, len(x.shape))):]
    if draw(st.booleans()):  # numpy broadcasting also stretches size-1 axes
        tail = tuple(1 if draw(st.booleans()) else d for d in tail)
    t = ArrayType(x.dtype if x.type.is_float else "f64", tail)
    return array_lit(draw, t) if kind == "array" else new_input(t)


def binary(draw: Draw, pool: list[Value], new_input: NewInput) -> Value:
    x = pick(draw, pool)
    y = other_operand(draw, x, new_input)
    if draw(st.booleans()):
        x, y = y, x
    name = draw(st.sampled_from(["add", "sub", "mul", "div", "maximum", "minimum", "pow",
                                 "arctan2"]))
    return ops.ew(name, x, y)


def compare_select(draw: Draw, pool: list[Value], new_input: NewInput) -> Value:
    x = pick(draw, pool)
    cond = ops.ew(draw(st.sampled_from(["lt", "ge", "eq"])), x, other_operand(draw, x, new_input))
    return ops.select(cond, x, draw(FLOATS))


def convert(draw: Draw, pool: list[Value], new_input: NewInput) -> Value:
    if draw(st.booleans()):  # a literal-only equation: its operand prints with `:dtype`
        lit = Lit.make(draw(FLOATS), draw(st.sampled_from(["f32", "f64"])))
        return emit("convert", lit, dtype=draw(st.sampled_from(["f32", "f64", "i32"])))
    return ops.convert(pick(draw, pool), draw(st.sampled_from(["f32", "f64", "i32", "i64"])))


def reduce(draw: Draw, pool: list[Value], new_input: NewInput) -> Value:
    x = pick(draw, pool)
    axes = tuple(sorted(draw(st.sets(st.integers(0, max(x.type.ndim - 1, 0)), min_size=1))))
    if x.type.ndim == 0:
        return x
    name = draw(st.sampled_from(["reduce_sum", "reduce_max", "reduce_min", "reduce_prod"]))
    return emit(name, x, axes=axes)


def reshape(draw: Draw, pool: list[Value], new_input: NewInput) -> Value:
    x = pick(draw, pool)
    shape = x.shape
    how = draw(st.sampled_from(["flat", "reversed", "unit"]))
    if how == "flat":
        shape = (x.type.size,)
    elif how == "reversed":
        shape = shape[::-1]
    else:
        at = draw(st.integers(0, len(shape)))
        shape = shape[:at] + (1,) + shape[at:]
    return ops.reshape(x, shape)


def transpose(draw: Draw, pool: list[Value], new_input: NewInput) -> Value:
    x = pick(draw, pool)
    return ops.transpose(x, draw(st.permutations(range(x.type.ndim))))


def broadcast(draw: Draw, pool: list[Value], new_input: NewInput) -> Value:
    x = pick(draw, pool)
    shape = tuple(draw(st.integers(1, 3)) if d == 1 else d for d in x.shape)
    if draw(st.booleans()) or shape == x.shape:
        shape = (draw(st.integers(1, 3)),) + shape
    return ops.broadcast_to(x, shape)


def matmul(draw: Draw, pool: list[Value], new_input: NewInput) -> Value:
    x = pick(draw, pool)
    if x.type.ndim < 2:
        x = ops.reshape(x, (1, x.type.size))
    if draw(st.booleans()):  # x @ x.T or x.T @ x
        flag = draw(st.sampled_from(["transpose_a", "transpose_b"]))
        return ops.matmul(x, x, **{flag: True})
    t = x.type.with_shape(x.shape[:-2] + (x.shape[-1], draw(st.integers(1, 3))))
    other = array_lit(draw, t) if draw(st.booleans()) else new_input(t)
    return ops.matmul(x, other)


def slice_(draw: Draw, pool: list[Value], new_input: NewInput) -> Value:
    x = pick(draw, pool)
    starts, steps, sizes = [], [], []
    for n in x.shape:
        step = draw(st.sampled_from([1, 2, -1]))
        start = draw(st.integers(0, n - 1))
        room = (n - 1 - start) // step + 1 if step > 0 else start // -step + 1
        starts.append(start)
        steps.append(step)
        sizes.append(draw(st.integers(1, room)))
    return emit("slice", x, starts=tuple(starts), steps=tuple(steps), shape=tuple(sizes))


def axis_ops(draw: Draw, pool: list[Value], new_input: NewInput) -> Value:
    x = pick(draw, pool)
    if x.type.ndim == 0:
        return x
    axis = draw(st.integers(0, x.type.ndim - 1))
    which = draw(st.sampled_from(["cumsum", "concatenate", "gather", "argmax"]))
    if which == "concatenate":
        return emit("concatenate", x, x, axis=axis)
    if which == "gather":  # an integer array literal
        idx = draw(st.lists(st.integers(0, x.shape[axis] - 1), min_size=1, max_size=4))
        return emit("gather", x, Lit.make(np.array(idx), draw(st.sampled_from(["i32", "i64"]))),
                    axis=axis)
    return emit(which, x, axis=axis)


OPS = (unary, binary, compare_select, convert, reduce, reshape, transpose, broadcast, matmul,
       slice_, axis_ops)


@st.composite
def graphs(draw: Draw) -> Graph:
    inputs: list[Value] = []
    names = st.sampled_from(["x", "w", "b", "x_1", "h", None])

    def new_input(t: ArrayType) -> Value:
        inputs.append(Var(t, draw(names)))
        return inputs[-1]

    pool = [new_input(draw(array_types())) for _ in range(draw(st.integers(1, 3)))]
    with building(Builder()) as bld:
        for _ in range(draw(st.integers(1, 8))):
            with context(draw(st.sampled_from(LOCS)), draw(st.sampled_from(ROLES))):
                pool.append(draw(st.sampled_from(OPS))(draw, pool, new_input))
    outputs = [pool[-1], *draw(st.lists(st.sampled_from(pool), max_size=2))]
    if draw(st.booleans()):
        outputs.append(Lit.make(draw(FLOATS), draw(st.sampled_from(["f32", "f64"]))))
    notes = draw(st.lists(st.sampled_from(["adjoint wrt x", "pruned: b", ""]), max_size=2))
    name = draw(st.sampled_from(["f", "loss_grad", "<lambda>"]))
    return bld.graph(name, tuple(inputs), tuple(outputs), tuple(notes))


def random_args(g: Graph, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(v.shape) * 2).astype(v.type.np_dtype) for v in g.inputs]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 2**32 - 1))
def test_text_round_trip_and_evaluate(g: Graph, seed: int) -> None:
    verify(g)
    text = str(g)
    parsed = parse(text)
    verify(parsed)
    assert str(parsed) == text
    assert parse(g.format(locs=False)).format(locs=False) == g.format(locs=False)
    assert to_dot(parsed) == to_dot(g)
    args = random_args(g, seed)
    for want, got in zip(evaluate(g, *args), evaluate(parsed, *args), strict=True):
        assert want.dtype == got.dtype and want.shape == got.shape
        np.testing.assert_array_equal(want, got)
