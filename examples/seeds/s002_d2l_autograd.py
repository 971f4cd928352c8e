"""Seed 002 (d2l 2.5, 自动微分): y = 2 x^T x, gradients accumulate, non-scalar outputs,
detach, and the gradient of Python control flow.

Run: python s002_d2l_autograd.py
"""
import sys

import numpy as np
from _check import check, finish

import adjit

# ---- 2.5.1 a simple example ---------------------------------------------------------------------
x = adjit.arange(4.0)
x.requires_grad_(True)                         # as x = adjit.arange(4.0, requires_grad=True)
check("x.grad before backward", x.grad, None)
y = 2 * np.dot(x, x)
check("F1 y", y, 28.0)
y.backward()
check("F1 x.grad", x.grad, [0.0, 4.0, 8.0, 12.0])
check("F1 x.grad == 4 * x", x.grad == 4 * x, [True] * 4)
x.grad.zero_()
y = x.sum()
y.backward()
check("F2 x.grad, y", (x.grad.tolist(), y.item()), ([1.0, 1.0, 1.0, 1.0], 6.0))

# ---- 2.5.2 backward of a non-scalar -------------------------------------------------------------
x.grad.zero_()
y = x * x
y.sum().backward()                             # the same as y.backward(adjit.ones(len(x)))
check("F3 x.grad", x.grad, [0.0, 2.0, 4.0, 6.0])
x.grad.zero_()
(x * x).backward(adjit.ones(len(x)))
check("F3 x.grad via y.backward(ones)", x.grad, [0.0, 2.0, 4.0, 6.0])

# ---- 2.5.3 detaching ----------------------------------------------------------------------------
x.grad.zero_()
y = x * x
u = y.detach()
z = u * x
z.sum().backward()
check("F8 x.grad == u", x.grad == u, [True] * 4)
check("F8 x.grad, u.grad", (x.grad.tolist(), u.grad), ([0.0, 1.0, 4.0, 9.0], None))
x.grad.zero_()
y.sum().backward()                             # y's own graph is still there
check("F8 then x.grad == 2 * x", x.grad == 2 * x, [True] * 4)


# ---- 2.5.4 the gradient of Python control flow (F9) ---------------------------------------------
def f(a):
    b = 2 * a
    while b.norm() < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


def slope(a):
    """The k of f(a) = k * a, counted in plain Python: f is piecewise linear."""
    k, b = 2.0, 2 * abs(a)
    while b < 1000:
        k, b = 2 * k, 2 * b
    return k if a > 0 else 100 * k


# Recorded: Python runs the `while` and the `if` on the tensor's value, and the graph is what ran.
adjit.manual_seed(2)
a = adjit.randn(size=(), requires_grad=True)
d = f(a)
d.backward()
print(f"d, a = {d}, {a}")
check("F9 a.grad (exact slope)", a.grad.item(), slope(a.item()))
check("F9 a.grad == d / a", a.grad == d / a, True)
a = adjit.tensor(-0.37, requires_grad=True)  # the else branch
f(a).backward()
check("F9 a.grad on the else branch", a.grad.item(), slope(-0.37))


# Traced: the loop and the branch become `while` and `cond` nodes decided inside the compiled
# code, so one compilation serves every a (np.linalg.norm for tensor.norm()).
@adjit.grad
def g(a):
    b = 2 * a
    while np.linalg.norm(b) < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


for value in (0.0984, -0.37, 3.5):
    check(f"F9 traced grad at a = {value}", g(value), slope(value))

if __name__ == "__main__":
    sys.exit(finish())
