"""Minimal reproducers of bugs found by the random-program and numpy-program tests
(test_random_programs.py, test_numpy_programs.py), each checked against numpy."""
from __future__ import annotations

import math

import numpy as np
import pytest
from adjit.runtime.compiler import Specialization
from check import numeric_jacobian

import adjit

X32 = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
X64 = np.linspace(-1, 1, 12).reshape(3, 4) + 0.05


def test_ufunc_of_python_float_is_strongly_typed_as_numpy_makes_it() -> None:
    """np.sin(0.5) is an np.float64, which promotes a float32 array to float64 (NEP 50);
    `s * 2.0` stays a Python float, which does not."""
    def f(x, s):
        return np.sum(np.sin(s) * x)

    value, (gx, gs) = adjit.value_and_grad(f, argnums=(0, 1))(X32, 0.5)
    assert np.asarray(value).dtype == np.asarray(f(X32, 0.5)).dtype == np.float64
    assert gx.dtype == np.float32 and gs.dtype == np.float64
    np.testing.assert_allclose(gs, np.cos(0.5) * X32.astype(np.float64).sum(), rtol=1e-6)
    assert adjit.jit(lambda x, s: np.maximum(s, 1.0) * x)(X32, 0.5).dtype == np.float64
    assert adjit.jit(lambda x, s: (s * 2.0) * x)(X32, 0.5).dtype == np.float32


def test_numpy_scalar_arguments_are_typed() -> None:
    """An np.float64 argument (a subclass of float) was taken as a weak Python float:
    float32 array * np.float64(2.0) was float32 under jit, float64 in numpy (NEP 50)."""
    f = adjit.jit(lambda x, s: x * s)
    for s in (np.float64(2.0), 2.0):
        got = f(X32, s)
        assert got.dtype == (X32 * s).dtype
        np.testing.assert_array_equal(got, X32 * s)


