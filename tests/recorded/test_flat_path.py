"""The quick path of a recorded operation (tracer/record.py `_record_flat`: tensors, Python
numbers, None and keywords of them) gives what the unrecorded operation gives, with the
same backward names and gradients, whichever way the call arrives (operator, method, numpy
function, keyword)."""
from __future__ import annotations

import numpy as np
import pytest

import adjit
from adjit import nn

CALLS = {
    "mul": lambda x, y: x * y,
    "radd_float": lambda x, y: 2.0 + x,
    "rsub_float": lambda x, y: 1.0 - x,
    "sub_int": lambda x, y: x - 1,
    "rpow_int": lambda x, y: 2 ** x,
    "matmul": lambda x, y: x @ y,
    "tanh": lambda x, y: x.tanh(),
    "np_tanh": lambda x, y: np.tanh(x),
    "np_add_float": lambda x, y: np.add(x, 1.5),
    "sum_dim_keyword": lambda x, y: x.sum(dim=1, keepdim=True),
    "np_sum_axis_keyword": lambda x, y: np.sum(x, axis=0),
    "clamp_none": lambda x, y: x.clamp(None, 0.5),
    "mean": lambda x, y: x.mean(),
}


@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
def test_recorded_equals_unrecorded(call: str) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3)).astype(np.float32)
    b = rng.standard_normal((3, 3)).astype(np.float32)
    fn = CALLS[call]
    with adjit.no_grad():
        want = fn(adjit.tensor(a), adjit.tensor(b))
    for _ in range(2):  # traced, then from the cache
        x = adjit.tensor(a, requires_grad=True)
        got = fn(x, adjit.tensor(b))
        assert got.grad_fn is not None
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got.detach().numpy(), want.numpy())
        got.sum().backward()
        assert x.grad is not None and x.grad.shape == x.shape


def test_parameters_take_the_quick_path() -> None:
    w = nn.Parameter(adjit.tensor([1.0, -2.0]))
    y = w * adjit.tensor([3.0, 4.0])  # a Tensor subclass takes the quick path too
    assert y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    assert w.grad.tolist() == [3.0, 4.0]
    z = (w * 2.0).tanh()
    assert z.grad_fn.name() == "TanhBackward0"


def test_two_operations_on_one_line_keep_their_own_nodes() -> None:
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(2):
        y = x * 2.0 + x * 3.0  # two multiplications at one line: two nodes, one graph each
        left, right = (e[0] for e in y.grad_fn.edges)
        assert left is not right and left.name() == right.name() == "MulBackward0"
        assert y.tolist() == [5.0, 10.0]
    y.sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
