"""Guards decide exactly what Python decides: no tolerance around a guarded float, so a
branch is never reused on the wrong side of a threshold (np.nextafter either side, the
threshold itself, inf); a NaN guard holds while the value stays NaN instead of failing on
every call; int() truncates as Python does."""
from __future__ import annotations

import math
import sys
import textwrap
from typing import Any

import numpy as np
import pytest
from adjit.runtime.compiler import Specialization

import adjit

LIB = textwrap.dedent("""
    import numpy as np

    def branch(x):  # another module: not converted, so Python needs the values
        if np.float64(np.sum(x)) > 0.5:
            return x * 2.0
        return x * -3.0

    def branch_bool(x):
        if np.sum(x) > 0.5:
            return x * 2.0
        return x * -3.0

    def nan_branch(x):
        if np.sum(x) > np.nan:  # never true, whatever x holds
            return x * 2.0
        return x * -3.0
""")


@pytest.fixture(scope="module")
def lib(tmp_path_factory: Any) -> Any:
    path = tmp_path_factory.mktemp("exactguardlib")
    (path / "exactguardlib.py").write_text(LIB)
    sys.path.insert(0, str(path))
    import exactguardlib

    yield exactguardlib
    sys.path.remove(str(path))


def converted(x: np.ndarray) -> Any:
    t = np.sum(x)
    if np.float64(t) > 0.5:  # np.float64(): Python compares the number, adjit guards on it
        return np.sum(x * 2.0)
    return np.sum(x * -3.0)


ABOVE, BELOW = np.nextafter(0.5, 1.0), np.nextafter(0.5, 0.0)
SEQUENCES = [
    [ABOVE, BELOW, 0.5, ABOVE, BELOW],
    [BELOW, ABOVE, 0.5 + 1e-13, 0.5 - 1e-13, 0.5],  # within the old 1e-12 tolerance
    [np.inf, 1.0, -np.inf, 0.5, np.inf],
]


@pytest.mark.parametrize("values", SEQUENCES, ids=["nextafter", "tolerance", "inf"])
def test_float_guard_in_converted_code_is_exact(values: list[float]) -> None:
    f = adjit.jit(converted)
    for v in values:
        x = np.array([v])
        assert f(x) == converted(x), v


@pytest.mark.parametrize("values", SEQUENCES, ids=["nextafter", "tolerance", "inf"])
def test_library_guards_are_exact(lib: Any, values: list[float]) -> None:
    f = adjit.jit(lambda x: np.sum(lib.branch(x)))  # float(): no gradient through it
    g = adjit.value_and_grad(lambda x: np.sum(lib.branch_bool(x)))
    for v in values:
        x = np.array([v, 0.0])
        with np.errstate(invalid="ignore"):
            want = np.sum(lib.branch(x))
            assert f(x) == want or (np.isnan(want) and np.isnan(f(x))), v
            val, grad = g(x)
            assert val == want or (np.isnan(want) and np.isnan(val)), v
        assert grad.tolist() == ([2.0, 2.0] if v > 0.5 else [-3.0, -3.0]), v


def test_guard_on_the_same_value_is_reused() -> None:
    f = adjit.jit(converted)
    for _ in range(3):
        f(np.array([0.75]))
        f(np.array([0.25]))
    assert f.compilations == 2


def test_nan_guards_do_not_retrace(lib: Any) -> None:
    def self_unequal(x: np.ndarray) -> Any:
        if np.float64(x.sum()) != np.float64(x.sum()):  # NaN test, Python style
            return np.sum(x * 0.0)
        return np.sum(x * 2.0)

    def isnan(x: np.ndarray) -> Any:
        if math.isnan(np.float64(x[0])):
            return np.sum(x * 0.0)
        return np.sum(x)

    nan = np.array([np.nan, 1.0])
    for fn in (self_unequal, isnan, converted):
        f = adjit.jit(fn)
        for _ in range(4):
            out = f(nan)
            assert np.isnan(out) or out == fn(nan)
        assert f.compilations == 1, fn.__name__
        assert f(np.array([2.0, 1.0])) == fn(np.array([2.0, 1.0]))
        assert f.compilations == 2
        f(nan)
        assert f.compilations == 2, fn.__name__
    g = adjit.grad(lambda x: np.sum(lib.nan_branch(x)))
    for v in (1.0, -1.0, np.nan):
        assert g(np.array([v])).tolist() == [-3.0]
    assert g.compilations == 1


def test_int_guard_truncates_like_python() -> None:
    def f(x: np.ndarray, n: np.ndarray) -> Any:
        return np.sum(x[:int(n)])  # a slice bound from a traced float

    g = adjit.jit(f)
    x = np.arange(6.0)
    for n in (2.7, 2.2, 2.0, np.nextafter(3.0, 0.0)):
        assert g(x, np.array(n)) == 1.0
    assert g.compilations == 1
    assert g(x, np.array(3.0)) == 3.0
    assert g(x, np.array(-0.5)) == 0.0 and g(x, np.array(0.5)) == 0.0
    assert g.compilations == 3


@pytest.mark.xfail(not hasattr(Specialization, "traced_on"), strict=True,
                   reason="needs the runtime to recognise the arguments a specialization "
                          "was traced on (runtime/api.py `_traced_on`)")
def test_rounding_differences_do_not_retrace_every_call() -> None:
    """The compiled sum of exp rounds differently from the interpreter that traced it, so
    the exact guard fails on the very arguments it was traced on: they are recognised."""
    x = np.random.default_rng(0).normal(size=100_001)

    def f(x: np.ndarray) -> Any:
        s = np.sum(np.exp(x))
        if np.float64(s) > 1.0:
            return s + np.sum(x)
        return np.sum(-x)

    g = adjit.jit(f)
    for _ in range(3):
        np.testing.assert_allclose(g(x), f(x), rtol=1e-12)
    assert g.compilations == 1
    y = x.copy()
    y[0] += 1.0  # other arguments, another sum: a new trace
    np.testing.assert_allclose(g(y), f(y), rtol=1e-12)
    assert g.compilations == 2
