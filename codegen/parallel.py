"""Multi-core CPU kernels: which outermost loops run on several threads, and how.

A loop kernel's outermost loop runs in parallel (numba's `prange`) when the kernel is large
(`MIN_WORK` elements in its domain) and its iterations are independent (decided on the loop
IR: codegen/cpu_passes.py `parallelize`). Reductions over the loop's axis are allowed: the
loop is cut into `CHUNKS` fixed chunks, each reduced into a partial of its own, and the
partials are combined afterwards in chunk order. So a result depends on the chunking (fixed)
but never on the number of threads: 1 and 16 threads give the same bits.

`ADJIT_PARALLEL=0` turns this off; numba's own setting (`NUMBA_NUM_THREADS`,
`numba.set_num_threads`) chooses the threads.

The threading layer: adjit picks TBB where it is installed (safe for threads and for fork),
else numba's workqueue, never GNU OpenMP unless the user chose it (`NUMBA_THREADING_LAYER`):
after an OpenMP kernel has run, every `fork()` of the process (multiprocessing's default on
Linux) kills the child ("fork() called from a process already using GNU OpenMP"), even a
child that never calls adjit. workqueue survives fork but aborts the process when two Python
threads launch parallel kernels at once, so under it adjit's parallel kernels are called
holding one lock (`serialize()`: runtime/compiler.py wraps them); they would share the same
cores anyway.
"""
from __future__ import annotations

import functools
import os
import threading
from typing import Any


MIN_WORK = 1 << 18  # elements of a kernel's domain below which threads cost more than they win
CHUNKS = 64  # fixed pieces of a parallel loop (the reduction order depends on these only)


@functools.cache
def available() -> bool:
    """Whether parallel kernels are wanted here. Asked while the text is generated, which
    must not import numba (0.3 s, paid in a background thread on a cache miss:
    runtime/background.py); numba always has a layer (workqueue), and `configure` chooses
    it when a parallel kernel is compiled."""
    return os.environ.get("ADJIT_PARALLEL", "1") != "0"


@functools.cache
def configure() -> bool:
    """Before a parallel kernel compiles: TBB where it is installed, else workqueue, unless
    the user chose (`NUMBA_THREADING_LAYER`) or numba's layer already started (see the module
    docstring: never GNU OpenMP by default, which kills every forked child)."""
    import numba
    from numba.np.ufunc import parallel as layer

    if numba.config.THREADING_LAYER == "default" and not layer._is_initialized:
        try:
            __import__("numba.np.ufunc.tbbpool")
            numba.config.THREADING_LAYER = "tbb"
        except ImportError:
            numba.config.THREADING_LAYER = "workqueue"
    return True


@functools.cache
def serialize() -> bool:
    """Whether parallel kernels must be launched one at a time: numba's workqueue layer
    (chosen, or the only one there is) is not thread-safe."""
    import numba

    chosen = numba.config.THREADING_LAYER
    if chosen in ("default", "safe", "threadsafe", "forksafe"):
        return False  # numba picks a thread-safe layer for these, or fails loudly
    return chosen == "workqueue"


LOCK = threading.Lock()


class Serialized:
    """A function with parallel kernels, called holding `LOCK` (see `serialize`)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        with LOCK:
            return self.fn(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fn, name)


def chunks(extent: int) -> int:
    return min(CHUNKS, extent)
