"""Every primitive's JVP and VJP rules against finite differences of its numpy `impl`.

Table-driven (`prim_cases.CASES`): each primitive x shapes (scalars, vectors, matrices,
broadcasting pairs) x float64, plus a float32 smoke run whose results must stay float32.
A hypothesis property test covers random broadcasting of the binary elementwise
primitives, and a few exact tests pin down the conventions at non-smooth points
(ties, zeros), where finite differences alone would not say which value is intended.
"""
from __future__ import annotations

import functools
import zlib

import numpy as np
import pytest
from adjit.ir import PRIMS
from adjit.ir.prims.elementwise_decls import DECLS
from check import (
    check_jvp,
    check_jvp_vjp_agree,
    check_vjp,
    jvp_graph,
    primal_graph,
    run_checked,
    vjp_graph,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes
from prim_cases import CASES, Case, samplers

DTYPES = {"f64": "float64", "f32": "float32"}
GRAD = [pytest.param(c, dt, id=f"{c.id}-{dt}") for c in CASES if c.kind == "grad"
        for dt in c.dtypes]


def _inputs(case: Case, dtype: str) -> list[np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(f"{case.id}-{dtype}".encode()))
    inputs = case.make(rng, DTYPES[dtype])
    _assert_in_domain(case.prim, inputs)
    return inputs


@functools.cache
def _domain(name: str):  # noqa: ANN202
    """The declaration's domain as a numpy predicate over (x, y), or None."""
    decl = next((d for d in DECLS if d.name == name), None)
    if decl is None or decl.domain is None:
        return None
    import sympy as sp
    from adjit.ir.prims import derive

    return sp.lambdify((derive.X, derive.Y), derive.parse(decl.domain), "numpy")


def _assert_in_domain(name: str, inputs: list[np.ndarray]) -> None:
    pred = _domain(name)
    if pred is None:
        return
    xs = np.broadcast_arrays(*[a.astype(np.float64) for a in inputs])
    x, y = (list(xs) + [np.zeros_like(xs[0])])[:2]
    assert np.all(pred(x, y)), f"{name}: test inputs outside the declared domain"


@pytest.mark.parametrize("case,dtype", GRAD)
def test_vjp(case: Case, dtype: str) -> None:
    check_vjp(case.prim, _inputs(case, dtype), case.params, const=case.const, rtol=case.rtol,
              atol=case.atol, eps=case.eps)


@pytest.mark.parametrize("case,dtype", GRAD)
def test_jvp(case: Case, dtype: str) -> None:
    check_jvp(case.prim, _inputs(case, dtype), case.params, const=case.const, rtol=case.rtol,
              atol=case.atol, eps=case.eps)


@pytest.mark.parametrize("case,dtype", GRAD)
def test_jvp_vjp_transposed(case: Case, dtype: str) -> None:
    check_jvp_vjp_agree(case.prim, _inputs(case, dtype), case.params, const=case.const)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES if c.kind == "zero"])
def test_zero_derivative(case: Case) -> None:
    """stop_gradient: the identity whose rules return symbolic zeros."""
    inputs = _inputs(case, "f64")
    g, has = vjp_graph(case.prim, inputs, case.params)
    assert has == []
    (out,) = run_checked(g, *inputs, np.ones_like(inputs[0]))
    np.testing.assert_array_equal(out, PRIMS[case.prim].impl(*inputs, **case.params))
    _, _, has_tangent = jvp_graph(case.prim, inputs, case.params)
    assert not has_tangent


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES
                                  if c.kind == "nondiff"])
def test_nondiff(case: Case) -> None:
    """No rules at all; the shape rule still has to match `impl`."""
    prim = PRIMS[case.prim]
    assert prim.nondiff and prim.jvp is None and prim.vjp is None
    inputs = _inputs(case, "f64")
    if case.prim == "not_differentiable":  # the refusal of a derivative: never a value
        from adjit.ir.errors import NotDifferentiable

        with pytest.raises(NotDifferentiable, match="no derivative"):
            run_checked(primal_graph(case.prim, inputs, case.params), *inputs,
                        derivative=False)
        return
    (res,) = run_checked(primal_graph(case.prim, inputs, case.params), *inputs,
                         derivative=False)
    np.testing.assert_array_equal(res, prim.impl(*inputs, **case.params))


# ---- random broadcasting ----------------------------------------------------------------------

BINARY = sorted(d.name for d in DECLS if len(d.args) == 2)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(BINARY),
       shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 2**32 - 1))
def test_binary_broadcasting(name: str, shapes, seed: int) -> None:  # noqa: ANN001
    rng = np.random.default_rng(seed)
    inputs = [s(rng, shp) for s, shp in zip(samplers(name, 2), shapes.input_shapes, strict=True)]
    _assert_in_domain(name, inputs)
    check_vjp(name, inputs, seed=seed)
    check_jvp(name, inputs, seed=seed)


# ---- conventions at non-smooth points ---------------------------------------------------------

def _vjp(name: str, inputs: list, ct, **params) -> list[np.ndarray]:  # noqa: ANN001
    inputs = [np.asarray(a, np.float64) if not isinstance(a, np.ndarray) else a for a in inputs]
    g, has = vjp_graph(name, inputs, params)
    return list(run_checked(g, *inputs, np.asarray(ct, np.float64))[1:])


def _jvp(name: str, inputs: list, tangents: list, **params) -> np.ndarray:  # noqa: ANN001
    inputs = [np.asarray(a, np.float64) for a in inputs]
    g, _, _ = jvp_graph(name, inputs, params)
    return run_checked(g, *inputs, *[np.asarray(t, np.float64) for t in tangents])[1]


