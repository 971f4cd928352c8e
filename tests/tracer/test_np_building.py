"""Array building, slicing and windowing on tracers (tracer/np_building.py): values against
numpy, gradients against finite differences, jvp and float32, one traced function per
group; the refusals of functions whose output size depends on the values."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from np_coverage import check_group, check_values

import adjit

# numpy's own warnings on the reference side (2-vector cross, all-NaN slices)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore::RuntimeWarning")
RNG = np.random.default_rng(1)
A = RNG.normal(size=(3, 4))
B = RNG.normal(size=(2, 3, 4))
V = RNG.normal(size=5)
W = RNG.normal(size=3)
SPECIAL = np.array([0.0, np.inf, np.nan, -np.inf, 0.0])


def triangles_and_products(b):
    a = b[0]
    return [np.tril(a, -1), np.triu(a, 1), np.tril(b), np.triu(a[0]),
            np.diagonal(b, 1, 1, 2), np.diagonal(b, -1, 2, 0), b.diagonal(),
            np.trace(b, 0, 0, 2), np.trace(a, 1), a.trace(), np.kron(a, a[:2, :2]),
            np.kron(a[0], a), np.cross(b[..., :3], b[..., 1:]), np.cross(a[:, :2], a[:, 1:3]),
            np.cross(b[:, :, :3], b[::-1, :, 1:], axisa=1, axisb=1, axisc=0),
            np.outer(b, a[0])]


def padding_and_splitting(a):
    widths = ((3, 2), (1, 4))
    return [np.pad(a, ((1, 2), (0, 3)), constant_values=((1.0, 2.0), (3.0, 4.0))),
            np.pad(a, 1, constant_values=a[0, 0]), np.pad(a, 2, mode="edge"),
            np.pad(a, widths, mode="reflect"), np.pad(a, widths, mode="symmetric"),
            np.pad(a, ((5, 2), (1, 4)), mode="wrap"), np.pad(a[0], (2, 1), mode="reflect"),
            np.split(a, 2, axis=1), np.array_split(a, 3, axis=1), np.hsplit(a, [1, 3]),
            np.vsplit(a, [2]), np.dsplit(a[None, :, :], [1]), np.array_split(a[0], [-1, 10])]


def axes_and_stacking(b):
    a = b[0]
    return [np.rot90(b), np.rot90(b, 2), np.rot90(b, 3, axes=(1, 2)), np.rot90(b, -1),
            np.rollaxis(b, 2), np.rollaxis(b, 0, 3), np.atleast_3d(a), np.atleast_3d(a[0]),
            np.atleast_3d(a[0, 0]), np.dstack([a, a * 2]), np.dstack([a[0], a[1]]),
            np.append(a, a[0]), np.append(a, a[:1], axis=0),
            np.insert(a, 1, 5.0, axis=1), np.insert(a, [0, 2, 2], a[:, :3] * 3, axis=1),
            np.insert(a, 2, a[0], axis=0), np.insert(a, 3, [1.0, 2.0]),
            np.insert(a, slice(0, 2), 7.0, axis=0),
            np.delete(a, 1, axis=1), np.delete(a, [0, 2]), np.delete(a, slice(0, 2), 0)]


def ranges_and_choices(v):
    return [np.linspace(v[0], v[1], 7), np.linspace(v[:2], v[2:4], 4, axis=1),
            np.linspace(v[0], 3.0, 5, endpoint=False), np.linspace(0.0, v[2], 3, retstep=True),
            np.logspace(v[0], v[1], 4), np.logspace(v[0], 1.0, 3, base=2.0),
            *np.meshgrid(v, v[:3]), *np.meshgrid(v, v[:3], v[:2], indexing="ij"),
            *np.meshgrid(v[:2], v[1:4], sparse=True),
            np.select([v < 0, v > 1], [v ** 2, v * 3], default=v + 1),
            np.select([v > 0], [v], 0.5),
            np.piecewise(v, [v < 0, v > 0.5], [lambda x: x ** 2, lambda x: x * 3, 7.0]),
            np.piecewise(v, v > 0, [np.sin, np.cos]),
            np.nan_to_num(np.where(np.array([True, False, False, True, False]), np.nan, v)),
            np.nan_to_num(np.where(SPECIAL == 0, v, SPECIAL), posinf=9.0, neginf=-8.0)]


def differences_and_windows(a):
    v, w = a[0], a[1, :3]
    return [*np.gradient(a), np.gradient(v, 0.5), np.gradient(a, 2.0, axis=1, edge_order=2),
            np.gradient(v, edge_order=2), np.diff(a, 2, axis=1), np.ediff1d(a, to_begin=a[0, 0]),
            np.convolve(v, w), np.convolve(v, w, "same"), np.convolve(v, w, "valid"),
            np.convolve(w, v, "same"), np.convolve(v, w[:2], "same"),
            np.correlate(v, w), np.correlate(v, w, "same"), np.correlate(v, w, "full"),
            np.correlate(w, v, "full"), np.correlate(w, v, "same"), np.correlate(w[:2], v, "same"),
            np.correlate(v, w[:2], "same"),
            np.interp(v * 2, np.array([-1.0, 0.0, 0.5, 2.0]), a[2] * 3),
            np.interp(np.array([-3.0, 0.25, 0.5, 5.0]), np.sort(v), a[1]),
            np.interp(v, np.array([-1.0, 0.0, 0.5, 2.0]), a[2], left=-5.0, right=a[0, 0]),
            np.interp(a, np.array([-0.5, 0.5]), np.array([1.0, 3.0]))]


def reductions(a):
    an = np.where(np.array([[False, True, False, False]] * 2 + [[True] * 4]), np.nan, a)
    return [np.cumprod(a, axis=1), np.cumprod(a), np.cumprod(a, axis=0), a.cumprod(1),
            np.multiply.accumulate(a, axis=1), np.nancumprod(an), np.nancumsum(an, axis=0),
            np.nansum(an), np.nansum(an, axis=1), np.nanmean(an[:2], axis=1),
            np.nanvar(an[:2], axis=1), np.nanstd(an[:2]), np.nanmax(an[:2], axis=1),
            np.nanmin(an[:2]), np.nanprod(an, axis=0), np.ptp(a, axis=1), np.ptp(a),
            np.nanargmax(an[:2], axis=1), np.nanargmin(an[:2]), np.prod(a, axis=0)]


GROUPS = [("triangles_and_products", triangles_and_products, B),
          ("padding_and_splitting", padding_and_splitting, A),
          ("axes_and_stacking", axes_and_stacking, B),
          ("ranges_and_choices", ranges_and_choices, V),
          ("differences_and_windows", differences_and_windows, A),
          ("reductions", reductions, A)]


@pytest.mark.parametrize("fn,x", [(f, x) for _, f, x in GROUPS], ids=[n for n, _, _ in GROUPS])
def test_values_match_numpy(fn, x) -> None:  # noqa: ANN001
    with np.errstate(all="ignore"):
        check_values(fn, x)


@pytest.mark.parametrize("fn,x", [(f, x) for _, f, x in GROUPS], ids=[n for n, _, _ in GROUPS])
def test_gradients(fn, x) -> None:  # noqa: ANN001
    check_group(fn, x)


def test_linspace_to_integers_floors_as_numpy() -> None:
    check_values(lambda v: np.linspace(v[0] * 3, 3.0, 6, dtype=np.int64), V)


def test_nan_to_num_defaults() -> None:
    check_values(lambda v: [np.nan_to_num(np.where(SPECIAL == 0, v, SPECIAL)),
                            np.nan_to_num(v.astype(np.float32) * SPECIAL.astype(np.float32)),
                            # all-NaN slices: NaN (numpy warns)
                            np.nanmean(np.where(SPECIAL == 0, v, np.nan)[1:4]),
                            np.nanmax(np.full((2, 2), np.nan) * v[0], axis=0)], V)


def test_prod_and_cumprod_gradients_at_zeros() -> None:
    x = np.array([[2.0, 0.0, 3.0, 0.5], [0.0, 1.5, 0.0, 2.0], [1.0, 2.0, 3.0, 4.0]])

    def f(x):
        return [np.prod(x, axis=1), np.cumprod(x, axis=1), np.prod(x)]

    check_values(f, x)
    check_group(f, x, f32=False)


def test_triu_indices_and_traced_fill() -> None:
    def f(a, s):
        i, j = np.triu_indices(3, 1)
        return [a[:3, :3][np.triu_indices(3)], a[i, j] * 2, np.full((2, 3), s),
                np.full_like(a, s[()] * 2)]

    s = np.array(0.7)
    check_values(f, A, s)
    # recorded=False: np.full(shape, tensor) copies the tensor into a numpy array, which a
    # tensor that requires grad refuses (as PyTorch's), tests/recorded/test_semantics.py
    check_group(f, A, s, argnums=(0, 1), recorded=False)


def test_recorded_tensor_builds_through_the_same_table() -> None:
    def loss(a):
        return (np.sum(np.pad(a, 1, mode="reflect") ** 2) + np.trace(np.kron(a, a[:2, :2]))
                + np.sum(np.cumprod(a, axis=1)) + np.sum(np.convolve(a[0], a[1], "same"))
                + np.sum(np.tril(a) * np.linspace(a[0, 0], 1.0, 4)))

    x = adjit.tensor(A, requires_grad=True)
    loss(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), adjit.grad(loss)(A), rtol=1e-12)


@pytest.mark.parametrize("name,fn", [
    ("histogram", lambda x: np.sum(np.histogram(x)[0] * 1.0)),
    ("bincount", lambda x: np.sum(np.bincount(np.argmax(x, axis=0)))),
    ("nonzero", lambda x: np.sum(x[np.nonzero(x > 0)])),
    ("argwhere", lambda x: np.sum(np.argwhere(x > 0))),
    ("flatnonzero", lambda x: np.sum(np.flatnonzero(x))),
    ("np.where(condition)", lambda x: np.sum(x[np.where(x > 0)])),
    ("traced positions", lambda x: np.sum(np.delete(x, np.argmax(x)))),
    ("compress", lambda x: np.sum(np.compress(x[0] > 0, x, axis=1))),
])
def test_data_dependent_shapes_refuse(name: str, fn) -> None:  # noqa: ANN001
    with pytest.raises(adjit.TraceError) as info:
        adjit.grad(fn)(A)
    assert name in str(info.value)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(0, 4), st.integers(0, 4),
       st.sampled_from(["constant", "edge", "reflect", "symmetric", "wrap"]))
def test_pad_matches_numpy(n: int, before: int, after: int, mode: str) -> None:
    if mode == "reflect" and n == 1:
        mode = "edge"  # numpy reflects a length-1 axis as edge too
    x = np.arange(float(n * 2)).reshape(2, n)
    check_values(lambda x: np.pad(x, ((1, 0), (before, after)), mode=mode), x)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 7), st.integers(1, 7), st.sampled_from(["full", "same", "valid"]))
def test_convolve_and_correlate_match_numpy(n: int, m: int, mode: str) -> None:
    a, v = np.arange(1.0, n + 1) ** 1.5, np.cos(np.arange(m))
    check_values(lambda a, v: [np.convolve(a, v, mode), np.correlate(a, v, mode)], a, v,
                 rtol=1e-10, atol=1e-10)


def test_result_type_and_can_cast_read_traced_dtypes() -> None:
    # dtype queries on traced values (they were "not supported by adjit"): a traced Python
    # float is weak (NEP 50), so float32 arrays keep float32
    def f(x, s):
        dt = np.result_type(x, s)
        assert np.can_cast(x, np.float64) and not np.can_cast(x, np.int8)
        return np.sum(x.astype(dt) * s), np.zeros(2, dt)

    for dtype in (np.float32, np.float64):
        x = np.ones(3, dtype)
        total, z = adjit.jit(f)(x, 2.0)
        assert z.dtype == np.result_type(x, 2.0) == dtype
        np.testing.assert_allclose(total, 6.0)
