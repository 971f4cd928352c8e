"""sin and cos in vectorized loops (codegen/cpu_passes.py, codegen/cpu_print.py,
runtime/compiler.py `Guarded`):
fastmath's sin_small/cos_small reduce exactly only below 2^20, so a loop using them sums
`trig_big` of their arguments, the function returns the flag, and where it is set the call is
answered by the function emitted without them. Compared with numpy, whose sin reduces every
argument exactly: huge arguments, NaN, inf, float32, multi-core loops, plain Python."""
from __future__ import annotations

import numpy as np
import pytest

import adjit
from adjit.codegen import parallel
from adjit.runtime.compiler import Guarded


def f(x, y):
    return np.sum(np.tanh(np.sin(x) * np.cos(y) + x * y) / (1.0 + np.exp(-x)))


def reference(x, y):
    """f and its gradient, in numpy (float64)."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    s, c = np.sin(x), np.cos(y)
    th = np.tanh(s * c + x * y)
    sg = 1.0 / (1.0 + np.exp(-x))
    d = (1.0 - th * th) * sg
    return np.sum(th * sg), d * (np.cos(x) * c + y) + th * sg * (1.0 - sg), d * (-s * np.sin(y) + x)


VG = adjit.value_and_grad(f, argnums=(0, 1))


def _check(x, y, rtol):
    v, (gx, gy) = VG(x, y)
    rv, rx, ry = reference(x, y)
    np.testing.assert_allclose(v, rv, rtol=rtol)
    np.testing.assert_allclose(gx, rx, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(gy, ry, rtol=rtol, atol=rtol)
    return v, gx, gy


def test_the_loop_uses_the_guarded_forms() -> None:
    x = np.linspace(-3.0, 3.0, 64)
    src = adjit.inspect(VG, x, x[::-1].copy()).source
    assert "fm.sin_small(" in src and "fm.cos_small(" in src and "math.sin(" not in src
    assert "fm.trig_big(" in src and "guard[0] = 1.0" in src and "guard[0])" in src


@pytest.mark.parametrize("big", [3e7, -1e22, 2.0**20, 1.7e308])
def test_huge_arguments_are_reduced_exactly(big: float, monkeypatch) -> None:
    flags = []
    fast = Guarded.__call__

    def call(self, *args):
        flags.append(self.fast(*args)[-1])
        return fast(self, *args)

    monkeypatch.setattr(Guarded, "__call__", call)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-3, 3, 300), rng.uniform(-3, 3, 300)
    _check(x, y, 1e-13)
    xb, yb = x.copy(), y.copy()
    xb[17], yb[17] = abs(big), 0.5  # (exp(-x) stays finite)
    xb[200], yb[200] = 0.0, big  # (x * y stays finite)
    _check(xb, yb, 1e-12)
    _check(x, y, 1e-13)  # and back: the fast function still answers
    assert flags == [0.0, 1.0, 0.0]


def test_nan_and_inf_need_no_fallback() -> None:
    x = np.array([0.5, np.nan, 1.0, np.inf])
    v, (gx, gy) = VG(x, np.ones(4))
    assert np.isnan(v) and np.isnan(gx[1]) and np.isnan(gx[3]) and np.isfinite(gx[0])


def test_float32() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-3, 3, 500).astype(np.float32), rng.uniform(-3, 3, 500).astype(np.float32)
    v, gx, gy = _check(x, y, 2e-5)
    assert gx.dtype == np.float32
    x[3] = 5e6
    _check(x, y, 2e-5)


@pytest.mark.skipif(not parallel.available(), reason="numba's threading layer is unavailable")
def test_multi_core_loop_with_one_huge_argument() -> None:
    n = parallel.MIN_WORK
    x = np.linspace(-2.0, 2.0, n)
    y = x[::-1].copy()
    x[n // 2 + 3] = 1e9
    y[n // 3] = 1e7
    _check(x, y, 1e-11)


def test_plain_python_first_calls(monkeypatch) -> None:
    """A small function's first calls run its text as plain Python (`Tiered`): the guard
    works there too."""
    monkeypatch.setenv("ADJIT_COMPILE_AFTER", "3")
    g = adjit.value_and_grad(lambda x: np.sum(np.sin(x) * np.cos(x)))
    for x in (np.array([0.5, 1.5]), np.array([0.5, 1e8]), np.array([0.5, 1e8]),
              np.array([0.5, 1.5])):
        v, d = g(x)
        np.testing.assert_allclose(v, np.sum(np.sin(x) * np.cos(x)), rtol=1e-14)
        np.testing.assert_allclose(d, np.cos(2 * x), rtol=1e-12, atol=1e-14)


def test_tan_and_log1p_loops() -> None:
    """tan (guarded as sin is) and log1p have vector forms too: the loop vectorizes, and a
    huge tan argument is answered exactly."""
    def h(x):
        return np.sum(np.tan(x) * np.log1p(x * x))

    g = adjit.value_and_grad(h)
    x = np.linspace(-1.2, 1.4, 101)  # (not symmetric: the sum is not ~0)
    src = adjit.inspect(g, x).source
    assert "fm.tan_small(" in src and "fm.log1p(" in src and "math." not in src.split("def ")[1]
    for xs in (x, np.concatenate([x, [3e7]])):
        v, d = g(xs)
        t = np.tan(xs)
        np.testing.assert_allclose(v, np.sum(t * np.log1p(xs * xs)), rtol=1e-13)
        np.testing.assert_allclose(d, (1 + t * t) * np.log1p(xs * xs) + t * 2 * xs / (1 + xs * xs),
                                   rtol=1e-12)
