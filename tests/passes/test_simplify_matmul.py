"""simplify's matmul rules: a transposed operand is read through the transpose flag, and a
transpose of a matmul read nowhere else is the swapped matmul (`x @ w.T`, a Linear layer,
and its adjoint then copy nothing)."""
from __future__ import annotations

import numpy as np
import pytest

import adjit
from check import simplified


def _run(text: str, *shapes):
    return simplified(text, *shapes)


def test_transposed_operands_use_the_flags() -> None:
    out = _run("""graph f(x: f64[3,4], w: f64[5,4]) -> f64[3,5]:
  %0 = transpose[perm=(1, 0)] w : f64[4,5]
  %1 = matmul x, %0 : f64[3,5]
  return %1""", (3, 4), (5, 4))
    assert "transpose[" not in out and "matmul[transpose_b=True] x, w" in out


def test_double_flag_and_batched() -> None:
    out = _run("""graph f(a: f64[2,4,3], b: f64[2,5,4]) -> f64[2,3,5]:
  %0 = transpose[perm=(0, 2, 1)] a : f64[2,3,4]
  %1 = transpose[perm=(0, 2, 1)] b : f64[2,4,5]
  %2 = matmul %0, %1 : f64[2,3,5]
  return %2""", (2, 4, 3), (2, 5, 4))
    assert "matmul[transpose_a=True, transpose_b=True] a, b" in out


def test_a_transpose_of_other_axes_stays() -> None:
    out = _run("""graph f(a: f64[4,3,2], b: f64[2,4,5]) -> f64[2,3,5]:
  %0 = transpose[perm=(2, 1, 0)] a : f64[2,3,4]
  %1 = matmul %0, b : f64[2,3,5]
  return %1""", (4, 3, 2), (2, 4, 5))
    assert "transpose[perm=(2, 1, 0)]" in out


def test_transpose_of_a_matmul() -> None:
    out = _run("""graph f(x: f64[6,4], ct: f64[6,5]) -> f64[5,4]:
  %0 = matmul[transpose_a=True] x, ct : f64[4,5]
  %1 = transpose[perm=(1, 0)] %0 : f64[5,4]
  return %1""", (6, 4), (6, 5))
    assert out.count("matmul") == 1 and "transpose[" not in out
    assert "matmul[transpose_a=True] ct, x" in out


def test_transpose_of_a_matmul_read_elsewhere_is_kept() -> None:
    """Rewriting it would compute the product twice."""
    out = _run("""graph f(x: f64[6,4], ct: f64[6,5]) -> (f64[5,4], f64[4,5]):
  %0 = matmul[transpose_a=True] x, ct : f64[4,5]
  %1 = transpose[perm=(1, 0)] %0 : f64[5,4]
  return %1, %0""", (6, 4), (6, 5))
    assert out.count("matmul") == 1 and "transpose[perm=(1, 0)]" in out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_layer_gradient_copies_nothing(dtype) -> None:
    x = np.random.default_rng(1).standard_normal((8, 3)).astype(dtype)

    def loss(w, b):
        return np.tanh(x @ w.T + b).sum()

    w = np.random.default_rng(2).standard_normal((5, 3)).astype(dtype)
    b = np.zeros(5, dtype)
    report = adjit.inspect(adjit.grad(loss, argnums=(0, 1)), w, b)
    assert not any(e.prim == "transpose" for e in report.simplified.eqns)
    gw, gb = adjit.grad(loss, argnums=(0, 1))(w, b)
    t = np.tanh(x @ w.T + b)
    np.testing.assert_allclose(gw, ((1 - t * t).T @ x), rtol=1e-5)
    np.testing.assert_allclose(gb, (1 - t * t).sum(0), rtol=1e-5)
