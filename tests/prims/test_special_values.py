"""Derivative rules at the points finite differences never visit: 0, infinities, NaN, ties.

Each rule is run by the reference interpreter (`ir.evaluate`) as a VJP (cotangent 1) and as a
JVP (a unit tangent on one input); both must give the expected partial derivative, element by
element (NaN where NaN is expected). The expected values follow PyTorch and JAX where they
agree, and the choice documented beside the declaration where they do not
(`ir/prims/elementwise_decls.py`, `ir/prims/reduce.py`). `tests/runtime/test_numerics.py`
checks the same points through the compiled and plain-Python code.
"""
from __future__ import annotations

import numpy as np
import pytest
from adjit.ir import evaluate
from check import jvp_graph, vjp_graph

INF, NAN = np.inf, np.nan


def _partials_vjp(prim: str, inputs: list[np.ndarray], params: dict | None = None,
                  const: tuple[int, ...] = ()) -> list[np.ndarray]:
    g, has = vjp_graph(prim, inputs, params, const)
    args = [a for i, a in enumerate(inputs) if i not in const]
    out_shape = evaluate(g, *args, np.zeros(g.inputs[-1].shape))[0].shape
    _, *cts = evaluate(g, *args, np.ones(out_shape))
    return [cts[has.index(i)] for i in range(len(inputs)) if i in has]


def _partial_jvp(prim: str, inputs: list[np.ndarray], i: int,
                 const: tuple[int, ...] = ()) -> np.ndarray:
    """d out / d inputs[i], elementwise (for elementwise primitives: a unit tangent)."""
    g, _, _ = jvp_graph(prim, inputs, const=const, which=[i])
    args = [a for k, a in enumerate(inputs) if k not in const]
    return evaluate(g, *args, np.ones_like(inputs[i]))[1]


def _assert(got: np.ndarray, want: list[float], what: str) -> None:
    np.testing.assert_array_equal(np.asarray(got, np.float64),
                                  np.broadcast_to(np.asarray(want, np.float64), np.shape(got)),
                                  err_msg=what)


# (x, y, d/dx, d/dy) for pow
POW = [
    (0.0, 0.0, 0.0, 0.0),     # x**0: every polynomial's constant term (PyTorch; JAX int pow)
    (-2.0, 0.0, 0.0, NAN),    # d/dy = log(-2) * 1
    (0.0, 1.0, 1.0, 0.0),
    (0.0, 2.0, 0.0, 0.0),
    (0.0, 3.0, 0.0, 0.0),
    (-2.0, 3.0, 12.0, NAN),   # 3 * x**2, not NaN from log(x)
    (-2.0, 2.0, -4.0, NAN),
    (0.0, -1.0, -INF, NAN),   # -1 * 0**-2; d/dy at the pole: NaN (JAX; PyTorch -inf)
    (-2.0, -1.0, -0.25, NAN),
    (-2.0, -2.0, 0.25, NAN),
    (0.0, 0.5, INF, 0.0),     # as JAX and PyTorch
    (0.0, 1.5, 0.0, 0.0),
    (-2.0, 0.5, NAN, NAN),
    (4.0, 0.5, 0.25, 2.0 * np.log(4.0)),
    (NAN, 0.0, 0.0, NAN),     # the y = 0 branch is exact: x**0 is 1 for every x, NaN too
    (NAN, 2.0, NAN, NAN),
]

# (x, y, d/dx, d/dy) for logaddexp
LOGADDEXP = [
    (INF, 0.0, 1.0, 0.0),
    (-INF, 0.0, 0.0, 1.0),
    (0.0, INF, 0.0, 1.0),
    (0.0, 0.0, 0.5, 0.5),
    (1000.0, 0.0, 1.0, 0.0),
    (-1000.0, 0.0, 0.0, 1.0),
    (INF, INF, 0.5, 0.5),     # ties split evenly (JAX: 1, 1; PyTorch: NaN, NaN)
    (-INF, -INF, 0.5, 0.5),   # (JAX and PyTorch: NaN, NaN)
    (INF, -INF, 1.0, 0.0),
    (INF, 1.0, 1.0, 0.0),     # (JAX: 1, e)
    (NAN, 0.0, NAN, NAN),
    (0.0, NAN, NAN, NAN),
]


@pytest.mark.parametrize("table,prim", [(POW, "pow"), (LOGADDEXP, "logaddexp")])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_rule_special_values(table: list, prim: str, dtype: type) -> None:
    x, y, dx, dy = (np.array(c, dtype) for c in zip(*table, strict=True))
    gx, gy = _partials_vjp(prim, [x, y])
    _assert(gx, dx, f"{prim} vjp d/dx at x={x}, y={y}")
    _assert(gy, dy, f"{prim} vjp d/dy at x={x}, y={y}")
    _assert(_partial_jvp(prim, [x, y], 0), dx, f"{prim} jvp d/dx")
    _assert(_partial_jvp(prim, [x, y], 1), dy, f"{prim} jvp d/dy")


@pytest.mark.parametrize("y", [0.0, 1.0, 2.0, 3.0, -1.0, 0.5])
def test_pow_literal_exponent(y: float) -> None:
    """x**k with k a constant (how `x**3` is traced): the d/dx rule alone, at 0 and x < 0."""
    x = np.array([0.0, -2.0, 1.5])
    (gx,) = _partials_vjp("pow", [x, np.array(y)], const=(1,))
    with np.errstate(all="ignore"):
        want = np.zeros(3) if y == 0 else y * x ** (y - 1)
    _assert(gx, want, f"d/dx x**{y}")


# (x, axis, d max / d x): JAX's reduce_max rule, (ct / count) * (x == max)
MAX = [
    (np.array([1.0, NAN, 3.0]), (0,), [NAN, NAN, NAN]),
    (np.array([NAN, 1.0, NAN]), (0,), [NAN, NAN, NAN]),
    (np.array([3.0, 1.0, 3.0]), (0,), [0.5, 0.0, 0.5]),
    (np.array([INF, 1.0, INF]), (0,), [0.5, 0.0, 0.5]),
    (np.array([-INF, -INF]), (0,), [0.5, 0.5]),
    (np.array([[1.0, NAN, 2.0], [3.0, 3.0, 1.0]]), (1,), [[NAN, NAN, NAN], [0.5, 0.5, 0.0]]),
    (np.array([[1.0, NAN], [3.0, 2.0]]), (0,), [[0.0, NAN], [1.0, NAN]]),
]


@pytest.mark.parametrize("x,axes,want", MAX)
@pytest.mark.parametrize("prim", ["reduce_max", "reduce_min"])
def test_chooser_nan_and_ties(x: np.ndarray, axes: tuple[int, ...], want: list,
                              prim: str) -> None:
    if prim == "reduce_min":
        x = -x
    (g,) = _partials_vjp(prim, [x], {"axes": axes})
    _assert(g, want, f"{prim} vjp at {x}")
    # the JVP with tangent e_j, read at the output x_j reduces into, is d out / d x_j
    jv = np.empty_like(x)
    gj, _, _ = jvp_graph(prim, [x], {"axes": axes})
    for j in np.ndindex(x.shape):
        t = np.zeros_like(x)
        t[j] = 1.0
        o = tuple(k for d, k in enumerate(j) if d not in axes)
        jv[j] = evaluate(gj, x, t)[1][o]
    _assert(jv, want, f"{prim} jvp at {x}")
