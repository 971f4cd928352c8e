"""Control-flow graphs and functions shared by the pass, codegen and runtime tests."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from adjit.ir import ArrayType, Builder, Graph, Var, building, emit_multi, ops

F = ArrayType("f64", (3,))
S = ArrayType("f64", ())


def graph(name: str, types: list[ArrayType], body: Callable[..., Any], names: str = "") -> Graph:
    """A graph whose inputs have `types` (and `names`, space separated), built by `body`."""
    ins = [Var(t, n) for t, n in zip(types, names.split() or [f"v{i}" for i in
                                                              range(len(types))], strict=True)]
    with building(Builder()) as b:
        outs = body(*ins)
    return b.graph(name, tuple(ins), tuple(outs if isinstance(outs, (list, tuple)) else [outs]))


def tutorial_graph() -> Graph:
    """b = a*2; while norm(b) < 1000: b = b*2; c = b if sum(b) > 0 else 100*b; sum(c)."""
    cond = graph("cond", [F], lambda b: ops.ew("lt", ops.ew("sqrt", ops.reduce_sum(
        ops.mul(b, b), (0,))), 1000.0))
    body = graph("body", [F], lambda b: ops.mul(b, 2.0))
    then = graph("then", [F], lambda b: b)
    other = graph("other", [F], lambda b: ops.mul(100.0, b))

    def f(a: Var) -> Var:
        (b,) = emit_multi("while", ops.mul(a, 2.0), cond=cond, body=body, n_consts=0)
        pred = ops.ew("gt", ops.reduce_sum(b, (0,)), 0.0)
        (c,) = emit_multi("cond", pred, b, branches=(other, then))
        return ops.reduce_sum(c, (0,))

    return graph("tutorial", [F], f, "a")


def newton_sqrt(a):  # noqa: ANN001, ANN201  (traced: plain Python on purpose)
    """sqrt(a) by Newton's method: the loop runs until the step is negligible."""
    x = a
    step = a
    while abs(step) > 1e-12:
        step = (x * x - a) / (2 * x)
        x = x - step
    return x


def tutorial(a):  # noqa: ANN001, ANN201
    """The seed tutorial's function: a data-dependent loop, then a data-dependent branch."""
    b = a * 2
    while np.linalg.norm(b) < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c.sum()


def euler(x, n, dt):  # noqa: ANN001, ANN201
    """Euler steps of dx/dt = sin(x); `n` is traced when it is an array."""
    for _ in range(n):
        x = x + dt * np.sin(x)
    return np.sum(x ** 2)
