"""In-place operations through views (`Tensor._base`): a recorded view is a copy, so an
in-place change to it is written back into the tensor it views, recorded, and the gradient
is PyTorch's. Expected values are PyTorch 2.13's, computed by hand here (and checked against
torch itself when it is installed)."""
from __future__ import annotations

import numpy as np
import pytest

import adjit


def _chain(lib):
    x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1
    y[0][1] = 10.0  # a row's element
    y.view(-1).mul_(2)  # the whole tensor, reshaped
    y.t().add_(1)  # transposed
    (y * y).sum().backward()
    return y.detach().numpy(), x.grad.numpy()


def _untracked(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    z = lib.zeros(2, 3)  # outside the graph until written
    z[0][1] = x[0] * 2
    z[1].add_(x)
    (z * z).sum().backward()
    return z.detach().numpy(), x.grad.numpy()


def test_in_place_through_views_reaches_the_base() -> None:
    y, g = _chain(adjit)
    np.testing.assert_array_equal(y, [[3.0, 21.0], [7.0, 9.0]])
    np.testing.assert_array_equal(g, [[12.0, 0.0], [28.0, 36.0]])


def test_a_tensor_outside_the_graph_joins_it_through_a_view() -> None:
    z, g = _untracked(adjit)
    np.testing.assert_array_equal(z, [[0.0, 2.0, 0.0], [1.0, 2.0, 3.0]])
    np.testing.assert_allclose(g, [2 * 2 * 2 + 2 * 1, 2 * 2, 2 * 3])


def test_permute_squeeze_and_transpose_write_back() -> None:
    x = adjit.tensor(np.arange(6.0).reshape(1, 2, 3), requires_grad=True)
    y = x * 1
    y.permute(2, 0, 1).mul_(2)
    y.squeeze(0).transpose(0, 1)[1].add_(100.0)  # column 1 of y[0]
    y.mT.sub_(0.5)
    (y * x).sum().backward()
    want = np.arange(6.0).reshape(1, 2, 3) * 2 - 0.5
    want[0, :, 1] += 100.0
    np.testing.assert_array_equal(y.detach().numpy(), want)
    np.testing.assert_array_equal(x.grad.numpy(), want + 2 * np.arange(6.0).reshape(1, 2, 3))


def test_refused_as_pytorch_refuses() -> None:
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x[0].add_(1.0)  # a view of a leaf that requires grad
    y = (x * 1).unsqueeze(0)
    with pytest.raises(RuntimeError, match="single memory location"):
        y.expand(3, 2).mul_(2)
    with adjit.no_grad():  # allowed there, as in PyTorch: the leaf changes
        x[1].mul_(5.0)
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 10.0])


def test_advanced_indexing_is_a_copy() -> None:
    x = adjit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    y[[0, 2]].mul_(10.0)  # a gather: PyTorch's result is a copy too
    np.testing.assert_array_equal(y.detach().numpy(), [1.0, 2.0, 3.0])
    assert y[1].grad_fn.name() == "SelectBackward0" and y[1:].grad_fn.name() == "SliceBackward0"
    assert y[[0, 1]].grad_fn.name() == "IndexBackward0"


def test_same_as_torch() -> None:
    torch = pytest.importorskip("torch")
    for run in (_chain, _untracked):
        for a, b in zip(run(adjit), run(torch), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6)
