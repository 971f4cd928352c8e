"""The seed examples from the autograd tutorials: functional (traced) F1-F11 and recorded
(PyTorch-style, on adjit.Tensor) R1-R14.

Run: python -m adjit demo [--plot PATH]   (examples/seeds_functional.py runs the same)
Each example returns (name, what was computed, result, expected). The demo writes a file only
when asked: `--plot PATH` draws sin(x) and its derivative (F11) with matplotlib.
"""
from __future__ import annotations

import sys

import numpy as np

import adjit


def f1() -> tuple:
    f = adjit.value_and_grad(lambda x: 2 * np.dot(x, x))
    x = np.arange(4.0)
    value, g = f(x)
    return "F1", "y = 2 * np.dot(x, x)", (value, g), (28.0, 4 * x)


def f2() -> tuple:
    x = np.arange(4.0)
    return "F2", "y = x.sum()", adjit.grad(lambda x: x.sum())(x), np.ones(4)


def f3() -> tuple:
    x = np.arange(4.0)
    return "F3", "y = (x * x).sum()", adjit.grad(lambda x: (x * x).sum())(x), 2 * x


def f4() -> tuple:
    a, b = np.array([2.0, 3.0]), np.array([6.0, 4.0])
    _, back = adjit.vjp(lambda a, b: 3 * a**3 - b**2, a, b)
    ga, gb = back(np.ones(2))
    return "F4", "Q = 3*a**3 - b**2, cotangent [1, 1]", (ga, gb), (9 * a**2, -2 * b)


def f5() -> tuple:
    x = np.random.default_rng(0).normal(size=(3, 4))
    g = adjit.grad(lambda x: np.sum(x**2 * np.exp(x)))(x)
    return "F5", "y = sum(x**2 * exp(x))", g, 2 * x * np.exp(x) + x**2 * np.exp(x)


def f6() -> tuple:
    rng = np.random.default_rng(1)
    w, b, x = rng.normal(size=(3,)), rng.normal(size=(3,)), 1.0
    gw, gb = adjit.grad(lambda w, b, x: np.sum(w * x + b), argnums=(0, 1))(w, b, x)
    return "F6", "z = w * x + b", (gw, gb), (np.full(3, x), np.ones(3))


def f7() -> tuple:
    x = np.array([0.0, 1.0, 2.0])
    g = adjit.grad(lambda x: (x**2 + 2 * x).sum())(x)
    _, back = adjit.vjp(lambda x: x**2 + 2 * x, x)
    (g_vjp,) = back(np.ones(3))
    return "F7", "y = x**2 + 2*x; z = y.sum(), and a VJP of y with ones", (g, g_vjp), \
        (2 * x + 2, 2 * x + 2)


def f8() -> tuple:
    x = np.arange(4.0)

    def z(x: np.ndarray) -> np.ndarray:
        u = adjit.stop_gradient(x * x)
        return (u * x).sum()

    return "F8", "u = stop_gradient(x * x); z = (u * x).sum()", adjit.grad(z)(x), x * x


def tutorial(a):  # noqa: ANN001, ANN201  (traced: written as the tutorial writes it)
    """The seed tutorial's function (F9, F10): a loop and a branch that depend on the data.

    It is piecewise linear, f(a) = k * a, so its derivative is k = f(a) / a. The loop count and
    the branch are decided inside the compiled kernel, so one compilation serves every `a`."""
    b = a * 2
    while np.linalg.norm(b) < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


def tutorial_sum(a):  # noqa: ANN001, ANN201
    return tutorial(a).sum()


def slope(a: float | np.ndarray) -> float:
    """The k of f(a) = k * a, counted as `tutorial` runs: 2 per doubling, and 100 times that
    on the `else` branch. It is exact (a power of two, or 100 times one): f(a) / a is k only
    up to rounding."""
    k, b = 2.0, np.asarray(a) * 2
    while np.linalg.norm(b) < 1000:
        k, b = 2 * k, b * 2
    return k if b.sum() > 0 else 100 * k


def f9() -> tuple:
    # A scalar from a normal distribution, and its negative: the other branch of the `if`,
    # from the same compiled function.
    a = np.random.default_rng(9).normal()
    g = adjit.grad(tutorial)
    return "F9", "while norm(b) < 1000: b = 2b; if/else (scalar a, -a)", (g(a), g(-a)), \
        (slope(a), slope(-a))


def f10() -> tuple:
    a = np.random.default_rng(10).normal(size=10)
    return "F10", "the same, vector a of 10: grad of f(a).sum() = f(a)/a", \
        adjit.grad(tutorial_sum)(a), np.full(10, slope(a))


