"""The fast path of a call (one native ndarray argument, nothing captured: the last such
signature's compiled caller, found without building a key) gives what the general path gives,
and steps aside for everything else."""
from __future__ import annotations

import numpy as np
import pytest

import adjit


def _f(x):
    return np.sum(x ** 2 * np.exp(x))


def test_the_fast_path_agrees_with_the_general_one_across_signatures() -> None:
    g = adjit.value_and_grad(_f)
    x = np.linspace(-1, 1, 5)
    first = g(x)
    assert g._fast_key is not None
    again = g(x)
    assert again[0] == first[0] and np.array_equal(again[1], first[1])
    # another shape, dtype, byte order, a view: the general path, the right answers
    for other in (np.linspace(-1, 1, 6), x.astype(np.float32), x.astype(">f8"), x[::2]):
        val, grad = g(other)
        ref = adjit.value_and_grad(_f)(other.astype(other.dtype.newbyteorder("=")))
        assert np.allclose(val, ref[0]) and np.allclose(grad, ref[1])
    assert np.allclose(g(x)[1], first[1])  # and back


def test_the_fast_path_is_not_taken_inside_a_trace_or_with_captured_state() -> None:
    g = adjit.grad(_f)
    x = np.linspace(-1, 1, 5)
    g(x)
    hess = adjit.jacfwd(g)(x)  # g called on tracers: inlined, not the fast path
    assert hess.shape == (5, 5)
    scale = np.array([2.0])

    def captured(v):
        return np.sum(v * scale)

    c = adjit.grad(captured)
    assert np.allclose(c(x), 2.0) and c._fast_key is None
    scale[0] = 3.0  # read at every call
    assert np.allclose(c(x), 3.0)


def test_tuple_argnums_give_the_general_paths_structure_and_types() -> None:
    def f(a, b):
        return a * np.sum(b ** 2)

    b = np.array([1.0, 2.0])
    for mk in (adjit.grad, adjit.value_and_grad):
        g = mk(f, argnums=(0, 1))
        first = g(2.0, b)  # the first call runs the general path
        again = g(2.0, b)  # later ones the direct caller
        grads = again if mk is adjit.grad else again[1]
        ref = first if mk is adjit.grad else first[1]
        assert isinstance(grads, tuple) and len(grads) == 2
        assert type(grads[0]) is np.ndarray and grads[0].shape == () and grads[0] == 5.0
        assert np.array_equal(grads[1], [4.0, 8.0]) and np.array_equal(grads[1], ref[1])
        if mk is adjit.value_and_grad:
            assert type(again[0]) is np.float64 and again[0] == first[0] == 10.0


def test_a_kernel_with_array_constants_takes_the_direct_path() -> None:
    # the constant [1, 2, 3] is a parameter of the kernel after x: the direct caller passes it
    # (it used to send such kernels through the general path: 12 us instead of 2 a call)
    def f(x):
        return np.sum(np.sin(x) * np.array([1.0, 2.0, 3.0]))

    g = adjit.grad(f)
    x = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(g(x), np.cos(x) * [1.0, 2.0, 3.0], rtol=1e-15)
    spec = next(iter(g.specializations.values()))
    assert len(spec.consts) == 1
    caller = g._callers[g._fast_key]
    assert "_assemble" not in caller.__code__.co_names  # no general assembly on each call
    np.testing.assert_allclose(g(x * 2), np.cos(x * 2) * [1.0, 2.0, 3.0], rtol=1e-15)


def _loss(w, x, y):
    return np.sum((x * w - y) ** 2)


def test_several_array_arguments_take_the_fast_path_and_step_aside_for_others() -> None:
    rng = np.random.default_rng(0)
    w, x, y = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)
    for make in (adjit.grad, adjit.value_and_grad):
        for argnums in (0, (0, 1)):
            g = make(_loss, argnums=argnums)
            first = g(w, x, y)
            assert g._fast is not None and g._fast[3] == 3  # remembered for three arrays
            again = g(w, x, y)
            ref = adjit.value_and_grad(_loss, argnums=(0, 1, 2))(w, x, y)
            grads = again if make is adjit.grad else again[1]
            want = ref[1][0] if argnums == 0 else ref[1][:2]
            if argnums == 0:
                assert type(grads) is np.ndarray and np.array_equal(grads, want)
            else:
                assert type(grads) is tuple and all(type(t) is np.ndarray for t in grads)
                assert all(np.array_equal(a, b) for a, b in zip(grads, want, strict=True))
            if make is adjit.value_and_grad:
                assert type(again[0]) is np.float64 and again[0] == first[0] == ref[0]
            # anything else than the remembered arrays: the general path, right answers
            for args in ((w, x, y[:2]), (w, x.astype(np.float32), y), (w, x, 2.0),
                         (w, x, y.astype(">f8")), (w, x[::-1], y), (w, x)):
                try:
                    got = g(*args)
                except TypeError:
                    assert len(args) == 2  # a missing argument is still refused
                    continue
                except adjit.AdjitError:
                    assert args[2].shape == (2,)  # shapes that do not broadcast
                    continue
                norm = [np.asarray(a).astype(np.float64) for a in args]
                want_any = adjit.value_and_grad(_loss, argnums=(0, 1))(*norm)
                got_g = got if make is adjit.grad else got[1]
                want_g = want_any[1][0] if argnums == 0 else want_any[1]
                np.testing.assert_allclose(got_g[0] if argnums != 0 else got_g,
                                           want_g[0] if argnums != 0 else want_g, rtol=1e-6)
            assert np.array_equal(g(w, x, y) if make is adjit.grad else g(w, x, y)[1],
                                  grads)  # and back
            masked = np.ma.array(w, mask=[0, 1, 0])
            with pytest.raises(adjit.TraceError, match="masked"):
                g(masked, x, y)  # a subclass never takes the fast path
