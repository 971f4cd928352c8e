"""A small function's first call runs its generated source as plain Python, the second
compiles it with numba (ADJIT_COMPILE_AFTER, default 2; the rest of the suite sets 1)."""
import numpy as np
import pytest

import adjit
from adjit.runtime.compiler import Tiered


@pytest.fixture(autouse=True)
def _tiered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADJIT_COMPILE_AFTER", "2")


def _spec(f: adjit.grad) -> object:
    (spec,) = f.specializations.values()
    return spec


def test_first_call_is_python_second_compiles_same_numbers() -> None:
    f = adjit.grad(lambda x: np.sum(np.exp(x) * np.log1p(x * x) / (1 + np.tanh(x))))
    x = np.linspace(-1, 2, 40)
    first = f(x)
    spec = _spec(f)
    assert type(spec.fn) is Tiered and spec.fn.compiled is None
    second = f(x)
    assert type(spec.fn) is not Tiered and hasattr(spec.fn, "signatures")
    assert f.compilations == 1
    third = f(x)
    # The same generated text, and Python's math is the C library numba calls: the same bits.
    assert np.array_equal(first, second) and np.array_equal(second, third)
    expected = adjit.grad(lambda x: np.sum(np.exp(x) * np.log1p(x * x) / (1 + np.tanh(x))))
    np.testing.assert_allclose(first, expected(x), rtol=1e-13)


def test_ieee_edge_values_in_the_python_tier() -> None:
    f = adjit.jit(lambda x: (np.exp(x * 1000.0), np.log(x), np.sqrt(x), 1.0 / x))
    x = np.array([0.0, -1.0, 2.0])
    first = f(x)
    second = f(x)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [
    lambda: (adjit.grad(lambda x: np.sum(np.sin(x))), np.ones(100_000)),  # much work
    lambda: (adjit.grad(lambda x: np.sum(np.sin(x))), np.ones(8, np.float32)),  # float32
])
def test_large_or_float32_functions_compile_at_the_first_call(make: object) -> None:
    f, x = make()
    f(x)
    assert type(_spec(f).fn) is not Tiered


def test_compile_after_one_compiles_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADJIT_COMPILE_AFTER", "1")
    f = adjit.grad(lambda x: np.sum(x * x))
    f(np.ones(3))
    assert type(_spec(f).fn) is not Tiered


def test_python_float_errors_fall_through_to_the_compiled_function(monkeypatch) -> None:
    """The plain-Python run divides Python floats, which raise where numba gives nan or inf:
    the mean of an empty axis is numpy's nan, not a ZeroDivisionError."""
    monkeypatch.setenv("ADJIT_COMPILE_AFTER", "3")
    f = adjit.jit(lambda v: v.mean(axis=1))
    want = np.full(2, np.nan)  # numpy's mean of an empty axis (with a warning)
    np.testing.assert_array_equal(f(np.zeros((2, 0))), want)
