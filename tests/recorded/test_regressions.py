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


def test_max_and_min_of_another_tensor_are_elementwise() -> None:
    # x.max(other) raised a TraceError (the tensor was taken for a dim)
    x = adjit.tensor([[1.0, 5.0], [3.0, 2.0]], requires_grad=True)
    y = x.max(adjit.full((2, 2), 2.5))
    assert y.tolist() == [[2.5, 5.0], [3.0, 2.5]]
    assert y.grad_fn.name() == "MaximumBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert x.min(adjit.zeros(2, 2)).grad_fn.name() == "MinimumBackward0"
    assert x.max().grad_fn.name() == "MaxBackward1"
    assert x.max(dim=1).values.grad_fn.name() == "MaxBackward0"  # it said ArgmaxBackward0
    assert x.min(0)[0].grad_fn.name() == "MinBackward0"


def test_squeeze_of_a_dimension_that_is_not_one_leaves_it() -> None:
    # numpy raises there; torch leaves the tensor as it is
    x = adjit.ones(2, 3, requires_grad=True)
    assert x.squeeze(0).shape == (2, 3)
    assert x.unsqueeze(1).squeeze((0, 1)).shape == (2, 3)
    assert x.unsqueeze(0).squeeze(0).shape == (2, 3)
    x.squeeze(0).sum().backward()
    assert x.grad.shape == (2, 3)


def test_numpy_functions_take_torch_backward_names() -> None:
    # np.dot of two vectors said SumBackward0 (its graph ends in reduce_sum)
    v = adjit.arange(4.0, requires_grad=True)
    assert np.dot(v, v).grad_fn.name() == "DotBackward0"
    assert np.linalg.norm(v).grad_fn.name() == "NormBackward1"
    assert np.sum(v).grad_fn.name() == "SumBackward0"
    assert np.mean(v).grad_fn.name() == "MeanBackward0"


def test_boolean_mask_indexing_selects() -> None:
    # x[x > 0] on a tensor that requires grad returned the whole array, silently
    a = np.array([[1.0, -2.0, 0.5], [3.0, -4.0, 2.0]], np.float32)
    x = adjit.tensor(a, requires_grad=True)
    y = x[x > 0]
    assert y.tolist() == [1.0, 0.5, 3.0, 2.0]
    z = x[:, adjit.tensor([True, False, True])]
    w = x[np.array([False, True])]
    assert z.shape == (2, 2) and w.shape == (1, 3)
    (y.sum() * 2 + (z * z).sum() + w.sum() * 10).backward()
    assert x.grad.tolist() == [[4.0, 0.0, 3.0], [18.0, 10.0, 16.0]]
    assert adjit.tensor(a)[adjit.tensor(a) > 0].tolist() == [1.0, 0.5, 3.0, 2.0]


def _hooked_sin(a):
    """sin(2a) with a hook on its output, which sends the backward pass node by node."""
    y = a * 2
    w = y.sin()
    w.register_hook(lambda g: g)
    return y, w


def test_node_by_node_backward_uses_the_values_before_an_inplace_change() -> None:
    # with a hook (or a custom Function) the backward reads each node's saved output array;
    # y.add_(1) overwrote it and the gradient was silently wrong
    a = adjit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y, w = _hooked_sin(a)
    y.add_(1)
    w.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * np.cos(2 * np.array([1.0, 2.0, 3.0])),
                               rtol=1e-6)


def test_node_by_node_backward_reports_a_change_through_a_view() -> None:
    a = adjit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y, w = _hooked_sin(a)
    y.detach().add_(1)  # shares y's memory and version counter
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        w.sum().backward()


