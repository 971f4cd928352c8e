"""target="cuda" at its edges: strided and foreign device arrays, schedules that must not race,
and what a user is told when something cannot run. Each result is checked against numpy or
the CPU back end. Small sizes: every kernel runs on numba's simulator in CI.
"""
from __future__ import annotations

import numpy as np
import pytest

import adjit
from adjit.codegen.cuda_runtime import is_device_array

pytestmark = pytest.mark.cuda
cuda = pytest.importorskip("numba.cuda")
if not cuda.is_available():
    pytest.skip("no CUDA GPU and NUMBA_ENABLE_CUDASIM is not set", allow_module_level=True)

RNG = np.random.default_rng(7)
M = RNG.normal(size=(4, 6))
N = RNG.normal(size=(6, 3))


def _host(a):
    return a.copy_to_host() if is_device_array(a) else np.asarray(a)


_identity = adjit.jit(lambda a: a, target="cuda")
_matmul = adjit.jit(lambda a, b: a @ b, target="cuda")
_sin_grad = adjit.grad(lambda a: np.sum(np.sin(a) * np.arange(a.shape[-1])), target="cuda")


@pytest.mark.parametrize("view", ["T", "step", "reversed"])
def test_strided_device_arguments_are_read_right_and_returned_as_copies(view):
    """A transposed, stepped or reversed device array: numba copies none of them between
    buffers (an identity's result is a copy) or with negative strides to the host."""
    d = cuda.to_device(M)
    dv, ref = {"T": (d.T, M.T), "step": (d[:, ::2], M[:, ::2]),
               "reversed": (d[::-1, ::-1], M[::-1, ::-1])}[view]
    out = _identity(dv)
    assert is_device_array(out) and np.array_equal(_host(out), ref)
    g = _sin_grad(dv)
    assert np.allclose(_host(g), np.cos(ref) * np.arange(ref.shape[-1]), rtol=1e-12)


def test_matrix_product_operands_reach_the_kernel_c_contiguous(monkeypatch):
    """numba reshapes an F-contiguous device array (a transpose) as if it were C-contiguous:
    the tiled kernel must only ever see C-contiguous operands (a GPU would read the
    transpose's memory in the wrong order; the simulator's numpy reshape hides it)."""
    from adjit.codegen import cuda_kernels

    seen = []
    real = cuda_kernels.launch_matmul
    monkeypatch.setattr(cuda_kernels, "launch_matmul",
                        lambda a, b, *r: (seen.append((a.is_c_contiguous(),
                                                       b.is_c_contiguous())), real(a, b, *r)))
    dn, dm = cuda.to_device(N), cuda.to_device(M)
    out = _matmul(dn.T, dm.T)
    assert np.allclose(_host(out), N.T @ M.T, rtol=1e-12)
    assert seen and all(a and b for a, b in seen)
