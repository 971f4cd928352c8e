"""Bugs found in the recorded Tensor API, each with the test that shows it fixed."""
from __future__ import annotations

import numpy as np
import pytest

import adjit


def test_factories_take_size_as_a_keyword() -> None:
    # the tutorial writes torch.randn(size=(), requires_grad=True)
    a = adjit.randn(size=(), requires_grad=True)
    assert a.shape == () and a.requires_grad and a.dtype == np.float32
    assert adjit.zeros(size=(2, 3)).shape == (2, 3)
    assert adjit.ones(size=[4]).shape == (4,)
    with pytest.raises(TypeError, match="given twice"):
        adjit.ones(2, size=(3,))
    with pytest.raises(TypeError, match="siz"):
        adjit.ones(2, siz=3)


def test_tensor_constructor_gives_the_default_float_dtype() -> None:
    # the tutorial writes t.Tensor([0, 1, 2]).requires_grad_(): torch.Tensor is a float tensor
    x = adjit.Tensor([0, 1, 2]).requires_grad_()
    assert x.dtype == np.float32 and x.requires_grad
    # an array keeps its dtype
    assert adjit.Tensor(np.arange(3)).dtype == np.int64
    assert adjit.Tensor(np.arange(3.0)).dtype == np.float64


def test_backward_of_a_leaf() -> None:
    # it raised AttributeError: 'NoneType' object has no attribute 'type'
    a = adjit.tensor(2.0, requires_grad=True)
    a.backward()
    a.backward()
    assert a.grad.tolist() == 2.0
    b = adjit.tensor([1.0, 2.0], requires_grad=True)
    b.backward(adjit.tensor([3.0, 4.0]))
    assert b.grad.tolist() == [3.0, 4.0]
    assert adjit.autograd.grad(b, b, adjit.ones(2))[0].tolist() == [1.0, 1.0]
