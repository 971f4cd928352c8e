"""Seed 001 (Autograd, chapter 3): requires_grad, the computation graph, backward's arguments,
no_grad, .data and .detach(), non-leaf gradients (autograd.grad, hooks), custom Functions.
The rows R1-R14 of EXAMPLES.md, with `t` for `torch` as the tutorial writes it.

Run: python s001_autograd_chapter.py
"""
import sys

import numpy as np
from _check import check, finish

import adjit as t

t.manual_seed(1)

# ---- 3.2 requires_grad (R1) ---------------------------------------------------------------------
a = t.randn(2, 3, requires_grad=True)
a = t.randn(2, 3).requires_grad_()
a = t.rand(2, 3)
a.requires_grad = True
b = t.zeros(2, 3, requires_grad=True)
c = a.add(b)
check("R1 c.grad_fn", c.grad_fn.name(), "AddBackward0")
d = c.sum()
check("R1 d.grad_fn", d.grad_fn.name(), "SumBackward0")
check("R1 a.is_leaf, b.is_leaf, c.is_leaf, d.is_leaf",
      (a.is_leaf, b.is_leaf, c.is_leaf, d.is_leaf), (True, True, False, False))


# ---- y = x**2 * e**x against its hand derivative (F5) -------------------------------------------
def f(x):
    return x**2 * np.exp(x)


def gradf(x):
    return 2 * x * np.exp(x) + x**2 * np.exp(x)


x = t.randn(3, 4, requires_grad=True)
y = f(x)
y.backward(t.ones(y.size()))                   # the gradient has y's shape
check("F5 x.grad == gradf(x)", x.grad, gradf(x), rtol=1e-5, atol=1e-6)
xs = np.random.default_rng(5).normal(size=(3, 4))
check("F5 functional", t.grad(lambda x: np.sum(f(x)))(xs), gradf(xs), rtol=1e-12)

# ---- 3.3 the computation graph (R2, R3, R4) -----------------------------------------------------
x = t.ones(1)
w = t.rand(1, requires_grad=True)
b = t.rand(1, requires_grad=True)
y = w * x
z = y + b
check("R2 requires_grad x, w, b, y, z",
      (x.requires_grad, w.requires_grad, b.requires_grad, y.requires_grad, z.requires_grad),
      (False, True, True, True, True))
check("R2 is_leaf x, w, b, y, z", (x.is_leaf, w.is_leaf, b.is_leaf, y.is_leaf, z.is_leaf),
      (True, True, True, False, False))
check("R2 z.grad_fn", z.grad_fn.name(), "AddBackward0")
check("R2 z.grad_fn.next_functions",
      [(f.name(), i) for f, i in z.grad_fn.next_functions],
      [("MulBackward0", 0), ("AccumulateGrad", 0)])
check("R2 z.grad_fn.next_functions[0][0] == y.grad_fn",
      z.grad_fn.next_functions[0][0] is y.grad_fn, True)
check("R2 y.grad_fn.next_functions",
      [(None if f is None else f.name(), i) for f, i in y.grad_fn.next_functions],
      [("AccumulateGrad", 0), (None, 0)])
check("R2 w.grad_fn, x.grad_fn", (w.grad_fn, x.grad_fn), (None, None))
z.backward(retain_graph=True)
check("R3 w.grad", w.grad, [1.0])
z.backward()
check("R3 w.grad after a second backward (accumulated)", w.grad, [2.0])
try:
    z.backward()
    check("R4 a third backward raises", False, True)
except RuntimeError as e:
    print(f"R4 RuntimeError: {str(e)[:76]}...")
    check("R4 the error names retain_graph=True", "retain_graph=True" in str(e), True)

# ---- no_grad and set_grad_enabled (R8) ----------------------------------------------------------
w = t.rand(1, requires_grad=True)
x = t.ones(1, requires_grad=True)
check("R8 with grad: y.requires_grad", (w * x).requires_grad, True)
with t.no_grad():
    w = t.rand(1, requires_grad=True)
    x = t.ones(1)
    y = w * x
check("R8 no_grad: w, x, y requires_grad", (w.requires_grad, x.requires_grad, y.requires_grad),
      (True, False, False))
t.set_grad_enabled(False)
w = t.rand(1, requires_grad=True)
x = t.ones(1)
y = w * x
check("R8 set_grad_enabled(False): y.requires_grad, y.grad_fn", (y.requires_grad, y.grad_fn),
      (False, None))
t.set_grad_enabled(True)