class _Square(adjit.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


def test_custom_function_saved_tensor_changed_in_place_is_reported() -> None:
    # the gradient was silently computed from the changed values
    a = adjit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = a * 1
    z = _Square.apply(y).sum()
    y.mul_(10)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()
    b = adjit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    _Square.apply(b * 1).sum().backward()
    assert b.grad.tolist() == [2.0, 4.0, 6.0]


@pytest.mark.parametrize("make,want", [
    (lambda: adjit.ones(2) * adjit.tensor([1, 2]), np.float32),          # numpy: float64
    (lambda: adjit.tensor([1, 2]) * adjit.ones(2), np.float32),
    (lambda: adjit.tensor([1, 2]) + 1.5, np.float32),                    # numpy: float64
    (lambda: 1.5 + adjit.tensor([1, 2]), np.float32),
    (lambda: adjit.tensor([1, 2]) / 2, np.float32),                      # numpy: float64
    (lambda: adjit.tensor([1, 2]) / adjit.tensor([2, 2]), np.float32),
    (lambda: adjit.tensor([1, 2]).div(2), np.float32),
    (lambda: adjit.ones(2) * np.float64(2), np.float32),                 # numpy: float64
    (lambda: np.float64(2) * adjit.ones(2), np.float32),
    (lambda: adjit.ones(2) * adjit.tensor(2.0, dtype=np.float64), np.float32),  # 0-d
    (lambda: adjit.ones(2, dtype=np.int32) * adjit.tensor(2.0, dtype=np.float64), np.float64),
    (lambda: adjit.ones(2) - adjit.tensor([1.0, 2.0], dtype=np.float64), np.float64),
    (lambda: adjit.ones(2, dtype=np.int32) + 5, np.int32),
    (lambda: adjit.tensor([1, 2]) ** 2.0, np.float32),
    (lambda: adjit.tensor([1, 2]) ** 2, np.int64),
    (lambda: adjit.tensor([True]) + 1, np.int64),
    (lambda: adjit.ones(2).add(adjit.tensor([1, 2]), alpha=2), np.float32),
    (lambda: np.add(adjit.tensor([1, 2]), 1.5), np.float32),
    (lambda: adjit.ones(2, requires_grad=True) * adjit.tensor([1, 2]), np.float32),
    (lambda: adjit.ones(2, requires_grad=True) * np.ones(2), np.float64),  # an array counts
])
def test_arithmetic_follows_torch_type_promotion(make, want) -> None:
    assert make().dtype == want


def test_promotion_keeps_gradients() -> None:
    x = adjit.ones(3, requires_grad=True)
    i = adjit.tensor([1, 2, 3])
    y = x * i + i / 2
    assert y.dtype == np.float32 and y.grad_fn.name() == "AddBackward0"
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [1.0, 2.0, 3.0]


def test_dtype_names_as_torch_spells_them() -> None:
    # the tutorial writes torch.arange(-20, 20, 0.1, requires_grad=True, dtype=torch.float32)
    x = adjit.arange(-20, 20, 0.1, requires_grad=True, dtype=adjit.float32)
    assert x.dtype == np.float32 and x.shape == (400,)
    assert adjit.ones(2, dtype=adjit.float64).dtype == np.float64
    assert adjit.tensor([1], dtype=adjit.int32).dtype == np.int32
    assert adjit.zeros(1, dtype=adjit.int64).dtype == np.int64
    assert not hasattr(adjit, "_np")


def test_inplace_into_a_tensor_outside_the_graph() -> None:
    # y = zeros(3); y[1] = x * 2 made y part of the graph, but the node read y's values at
    # backward time, changed by the assignment itself: an in-place error (torch allows it)
    a = adjit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = adjit.zeros(3)
    y[1] = a[2] * 2
    assert y.requires_grad and not y.is_leaf
    (y * y).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0, 24.0]
    b = adjit.tensor([1.0, 2.0, 3.0], requires_grad=True)
    z = adjit.ones(3) * 2
    z.mul_(b)
    z.sum().backward()
    assert b.grad.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("key", [
    lambda: adjit.tensor([5]), lambda: (slice(None), np.array([2])),
    lambda: (adjit.tensor([-4]),)], ids=["tensor", "array-axis1", "negative"])
def test_index_tensor_out_of_range_is_an_index_error(key) -> None:
    # the recorded gather clamped it: x[tensor([5])] of a 3-row x gave the last row
    x = adjit.ones(3, 2, requires_grad=True)
    with pytest.raises(IndexError, match="out of bounds"):
        x[key()]
    assert x[adjit.tensor([-1, 2])].shape == (2, 2)


def test_stop_gradient_of_a_recorded_tensor_detaches_it() -> None:
    # it returned the tensor itself, so the gradient flowed through: 3x**2 instead of x**2
    x = adjit.tensor([0.0, 1.0, 2.0, 3.0], requires_grad=True)
    u = adjit.stop_gradient(x * x)
    assert not u.requires_grad and u.grad_fn is None
    (u * x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 4.0, 9.0]


def test_numbers_that_compare_equal_are_different_constants() -> None:
    """0.0 == -0.0 and NaN != NaN: a recorded operation keyed by such a number reused the
    wrong graph (x * -0.0 gave +0.0 after x * 0.0 on the same line) or traced every time."""
    import numpy as np

    import adjit

    a = adjit.tensor(np.array([1.0, 2.0]), requires_grad=True)
    signs = [np.signbit((a * s).detach().numpy()).tolist() for s in (0.0, -0.0, 0.0)]
    assert signs == [[False, False], [True, True], [False, False]]
    assert np.isnan((a * float("nan")).detach().numpy()).all()