@pytest.mark.parametrize("product", [
    lambda a, b: a @ b, lambda a, b: np.dot(a, b), lambda a, b: np.matmul(a, b),
    lambda a, b: np.tensordot(a, b, 1), lambda a, b: np.einsum("ij,jk->ik", a, b),
    lambda a, b: np.inner(a, b.T), lambda a, b: a @ b[:, 0],
], ids=["matmul_op", "dot", "matmul", "tensordot", "einsum", "inner", "matvec"])
def test_products_of_float64_and_float32_promote(product) -> None:
    """float64 @ float32 is float64 in numpy; adjit raised 'matmul operands have different
    dtypes' (an f32 attention whose scores were divided by np.sqrt(d), an np.float64)."""
    a = X64[:2, :3]
    b = X32.T.copy()

    def f(a, b):
        return np.sum(np.tanh(product(a, b)))

    value, (ga, gb) = adjit.value_and_grad(f, argnums=(0, 1))(a, b)
    assert np.asarray(value).dtype == np.float64
    np.testing.assert_allclose(value, f(a, b), rtol=1e-12)
    assert ga.dtype == np.float64 and gb.dtype == np.float32
    np.testing.assert_allclose(ga, numeric_jacobian(f, a, b, argnum=0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gb, numeric_jacobian(f, a, b, argnum=1), rtol=1e-5, atol=1e-6)


def test_mean_of_a_list_of_traced_values_does_not_silently_drop_the_gradient() -> None:
    """numpy's np.mean of a Python list converts the sum with float(): adjit specialized on
    that number under a guard and returned a zero gradient. Now converted code stacks the
    list (np.mean([...]) is traced), and a conversion numpy makes itself (np.float64(t))
    is an error that says so (jit still specializes; a value that does not depend on the
    argument is fine)."""
    def f(x):
        return np.mean([x[0, 0], x[1, 1]])

    want = np.zeros_like(X64)
    want[0, 0] = want[1, 1] = 0.5
    np.testing.assert_allclose(adjit.grad(f)(X64), want)

    def h(x):
        return np.sum(x) * np.float64(x[0, 0])

    with pytest.raises(adjit.TraceError, match="derivative would be lost") as info:
        adjit.grad(h)(X64)
    assert "test_fuzz_regressions.py" in str(info.value)
    assert adjit.jit(h)(X64) == pytest.approx(h(X64))
    g = adjit.grad(lambda x, y: np.sum(x) * float(y.sum()), argnums=0)(X64, X64)
    np.testing.assert_allclose(g, np.full_like(X64, X64.sum()))
    g = adjit.grad(lambda x: np.sum(x) * float(adjit.stop_gradient(x).sum()))(X64)
    np.testing.assert_allclose(g, np.full_like(X64, X64.sum()))


@pytest.mark.parametrize("f", [
    lambda x: np.sum(np.ravel(x, order="F") * np.arange(12.0)),
    lambda x: np.sum(x.flatten("F") * np.arange(12.0)),
    lambda x: np.sum(x.reshape(4, 3, order="F") * np.arange(12.0).reshape(4, 3)),
    lambda x: np.sum(np.reshape(x, (2, 6), "F") ** 2 * np.arange(12.0).reshape(2, 6)),
    lambda x: np.sum(x.reshape((2, 2, 3), order="F") * np.arange(12.0).reshape(2, 2, 3)),
], ids=["ravel", "flatten", "reshape_method", "reshape_positional", "reshape_3d"])
def test_fortran_order_reshape_and_ravel(f) -> None:
    """np.ravel(x, order='F') ignored the order: a wrong value and gradient."""
    value, g = adjit.value_and_grad(f)(X64)
    np.testing.assert_allclose(value, f(X64), rtol=1e-12)
    np.testing.assert_allclose(g, numeric_jacobian(f, X64), rtol=1e-6, atol=1e-8)


def test_memory_order_reshape_is_an_error() -> None:
    with pytest.raises(adjit.TraceError, match="order='K'"):
        adjit.grad(lambda x: np.sum(np.ravel(x, order="K")))(X64)


def test_unsupported_array_attribute_is_a_trace_error() -> None:
    """x.flat raised a raw AttributeError; it stays an AttributeError for hasattr()."""
    with pytest.raises(adjit.TraceError, match=r"\.flat"):
        adjit.grad(lambda x: x.flat[0])(X64)
    with pytest.raises(adjit.TraceError, match=r"\.sort"):
        adjit.grad(lambda x: np.sum(x.sort()))(X64)
    assert adjit.jit(lambda x: np.sum(x) * hasattr(x, "flags"))(X64) == 0.0
    with pytest.raises(AttributeError):
        adjit.jit(lambda x: x.no_such_attribute)(X64)


@pytest.mark.xfail(not hasattr(Specialization, "traced_on"), strict=True,
                   reason="guards compare exactly (issue 7 item 4); the runtime must recognise "
                          "the arguments a specialization was traced on (`_traced_on`)")
def test_float_guard_holds_up_to_rounding_and_never_retraces_forever() -> None:
    """float(y.sum()) is specialized on under a guard. The interpreter computed the value
    while tracing; the compiled sum rounds differently (0.36000000000000065 vs ...115), so
    the exact-equality guard never held: every call retraced, recursively, until
    RecursionError. Guards compare exactly, so the runtime recognises the arguments a
    specialization was traced on."""
    def f(x, y):
        return np.sum(x) * np.float64(y.sum())  # (float() itself stays traced)

    j = adjit.jit(f)
    for _ in range(3):
        assert j(X64, X64) == pytest.approx(f(X64, X64), rel=1e-12)
    assert j.compilations == 1
    assert j(X64 + 1, X64 + 1) == pytest.approx(f(X64 + 1, X64 + 1), rel=1e-12)
    assert j.compilations == 2
    g = adjit.grad(f, argnums=0)
    np.testing.assert_allclose(g(X64, X64), np.full_like(X64, X64.sum()), rtol=1e-12)
    h = adjit.jit(lambda x: np.sum(x[:int(x.sum() * 3)]))
    assert h(X64[0]) == h(X64[0]) == 0.0 and h.compilations == 1


def test_fmax_fmin_ignore_nan() -> None:
    """np.fmax / np.fmin were np.maximum / np.minimum, which propagate NaN."""
    x = np.array([1.0, np.nan, 0.5, np.nan])
    y = np.array([np.nan, 0.7, 0.6, np.nan])
    for f in (np.fmax, np.fmin, lambda a, b: np.fmax(a, 0.7), lambda a, b: np.fmin(0.7, a),
              lambda a, b: np.fmax(a[:, None], b)):
        np.testing.assert_array_equal(adjit.jit(f)(x, y), f(x, y))
    g = adjit.grad(lambda a, b: np.sum(np.fmax(a, b) * np.arange(4.0)), argnums=(0, 1))(
        np.array([1.0, 2, 3, 4]), np.array([2.0, 1, 3.5, 0]))
    np.testing.assert_array_equal(g[0], [0, 1, 0, 3])
    np.testing.assert_array_equal(g[1], [0, 0, 2, 0])


_M = np.array([[True, False, True, True], [True, True, False, False], [True, False, False, True]])


@pytest.mark.parametrize("f", [
    lambda x: np.sum(x, where=x > 0),
    lambda x: np.sum(np.sum(x, axis=1, where=_M) ** 2),
    lambda x: np.sum(np.sum(x, axis=0, where=np.array([True, False, True, True])) ** 2),
    lambda x: np.mean(x, where=x > 0),
    lambda x: np.sum(np.mean(x, axis=1, keepdims=True, where=_M) * x),
    lambda x: x.mean(1, where=_M).sum(),
    lambda x: np.var(x, where=_M),
    lambda x: np.sum(np.var(x, axis=1, ddof=1, where=_M)),
    lambda x: np.sum(np.std(x, axis=1, where=_M)),
    lambda x: np.sum(np.max(x, axis=1, where=_M, initial=-10.0)),
    lambda x: np.sum(x.min(axis=0, where=_M, initial=10.0)),
    lambda x: np.prod(x, where=_M),
], ids=["sum", "sum_axis", "sum_row_mask", "mean", "mean_keepdims", "mean_method", "var",
        "var_ddof", "std", "max", "min_method", "prod"])
def test_reductions_honour_where(f) -> None:
    """np.sum(x, where=mask) ignored the mask (a wrong value); np.mean(x, where=...) raised
    a raw TypeError."""
    value, g = adjit.value_and_grad(f)(X64)
    np.testing.assert_allclose(value, f(X64), rtol=1e-12)
    np.testing.assert_allclose(g, numeric_jacobian(f, X64), rtol=1e-6, atol=1e-8)


def test_max_with_where_needs_initial_as_in_numpy() -> None:
    with pytest.raises(adjit.TraceError, match="initial"):
        adjit.grad(lambda x: np.max(x, where=_M))(X64)


@pytest.mark.parametrize("f", [
    lambda x: np.average(x, axis=0, weights=np.arange(1.0, 4.0), returned=True)[0].sum(),
    lambda x: np.sum(np.average(x, axis=0, weights=np.arange(1.0, 4.0), returned=True)[1] * x[0]),
    lambda x: np.sum(np.average(x, axis=1, returned=True)[1] * x[:, 0]),
], ids=["average", "weight_sum", "count"])
def test_average_returned(f) -> None:
    """np.average(..., returned=True) ignored `returned`: [0] then took the first row."""
    value, g = adjit.value_and_grad(f)(X64)
    np.testing.assert_allclose(value, f(X64), rtol=1e-12)
    np.testing.assert_allclose(g, numeric_jacobian(f, X64), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f", [
    lambda x: np.sum(np.take(x, [5, -7], mode="wrap") * np.array([1.0, 2.0])),
    lambda x: np.sum(np.take(x, [5, -7, 2], mode="clip") * np.array([1.0, 2.0, 3.0])),
    lambda x: np.sum(np.take(x, np.argmax(x) + 3, mode="clip")),
    lambda x: np.sum(np.take(x, np.argmax(x) - 7, mode="wrap")),
], ids=["wrap", "clip", "clip_traced", "wrap_traced"])
def test_take_modes(f) -> None:
    """np.take's mode= was ignored: an out-of-range index raised instead of wrapping."""
    x = np.array([0.3, -1.2, 2.5, 0.7])
    value, g = adjit.value_and_grad(f)(x)
    np.testing.assert_allclose(value, f(x), rtol=1e-12)
    np.testing.assert_allclose(g, numeric_jacobian(f, x), rtol=1e-6, atol=1e-8)


