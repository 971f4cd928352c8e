"""Output arrays reused across calls (runtime/buffers.py): a buffer is written again only once
nothing but its pool refers to it, every call's results are those of a fresh computation, and
the pools stay within their bounds."""
import gc
import threading

import numpy as np
import pytest

import adjit
from adjit.runtime import buffers


@pytest.fixture
def reuse_all(monkeypatch):
    """Every output array reused (the suite's default too: tests/conftest.py), buffers
    poisoned with NaN before each call so that an element a kernel misses shows."""
    monkeypatch.setenv("ADJIT_REUSE_MIN_KB", "0")
    monkeypatch.setenv("ADJIT_CHECKS", "1")


def _loss(x, idx):
    # a gather: its gradient is a scatter-add into an array allocated zeroed, which a reused
    # buffer must be zeroed for again on every call
    return np.sum(np.tanh(x[idx]) * x[idx]) + np.sum(x * x)


def _expected(x, idx):
    g = 2 * x
    t = np.tanh(x[idx])
    np.add.at(g, idx, t + x[idx] * (1 - t * t))
    return g


@pytest.fixture(scope="module")
def grad_fn():
    return adjit.grad(_loss)


def test_a_dropped_result_is_reused_and_every_call_is_fresh(reuse_all, grad_fn):
    idx = np.array([0, 3, 3, 7, 1])
    x = np.linspace(-1, 1, 9)
    g = grad_fn(x, idx)
    np.testing.assert_allclose(g, _expected(x, idx), rtol=1e-13)
    first = id(g)
    del g
    gc.collect()
    g2 = grad_fn(x * 0.5, idx)
    assert id(g2) == first  # the buffer came back from the pool
    np.testing.assert_allclose(g2, _expected(x * 0.5, idx), rtol=1e-13)


def test_held_results_and_their_views_are_never_written(reuse_all, grad_fn):
    idx = np.array([2, 2, 5])
    xs = [np.linspace(-1, 1, 9) * k for k in (1.0, 2.0, 3.0, 4.0)]
    held = grad_fn(xs[0], idx)
    held_copy = held.copy()
    view = grad_fn(xs[1], idx)[::2]
    view_copy = view.copy()
    mv = memoryview(grad_fn(xs[2], idx))
    mv_copy = np.asarray(mv).copy()
    for _ in range(4):
        grad_fn(xs[3], idx)
    np.testing.assert_array_equal(held, held_copy)
    np.testing.assert_array_equal(view, view_copy)
    np.testing.assert_array_equal(np.asarray(mv), mv_copy)


def test_a_result_passed_back_in_is_not_its_own_output(reuse_all):
    step = adjit.jit(lambda x: x * 0.5 + 1.0)
    x = np.arange(6.0)
    for _ in range(5):
        want = x * 0.5 + 1.0
        x = step(x)
        np.testing.assert_array_equal(x, want)


def test_threads_calling_one_function_get_their_own_buffers(reuse_all, grad_fn):
    idx = np.array([1, 4, 4, 8])
    errors = []

    def work(k: int) -> None:
        x = np.linspace(-1, 1, 9) * (k + 1)
        want = _expected(x, idx)
        for _ in range(200):
            g = grad_fn(x, idx)
            if not np.allclose(g, want, rtol=1e-13):
                errors.append(k)
                return

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_pool_bounds_and_poison():
    gc.collect()
    start = buffers.held_bytes()
    calls = []

    def fn(x, out):  # a kernel that leaves out[0] unwritten
        out[1:] = x[1:]
        calls.append(out)
        return (out,)

    # (the bound is for all pools of the process together: a large one here)
    pooled = buffers.Pooled(fn, buffers.BufferPool([((3,), "float64")], 1 << 50, poison=True))
    (r,) = pooled(np.ones(3))
    assert np.isnan(r[0])  # poisoned: a missed element shows
    (r2,) = pooled(np.ones(3))
    assert r2 is not r  # r is held
    calls.clear()
    del r, r2
    (r3,) = pooled(np.ones(3))
    assert len(pooled.pool.slots[0]) == buffers.KEEP
    assert any(r3 is b for b in pooled.pool.slots[0])
    assert buffers.held_bytes() == start + buffers.KEEP * 24
    tight = buffers.Pooled(fn, buffers.BufferPool([((1000,), "float64")], 0))
    (r4,) = tight(np.ones(1000))
    assert not tight.pool.slots[0]  # over its bound: not kept
    assert r4.shape == (1000,)
    del pooled
    gc.collect()
    assert buffers.held_bytes() == start  # released with its pool


def test_a_result_that_is_an_input_is_copied_into_a_reused_buffer(reuse_all) -> None:
    # d/db sum(a * b) is a itself: the result is a copy (never the caller's own array), made
    # into a buffer of the pool rather than fresh memory
    g = adjit.grad(lambda a, b: np.sum(a * b), argnums=1)
    a, b = np.arange(4.0), np.ones(4)
    r = g(a, b)
    assert r is not a and np.shares_memory(r, a) is False
    np.testing.assert_array_equal(r, a)
    first = id(r)
    r[0] = 99.0  # the caller's to change: a is not
    assert a[0] == 0.0
    held = g(a * 2, b)
    assert id(held) != first  # r is still held
    del r
    gc.collect()
    again = g(a * 3, b)
    assert id(again) == first
    np.testing.assert_array_equal(held, a * 2)
    np.testing.assert_array_equal(again, a * 3)
    spec = next(iter(g.specializations.values()))
    assert spec.source.copied == (1,)  # copied by the generated function: no second copy


def test_inputs_returned_as_they_are_are_copied_per_output(reuse_all) -> None:
    h = adjit.jit(lambda x: (x, x * 2, x))
    x = np.arange(12.0).reshape(3, 4)
    for arg in (x, x.T, x[:, ::2]):  # contiguous, transposed, strided
        r0, r1, r2 = h(arg)
        for r in (r0, r2):
            np.testing.assert_array_equal(r, arg)
            assert not np.shares_memory(r, arg)
        assert r0 is not r2
        r0[...] = -1.0
        np.testing.assert_array_equal(r2, arg)