def test_an_operation_that_needs_an_arrays_values_takes_it_as_a_constant() -> None:
    """np.quantile's q must be known while tracing: a numpy q is a constant of the recorded
    graph (other numpy arrays stay inputs, so new values keep the structure)."""
    import numpy as np

    import adjit

    x = adjit.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    for q in (np.array([0.2, 0.7]), np.array([0.5, 0.9])):
        x.grad = None
        out = np.quantile(x, q, axis=1)
        np.testing.assert_allclose(out.detach().numpy(),
                                   np.quantile(np.arange(12.0).reshape(3, 4), q, axis=1))
        out.sum().backward()
        qs = q.tolist()  # (a captured numpy q would be a traced input there)
        want = adjit.grad(lambda v, qs=qs: np.sum(np.quantile(v, qs, axis=1)))(
            np.arange(12.0).reshape(3, 4))
        np.testing.assert_allclose(x.grad.numpy(), want)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_ignores_an_ignore_index_that_is_a_class(reduction) -> None:
    # the targets equal to ignore_index were only left out when it was no class (-100):
    # with ignore_index=2 they still counted in the loss and its gradient
    logits = np.array([[0.1, 0.5, -1.0], [2.0, 0.3, 0.4], [-0.5, 1.5, 0.2]])
    target = np.array([0, 2, 1])
    x = adjit.tensor(logits, requires_grad=True)
    loss = adjit.nn.functional.cross_entropy(x, adjit.tensor(target), ignore_index=2,
                                             reduction=reduction)
    loss.sum().backward()
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    picked = np.array([-logp[0, 0], 0.0, -logp[2, 1]])
    want = {"mean": picked.sum() / 2, "sum": picked.sum(), "none": picked}[reduction]
    assert np.allclose(loss.detach().numpy(), want)
    assert np.allclose(x.grad.numpy()[1], 0.0)


def test_cross_entropy_of_one_sample_without_a_batch_axis() -> None:
    # logits of shape (C,) with a 0-d target, as PyTorch allows: it raised numpy's AxisError
    logits = np.array([0.1, 0.5, -1.0])
    x = adjit.tensor(logits, requires_grad=True)
    loss = adjit.nn.functional.cross_entropy(x, adjit.tensor(1))
    loss.backward()
    p = np.exp(logits) / np.exp(logits).sum()
    assert loss.shape == () and np.isclose(loss.item(), -np.log(p[1]))
    assert np.allclose(x.grad.numpy(), p - np.eye(3)[1])
    none = adjit.nn.functional.cross_entropy(adjit.tensor(logits), adjit.tensor(1),
                                             reduction="none")
    assert none.shape == () and np.isclose(none.item(), -np.log(p[1]))


def test_requires_grad_true_on_a_non_leaf_is_a_no_op() -> None:
    # PyTorch refuses only requires_grad_(False) on a non-leaf; adjit refused True too
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert y.requires_grad_() is y and y.requires_grad_(True) is y
    assert y.requires_grad and not y.is_leaf
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad_(False)


def test_a_retained_gradient_accumulates_over_backward_passes() -> None:
    # a non-leaf's retained .grad was replaced by each backward; torch adds to it
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    y = x + 1
    y.retain_grad()
    z = (y * y).sum()
    z.backward(retain_graph=True)
    first = y.grad
    z.backward()
    assert y.grad.tolist() == [8.0, 12.0] and first.tolist() == [4.0, 6.0]
    assert x.grad.tolist() == [8.0, 12.0]


def test_autograd_grad_runs_tensor_hooks() -> None:
    # autograd.grad ignored hooks: an intermediate's hook that changes its gradient was not
    # applied to what flows through it, nor a leaf's hook to the gradient returned for it
    # (backward() ran both; torch runs them in autograd.grad too)
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.register_hook(lambda g: g * 0)
    (g,) = adjit.autograd.grad((y * y).sum(), x)
    assert g.tolist() == [0.0, 0.0]
    w = adjit.tensor([1.0, 2.0], requires_grad=True)
    w.register_hook(lambda g: g * 10)
    (g,) = adjit.autograd.grad((w ** 2).sum(), w)
    assert g.tolist() == [20.0, 40.0] and w.grad is None


def test_div_rounding_modes_are_torchs() -> None:
    # torch.div(a, b, rounding_mode=...): "floor" is Python's //, "trunc" rounds toward zero;
    # both keep integer dtypes and have zero derivative (the method did not take the keyword)
    import numpy as np

    import adjit

    a, b = np.array([7.0, -7.0, 7.5, -7.5]), np.array([2.0, 2.0, -2.0, 2.0])
    want = {None: a / b, "floor": np.array([3.0, -4.0, -4.0, -4.0]),
            "trunc": np.array([3.0, -3.0, -3.0, -3.0])}
    for mode, expected in want.items():
        x = adjit.tensor(a, requires_grad=True)
        out = x.div(adjit.tensor(b), rounding_mode=mode)
        np.testing.assert_array_equal(out.detach().numpy(), expected)
        out.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), 1 / b if mode is None else 0 * b)
    ia, ib = np.array([7, -7, 7, -7]), np.array([2, 2, -2, -2])
    floor = adjit.tensor(ia).div(adjit.tensor(ib), rounding_mode="floor")
    trunc = adjit.tensor(ia).divide(adjit.tensor(ib), rounding_mode="trunc")
    assert floor.dtype == trunc.dtype == np.int64
    np.testing.assert_array_equal(floor.numpy(), [3, -4, -4, 3])
    np.testing.assert_array_equal(trunc.numpy(), [3, -3, -3, 3])
    y = adjit.tensor(np.array([7.0, -7.0]))
    y.div_(2.0, rounding_mode="floor")
    np.testing.assert_array_equal(y.numpy(), [3.0, -4.0])
    with pytest.raises(ValueError, match="rounding_mode"):
        adjit.tensor(np.ones(2)).div(2.0, rounding_mode="round")
