"""Indexing compiled by numba agrees with numpy (tests/tracer/test_indexing.py checks the
rules on the reference interpreter): advanced indices separated by a slice, traced index
arrays, and the scatter-add gradient with repeated indices."""
from __future__ import annotations

import numpy as np
import pytest

import adjit


def test_separated_advanced_indices_value_and_gradient() -> None:
    x = np.random.default_rng(0).normal(size=(5, 6, 7))
    w = np.random.default_rng(1).normal(size=(2, 4))

    def f(x):
        return np.sum(x[3, 2:, [1, 3]] * w)

    assert adjit.jit(lambda x: x[3, 2:, [1, 3]])(x).shape == (2, 4)
    v, g = adjit.value_and_grad(f)(x)
    np.testing.assert_allclose(v, f(x))
    expect = np.zeros_like(x)
    np.add.at(expect, (3, slice(2, None), [1, 3]), w)
    np.testing.assert_allclose(g, expect)


def test_traced_indices_repeat_and_broadcast() -> None:
    x = np.random.default_rng(2).normal(size=(4, 3, 5))
    i = np.array([[0], [3], [3]])
    j = np.array([4, 4, 0, 1])

    def f(x, i, j):
        return np.sum(x[i, 1:, j] ** 2)  # B = (3, 4) goes first: a slice separates i and j

    g = adjit.grad(f)(x, i, j)
    expect = np.zeros_like(x)
    np.add.at(expect, (i, slice(1, None), j), 2 * x[i, 1:, j])
    np.testing.assert_allclose(g, expect)
    np.testing.assert_allclose(adjit.jit(lambda x, i, j: x[i, 1:, j])(x, i, j), x[i, 1:, j])


def test_boolean_arrays_and_new_axes() -> None:
    x = np.random.default_rng(3).normal(size=(3, 4))
    m = np.array([True, False, True, True])
    out = adjit.jit(lambda x: x[None, :, m, None])(x)
    np.testing.assert_array_equal(out, x[None, :, m, None])
    np.testing.assert_array_equal(adjit.jit(lambda x: x[True, ..., [0, 0]])(x),
                                  x[True, ..., [0, 0]])


def test_traced_indices_out_of_bounds_are_numpys_error_not_a_wild_read() -> None:
    """A traced index out of range read and wrote outside the array (garbage, a segfault in
    the scatter-add of the gradient). It is numpy's IndexError, as a ShapeError, on the first
    call and on later ones (a guard), and compiled code clamps traced indices meanwhile."""
    x = np.arange(3.0)
    f = adjit.jit(lambda x, i: x[i])
    np.testing.assert_array_equal(f(x, np.array([1, -1])), [1.0, 2.0])
    for bad in (np.array([5, 0]), np.array([-4]), np.array([100_000_000])):
        with pytest.raises(adjit.ShapeError, match="out of bounds"):
            f(x, bad)
    np.testing.assert_array_equal(f(x, np.array([2, -3])), [2.0, 0.0])
    assert f.compilations == 1
    g = adjit.grad(lambda x, i: np.sum(x[i] ** 2))
    np.testing.assert_array_equal(g(x, np.array([1, 1])), [0.0, 4.0, 0.0])
    with pytest.raises(adjit.ShapeError, match="index 7 is out of bounds"):
        g(x, np.array([7, -9]))
    with pytest.raises(adjit.ShapeError, match="out of bounds"):
        adjit.grad(lambda x, i: np.sum(np.take_along_axis(x, i, 1)))(
            np.ones((2, 3)), np.array([[0], [3]]))
