"""The kernels the tracer's eager evaluation runs instead of reference impls (tracer/kernels.py).

The recorded front end runs each operation's graph on arrays (tracer/runner.py), and
nn_functional runs convolution and pooling on plain arrays; both would run the primitives'
numpy reference impls (ir/prims/conv.py: np.tensordot over a copy of every window, 184 ms of
resnet18's forward at batch 32, and max_pool2d_index's 81 ms). `install` hands them
codegen/conv_kernels.py's kernels instead, compiled by numba once per kernel and argument
types and kept in the disk cache (codegen/library_calls.py's `Library`, which the split
functions' drivers use too): the same kernels as the compiled backward's. With ADJIT_NOJIT=1
the reference impls run.
"""
from __future__ import annotations

from typing import Any

from adjit.tracer import kernels

from . import config

# The library primitives of ir/prims/conv.py (codegen/conv_kernels.py's KERNELS), named here
# so that looking one up does not import codegen (numba) for the others.
NAMES = frozenset({"conv2d", "conv2d_input_grad", "conv2d_weight_grad", "avg_pool2d",
                   "avg_pool2d_grad", "max_pool2d_index"})

_library: Any = None


def kernel(name: str) -> Any:
    """The compiled kernel of primitive `name`, or None (its reference impl runs)."""
    global _library
    if name not in NAMES or config.nojit():
        return None
    if _library is None:
        from adjit.codegen.compile import compile_source
        from adjit.codegen.library_calls import Library

        folder = config.cache_folder()
        _library = Library(lambda src: compile_source(src, folder,
                                                      worker=config.compile_worker()))
    return getattr(_library, name)


def install() -> None:
    kernels.install(kernel)