def test_reduce_max_ties_split_evenly() -> None:
    # Expected: the tied places share the cotangent equally (JAX's convention).
    x = [[1.0, 5.0, 5.0, 2.0], [3.0, 3.0, 3.0, 0.0]]
    (ct_x,) = _vjp("reduce_max", [x], [6.0, 6.0], axes=(1,))
    np.testing.assert_array_equal(ct_x, [[0, 3, 3, 0], [2, 2, 2, 0]])
    t = _jvp("reduce_max", [x], [[[0, 1, 3, 0], [3, 6, 9, 1]]], axes=(1,))
    np.testing.assert_array_equal(t, [2.0, 6.0])  # the mean of the tied tangents
    (ct_x,) = _vjp("reduce_min", [x], [4.0, 4.0], axes=(1,))
    np.testing.assert_array_equal(ct_x, [[4, 0, 0, 0], [0, 0, 0, 4]])


@pytest.mark.parametrize("x,expected", [([2.0, 0.0, 3.0, 4.0], [0.0, 24.0, 0.0, 0.0]),
                                        ([0.0, 2.0, 0.0, 4.0], [0.0, 0.0, 0.0, 0.0]),
                                        ([0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]),
                                        ([2.0, -1.0, 3.0, 0.5], [-1.5, 3.0, -1.0, -6.0])])
def test_reduce_prod_zeros(x: list[float], expected: list[float]) -> None:
    # d prod / d x_i is the product of the others, finite (no 0/0) wherever there are zeros.
    (ct_x,) = _vjp("reduce_prod", [x], 1.0, axes=(0,))
    np.testing.assert_allclose(ct_x, expected, rtol=1e-15)
    t = _jvp("reduce_prod", [x], [[1.0, 1.0, 1.0, 1.0]], axes=(0,))
    np.testing.assert_allclose(t, sum(expected), rtol=1e-15)


def test_elementwise_kinks() -> None:
    # maximum/minimum split ties evenly; |x|' = sign(x) is 0 at 0; sign' = 0.
    assert [float(c) for c in _vjp("maximum", [1.0, 1.0], 2.0)] == [1.0, 1.0]
    assert [float(c) for c in _vjp("minimum", [1.0, 1.0], 2.0)] == [1.0, 1.0]
    assert [float(c) for c in _vjp("maximum", [2.0, 1.0], 2.0)] == [2.0, 0.0]
    assert float(_vjp("abs", [0.0], 1.0)[0]) == 0.0
    assert float(_vjp("sign", [0.5], 1.0)[0]) == 0.0
    assert float(_jvp("maximum", [1.0, 1.0], [4.0, 2.0])) == 3.0


def test_relu_is_torch_threshold_backward() -> None:
    # relu's derivative selects the cotangent where out > 0 or out is NaN, and gives 0 where
    # x <= 0 (-0.0 included) even for an inf or NaN cotangent, as torch's threshold_backward.
    nan, inf = np.nan, np.inf
    x = [nan, -0.0, 0.0, 1.0, -1.0, inf, -inf]
    (ct_x,) = _vjp("relu", [x], [3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0])
    np.testing.assert_array_equal(ct_x, [3.0, 0.0, 0.0, 3.0, 0.0, 3.0, 0.0])
    (ct_x,) = _vjp("relu", [x], [nan, nan, nan, nan, inf, inf, inf])
    np.testing.assert_array_equal(ct_x, [nan, 0.0, 0.0, nan, 0.0, inf, 0.0])
    t = _jvp("relu", [x], [[2.0, 2.0, 2.0, 2.0, nan, nan, inf]])
    np.testing.assert_array_equal(t, [2.0, 0.0, 0.0, 2.0, 0.0, nan, 0.0])


def test_pow_at_zero_base() -> None:
    # d/dy x**y is 0 where x = 0 (not 0 * log 0 = NaN); d/dx uses y * x**(y-1), finite at 0.
    ct_x, ct_y = _vjp("pow", [0.0, 2.0], 1.0)
    assert (float(ct_x), float(ct_y)) == (0.0, 0.0)
    ct_x, ct_y = _vjp("pow", [0.0, 1.0], 1.0)
    assert (float(ct_x), float(ct_y)) == (1.0, 0.0)


INT_OK = [d.name for d in DECLS if not PRIMS[d.name].extra.get("float_only")]


@pytest.mark.parametrize("name", INT_OK)
def test_integer_inputs_have_no_derivative(name: str) -> None:
    # Integer operands get symbolic-zero cotangents and tangents, and the rules emit nothing
    # that fails for them.
    inputs = [np.arange(1, 13, dtype=np.int64).reshape(3, 4), np.arange(1, 5, dtype=np.int64)]
    inputs = inputs[:len(PRIMS[name].args)]
    check_vjp(name, inputs)
    check_jvp(name, inputs)
    g, has = vjp_graph(name, inputs)
    assert has == []
    run_checked(g, *inputs, np.ones((3, 4), np.int64))


def test_float32_stays_float32() -> None:
    # Every value the rules emit for float32 inputs is float32: no silent float64 promotion.
    for name in ("tanh", "logistic", "exp2", "log10", "div", "maximum", "pow", "relu"):
        args = PRIMS[name].args
        inputs = [np.full((2, 3), 0.7, np.float32) for _ in args]
        g, _ = vjp_graph(name, inputs)
        for eqn in g.eqns:
            for v in eqn.outputs:
                assert v.dtype in ("f32", "bool"), f"{name}: `{eqn.prim}` makes {v.type}"
