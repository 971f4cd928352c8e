"""Python lists of traced values (tracer/pybuiltins.py): in converted code `np.array` of a
(nested) list of tracers is one traced stack, numpy functions given such a list trace it,
`float()` keeps the derivative, and `sum()`/`max()` of traced values stay in the trace."""
from __future__ import annotations

import numpy as np
import pytest
from adjit.tracer import trace
from np_coverage import check_group, check_values

import adjit

X = np.array([[0.3, -1.2, 0.8], [1.5, 0.4, -0.7]])


def lists(x):
    a, b = x[0], x[1]
    return [np.mean([a, a + 2]), np.sum([a[0], b[1]]), np.std((a, b)), np.max([a, b], axis=0),
            np.array([[x[0, 0], 2.0], [x[1, 1], x[0, 1]]]), np.asarray([a, b * 2]),
            np.array([a, b], dtype=np.float64, ndmin=3), np.stack([a, b], axis=1),
            np.median([a[0], a[1], b[2]]), np.prod([a, b], axis=0), np.sort([b, a], axis=0),
            np.array(a), np.asarray(b * 2), np.cumsum([a[0], b[0], a[2]]),
            sum(v * v for v in a), max(a[0], b[0]), min(a[1], 0.5), float(a[2]) * b[0],
            np.concatenate([a, b]), np.array([x[i, 0] for i in range(2)])]


def test_lists_of_traced_values_are_traced_stacks() -> None:
    check_values(lists, X)
    # (float32: the other groups; this graph is the largest. Recorded tensors follow PyTorch
    # instead: float(t) is a plain number and np.array of tensors that require grad raises,
    # test_recorded_tensor_with_lists below and tests/recorded/test_semantics.py.)
    check_group(lists, X, f32=False, recorded=False)


def test_array_of_a_list_is_one_stack_not_an_object_array() -> None:
    def f(x):
        return np.array([x, x * 2]) ** 2

    eqns = trace(f, [np.ones((30, 40))], concrete=False).graph.eqns
    assert len(eqns) < 10, [e.prim for e in eqns]  # not 2400 element-wise equations


def test_array_of_a_list_keeps_dtype_promotion() -> None:
    def f(x):
        i = np.argmax(x)
        return np.array([x[0, 0], x[1, 1]]), np.array([i, i + 1]), np.array([x[0, 0], 1])

    a, b, c = adjit.jit(f)(X)
    assert a.dtype == np.float64 and b.dtype == np.int64 and c.dtype == np.float64
    np.testing.assert_array_equal(b, [np.argmax(X), np.argmax(X) + 1])


def test_float_of_a_traced_number_in_converted_code() -> None:
    g = adjit.grad(lambda x: float(x[0, 0]) ** 2 + float(np.sum(x)))(X)
    want = np.ones_like(X)
    want[0, 0] += 2 * X[0, 0]
    np.testing.assert_allclose(g, want)
    with pytest.raises(TypeError, match="length-1"):
        adjit.jit(lambda x: float(x))(X)


def test_recorded_tensor_with_lists() -> None:
    x = adjit.tensor(X, requires_grad=True)
    loss = np.sum(np.stack([x[0], x[1] * 2]) ** 2) + np.sum(np.concatenate([x[0], x[1]]))
    loss.backward()
    want = adjit.grad(lambda x: np.sum(np.stack([x[0], x[1] * 2]) ** 2)
                      + np.sum(np.concatenate([x[0], x[1]])))(X)
    np.testing.assert_allclose(x.grad.numpy(), want)
