"""`x[key]` follows numpy exactly: shapes, values and gradients (scatter-add), for keys
mixing integers, slices, None, Ellipsis, integer arrays (constant, listed or traced) and
boolean arrays. numpy is the oracle: `x[key]` for the value, `np.add.at` for the gradient.
Graphs run on the reference interpreter here; tests/runtime/test_indexing_compiled.py
runs a few through numba."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from adjit.ir import evaluate
from adjit.passes.pipeline import differentiate
from adjit.tracer import trace
from hypothesis import given, settings
from hypothesis import strategies as st

import adjit


def _traced_key(key: tuple[Any, ...], traced: list[int]) -> Any:
    """A function of (x, *index arrays) indexing x by `key`, entries at `traced` positions
    replaced by the traced index arguments."""
    def f(x: Any, *idx: Any) -> Any:
        k = list(key)
        for pos, t in zip(traced, idx, strict=True):
            k[pos] = t
        return x[tuple(k)]

    return f


def check_key(x: np.ndarray, key: Any, traced: tuple[int, ...] = ()) -> None:
    tkey = key if isinstance(key, tuple) else (key,)
    idx = [np.asarray(tkey[i]) for i in traced]
    f = _traced_key(tkey, list(traced))
    try:
        want = x[key]
    except IndexError:
        with pytest.raises(adjit.AdjitError):
            trace(f, (x, *idx), concrete=False)
        return
    (got,) = evaluate(trace(f, (x, *idx), concrete=False).graph, x, *idx)
    assert got.shape == want.shape, (key, got.shape, want.shape)
    np.testing.assert_array_equal(got, want)
    # The gradient of sum(x[key] * w) is w scattered back with np.add.at (repeats add up).
    w = np.random.default_rng(0).normal(size=want.shape)
    g = trace(lambda x, *i: (f(x, *i) * w).sum(), (x, *idx), concrete=False).graph
    grad = evaluate(differentiate(g, [0]).simplified, x, *idx)[-1]
    expect = np.zeros_like(x)
    np.add.at(expect, key, w)
    np.testing.assert_allclose(grad, expect, rtol=1e-12, atol=1e-12)


X = np.arange(3 * 4 * 5 * 6, dtype=float).reshape(3, 4, 5, 6)


@pytest.mark.parametrize("key", [
    (3 - 1, slice(2, None), [1, 3]),  # the issue's x[3, 2:, [1, 3]] on a 4-d array
    (0, slice(None), [0, 1], 2),  # separated advanced indices (ints count): B goes first
    ([0, 1], None, [1, 2]),  # None separates too
    (slice(None), [0], [1]),  # adjacent: B stays in place
    (slice(None), [0], 1),  # an int next to an array is adjacent to it
    (True,), ([0, 1], True), (slice(None), True, [0, 1]), (Ellipsis, False),
    (np.array(1), slice(None), [0, 1]),  # a 0-d integer array is an integer
    (np.ones((3, 4), bool),), (slice(None), np.ones((4, 5), bool), 0),
    ([],), (slice(None), [], 0),
    ([[0, 1], [2, 0]], slice(None), [[1], [2]], Ellipsis),
    (Ellipsis, [1, -1]), (None, 1, None, [0, 2], slice(None, None, -2)),
    ([0, 2], [1, 3], [0, 4], [5, 0]), (1, 2, 3, 4), (slice(None), np.array([1, 0, 1, 1], bool)),
    ([0, 0, 1],), (slice(None), [1, 1, 1], slice(None), [2, 2, 2]),  # repeats add up
], ids=str)
def test_keys_like_numpy(key: Any) -> None:
    check_key(X, key)


def test_the_issue_example_shape() -> None:
    x = np.zeros((5, 6, 7))
    (got,) = evaluate(trace(lambda x: x[3, 2:, [1, 3]], (x,), concrete=False).graph, x)
    assert got.shape == x[3, 2:, [1, 3]].shape == (2, 4)


@pytest.mark.parametrize("key,traced", [
    ((slice(None), np.array([2, 0]), 1), (1,)),
    ((np.array([[0, 1]]), slice(None), np.array([[3], [-1]])), (0, 2)),
    ((1, slice(1, 3), np.array([0, 3, 3])), (2,)),
    ((np.array(2), slice(None), np.array([1, 0])), (0, 2)),  # a traced 0-d integer
    ((Ellipsis, np.array([0, 5, 5])), (1,)),
])
def test_traced_integer_arrays(key: tuple[Any, ...], traced: tuple[int, ...]) -> None:
    check_key(X, key, traced)


def test_list_of_traced_integers() -> None:
    def f(x: Any, i: Any, j: Any) -> Any:
        return x[[i, j], :, 0]

    i, j = np.array(2), np.array(0)
    (got,) = evaluate(trace(f, (X, i, j), concrete=False).graph, X, i, j)
    np.testing.assert_array_equal(got, X[[2, 0], :, 0])


@pytest.mark.parametrize("key", [
    (0, 0, 0, 0, 0), (slice(None), 4), ([0, 3],), (1.0,), (Ellipsis, Ellipsis),
    (np.ones((3, 3), bool),), ([0, 1], [0, 1, 2]), (np.array([0.5]),),
], ids=str)
def test_bad_keys_are_errors(key: Any) -> None:
    check_key(X, key)


# ---- generated keys ----------------------------------------------------------------------------

def _entries(draw: Any, dims: tuple[int, ...], bshape: tuple[int, ...],
             traced: list[int], offset: int) -> list[Any]:
    """Index entries consuming exactly the axes `dims` (None and 0-d booleans between)."""
    key: list[Any] = []
    axis = 0
    while axis < len(dims):
        n = dims[axis]
        kind = draw(st.sampled_from(["int", "slice", "slice", "none", "array", "list",
                                     "traced", "bool", "bool0"]))
        if kind in ("none", "bool0"):  # no axis consumed
            key.append(None if kind == "none" else draw(st.booleans()))
            continue
        if kind == "int":
            key.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            key.append(slice(draw(st.none() | st.integers(-n - 1, n + 1)),
                             draw(st.none() | st.integers(-n - 1, n + 1)),
                             draw(st.sampled_from([None, 1, 2, -1, -2, 3]))))
        elif kind == "bool":
            k = draw(st.integers(1, min(2, len(dims) - axis)))
            sub = dims[axis:axis + k]
            m = draw(st.lists(st.booleans(), min_size=int(np.prod(sub)),
                              max_size=int(np.prod(sub))))
            key.append(np.array(m, bool).reshape(sub))
            axis += k - 1
        else:
            sub = bshape[draw(st.integers(0, len(bshape))):]  # broadcasts against bshape
            sub = tuple(1 if draw(st.booleans()) else d for d in sub)
            vals = draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(sub)),
                                 max_size=int(np.prod(sub))))
            arr = np.array(vals, dtype=np.int64).reshape(sub)
            if kind == "list":
                key.append(arr.tolist() if arr.ndim else int(arr))
            else:
                if kind == "traced":
                    traced.append(offset + len(key))
                key.append(arr)
        axis += 1
    return key


@st.composite
def shapes_and_keys(draw: Any) -> tuple[tuple[int, ...], tuple[Any, ...], tuple[int, ...]]:
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    bshape = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))  # the arrays' broadcast
    lead = draw(st.integers(0, len(shape)))  # axes indexed before an Ellipsis ...
    trail = draw(st.integers(0, len(shape) - lead))  # ... and after it
    traced: list[int] = []
    key = _entries(draw, shape[:lead], bshape, traced, 0)
    if draw(st.booleans()):
        key.append(Ellipsis)
        key += _entries(draw, shape[len(shape) - trail:], bshape, traced, len(key))
    if not key or draw(st.booleans()):
        pos = draw(st.integers(0, len(key)))
        key.insert(pos, None)
        traced = [t + 1 if t >= pos else t for t in traced]
    return shape, tuple(key), tuple(traced)


@settings(max_examples=300, deadline=None)
@given(shapes_and_keys())
def test_generated_keys_like_numpy(case: tuple[tuple[int, ...], tuple[Any, ...],
                                               tuple[int, ...]]) -> None:
    shape, key, traced = case
    x = np.arange(int(np.prod(shape)), dtype=float).reshape(shape)
    # (Where a boolean array's True count does not broadcast with the other index arrays,
    # numpy raises IndexError, and adjit must raise too: check_key checks both.)
    check_key(x, key if len(key) != 1 or traced else key[0], traced)


def test_bounds_guard_only_where_an_index_can_be_out_of_range() -> None:
    """A traced index argument gets a bounds guard (tests/runtime/test_indexing_compiled.py);
    an argmax's is in range by construction and gets none."""
    x = np.arange(6.0)
    in_range = trace(lambda x: x[np.argmax(x)] + np.take_along_axis(
        x[None], np.argmax(x[None], axis=1)[:, None], 1).sum(), (x,))
    assert in_range.guards == ()
    assert len(trace(lambda x, i: x[i], (x, np.array([1]))).guards) == 1
