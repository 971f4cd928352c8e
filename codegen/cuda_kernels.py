"""Hand-written CUDA kernels the CUDA runtime (codegen/cuda_runtime.py) launches itself.

Imported only for target="cuda" (it imports numba.cuda, the simulator under
NUMBA_ENABLE_CUDASIM=1): a `while_grad`'s sum of the consts' cotangents over iterations.
"""
from __future__ import annotations

from typing import Any

from numba import cuda


@cuda.jit
def add(a: Any, b: Any, out: Any) -> None:
    """out = a + b, elementwise over one-dimensional arrays (a grid-stride loop)."""
    for j in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        out[j] = a[j] + b[j]