def f11() -> tuple:
    x = np.arange(-20, 20, 0.1)
    d = adjit.grad(lambda x: np.sin(x).sum())(x)
    return "F11", "d/dx sin(x), without writing cos", d, np.cos(x)


EXAMPLES = (f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11)


# ---- the recorded (PyTorch-style) rows R1-R14 ---------------------------------------------------
# Each returns (name, what the tutorial does, what adjit gave, whether it is what EXAMPLES.md
# expects), written as the tutorial writes it with adjit for torch.

def _z() -> tuple:
    x, w, b = adjit.ones(1), adjit.rand(1, requires_grad=True), adjit.rand(1, requires_grad=True)
    y = w * x
    return x, w, b, y, y + b


def r1() -> tuple:
    a, b = adjit.randn(2, 3, requires_grad=True), adjit.zeros(2, 3, requires_grad=True)
    c = a + b
    d = c.sum()
    got = (c.grad_fn.name(), a.is_leaf, b.is_leaf, c.is_leaf, d.is_leaf)
    return "R1", "c = a + b; d = c.sum(): grad_fn, is_leaf", got, \
        got == ("AddBackward0", True, True, False, False)


def r2() -> tuple:
    x, w, b, y, z = _z()
    nf = [(f.name() if f else None, i) for f, i in z.grad_fn.next_functions +
          y.grad_fn.next_functions]
    want = [("MulBackward0", 0), ("AccumulateGrad", 0), ("AccumulateGrad", 0), (None, 0)]
    flags = (x.requires_grad, w.requires_grad, y.requires_grad, z.requires_grad)
    return "R2", "z = w * x + b: requires_grad, next_functions", nf, \
        nf == want and flags == (False, True, True, True) and w.grad_fn is None


def r3() -> tuple:
    x, w, b, y, z = _z()
    z.backward(retain_graph=True)
    first = w.grad.tolist()
    z.backward()
    return "R3", "backward(retain_graph=True) twice: w.grad accumulates", \
        (first, w.grad.tolist()), (first, w.grad.tolist()) == ([1.0], [2.0])


def r4() -> tuple:
    x, w, b, y, z = _z()
    z.backward()
    try:
        z.backward()
    except RuntimeError as e:
        return "R4", "a second backward: the graph was freed", "RuntimeError naming " \
            "retain_graph=True", "retain_graph=True" in str(e)
    return "R4", "a second backward: the graph was freed", "no error", False


def r5() -> tuple:
    x = adjit.tensor([0.0, 1.0, 2.0], requires_grad=True)
    try:
        (x**2 + 2 * x).backward()
    except RuntimeError as e:
        msg = str(e).split(" (")[0]
        return "R5", "backward() of a vector", msg, "only for scalar outputs" in msg
    return "R5", "backward() of a vector", "no error", False


def r6() -> tuple:
    x = adjit.tensor([0.0, 1.0, 2.0], requires_grad=True)
    (x**2 + 2 * x).backward(gradient=adjit.ones(3))
    return "R6", "y.backward(gradient=ones), y = x**2 + 2x", x.grad.tolist(), \
        x.grad.tolist() == [2.0, 4.0, 6.0]


def r7() -> tuple:
    x = adjit.arange(4.0, requires_grad=True)
    (2 * np.dot(x, x)).backward()
    x.grad.zero_()
    x.sum().backward()
    return "R7", "x.grad.zero_() between two backward passes", x.grad.tolist(), \
        x.grad.tolist() == [1.0] * 4


def r8() -> tuple:
    w = adjit.rand(1, requires_grad=True)
    with adjit.no_grad():
        y1 = w * 2
    with adjit.set_grad_enabled(False):
        y2 = w * 2
    got = (y1.requires_grad, y1.grad_fn, y2.requires_grad, (w * 2).requires_grad)
    return "R8", "no_grad() and set_grad_enabled(False)", got, got == (False, None, False, True)


def r9() -> tuple:
    a = adjit.ones(3, 4, requires_grad=True)
    c = (a * 2).sum()
    d = a.data.sigmoid_()
    t = a.detach()
    c.backward()  # the change through .data was not recorded
    got = (d.requires_grad, t.requires_grad, bool(np.shares_memory(t.numpy(), a.data.numpy())),
           round(a.detach()[0, 0].item(), 4))
    return "R9", "a.data.sigmoid_(), a.detach()", got, got == (False, False, True, 0.7311)


