"""Seed 004 (A gentle introduction to torch.autograd): a training step, Q = 3a^3 - b^2, and
the step again with every layer but the classifier frozen, where the backward pass does no
work for the frozen layers.

Run: python s004_gentle_intro.py
"""
import sys

import numpy as np
from _check import check, finish

import adjit

adjit.manual_seed(4)

# A small network with random weights stands in for the pretrained resnet18 (adjit has no
# pretrained weights, and its adjit.models lands with adjit.nn): flatten, a hidden layer, and
# a final classifier `fc`.
data = adjit.rand(1, 3, 8, 8)
labels = adjit.rand(1, 10)
hidden_w = (adjit.randn(3 * 8 * 8, 32) * 0.1).requires_grad_()
hidden_b = adjit.zeros(32, requires_grad=True)
fc_w = (adjit.randn(32, 10) * 0.1).requires_grad_()
fc_b = adjit.zeros(10, requires_grad=True)


def model(x):
    return (x.flatten(1) @ hidden_w + hidden_b).relu() @ fc_w + fc_b


prediction = model(data)                       # forward pass
loss = (prediction - labels).sum()
full = adjit.inspect(loss)                     # the compiled backward of this loss
loss.backward()                                # backward pass
check("every parameter has a gradient",
      [p.grad is not None for p in (hidden_w, hidden_b, fc_w, fc_b)], [True] * 4)
with adjit.no_grad():                          # SGD(lr=1e-2, momentum=0.9), first step
    for p in (hidden_w, hidden_b, fc_w, fc_b):
        p -= 1e-2 * p.grad                     # the momentum buffer starts as the gradient

# ---- differentiation in autograd ----------------------------------------------------------------
a = adjit.tensor([2.0, 3.0], requires_grad=True)
b = adjit.tensor([6.0, 4.0], requires_grad=True)
Q = 3 * a**3 - b**2
external_grad = adjit.tensor([1.0, 1.0])
Q.backward(gradient=external_grad)
print(9 * a**2 == a.grad)
print(-2 * b == b.grad)
check("F4 dQ/da = 9a**2", a.grad, [36.0, 81.0])
check("F4 dQ/db = -2b", b.grad, [-12.0, -8.0])

# ---- frozen layers: only the classifier learns --------------------------------------------------
for p in (hidden_w, hidden_b):
    p.requires_grad_(False)
    p.grad = None
fc_w.grad = fc_b.grad = None
loss = (model(data) - labels).sum()
frozen = adjit.inspect(loss)
print(frozen.prune_report)
print(frozen.simplified)
loss.backward()
check("frozen: only the classifier has gradients",
      [p.grad is not None for p in (hidden_w, hidden_b, fc_w, fc_b)], [False, False, True, True])


def count(graph, role):
    return str(graph).count(role)


# The frozen layers ran without recording (nothing in them needs a gradient), so their output
# is a constant of the recorded graph; pruning drops the cotangents nobody asked for.
check("matrix products in the backward: full, frozen",
      (count(full.simplified, "vjp(matmul)"), count(frozen.simplified, "vjp(matmul)")), (3, 1))
check("relu's backward (a mask, out <= 0, and a select): full, frozen",
      (count(full.simplified, "vjp(relu)"), count(frozen.simplified, "vjp(relu)")), (2, 0))
check("frozen: the hidden layer's weight is not an input of the backward",
      any(v.type.shape == (3 * 8 * 8, 32) for v in frozen.simplified.inputs), False)
check("frozen: pruning reports what it removed", "pruned" in str(frozen.prune_report), True)
hidden = (data.flatten(1) @ hidden_w + hidden_b).relu()   # no gradient needed: not recorded
check("the classifier's gradient, by hand: hidden^T @ ones", fc_w.grad,
      hidden.numpy().T @ np.ones((1, 10), np.float32), rtol=1e-6)

if __name__ == "__main__":
    sys.exit(finish())
