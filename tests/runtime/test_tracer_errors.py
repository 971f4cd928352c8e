"""Errors that say what is wrong, at the user's line (issue 7, item 12): recursion stopping
on a traced value, ufuncs from other libraries (scipy.special), in-place assignment into
arrays, and vjp of a boolean-valued function."""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

import adjit


def _raises(fn: Any, *args: Any, match: str, line: str) -> str:
    with pytest.raises(adjit.TraceError, match=match) as info:
        fn(*args)
    text = str(info.value)
    assert line in text, text  # the user's source line is shown
    assert __file__ in text
    return text


def halve_until_small(x: Any) -> Any:
    if np.sum(x) < 1.0:  # a traced base case: both branches are traced, forever
        return x
    return halve_until_small(x / 2)


def count_down(x: Any) -> Any:
    while np.sum(x) > 1.0:
        x = count_down(x / 2)
    return x


def test_recursion_on_a_traced_condition() -> None:
    text = _raises(adjit.grad(lambda x: np.sum(halve_until_small(x))), np.ones(3),
                   match="recursion on a traced value", line="if np.sum(x) < 1.0:")
    assert "halve_until_small()" in text and "while loop" in text and "Python int" in text
    _raises(adjit.jit(count_down), np.ones(3), match="recursion on a traced value",
            line="while np.sum(x) > 1.0:")


def test_recursion_with_a_python_int_depth_still_traces() -> None:
    def rec(x: Any, n: int) -> Any:
        if n == 0:
            return x
        if np.sum(x) > 0:  # traced at every level: 2**n branch traces, but it ends
            return rec(x * 2.0, n - 1)
        return rec(x * 0.5, n - 1)

    g = adjit.value_and_grad(lambda x, n: np.sum(rec(x, n)))
    v, d = g(np.array([1.0, -3.0]), 3)
    assert v == -0.25  # the sum stays negative: halved three times
    np.testing.assert_allclose(d, [0.125, 0.125])


def test_a_scipy_ufunc_is_named_by_its_module() -> None:
    special = pytest.importorskip("scipy.special")
    # (expit, erf and many more are supported: tests/tracer/test_scipy_api.py)
    text = _raises(adjit.grad(lambda x: np.sum(special.dawsn(x))), np.ones(3),
                   match=r"^scipy\.special\.dawsn is not supported by adjit yet",
                   line="special.dawsn(x)")
    assert "numpy's" not in text
    _raises(adjit.grad(lambda x: np.sum(special.kv(1.5, x))), np.ones(3),
            match=r"^scipy\.special\.kv is not supported", line="special.kv(1.5, x)")
    _raises(adjit.grad(lambda x: np.sum(np.nextafter(x, 1.0))), np.ones(3),
            match=r"^np\.nextafter is not supported", line="np.nextafter(x, 1.0)")


def assign_into_traced(x: Any) -> Any:
    x[0] = 1.0
    return np.sum(x)


def augmented_into_numpy(x: Any) -> Any:
    y = np.ones(3)
    y += x
    return np.sum(y)


def element_into_numpy(x: Any) -> Any:
    out = np.zeros(3)
    for i in range(3):
        out[i] = x[i] * 2.0
    return np.sum(out)


def column_into_numpy(x: Any) -> Any:
    out = np.zeros((3, 2))
    out[:, 0] = x
    return np.sum(out)


def at_traced_index(x: Any) -> Any:
    out = np.zeros(3)
    out[np.argmax(x)] = 1.0
    return np.sum(out * x)


@pytest.mark.parametrize("fn", [assign_into_traced, augmented_into_numpy, element_into_numpy,
                                column_into_numpy, at_traced_index])
@pytest.mark.parametrize("transform", [adjit.grad, adjit.jit])
def test_in_place_assignment_says_so(fn: Any, transform: Any) -> None:
    line = inspect.getsource(fn).splitlines()[-2].strip()
    text = _raises(transform(fn), np.arange(3.0), match="in-place assignment", line=line)
    assert "float()" not in text and "float(" not in text.splitlines()[0]
    assert "np.where" in text and "np.stack" in text and "np.concatenate" in text


def test_storing_into_an_object_array_still_traces() -> None:
    def f(x: Any) -> Any:
        out = np.empty(3, dtype=object)  # holds the tracers themselves: nothing is written
        for i in range(3):
            out[i] = x[i] * 2.0
        return np.sum(out)

    np.testing.assert_allclose(adjit.grad(f)(np.arange(3.0)), [2.0, 2.0, 2.0])


def test_vjp_of_a_boolean_valued_function() -> None:
    """It crashed with "generator raised StopIteration": the joint graph takes cotangents of
    float outputs only (passes/adjoint.py), and the runtime passed one for the bool output."""
    out, back = adjit.vjp(lambda x: x > 0, np.ones(3))
    assert out.tolist() == [True, True, True]
    try:
        (g,) = back(np.ones(3, dtype=bool))
    except adjit.AdjitError as e:  # or a clear error
        assert "bool" in str(e)
        return
    assert g.tolist() == [0.0, 0.0, 0.0]  # piecewise constant: its VJP is zero
