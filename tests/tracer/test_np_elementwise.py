"""Elementwise numpy functions on tracers (tracer/np_elementwise.py and the sympy-declared
arcsinh, arccosh, arctanh): values against numpy, gradients with numpy users' conventions
(JAX's: rounding has zero gradient; mod/fmod d/dx = 1), jvp, float32, recorded Tensor, and
`math.*` / `float()` of 0-d traced values."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from np_coverage import check_group, check_values

import adjit

# away from the kinks and jumps: x/y never an integer, x (and 10 x) never a half-integer
X = np.array([-2.6, -1.3, -0.43, 0.3, 0.7, 1.37, 2.2, 3.7])
Y = np.array([1.1, -0.7, 2.3, -1.7, 0.9, 2.6, -3.1, 0.45])


def smooth(x, y):
    return [np.arcsinh(x), np.arccosh(np.abs(x) + 1.5), np.arctanh(x / 4), np.deg2rad(x),
            np.rad2deg(x), np.degrees(y), np.radians(y), np.hypot(x, y), np.logaddexp2(x, y),
            np.cbrt(x), np.sinc(x), np.sinc(y), np.copysign(x, y), np.copysign(3.0, y),
            np.fmax(x, y), np.fmin(x, y), np.log1p(np.abs(x)), np.expm1(y), np.sign(x) * y,
            np.heaviside(x, y)]


def piecewise_constant(x, y):
    """Values, and zero gradients where numpy users expect them (JAX's conventions)."""
    return [np.floor(x) * y, np.ceil(x) * y, np.trunc(x) * y, np.rint(x) * y,
            np.round(x) * y, np.around(x, 1) * y, np.round(x * 10, -1), np.fix(x) * y,
            x.round(), np.mod(x, y), np.fmod(x, y), np.remainder(x, y), x % 1.5, np.fmod(x, 2.0),
            np.signbit(x) * y, np.isnan(x) * y, np.isinf(x) * y, np.isfinite(x) * y,
            np.logical_xor(x > 0, y > 0) * y]


def test_smooth_functions() -> None:
    check_values(smooth, X, Y, rtol=1e-13, atol=1e-13)
    check_group(smooth, X, Y, argnums=(0, 1))


def test_rounding_and_remainders() -> None:
    check_values(piecewise_constant, X, Y, rtol=1e-13, atol=1e-13)
    check_group(piecewise_constant, X, Y, argnums=(0, 1))
    # the conventions, spelled out: d fmod(x, y) = (1, -trunc(x / y)); mod: -floor(x / y)
    gx, gy = adjit.grad(lambda x, y: np.sum(np.fmod(x, y)), argnums=(0, 1))(X, Y)
    np.testing.assert_array_equal(gx, np.ones_like(X))
    np.testing.assert_array_equal(gy, -np.trunc(X / Y))
    gx, gy = adjit.grad(lambda x, y: np.sum(np.mod(x, y)), argnums=(0, 1))(X, Y)
    np.testing.assert_array_equal(gx, np.ones_like(X))
    np.testing.assert_array_equal(gy, -np.floor(X / Y))
    g = adjit.grad(lambda x: np.sum(np.round(x) + np.floor(x) + np.ceil(x) + np.rint(x)))(X)
    np.testing.assert_array_equal(g, np.zeros_like(X))


def test_special_points() -> None:
    x = np.array([-2.5, -1.5, -0.5, -0.0, 0.0, 0.5, 1.5, 2.5, np.nan, np.inf, -np.inf, 1e300])

    def f(x):
        return [np.rint(x), np.round(x), np.trunc(x), np.fix(x), np.signbit(x),
                np.copysign(1.0, x), np.sinc(x[1:8]), np.heaviside(x, 0.5), np.isfinite(x),
                np.isinf(x), np.isnan(x), np.cbrt(x[:8]), np.floor(x), np.ceil(x)]

    with np.errstate(all="ignore"):
        check_values(f, x, rtol=1e-15, atol=0)
    # sinc at 0: value 1, derivative 0 (no 0/0 on either side)
    g = adjit.grad(lambda x: np.sum(np.sinc(x)))(np.array([0.0, 0.5]))
    np.testing.assert_allclose(g, [0.0, (np.cos(np.pi / 2) * np.pi / 2 - 1) / (np.pi / 4)])


def test_integer_inputs_keep_numpy_dtypes() -> None:
    i = np.array([-3, 0, 2, 7])
    check_values(lambda i: [np.floor(i), np.ceil(i), np.trunc(i), np.rint(i), np.round(i),
                            np.isnan(i), np.isfinite(i), np.deg2rad(i), np.hypot(i, 1)], i)


def test_math_and_float_of_0d_traced_values() -> None:
    def f(x):
        a = math.exp(x[0]) + math.sqrt(x[1]) * math.log(x[1]) + math.sin(x[2])
        b = math.asinh(x[0]) + math.atanh(x[2] / 2) + math.hypot(x[0], x[1])
        return a * float(x[2]) + b + max(x[0], x[1]) + sum(v * v for v in x)

    x = np.array([0.3, 1.7, 0.6])

    def ref(x):
        return (np.exp(x[0]) + np.sqrt(x[1]) * np.log(x[1]) + np.sin(x[2])) * x[2] + \
            np.arcsinh(x[0]) + np.arctanh(x[2] / 2) + np.hypot(x[0], x[1]) + \
            np.maximum(x[0], x[1]) + np.sum(x * x)

    assert adjit.jit(f)(x) == pytest.approx(ref(x), rel=1e-13)
    check_group(lambda x: ref(x), x)  # the reference is traced too
    from check import check_grads

    check_grads(adjit.grad(f), ref, [x])


def test_recorded_tensor_elementwise() -> None:
    def loss(x, y):
        return np.sum(np.arcsinh(x) * np.hypot(x, y) + np.fmod(x, y) + np.round(x) * y
                      + np.cbrt(x) + np.copysign(x, y) + np.logaddexp2(x, y))

    x = adjit.tensor(X, requires_grad=True)
    y = adjit.tensor(Y, requires_grad=True)
    loss(x, y).backward()
    gx, gy = adjit.grad(loss, argnums=(0, 1))(X, Y)
    np.testing.assert_allclose(x.grad.numpy(), gx, rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), gy, rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v * 4) / 8),
                min_size=1, max_size=8), st.integers(-2, 3))
