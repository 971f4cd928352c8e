"""Every recorded (PyTorch-style) row R1-R14 of shared/seeds/EXAMPLES.md, with its expected
values and error messages, written as the tutorials write them (`t` is `adjit`)."""
from __future__ import annotations

import numpy as np
import pytest

import adjit as t
from adjit import autograd


def test_r1_grad_fn_and_is_leaf() -> None:
    a = t.randn(2, 3, requires_grad=True)
    b = t.zeros(2, 3, requires_grad=True)
    c = a.add(b)
    assert c.grad_fn.name() == "AddBackward0"
    assert repr(c.grad_fn).startswith("<AddBackward0 object at 0x")
    d = c.sum()
    assert d.grad_fn.name() == "SumBackward0"
    assert (a.is_leaf, b.is_leaf, c.is_leaf, d.is_leaf) == (True, True, False, False)
    assert "grad_fn=<SumBackward0>" in repr(d)
    # the tutorial's other two ways to ask for a gradient
    assert t.randn(2, 3).requires_grad_().requires_grad
    a2 = t.rand(2, 3)
    a2.requires_grad = True
    assert a2.requires_grad and "requires_grad=True" in repr(a2)


def _r2():
    x = t.ones(1)
    w = t.rand(1, requires_grad=True)
    b = t.rand(1, requires_grad=True)
    y = w * x
    z = y + b
    return x, w, b, y, z


def test_r2_requires_grad_and_next_functions() -> None:
    x, w, b, y, z = _r2()
    assert (x.requires_grad, w.requires_grad, b.requires_grad, y.requires_grad,
            z.requires_grad) == (False, True, True, True, True)
    assert (x.is_leaf, w.is_leaf, b.is_leaf, y.is_leaf, z.is_leaf) == (
        True, True, True, False, False)
    assert z.grad_fn.name() == "AddBackward0"
    (f0, i0), (f1, i1) = z.grad_fn.next_functions
    assert (f0.name(), i0, f1.name(), i1) == ("MulBackward0", 0, "AccumulateGrad", 0)
    assert f0 is y.grad_fn  # z.grad_fn.next_functions[0][0] == y.grad_fn
    assert f1.variable is b
    (g0, j0), (g1, j1) = y.grad_fn.next_functions
    assert (g0.name(), j0, g1, j1) == ("AccumulateGrad", 0, None, 0)
    assert g0.variable is w
    assert (w.grad_fn, x.grad_fn) == (None, None)


def test_r3_gradients_accumulate() -> None:
    x, w, b, y, z = _r2()
    z.backward(retain_graph=True)
    assert w.grad.tolist() == [1.0]
    z.backward()
    assert w.grad.tolist() == [2.0]
    assert b.grad.tolist() == [2.0]


def test_r4_a_freed_graph_says_retain_graph() -> None:
    x, w, b, y, z = _r2()
    z.backward(retain_graph=True)
    z.backward()
    with pytest.raises(RuntimeError) as e:
        z.backward()
    msg = str(e.value)
    assert "backward through the graph a second time" in msg
    assert "retain_graph=True" in msg
    assert w.grad.tolist() == [2.0]  # the failed pass changed nothing


def test_r4_autograd_grad_frees_too() -> None:
    x = t.tensor([1.0, 2.0], requires_grad=True)
    z = (x * x).sum()
    autograd.grad(z, x)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        autograd.grad(z, x)


def test_r5_non_scalar_needs_a_gradient() -> None:
    x = t.tensor([0.0, 1.0, 2.0], requires_grad=True)
    y = x**2 + 2 * x
    with pytest.raises(RuntimeError) as e:
        y.backward()
    msg = str(e.value)
    assert "grad can be implicitly created only for scalar outputs" in msg
    assert "gradient=" in msg
    assert x.grad is None


def test_r6_backward_with_a_gradient() -> None:
    x = t.Tensor([0, 1, 2]).requires_grad_()
    y = x**2 + 2 * x
    z = y.sum()
    assert y.tolist() == [0.0, 3.0, 8.0] and z.item() == 11.0
    assert y.grad_fn.name() == "AddBackward0" and z.grad_fn.name() == "SumBackward0"
    y.backward(t.Tensor([1, 1, 1]))  # dz/dy
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    x2 = t.Tensor([0, 1, 2]).requires_grad_()
    (x2**2 + 2 * x2).backward(gradient=t.ones(3))
    assert x2.grad.tolist() == [2.0, 4.0, 6.0]


def test_r7_zero_between_passes() -> None:
    x = t.arange(4.0)
    x.requires_grad_(True)
    assert x.grad is None
    y = 2 * np.dot(x, x)
    assert y.item() == 28.0 and y.grad_fn.name() == "MulBackward0"
    y.backward()
    assert x.grad.tolist() == [0.0, 4.0, 8.0, 12.0]
    assert (x.grad == 4 * x).tolist() == [True] * 4
    x.grad.zero_()
    y = x.sum()
    y.backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0, 1.0]
    x.grad.zero_()
    y = x * x
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 2.0, 4.0, 6.0]
    # without zero_, the next gradient is added: [1, 5, 9, 13]
    y = x.sum()
    y.backward()
    assert x.grad.tolist() == [1.0, 3.0, 5.0, 7.0]


