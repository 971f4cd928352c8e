"""Scalar functions for CUDA kernels that numba-cuda does not provide on the device: numpy's
`floor` and `fmod` (its CUDA target types a short list of numpy ufuncs, not these; `math.floor`
returns an integer). The kernels printed by codegen/cuda.py call them as `cm.floor(v3)` where
the CPU's code calls `np.floor(v3)` (a primitive's `ScalarCode.device` template).

Under numba's simulator the kernels run as Python, and numpy's functions are used (Python's
`math.fmod` raises at y = 0 and at infinite x, where numpy and a device give NaN).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import config, cuda


def floor_by_fmod(x: Any) -> Any:
    """floor(x) from C's fmod: x minus its fractional part (exact), one less for a negative
    non-integer; x itself where the part is 0 (integers, and -0.0 keeps its sign) or NaN
    (NaN; +-inf, where a device's fmod gives NaN)."""
    r = math.fmod(x, 1.0)
    if r == 0.0 or r != r:
        return x
    return x - r - 1.0 if r < 0.0 else x - r


def fmod_device(x: Any, y: Any) -> Any:
    """C's fmod (the sign of x; NaN at y = 0 or infinite x on a device), as numpy's."""
    return math.fmod(x, y)


if config.ENABLE_CUDASIM:
    floor = np.floor
    fmod = np.fmod
else:  # (numba types them at each call)
    floor = cuda.jit(device=True, inline=True)(floor_by_fmod)
    fmod = cuda.jit(device=True, inline=True)(fmod_device)
