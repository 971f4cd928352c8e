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
`numba.set_num_threads`) chooses the threads. Parallel kernels need a thread-safe threading
layer (OpenMP or TBB): without one (numba's workqueue only), kernels stay serial, since
workqueue aborts the process when two Python threads launch parallel kernels at once.
"""
from __future__ import annotations

import functools
import math
import os
from typing import Any

from adjit.passes.plan import REDUCERS, Kernel, Loop, Root, Term

MIN_WORK = 1 << 18  # elements of a kernel's domain below which threads cost more than they win
CHUNKS = 64  # fixed pieces of a parallel loop (the reduction order depends on these only)
COMBINABLE = ("sum", "prod", "max", "min")


@functools.cache
def available() -> bool:
    """Whether numba has a thread-safe threading layer here (and parallelism is wanted).
    Asked while the text is generated, which must not import numba (0.3 s, paid in a
    background thread on a cache miss: runtime/background.py): the layer's extension module
    is looked for in numba's folder instead, and `configure` imports it when a parallel
    kernel is compiled."""
    if os.environ.get("ADJIT_PARALLEL", "1") == "0":
        return False
    import importlib.util

    spec = importlib.util.find_spec("numba")  # finds the package without importing it
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        ufunc = os.path.join(folder, "np", "ufunc")
        try:
            names = os.listdir(ufunc)
        except OSError:
            continue
        return any(n.startswith(("omppool.", "tbbpool.")) for n in names)
    return False


@functools.cache
def configure() -> bool:
    """Before a parallel kernel compiles: a thread-safe layer for numba (workqueue, its
    fallback, aborts the process when two Python threads launch parallel kernels at once)."""
    for layer in ("omppool", "tbbpool"):
        try:
            __import__(f"numba.np.ufunc.{layer}")
        except ImportError:
            continue
        import numba

        if numba.config.THREADING_LAYER == "default":
            numba.config.THREADING_LAYER = "threadsafe"
        return True
    return False


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
