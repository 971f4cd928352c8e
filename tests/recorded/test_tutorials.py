"""The functional rows F1-F11 of EXAMPLES.md in their recorded form, as the tutorials write
them with torch (adjit's Tensor for torch's, numpy functions for torch's)."""
from __future__ import annotations

import numpy as np

import adjit
from adjit import demo


def test_f1_y_2_xtx() -> None:
    x = adjit.arange(4.0)
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0] and x.dtype == np.float32
    x.requires_grad_(True)
    y = 2 * np.dot(x, x)
    assert y.item() == 28.0 and y.grad_fn.name() == "MulBackward0"
    y.backward()
    assert x.grad.tolist() == [0.0, 4.0, 8.0, 12.0]
    assert x.dot(x).grad_fn.name() == "DotBackward0"


def test_f2_f3_sum_and_square() -> None:
    x = adjit.arange(4.0, requires_grad=True)
    x.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0, 1.0]
    x.grad.zero_()
    (x * x).sum().backward()
    assert x.grad.tolist() == [0.0, 2.0, 4.0, 6.0]


def test_f4_q_with_external_gradient() -> None:
    a = adjit.tensor([2.0, 3.0], requires_grad=True)
    b = adjit.tensor([6.0, 4.0], requires_grad=True)
    Q = 3 * a**3 - b**2
    external_grad = adjit.tensor([1.0, 1.0])
    Q.backward(gradient=external_grad)
    assert (9 * a**2 == a.grad).tolist() == [True, True]
    assert (-2 * b == b.grad).tolist() == [True, True]
    assert a.grad.tolist() == [36.0, 81.0] and b.grad.tolist() == [-12.0, -8.0]


def test_f5_x2_exp_x_against_the_hand_derivative() -> None:
    def f(x):
        return x**2 * np.exp(x)

    def gradf(x):
        return 2 * x * np.exp(x) + x**2 * np.exp(x)

    x = adjit.randn(3, 4, requires_grad=True)
    y = f(x)
    assert y.grad_fn.name() == "MulBackward0"
    y.backward(adjit.ones(y.size()))
    np.testing.assert_allclose(x.grad.numpy(), gradf(x).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    assert gradf(x).grad_fn.name() == "AddBackward0"


def test_f6_z_wx_plus_b() -> None:
    x = adjit.ones(1)
    w = adjit.rand(1, requires_grad=True)
    b = adjit.rand(1, requires_grad=True)
    z = w * x + b
    z.backward()
    assert w.grad.tolist() == x.tolist() and b.grad.tolist() == [1.0]


def test_f7_sum_and_vjp_agree() -> None:
    x = adjit.tensor([0.0, 1.0, 2.0], requires_grad=True)
    (x**2 + 2 * x).sum().backward()
    g1 = x.grad.tolist()
    x.grad = None
    (x**2 + 2 * x).backward(adjit.ones(3))
    assert g1 == x.grad.tolist() == [2.0, 4.0, 6.0]


def test_f8_detach() -> None:
    x = adjit.arange(4.0, requires_grad=True)
    u = (x * x).detach()
    (u * x).sum().backward()
    assert x.grad.tolist() == u.tolist() == [0.0, 1.0, 4.0, 9.0]


def f(a):
    """The tutorial's control-flow function, on tensors (tensor.norm(), as it is written)."""
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


def test_f9_control_flow_runs_eagerly() -> None:
    adjit.manual_seed(9)
    for _ in range(6):
        a = adjit.randn((), requires_grad=True)
        d = f(a)
        d.backward()
        k = demo.slope(a.item())
        assert a.grad.item() == k  # exact: a power of two, or 100 times one
        # the tutorial's check, a.grad == d / a, holds wherever d / a rounds to k (always
        # on the `if` branch, where d = 2**n * a exactly)
        if a.item() > 0:
            assert bool(a.grad == d / a)
        np.testing.assert_allclose((d / a).item(), k, rtol=1e-6)
    # the graph is what ran: both branches taken by the same code
    a = adjit.tensor(-0.25, requires_grad=True)
    f(a).backward()
    assert a.grad.item() == demo.slope(-0.25) == 100 * demo.slope(0.25)


def test_f9_the_tutorial_exercise_value() -> None:
    # the tutorial's own numbers: a scalar whose loop doubles until |b| >= 1000
    a = adjit.tensor(0.0984, requires_grad=True)
    d = f(a)
    d.backward()
    assert a.grad.item() == 16384.0
    assert bool(a.grad == d / a)


def test_f10_vector() -> None:
    adjit.manual_seed(10)
    a = adjit.randn(10, requires_grad=True)
    d = f(a)
    d.sum().backward()
    k = demo.slope(a.detach().numpy())
    assert a.grad.tolist() == [k] * 10
    np.testing.assert_allclose(a.grad.numpy(), (d / a).detach().numpy(), rtol=1e-6)


def test_f11_sin_derivative_without_cos() -> None:
    x = adjit.arange(-20, 20, 0.1, requires_grad=True, dtype=adjit.float32)
    y = np.sin(x)
    y.sum().backward()
    assert x.grad.shape == (400,)
    np.testing.assert_allclose(x.grad.numpy(), np.cos(x.detach().numpy()), atol=1e-6)
