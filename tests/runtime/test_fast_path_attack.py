"""The fast call path for several native ndarray arguments (runtime/api.py `__call__`,
`_remember_fast`) and the tuple-slice callers of argnums tuples (runtime/callers.py): the same
bits and types as the general path (forced here by passing the last argument by keyword),
fresh gradient arrays, held results that later calls leave alone, and the cases that must
step aside (subclasses, captured state, tracers, threads)."""
from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import adjit


def _loss(w, x, y):
    return np.sum((x * w - y) ** 2)


def _same(a, b) -> bool:
    """Bitwise equal, with the same Python types all the way down."""
    if isinstance(a, tuple):
        return type(b) is tuple and len(a) == len(b) and all(map(_same, a, b))
    return (type(a) is type(b) and np.asarray(a).dtype == np.asarray(b).dtype
            and np.shape(a) == np.shape(b) and np.asarray(a).tobytes() == np.asarray(b).tobytes())


def _signatures():
    rng = np.random.default_rng(0)
    w, x, y = (rng.standard_normal(4) for _ in range(3))
    f32 = [t.astype(np.float32) for t in (w, x, y)]
    return [(w, x, y), tuple(f32), (w, f32[1], y), (np.array(1.5), x, y), (w[:1], x, y),
            (np.zeros(0), np.zeros(0), np.zeros(0)), (w, x, np.arange(4))]


@pytest.mark.parametrize("make", [adjit.grad, adjit.value_and_grad])
@pytest.mark.parametrize("argnums", [0, (0, 1), (1, 0), (0, -1), (1, 1)])
def test_alternating_signatures_give_the_general_paths_bits_and_types(make, argnums):
    g = make(_loss, argnums=argnums)
    for args in _signatures():
        if argnums == (0, -1) and args[2].dtype.kind == "i":
            with pytest.raises(adjit.NotDifferentiable):
                g(*args)
            continue
        first = g(*args)  # compiles, and remembers this signature for the fast path
        assert g._fast is not None and g._fast[3] == 3
        fast = g(*args)
        general = g(*args[:2], y=args[2])  # a keyword: the general path
        assert _same(fast, general) and _same(first, general), (args, fast, general)
        grads = fast if make is adjit.grad else fast[1]
        if isinstance(argnums, tuple):
            assert type(grads) is tuple and all(type(t) is np.ndarray for t in grads)
        else:
            assert type(grads) is np.ndarray
        if make is adjit.value_and_grad:
            want = np.result_type(*[a.dtype for a in args if a.dtype.kind == "f"])
            assert type(fast[0]) is want.type


@pytest.mark.parametrize("argnums", [(0, 1), 0, 1, (1, 0), (0, 0)])
def test_a_gradient_equal_to_an_input_is_a_fresh_array(argnums):
    fns = [lambda a, b: np.sum(a * b), lambda a, b: np.sum(a * b[::-1]),
           lambda a, b: np.sum(a * adjit.stop_gradient(b)), lambda a, b: a @ b]
    a0, b0 = np.arange(1.0, 6.0), np.arange(6.0, 11.0)
    for f in fns:
        for make in (adjit.grad, adjit.value_and_grad):
            g = make(f, argnums=argnums)
            a, b = a0.copy(), b0.copy()
            g(a, b)
            got = g(a, b)  # the fast path
            grads = got if make is adjit.grad else got[1]
            grads = grads if isinstance(grads, tuple) else (grads,)
            for i, t in enumerate(grads):
                assert not np.shares_memory(t, a) and not np.shares_memory(t, b)
                assert all(not np.shares_memory(t, u) for u in grads[i + 1:])
                t[...] = -1.0
            assert np.array_equal(a, a0) and np.array_equal(b, b0)


def test_the_same_array_twice_and_read_only_views_fortran_and_byte_swapped_arrays():
    rng = np.random.default_rng(1)
    w, x, y = (rng.standard_normal((3, 4)) for _ in range(3))
    big = rng.standard_normal((6, 8))
    ro = w.copy()
    ro.flags.writeable = False
    for make in (adjit.grad, adjit.value_and_grad):
        g = make(_loss, argnums=(0, 1))
        fresh = make(_loss, argnums=(0, 1))
        g(w, x, y)
        for args in ((w, w, y), (ro, x, y), (big[::2, ::2], x, y), (w, x.T.copy().T, y),
                     (np.asfortranarray(w), x, y), (w[::-1], x[:, ::-1], y),
                     (w, x.astype(">f8"), y)):
            plain = [np.ascontiguousarray(a, dtype=np.float64) for a in args]
            fresh(*plain)
            assert _same(g(*args), fresh(*plain))
        assert _same(g(w, x, y), fresh(w, x, y))


def test_subclasses_step_aside_masked_arrays_are_refused_memmaps_read_every_call(tmp_path):
    rng = np.random.default_rng(2)
    w, x, y = (rng.standard_normal(5) for _ in range(3))
    g = adjit.value_and_grad(_loss, argnums=(0, 1))
    g(w, x, y)
    g(w, x, y)
    assert g._fast is not None
    for pos in range(3):
        args = [w, x, y]
        args[pos] = np.ma.array(args[pos], mask=np.zeros(5, bool))
        with pytest.raises(adjit.TraceError, match="masked"):
            g(*args)
    mm = np.memmap(tmp_path / "w.bin", dtype=np.float64, mode="w+", shape=(5,))
    for scale in (1.0, 2.0):
        mm[:] = scale * w
        assert _same(g(mm, x, y), g(scale * w, x, y))


def test_captured_global_state_is_read_at_every_call():
    scale = np.ones(4)

    def f(w, x):
        return np.sum(w * x * scale)

    g = adjit.grad(f, argnums=(0, 1))
    w, x = np.arange(4.0), np.arange(4.0) + 1
    for k in range(3):
        scale[:] = k + 1
        got = g(w, x)
        assert np.array_equal(got[0], x * scale) and np.array_equal(got[1], w * scale)
    assert g._fast is None


