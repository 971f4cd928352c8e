"""simplify's constant folding: a uniform result with axes is a broadcast of its scalar (no
array constant for codegen to pass), an elementwise equation of broadcast scalars is computed on
the scalars, and the bits (signed zeros, NaN) are kept."""
from __future__ import annotations

import numpy as np
from check import simplified

import adjit


def _run(text: str, *shapes):
    return simplified(text, *shapes, exact=True)


def test_a_uniform_fold_is_a_broadcast_of_its_scalar() -> None:
    out = _run("""graph f(x: f64[3]) -> f64[3]:
  %0 = reshape[shape=(1,)] 1.0 : f64[1]
  %1 = mul %0, 100.0 : f64[1]
  %2 = mul x, %1 : f64[3]
  return %2""", (3,))
    assert "array<" not in out, out
    assert "100.0" in out, out


def test_elementwise_of_broadcast_scalars_folds_at_any_size() -> None:
    out = _run("""graph f(x: f64[1000]) -> f64[1000]:
  %0 = broadcast_to[shape=(1000,)] 2.0 : f64[1000]
  %1 = mul %0, 3.0 : f64[1000]
  %2 = add x, %1 : f64[1000]
  return %2""", (1000,))
    assert "6.0" in out and "array<" not in out, out


def test_signed_zeros_and_nans_keep_their_bits() -> None:
    out = _run("""graph f(x: f64[2]) -> (f64[2], f64[2], f64[2]):
  %0 = neg array<f64[2]>[0.0, 0.0] : f64[2]
  %1 = neg array<f64[2]>[0.0, -0.0] : f64[2]
  %2 = sqrt array<f64[2]>[-1.0, -1.0] : f64[2]
  return %0, %1, %2""", (2,))
    assert "-0.0" in out and "array<f64[2]>[-0.0, 0.0]" in out and "nan" in out, out


def test_rosenbrock_of_two_has_no_array_constant() -> None:
    def rosen(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    x = np.array([0.5, 1.5])
    report = adjit.inspect(adjit.grad(rosen), x)
    assert "array<" not in report.simplified.format(locs=False)
    a = x[1] - x[0] ** 2
    want = [-400 * x[0] * a - 2 * (1 - x[0]), 200 * a]
    np.testing.assert_allclose(adjit.grad(rosen)(x), want, rtol=1e-14)


def test_a_broadcast_scalar_beside_a_constant_array_folds_to_the_full_shape() -> None:
    out = _run("""graph f(x: f64[3,2]) -> f64[3,2]:
  %0 = broadcast_to[shape=(3, 2)] 2.0 : f64[3,2]
  %1 = mul %0, array<f64[2]>[0.2, 0.7] : f64[3,2]
  %2 = add x, %1 : f64[3,2]
  return %2""", (3, 2))
    assert "array<f64[3,2]>" in out, out