def test_r8_no_grad_and_set_grad_enabled() -> None:
    with t.no_grad():
        w = t.rand(1, requires_grad=True)
        x = t.ones(1)
        y = w * x
    assert w.requires_grad and not x.requires_grad
    assert not y.requires_grad and y.grad_fn is None
    t.set_grad_enabled(False)
    try:
        w = t.rand(1, requires_grad=True)
        y = w * t.ones(1)
        assert w.requires_grad and not y.requires_grad and y.grad_fn is None
    finally:
        t.set_grad_enabled(True)
    assert (w * t.ones(1)).requires_grad


def test_r9_detach_and_data() -> None:
    a = t.ones(3, 4, requires_grad=True)
    b = t.ones(3, 4, requires_grad=True)
    c = a * b
    assert a.data.tolist() == [[1.0] * 4] * 3
    assert not a.data.requires_grad
    d = a.data.sigmoid_()
    assert not d.requires_grad
    np.testing.assert_allclose(a.detach().numpy(), np.full((3, 4), 0.7310586), rtol=1e-6)
    assert a.requires_grad and a.is_leaf
    tensor = a.detach()
    assert not tensor.requires_grad and tensor.grad_fn is None
    assert np.shares_memory(tensor.numpy(), a.data.numpy())
    mean, std = tensor.mean(), tensor.std()
    assert abs(mean.item() - 0.7310586) < 1e-6 and std.item() == 0.0
    # the change through .data was not recorded: c's backward sees a's new values
    c.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), np.full((3, 4), 0.7310586), rtol=1e-6)


def test_r9_detach_makes_a_constant() -> None:
    x = t.arange(4.0, requires_grad=True)
    y = x * x
    u = y.detach()
    z = u * x
    z.sum().backward()
    assert (x.grad == u).tolist() == [True] * 4
    assert x.grad.tolist() == [0.0, 1.0, 4.0, 9.0] and u.grad is None
    x.grad.zero_()
    y.sum().backward()
    assert (x.grad == 2 * x).tolist() == [True] * 4


def test_r10_non_leaf_gradient() -> None:
    w = t.rand(1, requires_grad=True)
    x = t.ones(1, requires_grad=True)
    y = w * x
    z = y.sum()
    z.backward()
    assert w.grad.tolist() == [1.0]
    np.testing.assert_allclose(x.grad.numpy(), w.detach().numpy())
    assert y.grad is None
    w = t.rand(3, requires_grad=True)
    x = t.ones(3, requires_grad=True)
    y = w * x
    z = y.sum()
    (gy,) = autograd.grad(z, y)
    assert isinstance(gy, t.Tensor) and gy.tolist() == [1.0, 1.0, 1.0]


def test_r11_hook_sees_the_gradient_and_is_removed(capsys: pytest.CaptureFixture) -> None:
    seen = []

    def variable_hook(grad):
        print("y的梯度：", grad)
        seen.append(grad.tolist())

    w = t.rand(3, requires_grad=True)
    x = t.ones(3, requires_grad=True)
    y = w * x
    z = y.sum()
    hook = y.register_hook(variable_hook)
    z.backward()
    hook.remove()
    assert seen == [[1.0, 1.0, 1.0]]
    assert "y的梯度： tensor([1., 1., 1.])" in capsys.readouterr().out
    z = (w * x).sum()
    y2 = w * x
    y2.sum().backward()
    assert len(seen) == 1  # removed: not called again


def test_r12_create_graph_second_derivative() -> None:
    x = t.tensor([1.0, 2.0, -3.0], requires_grad=True)
    y = (x**3).sum()
    (g,) = autograd.grad(y, x, create_graph=True)
    assert g.tolist() == [3.0, 12.0, 27.0] and g.requires_grad
    g.sum().backward()
    assert x.grad.tolist() == [6.0, 12.0, -18.0]  # 6x


class Exp(autograd.Function):
    @staticmethod
    def forward(ctx, i):
        result = i.exp()
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad_output):
        (result,) = ctx.saved_tensors
        return grad_output * result


def test_r13_custom_function() -> None:
    x = t.tensor([0.0, 1.0, 2.0], requires_grad=True)
    y = Exp.apply(x)
    assert y.grad_fn.name() == "ExpBackward"
    (y * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([0.0, 1.0, 2.0]), rtol=1e-6)


def test_r13_custom_function_in_traced_code() -> None:
    # the same Function is the custom VJP of traced code
    g = t.grad(lambda x: Exp.apply(x).sum())(np.ones(3))
    np.testing.assert_allclose(g, np.exp(np.ones(3)))


def test_r14_requires_grad_propagates() -> None:
    x = t.rand(5, 5)
    y = t.rand(5, 5)
    z = t.rand(5, 5, requires_grad=True)
    a = x + y
    b = x + z
    assert (a.requires_grad, b.requires_grad) == (False, True)
    assert a.grad_fn is None and b.grad_fn.name() == "AddBackward0"
