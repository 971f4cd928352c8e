"""Seed 000 (自动求导): a training step, then how autograd collects gradients.

Run: python s000_training_step.py
"""
import sys

import numpy as np
from _check import check, finish

import adjit

adjit.manual_seed(0)

# ---- a training step ----------------------------------------------------------------------------
# The tutorial loads torchvision's pretrained resnet18; adjit has no pretrained weights (and its
# adjit.models lands with adjit.nn), so a small two-layer network with random weights stands in.
data = adjit.rand(1, 3, 8, 8)
labels = adjit.rand(1, 10)
w1 = (adjit.randn(3 * 8 * 8, 32) * 0.1).requires_grad_()
b1 = adjit.zeros(32, requires_grad=True)
w2 = (adjit.randn(32, 10) * 0.1).requires_grad_()
b2 = adjit.zeros(10, requires_grad=True)
params = [w1, b1, w2, b2]


def model(x):
    return (x.flatten(1) @ w1 + b1).relu() @ w2 + b2


prediction = model(data)                       # forward pass
loss = (prediction - labels).sum()
loss.backward()                                # backward pass: every parameter's .grad
check("training step: every parameter has a gradient of its shape",
      [p.grad.shape == p.shape for p in params], [True] * 4)

# SGD(lr=1e-2, momentum=0.9).step(), as PyTorch's formula: v = momentum * v + g; p -= lr * v
velocity = [adjit.zeros_like(p) for p in params]
before = loss.item()
with adjit.no_grad():
    for p, v in zip(params, velocity, strict=True):
        v.mul_(0.9).add_(p.grad)
        p -= 1e-2 * v
after = (model(data) - labels).sum().item()
check("training step: the loss went down", after < before, True)

# ---- differentiation in autograd ----------------------------------------------------------------
a = adjit.tensor([2.0, 3.0], requires_grad=True)
b = adjit.tensor([6.0, 4.0], requires_grad=True)
Q = 3 * a**3 - b**2
external_grad = adjit.tensor([1.0, 1.0])
Q.backward(gradient=external_grad)
check("F4 9*a**2 == a.grad", 9 * a**2 == a.grad, [True, True])
check("F4 -2*b == b.grad", -2 * b == b.grad, [True, True])
check("F4 a.grad", a.grad, [36.0, 81.0])
check("F4 b.grad", b.grad, [-12.0, -8.0])
# functional: the VJP of Q with the cotangent [1, 1]
_, back = adjit.vjp(lambda a, b: 3 * a**3 - b**2, np.array([2.0, 3.0]), np.array([6.0, 4.0]))
check("F4 functional (dQ/da, dQ/db)", back(np.ones(2)), [[36.0, 81.0], [-12.0, -8.0]])

# ---- y = 2 x^T x --------------------------------------------------------------------------------
x = adjit.arange(4.0)
check("x", x, [0.0, 1.0, 2.0, 3.0])
x.requires_grad_(True)
check("x.grad before backward", x.grad, None)
y = 2 * np.dot(x, x)
check("F1 y", y, 28.0)
check("F1 y.grad_fn", y.grad_fn.name(), "MulBackward0")
y.backward()
check("F1 x.grad", x.grad, [0.0, 4.0, 8.0, 12.0])
check("F1 x.grad == 4*x", x.grad == 4 * x, [True] * 4)
check("F1 functional", adjit.grad(lambda x: 2 * np.dot(x, x))(np.arange(4.0)),
      [0.0, 4.0, 8.0, 12.0])

x.grad.zero_()                                 # PyTorch (and adjit) accumulate: clear first
y = x.sum()
y.backward()
check("F2 x.grad", x.grad, [1.0, 1.0, 1.0, 1.0])

x.grad.zero_()
y = x * x
y.sum().backward()
check("F3 x.grad", x.grad, [0.0, 2.0, 4.0, 6.0])

x.grad.zero_()
y = x * x
u = y.detach()                                 # u is a constant: no gradient through it
z = u * x
z.sum().backward()
check("F8 x.grad == u", x.grad == u, [True] * 4)
check("F8 functional", adjit.grad(lambda x: (adjit.stop_gradient(x * x) * x).sum())(
    np.arange(4.0)), [0.0, 1.0, 4.0, 9.0])

if __name__ == "__main__":
    sys.exit(finish())