# ---- changing values without recording: .data and .detach() (R9) --------------------------------
a = t.ones(3, 4, requires_grad=True)
b = t.ones(3, 4, requires_grad=True)
c = a * b
check("R9 a.data.requires_grad", a.data.requires_grad, False)
d = a.data.sigmoid_()
check("R9 d.requires_grad", d.requires_grad, False)
check("R9 a after a.data.sigmoid_()", a.detach()[0, 0].item(), 0.7310586, rtol=1e-6)
tensor = a.detach()
check("R9 tensor.requires_grad", tensor.requires_grad, False)
check("R9 detach shares memory", np.shares_memory(tensor.numpy(), a.data.numpy()), True)
mean, std = tensor.mean(), tensor.std()
check("R9 mean, std", (mean.item(), std.item()), (0.7310586, 0.0), rtol=1e-6)

# ---- non-leaf gradients: autograd.grad and hooks (R10, R11) -------------------------------------
w = t.rand(1, requires_grad=True)
x = t.ones(1, requires_grad=True)
y = w * x
z = y.sum()
z.backward()
check("R10 w.grad, y.grad", (w.grad.tolist(), y.grad), ([1.0], None))
w = t.rand(3, requires_grad=True)
x = t.ones(3, requires_grad=True)
y = w * x
z = y.sum()
check("R10 t.autograd.grad(z, y)", t.autograd.grad(z, y), [[1.0, 1.0, 1.0]])

seen = []


def variable_hook(grad):
    print("y的梯度：", grad)
    seen.append(grad)


w = t.rand(3, requires_grad=True)
x = t.ones(3, requires_grad=True)
y = w * x
z = y.sum()
hook = y.register_hook(variable_hook)
z.backward()
hook.remove()
check("R11 the hook saw y's gradient", seen, [[1.0, 1.0, 1.0]])
(w * x).sum().backward()
check("R11 removed: not called again", len(seen), 1)

# ---- backward's gradient argument (R5, R6, F7) --------------------------------------------------
x = t.Tensor([0, 1, 2]).requires_grad_()
y = x**2 + 2 * x
z = y.sum()
print(x, y, z)
z.backward()
check("F7 x.grad from z.backward()", x.grad, [2.0, 4.0, 6.0])
x = t.Tensor([0, 1, 2]).requires_grad_()
y = x**2 + 2 * x
try:
    y.backward()
    check("R5 backward of a vector raises", False, True)
except RuntimeError as e:
    check("R5 " + str(e).split(" (")[0], "only for scalar outputs" in str(e), True)
y_gradient = t.Tensor([1, 1, 1])            # dz/dy
y.backward(y_gradient)
check("R6 x.grad from y.backward(ones)", x.grad, [2.0, 4.0, 6.0])
_, back = t.vjp(lambda x: x**2 + 2 * x, np.array([0.0, 1.0, 2.0]))
check("F7 functional vjp", back(np.ones(3)), [[2.0, 4.0, 6.0]])

# ---- higher derivatives (R12) -------------------------------------------------------------------
x = t.tensor([1.0, 2.0, -3.0], requires_grad=True)
(g,) = t.autograd.grad((x**3).sum(), x, create_graph=True)
g.sum().backward()
check("R12 d2/dx2 x**3 = 6x", x.grad, [6.0, 12.0, -18.0])


# ---- 3.4 extending autograd: a Function (R13) ---------------------------------------------------
class MultiplyAdd(t.autograd.Function):
    @staticmethod
    def forward(ctx, w, x, b):
        ctx.save_for_backward(w, x)
        return w * x + b

    @staticmethod
    def backward(ctx, grad_output):
        w, x = ctx.saved_tensors
        grad_w = grad_output * x
        grad_x = grad_output * w
        grad_b = grad_output * 1
        return grad_w, grad_x, grad_b


x = t.ones(1)
w = t.rand(1, requires_grad=True)
b = t.rand(1, requires_grad=True)
z = MultiplyAdd.apply(w, x, b)
check("R13 z.grad_fn", z.grad_fn.name(), "MultiplyAddBackward")
z.backward()
check("R13 x.grad, w.grad, b.grad", (x.grad, w.grad.tolist(), b.grad.tolist()),
      (None, [1.0], [1.0]))

# ---- R14 ----------------------------------------------------------------------------------------
x = t.rand(5, 5)
y = t.rand(5, 5)
z = t.rand(5, 5, requires_grad=True)
a = x + y
b = x + z
check("R14 a.requires_grad, b.requires_grad", (a.requires_grad, b.requires_grad),
      (False, True))

if __name__ == "__main__":
    sys.exit(finish())
