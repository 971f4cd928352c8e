"""The functional (traced) seed examples F1-F8 and F11 from the autograd tutorials.

Run: python -m adjit demo   (examples/seeds_functional.py runs the same)
Each example returns (name, what was computed, result, expected).
"""
from __future__ import annotations

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


def f11() -> tuple:
    x = np.arange(-20, 20, 0.1)
    d = adjit.grad(lambda x: np.sin(x).sum())(x)
    return "F11", "d/dx sin(x), without writing cos", d, np.cos(x)


EXAMPLES = (f1, f2, f3, f4, f5, f6, f7, f8, f11)


def _close(a: object, b: object) -> bool:
    if isinstance(a, tuple):
        return all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(np.allclose(a, b, rtol=1e-12, atol=1e-12))


def main() -> int:
    failures = 0
    for ex in EXAMPLES:
        name, what, got, expected = ex()
        ok = _close(got, expected)
        failures += not ok
        shown = got if not isinstance(got, np.ndarray) or got.size <= 8 else \
            f"array of {got.size}, max |err| {np.max(np.abs(got - expected)):.1e}"
        print(f"{name:4} {what:55} {'ok ' if ok else 'BAD'} {shown}")
    f = adjit.grad(lambda x: 2 * np.dot(x, x))
    print("\nThe IR of F1, after pruning and simplification:")
    print(adjit.inspect(f, np.arange(4.0)).simplified)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        _, _, d, _ = f11()
        x = np.arange(-20, 20, 0.1)
        plt.plot(x, np.sin(x), label="sin(x)")
        plt.plot(x, d, label="adjit.grad of sin")
        plt.legend()
        plt.savefig("f11_sin_derivative.png")
        print("\nwrote f11_sin_derivative.png")
    except ImportError:
        pass
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
