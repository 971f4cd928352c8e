"""Library kernels for ir/prims/sort.py, called from generated code as `ck.argsort(x, out)`
(codegen/conv_kernels.py re-exports them, so they share its `ck` import and cache tag).

`argsort` sorts each row of the last axis with a stable merge sort, NaNs last: numpy's
`kind="stable"`, and numba's `kind="mergesort"` on one row at a time (numba sorts 1-d arrays
only). Plain numpy as written, so `ADJIT_NOJIT=1` runs the same text.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def argsort(x: Any, out: Any) -> None:
    """out[..., :] = the stable permutation that sorts x[..., :]."""
    n = x.shape[-1]
    if n == 0 or x.size == 0:
        return
    m = x.size // n
    x2 = np.ascontiguousarray(x).reshape(m, n)
    o2 = out.reshape(m, n)
    for r in range(m):
        o2[r] = np.argsort(x2[r], kind="mergesort")


KERNELS = {"argsort": argsort}
