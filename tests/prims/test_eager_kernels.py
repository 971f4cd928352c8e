"""Eager convolution and pooling run codegen/conv_kernels.py's compiled kernels, which the
runtime hands the tracer (runtime/eager.py, tracer/kernels.py): the recorded forward
(tracer/runner.py) and nn_functional on plain arrays. Their values are the reference impls'
(ir/prims/conv.py) on the same inputs: max_pool2d_index's exactly, the sums to rounding; and
a recorded step's gradients are the same bits with the kernels as with the reference."""
from __future__ import annotations

from collections.abc import Iterator

import adjit
import numpy as np
import pytest
from adjit.ir import PRIMS, ArrayType
from adjit.runtime import eager
from adjit.tracer import kernels, record
from adjit.tracer import nn_functional as nf
import prim_cases  # noqa: F401  (first: conv_cases imports from it, and it from conv_cases)
from conv_cases import conv_cases

CASES = [c for c in conv_cases() if not c.const]
TOL = {"float32": 2e-5, "float64": 1e-12}


def _kernel_values(prim: str, arrays: list[np.ndarray], params: dict) -> np.ndarray:
    k = eager.kernel(prim)
    assert k is not None, prim
    t = PRIMS[prim].out_types(tuple(ArrayType.of(a) for a in arrays), params)[0]
    return kernels.call(k, t, arrays, params)


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_kernel_matches_reference(case, dt: str) -> None:  # noqa: ANN001
    arrays = case.make(np.random.default_rng(0), dt)
    got = _kernel_values(case.prim, arrays, case.params)
    want = np.asarray(PRIMS[case.prim].impl(*arrays, **case.params))
    assert got.dtype == want.dtype and got.shape == want.shape
    if case.prim == "max_pool2d_index":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=TOL[dt], atol=TOL[dt])


def test_max_pool_index_special_values_match_reference() -> None:
    """Ties, NaNs and windows of -inf (some partly padding) pick the reference's places."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, (2, 3, 9, 8)).astype(np.float32)  # many ties
    x[0, 0, :3, :3] = -np.inf
    x[0, 1, 2, 2] = np.nan
    x[1, 2, 4:6, 4:6] = np.nan
    for p in ({"kernel": (3, 3), "stride": (2, 2), "padding": (1, 1)},
              {"kernel": (2, 2), "stride": (2, 2), "padding": (0, 0)},
              {"kernel": (3, 2), "stride": (1, 2), "padding": (1, 0)}):
        np.testing.assert_array_equal(_kernel_values("max_pool2d_index", [x], p),
                                      PRIMS["max_pool2d_index"].impl(x, **p))


@pytest.fixture
def reference() -> Iterator[None]:
    """Eager evaluation with the reference impls (no kernel source), restored after."""
    record._OPS.clear()
    record._FLAT_OPS.clear()
    kernels.install(None)
    try:
        yield
    finally:
        eager.install()
        record._OPS.clear()
        record._FLAT_OPS.clear()


def _step(x0: np.ndarray, w0: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, ...]:
    x = adjit.tensor(x0, requires_grad=True)
    w = adjit.tensor(w0, requires_grad=True)
    y = adjit.nn.functional.conv2d(x, w, stride=1, padding=1)
    z = adjit.nn.functional.max_pool2d(y, 3, stride=2, padding=1)
    loss = (z * adjit.tensor(c)).sum()
    loss.backward()
    return y.detach().numpy(), z.detach().numpy(), x.grad.numpy(), w.grad.numpy()


def _inputs() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(2)
    return (rng.standard_normal((3, 4, 10, 9)).astype(np.float32),
            rng.standard_normal((5, 4, 3, 3)).astype(np.float32),
            rng.standard_normal((3, 5, 5, 5)).astype(np.float32))


def test_recorded_forward_runs_the_kernels() -> None:
    record._OPS.clear()
    record._FLAT_OPS.clear()
    x = adjit.tensor(np.ones((1, 2, 5, 5), np.float32), requires_grad=True)
    adjit.nn.functional.conv2d(x, adjit.tensor(np.ones((3, 2, 3, 3), np.float32)))
    runs = [op.run for op in (*record._OPS.values(), *record._FLAT_OPS.values())]
    assert any(any(getattr(v, "__name__", "") == "conv2d" and hasattr(v, "overloads")
                   for v in r.__globals__.values()) for r in runs)


def test_recorded_step_values_and_gradients(reference: None) -> None:  # noqa: ARG001
    inputs = _inputs()
    ref = _step(*inputs)
    eager.install()
    fast = _step(*inputs)
    np.testing.assert_allclose(fast[0], ref[0], rtol=2e-5, atol=2e-5)  # conv: rounding
    np.testing.assert_array_equal(fast[1], ref[1])  # the same maxima picked
    np.testing.assert_array_equal(fast[2], ref[2])  # the backward reads x, w and indices
    np.testing.assert_array_equal(fast[3], ref[3])


def test_numpy_path_runs_the_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    x, w, _ = _inputs()
    calls = []
    monkeypatch.setattr(kernels, "call", lambda *a: calls.append(a[0]) or kernels_call(*a))
    y = nf.conv2d(x, w, padding=1)
    assert calls and y.dtype == np.float32
    np.testing.assert_allclose(y, PRIMS["conv2d"].impl(x, w, stride=(1, 1), padding=(1, 1)),
                               rtol=2e-5, atol=2e-5)


kernels_call = kernels.call


def test_nojit_runs_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADJIT_NOJIT", "1")
    assert eager.kernel("conv2d") is None
    monkeypatch.delenv("ADJIT_NOJIT")
    assert eager.kernel("add") is None
