"""Faster implementations of primitives for eager evaluation, handed in by the runtime.

The tracer runs primitives on arrays in two places: the recorded front end's runner
(tracer/runner.py, once per recorded operation) and nn_functional's `_prim` on plain arrays
(under `no_grad`). Both run `PRIMS[name].impl`, the numpy reference that ir/evaluate.py and
every test check against, unless a kernel source is installed and has a kernel for the
primitive. The tracer does not import codegen (STYLE.md), so the runtime installs the source
(runtime/eager.py: codegen/conv_kernels.py's compiled convolution and pooling kernels, which
the reference's np.tensordot over copied windows runs 2-5x slower).

A kernel is called `kernel(*inputs, out, **params)`: it fills `out`, a C-contiguous array of
the equation's output type, from C-contiguous inputs, and returns nothing.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

Kernel = Callable[..., None]

_source: Callable[[str], Kernel | None] | None = None


def install(source: Callable[[str], Kernel | None] | None) -> None:
    """Make `source(name)` (a kernel, or None for the reference impl) the kernel lookup;
    None removes it."""
    global _source
    _source = source


def kernel(name: str) -> Kernel | None:
    """The installed kernel of primitive `name`, or None (run its reference impl)."""
    return None if _source is None else _source(name)


def call(k: Kernel, out_type: Any, arrays: Any, params: dict[str, Any]) -> Any:
    """`k` run on `arrays` into a new array of `out_type` (an ArrayType)."""
    out = np.empty(out_type.shape, out_type.np_dtype)
    k(*[np.ascontiguousarray(a) for a in arrays], out, **params)
    return out
