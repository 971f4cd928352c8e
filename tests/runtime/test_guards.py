"""Guards: a traced value that code adjit cannot capture needs (a library's `if`, `int(n)`)
is specialized on, checked on every call, and retraced when it changes."""
from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

import adjit

LIB = textwrap.dedent("""
    import numpy as np

    def scale(x):
        if np.sum(x) > 0:  # an installed library: not converted, so Python needs the value
            return x * 2.0
        return x * -3.0

    def first_n(x, n):
        return x[:int(n)]
""")


@pytest.fixture(scope="module")
def lib(tmp_path_factory):  # noqa: ANN001, ANN201
    """A module that adjit treats as an installed library (its folder counts as one)."""
    from adjit.tracer import convert

    path = tmp_path_factory.mktemp("guardlib")
    (path / "guardlib.py").write_text(LIB)
    sys.path.insert(0, str(path))
    roots = convert._LIBRARY_ROOTS
    convert._LIBRARY_ROOTS = roots + (str(path) + "/",)
    import guardlib

    yield guardlib
    convert._LIBRARY_ROOTS = roots
    sys.path.remove(str(path))


def test_library_if_is_guarded_and_retraced(lib) -> None:  # noqa: ANN001
    f = adjit.grad(lambda x: np.sum(lib.scale(x) ** 2))
    np.testing.assert_allclose(f(np.ones(3)), 8 * np.ones(3))
    np.testing.assert_allclose(f(np.full(3, 2.0)), 16 * np.ones(3))
    assert f.compilations == 1  # same branch: the guard holds
    np.testing.assert_allclose(f(-np.ones(3)), -18 * np.ones(3))
    assert f.compilations == 2  # the guard failed: retraced for the other branch
    for _ in range(3):  # both specializations are kept: no more retracing
        f(np.ones(3))
        f(-np.ones(3))
    assert f.compilations == 2


def test_inspection_lists_the_guard(lib) -> None:  # noqa: ANN001
    ins = adjit.inspect(adjit.grad(lambda x: np.sum(lib.scale(x))), np.ones(2))
    text = str(ins)
    assert "=== guards" in text
    assert "guardlib.py:5: bool(np.sum(x) > 0) was True when traced" in text


def test_int_of_a_traced_value_is_guarded(lib) -> None:  # noqa: ANN001
    f = adjit.value_and_grad(lambda x, n: np.sum(lib.first_n(x, n) ** 2))
    v, g = f(np.arange(5.0), np.array(3))
    assert v == 5.0 and g.tolist() == [0.0, 2.0, 4.0, 0.0, 0.0]
    v, g = f(np.arange(5.0), np.array(4))
    assert v == 14.0 and g.tolist() == [0.0, 2.0, 4.0, 6.0, 0.0]
    assert f.compilations == 2


def test_no_guard_inside_a_traced_loop_body(lib) -> None:  # noqa: ANN001
    def f(x):
        while np.sum(x) < 10:
            x = lib.scale(x)  # needs a value that differs per iteration: cannot be guarded
        return np.sum(x)

    with pytest.raises(adjit.TraceError, match="truth value"):
        adjit.grad(f)(np.ones(2))