def test_transformations_of_a_function_called_directly_first():
    def f(w, x):
        return np.sum(np.sin(w) * x ** 2)

    w, x = np.linspace(0.1, 0.9, 4), np.linspace(1.0, 2.0, 4)
    g = adjit.grad(f, argnums=0)
    g(w, x)
    g(w, x)
    assert g._fast is not None
    np.testing.assert_allclose(adjit.jacfwd(g)(w, x), np.diag(-np.sin(w) * x ** 2), rtol=1e-14)
    np.testing.assert_allclose(adjit.hessian(f)(w, x), np.diag(-np.sin(w) * x ** 2), rtol=1e-14)
    W = np.stack([w, 2 * w, 3 * w])
    np.testing.assert_allclose(adjit.vmap(g, in_axes=(0, None))(W, x), np.cos(W) * x ** 2,
                               rtol=1e-14)
    # plain arrays inside another trace: inlined there, not the fast path
    h = adjit.grad(lambda z: np.sum(g(w, x) * z) + np.sum(g(z, x)))
    np.testing.assert_allclose(h(w), np.cos(w) * x ** 2 - np.sin(w) * x ** 2, rtol=1e-14)


def test_threads_calling_with_different_shapes_get_their_own_results():
    g = adjit.value_and_grad(_loss, argnums=(0, 1))
    rng = np.random.default_rng(3)
    shapes = [(7,), (3, 5), (), (2, 2, 2)]
    data = {s: tuple(rng.standard_normal(s) for _ in range(3)) for s in shapes}
    want = {s: g(*data[s]) for s in shapes}
    want = {s: g(*data[s]) for s in shapes}  # (compiled: the same bits from here on)
    errors = []

    def worker(k):
        for i in range(1500):
            s = shapes[(i * (k + 1)) % len(shapes)]
            got = g(*data[s])
            if not _same(got, want[s]):
                errors.append((k, s))
                return

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors


def test_results_held_from_earlier_calls_do_not_change():
    # (conftest: every output is a buffer reused across calls, ADJIT_REUSE_MIN_KB=0)
    rng = np.random.default_rng(4)
    a, b, c = (rng.standard_normal(1000) for _ in range(3))
    for make in (adjit.grad, adjit.value_and_grad):
        for argnums in ((0, 1), (0, 1, 2)):
            g = make(_loss, argnums=argnums)
            held = [(k, g(a * k, b, c)) for k in range(1, 5)]
            for k, got in held:
                grads = got if make is adjit.grad else got[1]
                assert np.array_equal(grads[0], 2 * (b * (a * k) - c) * b)
                assert np.array_equal(grads[1], 2 * (b * (a * k) - c) * (a * k))


def test_a_tiered_caller_installed_while_another_thread_remembers_a_signature(monkeypatch):
    from adjit.runtime import api

    monkeypatch.setenv("ADJIT_COMPILE_AFTER", "2")  # first call interpreted, then _set_caller

    def f(w, x):
        return np.mean(w * x)

    a = (np.ones(3), np.arange(3.0))
    b = (np.ones(5), np.arange(5.0))
    g = adjit.grad(f, argnums=(0, 1))
    g(*a)
    code = api.Transformed._set_caller.__code__
    at_build, b_done = threading.Event(), threading.Event()

    def trace(frame, event, arg):  # pause thread A inside _set_caller, after its key check
        if frame.f_code is not code:
            return None

        def local(frame, event, arg):
            if event == "line" and "self._fast = (" in _line(frame):
                at_build.set()
                b_done.wait(10)
            return local
        return local

    def first():
        sys.settrace(trace)
        try:
            g(*a)
        finally:
            sys.settrace(None)

    def second():
        at_build.wait(10)
        g(*b)
        b_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if not at_build.is_set():  # (no tiered caller installed: this test tests nothing)
        pytest.skip("the second call did not install a caller through _set_caller")
    got = g(*b)
    assert got[0].shape == got[1].shape == (5,), got  # (it returned 3 elements)
    np.testing.assert_allclose(got[0], b[1] / 5, rtol=1e-15)
    np.testing.assert_allclose(got[1], b[0] / 5, rtol=1e-15)


def _line(frame) -> str:
    import linecache

    return linecache.getline(frame.f_code.co_filename, frame.f_lineno)


def test_an_argument_check_while_numpy_ma_is_half_imported(monkeypatch):
    import types

    half = types.ModuleType("numpy.ma")  # what sys.modules holds while numpy.ma imports
    monkeypatch.setitem(sys.modules, "numpy.ma", half)
    g = adjit.grad(lambda a, b: np.sum(a * b))
    np.testing.assert_array_equal(g(np.ones(7), np.arange(7.0)), np.arange(7.0))


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # (numpy's, on np.matrix)
def test_a_numpy_matrix_argument_is_refused_not_multiplied_elementwise():
    """np.matrix's `*` is a matrix product: traced as arrays, `np.sum(a * b)` gave 70 where
    numpy gives 134 on 2x2 matrices. Refused with the way out."""
    m = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    for make in (adjit.grad, adjit.value_and_grad, adjit.jit):
        with pytest.raises(adjit.TraceError, match="np.matrix"):
            make(lambda a, b: np.sum(a * b))(m, m)
    # captured, either side of `*` (both gave 5.0 where numpy gives 10.0)
    eye = np.eye(2)
    for f in (lambda a: np.sum(a * m), lambda a: np.sum(m * a)):
        with pytest.raises(adjit.TraceError, match="np.matrix"):
            adjit.value_and_grad(f)(eye)
