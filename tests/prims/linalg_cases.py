"""Cases for the single-output solve primitives and matrix functions of ir/prims/decomp.py.

cholesky, eigh, svd, qr and slogdet are not here: the first two take symmetric matrices
(their rules are for symmetric perturbations, which an unstructured finite difference is
not) and the others have several outputs, which these single-output checkers do not take.
tests/tracer/test_np_linalg.py checks all of them through the numpy front end, against
finite differences of numpy's own functions.
"""
from __future__ import annotations

import itertools

import numpy as np
from prim_cases import Case


def _well_conditioned(n: int, k: int, scale: float = 1.0):  # noqa: ANN202
    def make(rng: np.random.Generator, dt: str) -> list[np.ndarray]:
        a = scale * rng.standard_normal((2, n, n)) + 3 * np.eye(n)
        return [a.astype(dt), rng.standard_normal((2, n, k)).astype(dt)]
    return make


def _matrix(n: int, scale: float, shift: float):  # noqa: ANN202
    def make(rng: np.random.Generator, dt: str) -> list[np.ndarray]:
        return [(scale * rng.standard_normal((2, n, n)) + shift * np.eye(n)).astype(dt)]
    return make


def linalg_cases() -> list[Case]:
    cases = [Case("solve", f"{'T' if t else 'N'}", _well_conditioned(3, 2),
                  {"transpose_a": t}) for t in (False, True)]
    for lower, t, unit in itertools.product((True, False), (False, True), (False, True)):
        cases.append(Case("triangular_solve", f"{'L' if lower else 'U'}{'T' if t else 'N'}"
                          f"{'-unit' if unit else ''}", _well_conditioned(3, 2),
                          {"lower": lower, "transpose_a": t, "unit_diagonal": unit}))
    cases.append(Case("expm", "2x3x3", _matrix(3, 0.7, 0.0)))
    cases.append(Case("sqrtm", "2x3x3", _matrix(3, 0.3, 2.0), rtol=1e-4, atol=1e-6))
    return cases
