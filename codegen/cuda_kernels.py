"""Hand-written CUDA kernels the CUDA runtime (codegen/cuda_runtime.py) launches itself.

Imported only for target="cuda" (it imports numba.cuda, the simulator under
NUMBA_ENABLE_CUDASIM=1): a `while_grad`'s sum of the consts' cotangents over iterations,
matrix products, and the C-contiguous copy of a strided device array (`contiguous`).
"""
from __future__ import annotations

import math
from typing import Any

from numba import cuda
from numba import types as nt
from numba.core import config


@cuda.jit
def add(a: Any, b: Any, out: Any) -> None:
    """out = a + b, elementwise over one-dimensional arrays (a grid-stride loop)."""
    for j in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        out[j] = a[j] + b[j]


# Matrix products: a tiled kernel, each block computing a TILE x TILE tile of the output from
# TILE-wide slabs of the operands staged in shared memory (each operand element is read from
# global memory once per tile row/column instead of once per output element). The
# simulator runs every thread as a Python thread: a small tile keeps it quick.
TILE = 4 if config.ENABLE_CUDASIM else 16


@cuda.jit
def matmul(a: Any, b: Any, out: Any, ta: bool, tb: bool) -> None:
    """out[z] = op(a[z]) @ op(b[z]) over batch z (op: transpose where ta/tb), float."""
    sa = cuda.shared.array((TILE, TILE), nt.float64)
    sb = cuda.shared.array((TILE, TILE), nt.float64)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    col = cuda.blockIdx.x * TILE + tx
    row = cuda.blockIdx.y * TILE + ty
    z = cuda.blockIdx.z
    m, n = out.shape[1], out.shape[2]
    k = a.shape[1] if ta else a.shape[2]
    acc = 0.0
    for t in range((k + TILE - 1) // TILE):
        ka, kb = t * TILE + tx, t * TILE + ty
        if row < m and ka < k:
            sa[ty, tx] = a[z, ka, row] if ta else a[z, row, ka]
        else:
            sa[ty, tx] = 0.0
        if col < n and kb < k:
            sb[ty, tx] = b[z, col, kb] if tb else b[z, kb, col]
        else:
            sb[ty, tx] = 0.0
        cuda.syncthreads()
        for j in range(TILE):
            acc += sa[ty, j] * sb[j, tx]
        cuda.syncthreads()
    if row < m and col < n:
        out[z, row, col] = acc


def launch_matmul(a: Any, b: Any, out: Any, transpose_a: bool, transpose_b: bool) -> None:
    """Launch `matmul` on device arrays of shape (..., r, c), batch dims flattened. Sums in
    float64 (staged operands are float64 in shared memory), rounded once per element."""
    z = 1
    for d in out.shape[:-2]:
        z *= d
    a3 = a.reshape((z,) + tuple(a.shape[-2:]))
    b3 = b.reshape((z,) + tuple(b.shape[-2:]))
    o3 = out.reshape((z,) + tuple(out.shape[-2:]))
    m, n = o3.shape[1], o3.shape[2]
    blocks = ((n + TILE - 1) // TILE, (m + TILE - 1) // TILE, z)
    matmul[blocks, (TILE, TILE)](a3, b3, o3, transpose_a, transpose_b)


# A device argument the kernels read must be C-contiguous: numba's device arrays reshape an
# F-contiguous array as if it were C-contiguous (reinterpreting its memory: a transposed
# operand of a matrix product would be read wrong), refuse to copy non-contiguous ones
# (`copy_to_device`) and negative strides (`copy_to_host`). A strided argument is copied
# once, on the device, by a grid-stride kernel of its rank (unravelling the flat index).
_COPIES: dict[int, Any] = {}


def _copy_kernel(ndim: int) -> Any:
    if ndim not in _COPIES:
        idx = ", ".join(f"i{d}" for d in range(ndim))
        lines = ["def copy(src, dst, n):",
                 "    for j in range(cuda.grid(1), n, cuda.gridsize(1)):",
                 "        r = j"]
        for d in reversed(range(ndim)):
            lines.append(f"        i{d} = r % dst.shape[{d}]")
            lines.append(f"        r //= dst.shape[{d}]")
        lines.append(f"        dst[{idx}] = src[{idx}]")
        ns: dict[str, Any] = {"cuda": cuda}
        exec("\n".join(lines) + "\n", ns)  # noqa: S102 - our own text
        _COPIES[ndim] = cuda.jit(ns["copy"])
    return _COPIES[ndim]


def contiguous(a: Any) -> Any:
    """`a` (a numba device array) if it is C-contiguous, else a C-contiguous copy of it made
    on the device."""
    if a.ndim == 0 or a.is_c_contiguous():
        return a
    out = cuda.device_array(tuple(a.shape), a.dtype)
    n = math.prod(a.shape)
    if n:
        threads = 8 if config.ENABLE_CUDASIM else 128
        blocks = max(1, min(2 if config.ENABLE_CUDASIM else 4096, -(-n // threads)))
        _copy_kernel(a.ndim)[blocks, threads](a, out, n)
    return out
