"""adjit's gradients against JAX's on values drawn from 0, -0, +-inf, NaN, negatives, ties.

JAX is an oracle only where it is installed (CI has neither JAX nor PyTorch). The shapes
are fixed, so each function compiles once and hypothesis varies the values. Where adjit
follows a documented convention that JAX does not, the expected value is JAX's with that
convention applied (see `ir/prims/elementwise_decls.py`):

- pow: d/dx at y = 0 is 0 (PyTorch's; JAX's float pow gives NaN at x = 0).
- logaddexp: d/dx is the logistic of x - y, with 1/2 at x == y; JAX's rule, exp(x - out)
  with +inf replaced by 0, gives 1, 1 at (inf, inf), NaN at (-inf, -inf), e at (inf, 1).
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import adjit

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
jax.config.update("jax_enable_x64", True)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # IEEE results at 0, inf
N = 6
SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.0, -2.5, 0.5, 3.0, np.inf, -np.inf, np.nan, 1e300, -1e-300]
# (no subnormals, nor values whose square or cube is one: XLA on the CPU flushes them to
# zero, so JAX's x**-1 has -inf where numpy's, and adjit's, -1/(x*x) is -1.6e308)
values = st.lists(st.sampled_from(SPECIAL) | st.floats(-4, 4, allow_subnormal=False).filter(
    lambda v: v == 0 or abs(v) > 1e-90), min_size=N, max_size=N).map(
    lambda v: np.array(v, np.float64))
exponents = st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.0, -1.0, -2.0, 0.5, 1.5]), min_size=N,
                     max_size=N).map(lambda v: np.array(v, np.float64))


@functools.cache
def _grad(key: str, argnums: Any = 0) -> Any:
    """adjit.grad of the function named `key`, made once (hypothesis varies the values)."""
    return adjit.grad(FUNCS[key], argnums=argnums)


def _power(k: int) -> Any:
    def f(x: np.ndarray) -> Any:
        return (x**k).sum()
    return f


def _on_numpy(fn: Any) -> Any:
    def f(x: np.ndarray) -> Any:
        return fn(np, x)
    return f


FUNCS: dict[str, Any] = {
    **{f"x**{k}": _power(k) for k in (0, 1, 2, 3, -1, -2)},
    "x**y": lambda x, y: (x**y).sum(),
    "logaddexp": lambda a, b: np.logaddexp(a, b).sum(),
    "softplus": lambda x: np.logaddexp(0.0, x).sum(),
}


def _same(got: Any, want: Any, what: str) -> None:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("k", [0, 1, 2, 3, -1, -2])
@settings(max_examples=40, deadline=None)
@given(x=values)
def test_integer_powers(k: int, x: np.ndarray) -> None:
    """x**k with a Python int: JAX's integer_pow, whose rule is k * x**(k-1) exactly."""
    got = _grad(f"x**{k}")(x)
    _same(got, jax.grad(lambda x: (x**k).sum())(jnp.asarray(x)), f"x**{k} at {x}")


@settings(max_examples=60, deadline=None)
@given(x=values, y=exponents)
def test_pow_arrays(x: np.ndarray, y: np.ndarray) -> None:
    gx, gy = _grad("x**y", (0, 1))(x, y)
    jx, jy = jax.grad(lambda x, y: (x**y).sum(), (0, 1))(jnp.asarray(x), jnp.asarray(y))
    _same(gx, np.where(y == 0, 0.0, jx), f"d/dx x**y at {x}, {y}")
    _same(gy, jy, f"d/dy x**y at {x}, {y}")


def _logaddexp_partial(a: np.ndarray, b: np.ndarray, ja: np.ndarray) -> np.ndarray:
    """JAX's d/da logaddexp(a, b), with adjit's convention where both are infinite or equal."""
    with np.errstate(all="ignore"):
        limit = np.where(a > b, 1.0, 0.0)
    out = np.where(np.isinf(a) | np.isinf(b), limit, ja)
    out = np.where(a == b, 0.5, out)
    return np.where(np.isnan(a) | np.isnan(b), np.nan, out)


@settings(max_examples=60, deadline=None)
@given(a=values, b=values)
def test_logaddexp(a: np.ndarray, b: np.ndarray) -> None:
    ga, gb = _grad("logaddexp", (0, 1))(a, b)
    ja, jb = jax.grad(lambda a, b: jnp.logaddexp(a, b).sum(), (0, 1))(jnp.asarray(a),
                                                                      jnp.asarray(b))
    _same(ga, _logaddexp_partial(a, b, np.asarray(ja)), f"d/da logaddexp at {a}, {b}")
    _same(gb, _logaddexp_partial(b, a, np.asarray(jb)), f"d/db logaddexp at {a}, {b}")


@settings(max_examples=60, deadline=None)
@given(x=values)
def test_softplus(x: np.ndarray) -> None:
    got = _grad("softplus")(x)
    want = jax.grad(lambda x: jnp.logaddexp(0.0, x).sum())(jnp.asarray(x))
    _same(got, _logaddexp_partial(x, np.zeros(N), np.asarray(want)), f"softplus at {x}")


CHOOSERS: dict[str, Any] = {
    "max": lambda m, x: m.max(x), "min": lambda m, x: m.min(x),
    "max0": lambda m, x: m.max(x.reshape(2, 3), axis=0).sum(),
    "min1": lambda m, x: (m.min(x.reshape(2, 3), axis=1) * m.array([1.0, 2.0])).sum()}
FUNCS.update({k: _on_numpy(fn) for k, fn in CHOOSERS.items()})

ties = st.lists(st.sampled_from([0.0, 1.0, -1.0, 2.0, np.inf, -np.inf, np.nan]),
                min_size=N, max_size=N).map(lambda v: np.array(v, np.float64))


@pytest.mark.parametrize("name", ["max", "min", "max0", "min1"])
@settings(max_examples=60, deadline=None)
@given(x=ties)
def test_max_min(name: str, x: np.ndarray) -> None:
    """The same as JAX exactly: ties split evenly, NaN where the extremum is NaN."""
    fn = CHOOSERS[name]
    got = _grad(name)(x)
    _same(got, jax.grad(lambda x: fn(jnp, x))(jnp.asarray(x)), f"{name} at {x}")
