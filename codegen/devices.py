"""Recognising device arrays, without importing numba or the CUDA back end (the runtime asks
on every call that keys a specialization, and `import adjit` should not load the back end)."""
from __future__ import annotations

import os
from typing import Any


def is_device_array(a: Any) -> bool:
    """A CUDA device array: anything with `__cuda_array_interface__`, or numba's simulator's
    (which has none)."""
    if hasattr(a, "__cuda_array_interface__"):
        return True
    return type(a).__name__ == "FakeCUDAArray"  # numba's simulator


def simulated() -> bool:
    """Whether numba.cuda is (or will be) its simulator: NUMBA_ENABLE_CUDASIM=1."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")
