"""Multi-core CPU kernels: which outermost loops run on several threads, and how.

A loop kernel's outermost loop runs in parallel (numba's `prange`) when the kernel is large
(`MIN_WORK` elements in its domain) and its iterations are independent: every array it
writes is written at an index that walks the loop's axis (distinct per iteration), no scan
runs along it, no walk carries partial sums across its iterations, and no scratch row is
shared between them. Reductions over the loop's axis (registers completed by the loop:
sum, prod, max, min) are allowed: the loop is cut into `CHUNKS` fixed chunks, each reduced
into a partial of its own, and the partials are combined afterwards in chunk order. So a
result depends on the chunking (fixed) but never on the number of threads: 1 and 16 threads
give the same bits. argmax/argmin over the loop keep it serial.

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
import math
import os
import threading
from typing import Any

from adjit.passes.plan import REDUCERS, Kernel, Loop, Root, Term

MIN_WORK = 1 << 18  # elements of a kernel's domain below which threads cost more than they win
CHUNKS = 64  # fixed pieces of a parallel loop (the reduction order depends on these only)
COMBINABLE = ("sum", "prod", "max", "min")


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


def _roots(items: list[Any]) -> list[Root]:
    out: list[Root] = []
    for it in items:
        if isinstance(it, Loop):
            out += _roots(it.items)
        else:
            out.append(it)
    return out


def _walks(terms: tuple[Term, ...], axis: int) -> bool:
    return any(t.axis == axis and t.data is None and t.step != 0 for t in terms)


def parallel_loop(kern: Kernel, loop: Loop, eqns: Any) -> bool:
    """Whether `loop`, an outermost loop of `kern`, may run its iterations on threads."""
    if not available() or loop.extent < 2 or math.prod(kern.domain) < MIN_WORK:
        return False
    if kern.scratch:
        return False
    if any(REDUCERS[eqns[r.eqn].prim] not in COMBINABLE for r in loop.inits):
        return False
    for r in _roots(loop.items):
        if r.kind == "scratch" or (r.kind == "scan" and r.axis_loop == loop.axis):
            return False
        if r.kind in ("store", "scan", "accum") and not _walks(r.target, loop.axis):
            return False
    inside = set(map(id, _loops(loop)))
    return not any(acc.walk is not None and (acc.loop is None or id(acc.loop) in inside)
                   for acc in kern.accumulators)


def _loops(loop: Loop) -> list[Loop]:
    out = [loop]
    for it in loop.items:
        if isinstance(it, Loop):
            out += _loops(it)
    return out


def chunks(extent: int) -> int:
    return min(CHUNKS, extent)
