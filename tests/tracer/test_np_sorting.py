"""Sorting and selection on tracers (tracer/np_sorting.py): values against numpy, gradients
against finite differences, jvp, float32, ties, NaNs, and the refusals."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from np_coverage import check_group, check_values

import adjit

RNG = np.random.default_rng(0)
# distinct values, well apart: finite differences never reorder them
X35 = (RNG.permutation(15).reshape(3, 5) * 0.37 - 2.0) + RNG.uniform(0, 0.01, (3, 5))
X234 = (RNG.permutation(24).reshape(2, 3, 4) * 0.29 - 3.0) + RNG.uniform(0, 0.01, (2, 3, 4))
NAN_AT = np.zeros((3, 5), bool)
NAN_AT[0, 1] = NAN_AT[2, 0] = NAN_AT[2, 3] = True


def sorting(x):
    return [np.sort(x), np.sort(x, axis=0), np.sort(x, axis=None),
            np.take_along_axis(x, np.argsort(x)[..., -2:], axis=-1),  # top-2
            np.partition(x, 2)[:, 2], np.partition(x, 1, axis=0)[1],
            x.argsort(), np.argsort(x, axis=0, kind="stable"), np.argpartition(x, 3)[:, 3]]


def order_statistics(x):
    out = [np.median(x), np.median(x, axis=0), np.median(x, axis=(0, 2)),
           np.median(x, axis=1, keepdims=True),
           np.percentile(x, [10, 50, 95], axis=1), np.quantile(x, 0.3, axis=-1),
           np.quantile(x, np.array([[0.2], [0.7]]), axis=(1, 2), keepdims=True)]
    out += [np.quantile(x, [0.0, 0.33, 0.5, 1.0], axis=2, method=m)
            for m in ("lower", "higher", "nearest", "midpoint")]
    return out


def nan_statistics(x):
    xn = np.where(NAN_AT, np.nan, x)
    return [np.nanmedian(xn, axis=1), np.nanmedian(xn), np.nanpercentile(xn, [25, 80], axis=1),
            np.nanquantile(xn, 0.6, axis=0)]


def test_sort_argsort_partition_topk() -> None:
    check_values(sorting, X35)
    check_group(sorting, X35)


def test_median_percentile_quantile() -> None:
    check_values(order_statistics, X234)
    check_group(order_statistics, X234)


def test_nan_statistics() -> None:
    check_values(nan_statistics, X35)
    check_group(nan_statistics, X35, f32=False)
    # plain median and percentile: NaN wherever the slice holds one
    check_values(lambda x: [np.median(np.where(NAN_AT, np.nan, x), axis=1),
                            np.percentile(np.where(NAN_AT, np.nan, x), 30, axis=0)], X35)


def test_sort_gradient_with_ties_follows_the_stable_permutation() -> None:
    x = np.array([2.0, 1.0, 2.0, 0.5, 1.0])
    w = np.array([1.0, 10.0, 100.0, 1000.0, 10000.0])
    g = adjit.grad(lambda x: np.sum(np.sort(x) * w))(x)
    want = np.zeros(5)
    want[np.argsort(x, kind="stable")] = w
    np.testing.assert_array_equal(g, want)


def test_max_min_over_several_axes_split_ties() -> None:
    x = np.array([[[1.0, 3.0], [3.0, 0.0]], [[2.0, 3.0], [-1.0, 0.5]]])
    g = adjit.grad(lambda x: np.sum(np.max(x, axis=(0, 2)) * np.array([1.0, 2.0])))(x)
    want = np.zeros_like(x)
    want[0, 0, 1] = want[1, 0, 1] = 0.5  # three-way tie for slice 1 is in row 0 only
    want[0, 1, 0] = 2.0
    np.testing.assert_allclose(g, want)
    g = adjit.grad(lambda x: np.sum(np.min(x, axis=(1, 2))))(np.ones((2, 2, 2)))
    np.testing.assert_allclose(g, np.full((2, 2, 2), 0.25))


def test_searchsorted_and_unique_of_constants() -> None:
    table = np.array([0.0, 1.0, 1.0, 2.5, np.nan])
    v = np.array([-1.0, 1.0, 2.0, 2.5, 9.0, np.nan])

    def f(t, v):
        return [np.searchsorted(t, v), np.searchsorted(t, v, side="right"),
                np.searchsorted(t[::-1], v, sorter=np.array([4, 3, 2, 1, 0])),
                t.searchsorted(v[1]), np.unique(np.array([3, 1, 3, 2]))]

    check_values(f, table, v)


def test_refusals_are_clear() -> None:
    with pytest.raises(adjit.TraceError, match=r"(?s)sorts the array in place.*np.sort"):
        adjit.grad(lambda x: np.sum(x.sort()))(X35)
    with pytest.raises(adjit.TraceError, match="np.unique of a traced array"):
        adjit.grad(lambda x: np.sum(np.unique(x)))(X35)
    with pytest.raises(adjit.TraceError, match="traced quantile q"):
        adjit.grad(lambda x: np.quantile(x, x[0, 0] ** 2 / 100))(X35)
    with pytest.raises(adjit.TraceError, match="method='inverted_cdf'"):
        adjit.grad(lambda x: np.quantile(x, 0.5, method="inverted_cdf"))(X35)


def test_compiled_argsort_is_stable_with_nans_last() -> None:
    x = np.array([[3.0, np.nan, 1.0, 3.0, -np.inf, 1.0, np.nan, 0.0]] * 2)
    x[1] = x[1, ::-1]
    got = adjit.jit(lambda x: (np.argsort(x), np.sort(x, axis=0), np.median(x[:, 2:5])))(x)
    np.testing.assert_array_equal(got[0], np.argsort(x, kind="stable"))
    np.testing.assert_array_equal(got[1], np.sort(x, axis=0))
    assert got[2] == np.median(x[:, 2:5])


def test_recorded_tensor_sorts_through_the_same_table() -> None:
    x = adjit.tensor(X35, requires_grad=True)
    loss = np.sum(np.sort(x, axis=0) * np.arange(3.0)[:, None]) + np.median(x) \
        + np.sum(np.percentile(x, [20, 90], axis=1))
    loss.backward()
    want = adjit.grad(lambda x: np.sum(np.sort(x, axis=0) * np.arange(3.0)[:, None])
                      + np.median(x) + np.sum(np.percentile(x, [20, 90], axis=1)))(X35)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


floats = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                    elements=st.sampled_from([-2.0, -0.5, 0.0, 0.25, 1.0, 3.0, np.nan]))


@settings(max_examples=40, deadline=None)
@given(floats, st.integers(-3, 2), st.floats(0, 1))
def test_sort_and_quantiles_match_numpy(x: np.ndarray, axis: int, q: float) -> None:
    """Ties and NaNs included: the interpreter runs the traced graph, numpy is the oracle."""
    axis = axis % x.ndim

    def f(x):
        return [np.sort(x, axis=axis), np.argsort(x, axis=axis, kind="stable"),
                np.quantile(x, q, axis=axis), np.nanquantile(x, [q, 1 - q], axis=axis),
                np.median(x, axis=None)]

    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            check_values(f, x, rtol=1e-12, atol=1e-12)
