"""Seed 003 (07-自动求导): the computation graph built explicitly or implicitly, forward and
reverse accumulation, control flow with vectors, and the plot of sin(x) and its derivative
computed without writing cos.

Run: python s003_modes_and_plot.py [PLOT.png]   (the plot needs matplotlib)
"""
import sys

import numpy as np
from _check import check, finish

import adjit
from adjit.ir import evaluate
from adjit.passes import jvp

ex = adjit.explicit


# ---- 2.1 explicit vs implicit construction ------------------------------------------------------
# Explicit (Theano/TensorFlow 1): the formula first, values later. Implicit (PyTorch): record
# what runs. adjit builds the same graph both ways, and traced (JAX-style) too.
def y_of(x):
    return np.dot(x, x)


comparison = adjit.compare(y_of, np.arange(4.0), declared=lambda x: ex.dot(x, x))
print(comparison)
check("explicit, implicit (recorded) and traced: one graph",
      ([w.name for w in comparison.ways], comparison.identical),
      (["traced", "declared", "recorded"], True))
x_decl = ex.var("x", shape=(4,), dtype="float64")             # explicit: declare ...
y_decl = ex.dot(x_decl, x_decl)
(g_decl,) = ex.gradients(y_decl, [x_decl])
y_val, g_val = ex.function([x_decl], [y_decl, g_decl])(np.arange(4.0))  # ... then substitute
check("explicit: y, dy/dx", (y_val, g_val), (14.0, [0.0, 2.0, 4.0, 6.0]))
x = adjit.arange(4.0, requires_grad=True)                     # implicit: record
y = np.dot(x, x)
check("implicit: y.grad_fn", y.grad_fn.name(), "DotBackward0")
y.backward()
check("implicit: x.grad == 2*x", x.grad == 2 * x, [True] * 4)

# ---- 2.2 forward and reverse accumulation -------------------------------------------------------
# Reverse mode: one backward pass gives the gradient for every input, and stores the forward
# pass's intermediates. Forward mode: one pass per input direction, nothing stored. adjit has
# both: adjit.grad (reverse) and adjit.jvp (forward, compiled), and the graph transformation
# behind adjit.jvp, adjit.passes.jvp, can be applied to the traced graph and printed.
def z_of(x):
    return np.sum(np.sin(x) * x)


xs = np.array([0.5, 1.0, 2.0])
reverse = adjit.grad(z_of)(xs)
traced = adjit.inspect(z_of, xs).traced
forward_graph = jvp(traced, [0])
print(forward_graph)
forward = [evaluate(forward_graph, xs, e)[1] for e in np.eye(3)]  # one pass per input
compiled = [adjit.jvp(z_of, (xs,), (e,))[1] for e in np.eye(3)]
exact = np.cos(xs) * xs + np.sin(xs)
check("reverse mode: one pass, every input", reverse, exact, rtol=1e-12)
check("forward mode: one pass per input", forward, exact, rtol=1e-12)
check("forward mode, compiled (adjit.jvp)", compiled, exact, rtol=1e-12)
check("forward mode: the graph has no adjoint (vjp) equations",
      "vjp(" in str(forward_graph), False)


# ---- 3 control flow: a vector a (F10) and the exercises -----------------------------------------
def f(a):
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


adjit.manual_seed(3)
a = adjit.randn(10, requires_grad=True)
d = f(a)
try:
    d.backward()                               # d is a vector: a gradient cannot be implied
except RuntimeError as e:
    check("F10 d.backward() on a vector: " + str(e).split(" (")[0], True, True)
d.sum().backward()                             # sum it first, as the tutorial does
check("F10 a.grad == f(a)/a everywhere", a.grad, (d / a).detach(), rtol=1e-6)
check("F10 every entry equal", len(set(a.grad.tolist())), 1)


def h(x):                                      # exercise 4: another control-flow function
    y = x * x
    while y.norm() < 2500:
        y = y * 2
    if y.sum() < 0:
        c = 100 * y
    else:
        c = y
    return c


x = adjit.tensor(-0.9, requires_grad=True)
y = h(x)
y.backward()
check("exercise 4: dh/dx = 2 h(x)/x", x.grad.item(), (2 * y / x).item(), rtol=1e-6)


# ---- 5 sin(x) and its derivative, without writing cos (F11) -------------------------------------
x = adjit.arange(-20, 20, 0.1, requires_grad=True, dtype=adjit.float32)
y = np.sin(x)
y.sum().backward()
check("F11 recorded: x.grad == cos(x)", x.grad, np.cos(x.detach().numpy()), atol=1e-6)
xf = np.arange(-20, 20, 0.1)
dsin = adjit.grad(lambda x: np.sin(x).sum())(xf)
check("F11 functional: grad == cos(x)", dsin, np.cos(xf), atol=1e-12)

if len(sys.argv) > 1:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(x.detach(), y.detach(), label="y = sin(x)")
    ax.plot(x.detach(), x.grad, label="dy/dx (adjit, without cos)")
    ax.legend(loc="lower right")
    fig.savefig(sys.argv[1])
    print(f"wrote {sys.argv[1]}")

if __name__ == "__main__":
    sys.exit(finish())
