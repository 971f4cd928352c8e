"""The oracles in `tests/check.py` accept right derivatives and reject wrong ones."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from adjit.ir import PRIMS, ops
from check import check_grads, check_jvp, check_vjp, numeric_jacobian

from adjit import ir


def test_numeric_jacobian() -> None:
    x = np.array([0.5, -1.0, 2.0])
    w = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(numeric_jacobian(np.sin, x), np.diag(np.cos(x)), rtol=1e-7)
    np.testing.assert_allclose(numeric_jacobian(lambda w, x: w @ x, w, x, argnum=1), w,
                               rtol=1e-7, atol=1e-8)
    jac = numeric_jacobian(lambda w, x: w @ x, w, x, argnum=0)
    assert jac.shape == (2, 2, 3)
    np.testing.assert_allclose(jac[1, 1], x, rtol=1e-7)
    np.testing.assert_allclose(jac[0, 1], 0, atol=1e-8)


def _loss(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.sum(np.tanh(x @ w) ** 2)


def _loss_grad(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = np.tanh(x @ w)
    d = 2 * h * (1 - h**2)
    return d @ w.T, x.T @ d


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(3, 4), (40, 30)], ids=["full", "projected"])
def test_check_grads(dtype: type, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, shape[0])).astype(dtype) / 3
    w = rng.standard_normal(shape).astype(dtype) / 3
    check_grads(_loss_grad, _loss, (x, w), argnums=(0, 1))
    check_grads(lambda x, w: _loss_grad(x, w)[1], _loss, (x, w), argnums=1)
    wrong = [lambda x, w: _loss_grad(x, w)[1] * 1.05,
             lambda x, w: _loss_grad(x, w)[1].astype(np.float16),
             lambda x, w: _loss_grad(x, w)[1][:-1]]
    for grad in wrong:
        with pytest.raises(AssertionError):
            check_grads(grad, _loss, (x, w), argnums=1)


def test_check_vjp_rejects_a_wrong_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(0).uniform(-1, 1, (3, 4))
    check_vjp("sin", [x])
    wrong = dataclasses.replace(PRIMS["sin"], vjp=lambda ct, x, out: (ops.mul(ct, out),),
                                jvp=lambda ts, x, out: ops.mul(ts[0], out))
    monkeypatch.setitem(ir.PRIMS, "sin", wrong)
    with pytest.raises(AssertionError):
        check_vjp("sin", [x])
    with pytest.raises(AssertionError):
        check_jvp("sin", [x])


def test_check_vjp_rejects_a_float64_cotangent_of_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.ones((2, 3), np.float32)
    orig = PRIMS["neg"]
    wrong = dataclasses.replace(orig, vjp=lambda ct, x, out: (ops.convert(ops.neg(ct), "f64"),))
    monkeypatch.setitem(ir.PRIMS, "neg", wrong)
    with pytest.raises(AssertionError, match="cotangent of input 0 is f64"):
        check_vjp("neg", [x])
