"""The fast path of a call (one native ndarray argument, nothing captured: the last such
signature's compiled caller, found without building a key) gives what the general path gives,
and steps aside for everything else."""
from __future__ import annotations

import numpy as np

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
