"""Every corpus function compiled by numba: value and gradients equal the reference
interpreter's and finite differences; shapes and dtypes are the arguments'."""
from __future__ import annotations

import numpy as np
import pytest
from check import numeric_jacobian
from functions import CASES, Case

import adjit


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_compiled_value_and_grad(case: Case) -> None:
    args = case.args()
    f = adjit.value_and_grad(case.fn, argnums=case.argnums)
    value, grads = f(*args)
    with np.errstate(all="ignore"):
        expected = case.fn(*args)
    f32 = np.asarray(expected).dtype == np.float32
    np.testing.assert_allclose(value, expected, rtol=1e-5 if f32 else 1e-10)
    for i, g in zip(case.argnums, grads, strict=True):
        a = np.asarray(args[i])
        assert np.shape(g) == a.shape and np.asarray(g).dtype == a.dtype
        fd = numeric_jacobian(case.fn, *args, argnum=i)
        tol = 2e-3 if f32 else 1e-5
        np.testing.assert_allclose(g, fd, rtol=tol, atol=tol)
    # a second call with new values of the same signature reuses the compilation
    value2, _ = f(*case.args(seed=1))
    assert f.compilations == 1
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(value2, case.fn(*case.args(seed=1)), rtol=1e-5 if f32 else 1e-10)