def test_rounding_matches_numpy(values: list[float], decimals: int) -> None:
    x = np.array(values)
    check_values(lambda x: [np.rint(x), np.round(x, decimals), np.trunc(x), np.fmod(x, 0.75),
                            np.mod(x, -1.25)], x, rtol=1e-12, atol=1e-9)


@pytest.mark.compiled  # numba's own code: its CPU target had no math.fmod (codegen/compile.py)
def test_floor_divide_and_remainders_are_numpys() -> None:
    """//, %, fmod and divmod as numpy computes them, not through floor(x / y): 1.0 // 0.1 is
    9.0 (floor(1.0 / 0.1) is 10), int64 beyond 2**53 stays exact, and a zero divisor gives
    numpy's 0 (integers) or inf/NaN (floats). Both the first (plain Python) and later
    (compiled) calls."""
    a = np.array([1.0, -7.5, 2.0**60, 5.0, -1.0, 0.0, -0.0, 7.0])
    b = np.array([0.1, 2.0, 3.0, 0.0, 0.1, 5.0, -5.0, -2.0])
    i = np.array([2**62 + 1, -7, 5, 0, -2**40 - 3, 7, -2**63, -2**63])
    j = np.array([3, 2, 0, 0, 7, -2, -1, 2])  # INT_MIN // -1 wraps to INT_MIN, as in numpy

    def f(x, y):
        return x // y, x % y, np.floor_divide(x, y), np.remainder(x, y), *np.divmod(x, y), \
            *divmod(x, y)

    jitted = adjit.jit(f)
    with np.errstate(all="ignore"):
        i32 = np.array([7, -7, 5, 0, -3, 7, -2**31, -2**31], np.int32)
        for x, y in ((a, b), (i, j), (i32, j.astype(np.int32)),
                     (a[:6], np.float64(0.1)), (7, j)):
            want = f(x, y)
            for _ in range(2):
                got = jitted(x, y)
                for g, w in zip(got, want, strict=True):
                    assert np.asarray(g).dtype == np.asarray(w).dtype
                    np.testing.assert_array_equal(g, w)
        for x, y in ((a, b), (a.astype(np.float32), np.float32(0.7))):
            got = adjit.jit(np.fmod)(x, y)
            assert got.dtype == x.dtype
            np.testing.assert_array_equal(got, np.fmod(x, y))
            np.testing.assert_array_equal(np.signbit(got), np.signbit(np.fmod(x, y)))
    # the gradients are the true quotient's: d(x % y)/dy = -(x // y), exactly
    gx, gy = adjit.grad(lambda x, y: np.sum(x % y), argnums=(0, 1))(a[:3], b[:3])
    np.testing.assert_array_equal(gy, -(a[:3] // b[:3]))
    gy = adjit.grad(lambda y: np.sum(np.fmod(a[:3], y)))(b[:3])
    np.testing.assert_allclose(gy, -np.trunc((a[:3] - np.fmod(a[:3], b[:3])) / b[:3]), rtol=1e-15)