def test_library_code_failing_on_a_converted_tracer_is_a_trace_error() -> None:
    """scipy.stats.skew (not one of the scipy functions adjit implements) converts its argument
    with np.asarray and then fails on the object array with a TypeError: say so at the user's
    line."""
    st = pytest.importorskip("scipy.stats")
    with pytest.raises(adjit.TraceError, match="numpy needed the values") as info:
        adjit.grad(lambda x: st.skew(x))(X64[0])
    assert "test_fuzz_regressions.py" in str(info.value)


@pytest.mark.parametrize("f", [
    lambda x: np.sum(np.diff(x, prepend=0.0) ** 2),
    lambda x: np.sum(np.diff(x, append=x[:, -1:] * 2) ** 2),
    lambda x: np.sum(np.diff(x, axis=0, prepend=x[:1], append=1.5) ** 2),
], ids=["prepend_scalar", "append_array", "both_axis0"])
def test_diff_prepend_append(f) -> None:
    """np.diff(x, prepend=...) raised Python's TypeError (unexpected keyword)."""
    value, g = adjit.value_and_grad(f)(X64)
    np.testing.assert_allclose(value, f(X64), rtol=1e-12)
    np.testing.assert_allclose(g, numeric_jacobian(f, X64), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("k", [-4, -1, 0, 1, 3, 4])
def test_diag_and_trace_with_offset(k: int) -> None:
    """np.diag(x, k) and np.trace(x, k) with k != 0 were unsupported."""
    x = X64[0]
    w = np.arange((4 + abs(k)) ** 2, dtype=float).reshape(4 + abs(k), -1)
    for f, a in ((lambda m: np.sum(np.diag(m, k) * 1.5) + np.sum(m * 0.1), X64),
                 (lambda v: np.sum(np.diag(v, k) * w), x),
                 (lambda m: np.trace(m, k) + np.trace(m, -k, 1, 0) + np.sum(m * 0.1), X64)):
        value, g = adjit.value_and_grad(f)(a)
        np.testing.assert_allclose(value, f(a), rtol=1e-12)
        np.testing.assert_allclose(g, numeric_jacobian(f, a), rtol=1e-6, atol=1e-8)


def test_small_signature_gaps() -> None:
    """dtype= of np.stack was ignored, keepdims= of a flat argmax too; var's correction=
    (numpy 2) and an unknown keyword raised Python's TypeError; x[::0] a raw ValueError."""
    assert adjit.jit(lambda a: np.stack([a, a], dtype=np.float32))(X64).dtype == np.float32
    assert adjit.jit(lambda a: np.vstack([a, a], dtype=np.float32))(X64).dtype == np.float32
    assert adjit.jit(lambda a: np.argmax(a, keepdims=True))(X64).shape == (1, 1)
    def f(a):
        return np.var(a, correction=1) + np.std(a, axis=0, correction=1).sum()

    np.testing.assert_allclose(adjit.jit(f)(X64), f(X64), rtol=1e-12)
    with pytest.raises(adjit.TraceError, match="'mean'"):
        adjit.grad(lambda a: np.std(a, mean=np.mean(a)))(X64)
    with pytest.raises(adjit.TraceError, match="'foo'"):
        adjit.grad(lambda a: a.sum(foo=1))(X64)
    with pytest.raises(adjit.TraceError, match="slice step cannot be zero"):
        adjit.grad(lambda a: np.sum(a[::0]))(X64)


# Regression: a reduction read only by a scalar kernel (an index into it) was never written
# to its buffer, and numba failed with a NameError.
@pytest.mark.parametrize("f", [
    lambda x: np.sum(x, axis=1)[0],
    lambda x: np.exp(x).sum(axis=1)[0] * 2,
    lambda x: np.sum(np.sum(x, axis=1)[1:2]),
    lambda x: np.linalg.norm(x, axis=1)[0],
], ids=["sum_index", "exp_sum_index", "sum_slice1", "row_norm_index"])
def test_index_into_a_reduction(f) -> None:
    x = np.arange(6.0).reshape(3, 2) + 0.5
    value, g = adjit.value_and_grad(f)(x)
    np.testing.assert_allclose(value, f(x), rtol=1e-12)
    np.testing.assert_allclose(g, numeric_jacobian(f, x), rtol=1e-6, atol=1e-8)


def _math_norm(x):
    return math.sqrt(np.sum(x ** 2)) + math.exp(-np.sum(x)) * 2


def _math_mix(x, s):
    return (math.pow(np.sum(x ** 2), 1.5) + math.log(np.sum(x ** 2), 2)  # noqa: FURB163
            + math.hypot(x[0], x[1]) + math.atan2(x[0], s) + math.tanh(s * x[1]))


def _math_floor(x):
    return np.sum(x) * math.floor(np.sum(x)) + np.sum(x) * math.ceil(x[0]) + math.trunc(-x[1])


@pytest.mark.parametrize("f,args,argnums", [
    (_math_norm, (np.array([0.5, 1.5]),), (0,)),
    (_math_mix, (np.array([0.5, 1.5]), 0.7), (0, 1)),
    (_math_floor, (np.array([0.5, 1.7]),), (0,)),
], ids=["sqrt_exp", "pow_log_hypot_atan2", "floor_ceil_trunc"])
def test_math_functions_of_traced_numbers(f, args, argnums) -> None:
    """math.sqrt(np.sum(x ** 2)) called float() on the tracer: adjit specialized on the
    number and the gradient through it was silently 0. Now the math functions trace."""
    value, grads = adjit.value_and_grad(f, argnums=argnums)(*args)
    assert value == pytest.approx(f(*args), rel=1e-12)
    for i, g in zip(argnums, grads, strict=True):
        np.testing.assert_allclose(g, numeric_jacobian(f, *args, argnum=i), rtol=1e-6,
                                   atol=1e-8)


def _ridge(w, X, y, lam=0.1):
    return np.mean((X @ w - y) ** 2) + lam * np.sum(w ** 2)


def test_keyword_arguments_to_a_transformed_function() -> None:
    """grad(loss)(w, X=X, y=y) raised Transformed.__call__'s TypeError."""
    w, X, y = X64[0, :3], X64[:, :3], X64[:, 3]
    g = adjit.grad(_ridge)
    expected = g(w, X, y)
    np.testing.assert_allclose(g(w, X, y=y), expected)
    np.testing.assert_allclose(g(w=w, X=X, y=y), expected)
    np.testing.assert_allclose(g(w, X, y, lam=0.5), g(w, X, y, 0.5))
    value, (_, glam) = adjit.value_and_grad(_ridge, argnums=(0, 3))(w, X, y=y, lam=0.5)
    assert value == pytest.approx(_ridge(w, X, y, 0.5))
    assert glam == pytest.approx(np.sum(w ** 2))
    with pytest.raises(TypeError, match="missing a required argument"):
        g(w, X, lam=0.5)