def r10() -> tuple:
    x = adjit.rand(3, requires_grad=True)
    y = x * 2
    z = y.sum()
    (gy,) = adjit.autograd.grad(z, y, retain_graph=True)
    z.backward()
    return "R10", "y.grad after z.backward(); autograd.grad(z, y)", (y.grad, gy.tolist()), \
        y.grad is None and gy.tolist() == [1.0] * 3


def r11() -> tuple:
    seen = []
    x = adjit.rand(3, requires_grad=True)
    y = x * 2
    h = y.register_hook(lambda g: seen.append(g.tolist()))
    y.sum().backward()
    h.remove()
    (x * 2).sum().backward()
    return "R11", "y.register_hook(fn); h.remove()", seen, seen == [[1.0] * 3]


def r12() -> tuple:
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    (g,) = adjit.autograd.grad((x**3).sum(), x, create_graph=True)
    g.sum().backward()
    return "R12", "create_graph=True: d2/dx2 x**3 = 6x", x.grad.tolist(), \
        x.grad.tolist() == [6.0, 12.0]


class _Exp(adjit.autograd.Function):
    @staticmethod
    def forward(ctx, i):  # noqa: ANN001, ANN205
        result = i.exp()
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad_output):  # noqa: ANN001, ANN205
        (result,) = ctx.saved_tensors
        return grad_output * result


def r13() -> tuple:
    x = adjit.tensor([0.0, 1.0], requires_grad=True)
    _Exp.apply(x).sum().backward()
    return "R13", "a custom Function's forward and backward", x.grad.tolist(), \
        np.allclose(x.grad.numpy(), np.exp([0.0, 1.0]))


def r14() -> tuple:
    x, y, z = adjit.rand(5, 5), adjit.rand(5, 5), adjit.rand(5, 5, requires_grad=True)
    got = ((x + y).requires_grad, (x + z).requires_grad)
    return "R14", "a = x + y, b = x + z (z requires grad)", got, got == (False, True)


RECORDED = (r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14)


def _close(a: object, b: object) -> bool:
    if isinstance(a, tuple):
        return all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(np.allclose(a, b, rtol=1e-12, atol=1e-12))


def _show(got: object, expected: object) -> str:
    if isinstance(got, tuple):
        return "(" + ", ".join(_show(g, e) for g, e in zip(got, expected, strict=True)) + ")"
    if np.ndim(got) == 0:
        return repr(float(got))
    if np.size(got) <= 8:
        return str(got)
    return f"array of {np.size(got)}, max |err| {np.max(np.abs(got - expected)):.1e}"


def plot(path: str) -> None:
    """Draw sin(x) and adjit's derivative of it (F11) into `path` (format from the extension).
    A Figure of its own, not pyplot's, so the caller's matplotlib backend is left alone."""
    from matplotlib.figure import Figure

    _, _, d, _ = f11()
    x = np.arange(-20, 20, 0.1)
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(x, np.sin(x), label="sin(x)")
    ax.plot(x, d, label="adjit.grad(lambda x: np.sin(x).sum())(x), i.e. cos(x)")
    ax.set_xlabel("x")
    fig.legend(loc="outside upper center", ncols=2)
    fig.savefig(path)


def main(plot_path: str | None = None) -> int:
    """Run every example and print what it computed; 0 when all are right. With `plot_path`,
    also draw F11 there (it needs matplotlib)."""
    if plot_path is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("adjit demo: --plot needs matplotlib (pip install matplotlib)",
                  file=sys.stderr)
            return 2
    failures = 0
    for ex in EXAMPLES:
        name, what, got, expected = ex()
        ok = _close(got, expected)
        failures += not ok
        print(f"{name:4} {what:55} {'ok ' if ok else 'BAD'} {_show(got, expected)}")
    print("\nThe recorded (PyTorch-style) rows, on adjit.Tensor:")
    for row in RECORDED:
        name, what, got, ok = row()
        failures += not ok
        shown = str(got)
        print(f"{name:4} {what:55} {'ok  ' if ok else 'FAIL'} "
              f"{shown if len(shown) <= 60 else shown[:57] + '...'}")
    f = adjit.grad(lambda x: 2 * np.dot(x, x))
    print("\nThe IR of F1, after pruning and simplification:")
    print(adjit.inspect(f, np.arange(4.0)).simplified)
    if plot_path is not None:
        try:
            plot(plot_path)
        except (OSError, ValueError) as e:  # a folder that is not there, an unknown format
            print(f"adjit demo: cannot write the plot to {plot_path}: {e}", file=sys.stderr)
            return 1
        print(f"\nwrote {plot_path}: sin(x) and its derivative (F11)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
