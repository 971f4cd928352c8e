"""Sample graphs shared by the IR tests, with their golden text.

`nested` needs the throwaway sub-graph primitives TEST_PRIMS registered (the
`subgraph_prims` fixture in conftest.py does that and removes them afterwards); the real
`cond`/`while`/`loop` do not exist yet.
"""
from __future__ import annotations

import textwrap

from adjit.ir import (ArrayType, Builder, Graph, Loc, Primitive, Var, building, context, emit,
                      emit_multi, evaluate, ops)
from adjit.ir.primitive import CONTROL


def _call_shape(*in_types: ArrayType, fn: Graph) -> tuple[ArrayType, ...]:
    if tuple(in_types) != fn.in_types:
        raise TypeError(f"test_call: operands {in_types} do not match {fn.in_types}")
    return fn.out_types


def _switch_shape(*in_types: ArrayType, branches: tuple[Graph, ...],
                  index: int) -> tuple[ArrayType, ...]:
    for g in branches:
        _call_shape(*in_types, fn=g)
        if g.out_types != branches[0].out_types:
            raise TypeError("test_switch: branches return different types")
    if not 0 <= index < len(branches):
        raise ValueError(f"test_switch: no branch {index}")
    return branches[0].out_types


TEST_PRIMS = (
    # test_call[fn=g] xs: evaluates g on xs.
    Primitive("test_call", CONTROL, shape=_call_shape, impl=lambda *xs, fn: evaluate(fn, *xs),
              jvp=None, vjp=None, params=("fn",)),
    # test_switch[branches=(g0, g1, ...), index=i] xs: evaluates branch i on xs.
    Primitive("test_switch", CONTROL, shape=_switch_shape,
              impl=lambda *xs, branches, index: evaluate(branches[index], *xs),
              jvp=None, vjp=None, params=("branches", "index")),
)


def golden(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def f32(*shape: int) -> ArrayType:
    return ArrayType("f32", shape)


def f64(*shape: int) -> ArrayType:
    return ArrayType("f64", shape)


def model_grad() -> Graph:
    """The STYLE.md example: a tanh layer's loss and its adjoint wrt w."""
    x, w, b = Var(f32(8, 4), "x"), Var(f32(4, 3), "w"), Var(f32(3), "b")

    def at(line: int, role: str | None = None) -> context:
        return context(Loc("/home/u/model.py", line, "loss"), role)

    with building(Builder()) as bld:
        with at(5):
            h = ops.tanh(ops.add(ops.matmul(x, w), b))
        with at(6):
            sq = ops.mul(h, h)
            loss = ops.reduce_sum(sq, (0, 1))
        with at(5, "vjp(tanh)"):
            d_tanh = ops.sub(1.0, sq)
        with at(6, "vjp(mul)"):
            d_sq = ops.mul(2.0, h)
        with at(5, "vjp(tanh)"):
            ct = ops.mul(d_sq, d_tanh)
        with at(5, "vjp(matmul)"):
            ct_w = ops.matmul(x, ct, transpose_a=True)
    return bld.graph("loss_grad", (x, w, b), (loss, ct_w),
                     ("adjoint wrt w (pruned: cotangents of x and b)",))


MODEL_GRAD = golden("""
    graph loss_grad(x: f32[8,4], w: f32[4,3], b: f32[3]) -> (f32[], f32[4,3]):
      # adjoint wrt w (pruned: cotangents of x and b)
      %0 = matmul x, w : f32[8,3]                       # model.py:5
      %1 = add %0, b : f32[8,3]                         # model.py:5
      %2 = tanh %1 : f32[8,3]                           # model.py:5
      %3 = mul %2, %2 : f32[8,3]                        # model.py:6
      %4 = reduce_sum[axes=(0, 1)] %3 : f32[]           # model.py:6
      %5 = sub 1.0, %3 : f32[8,3]                       # model.py:5 vjp(tanh)
      %6 = mul 2.0, %2 : f32[8,3]                       # model.py:6 vjp(mul)
      %7 = mul %6, %5 : f32[8,3]                        # model.py:5 vjp(tanh)
      %8 = matmul[transpose_a=True] x, %7 : f32[4,3]    # model.py:5 vjp(matmul)
      return %4, %8
""")


def literals() -> Graph:
    x, n = Var(f32(3), "x"), Var(ArrayType("i32", (2, 2)), "n")
    with building(Builder()) as bld:
        a = ops.mul(x, 0.1)  # a weak float takes x's dtype: printed bare
        c = ops.maximum(a, float("-inf"))
        d = ops.add(c, ops.lit([1.5, float("nan"), float("inf")], "f32"))
        m = ops.mul(n, -3)
        k = ops.lt(m, ops.lit([[1, 2], [3, 4]], "i32"))
        s = ops.select(k, True, False)
    return bld.graph("lits", (x, n), (d, s, ops.lit(2.0, "f32"), ops.lit(7, "i64"),
                                      ops.lit(False, "bool"), ops.lit(0.5, "f64")))


LITERALS = golden("""
    graph lits(x: f32[3], n: i32[2,2]) -> (f32[3], bool[2,2], f32[], i64[], bool[], f64[]):
      %0 = mul x, 0.10000000149011612 : f32[3]
      %1 = maximum %0, -inf : f32[3]
      %2 = add %1, array<f32[3]>[1.5, nan, inf] : f32[3]
      %3 = mul n, -3 : i32[2,2]
      %4 = lt %3, array<i32[2,2]>[[1, 2], [3, 4]] : bool[2,2]
      %5 = select %4, True, False : bool[2,2]
      return %2, %5, 2.0:f32, 7, False, 0.5
""")


def nested() -> Graph:
    """Needs TEST_PRIMS registered."""
    a = Var(f64(3), "a")
    with building(Builder()) as bld:
        doubled = ops.mul(a, 2.0)
    double = bld.graph("double", (a,), (doubled,))
    branches = []
    for name, fn in (("negate", ops.neg), ("sine", ops.sin)):
        a = Var(f64(3), "a")
        with building(Builder()) as bld:
            out = fn(a)
        branches.append(bld.graph(name, (a,), (out, ops.lit(1.5, "f32"))))
    y = Var(f64(3), "y")
    with building(Builder()) as bld:
        r = emit("test_call", ops.exp(y), fn=double)
        with context(Loc("t.py", 9), "jvp(x)"):
            s1, s2 = emit_multi("test_switch", r, branches=tuple(branches), index=1)
        t = ops.add(s1, r)
    return bld.graph("outer", (y,), (t, s2))


NESTED = golden("""
    graph outer(y: f64[3]) -> (f64[3], f32[]):
      %0 = exp y : f64[3]
      %1 = test_call %0 : f64[3]
        fn: graph double(a: f64[3]) -> f64[3]:
          %2 = mul a, 2.0 : f64[3]
          return %2
      %3, %4 = test_switch[index=1] %1 : f64[3], f32[]  # t.py:9 jvp(x)
        branches[0]: graph negate(a: f64[3]) -> (f64[3], f32[]):
          %5 = neg a : f64[3]
          return %5, 1.5:f32
        branches[1]: graph sine(a: f64[3]) -> (f64[3], f32[]):
          %6 = sin a : f64[3]
          return %6, 1.5:f32
      %7 = add %3, %1 : f64[3]
      return %7, %4
""")
