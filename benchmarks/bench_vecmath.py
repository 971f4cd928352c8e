"""Vectorized math (codegen/fastmath.py): a loop of log and tanh alone, and
bench_core's tanh_sigmoid, each with the inline fm.* functions and with libm (the loop kept
scalar, as before fm.log/sin/cos/tanh existed), in the same process, one thread.

    python benchmarks/bench_vecmath.py            # timings (and compile times)
"""
from __future__ import annotations

import dataclasses
import os

# steady-state timings: every timed call runs the kernel (a kernel compiling in the
# background has its first calls answered by the interpreter: runtime/background.py)
os.environ.setdefault("ADJIT_BACKGROUND_COMPILE", "0")
import time

os.environ["NUMBA_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402

import adjit  # noqa: E402
from adjit.ir.primitive import PRIMS  # noqa: E402

N = 1_000_000


def logtanh(x, y):
    return np.sum(np.log(x * x + 1.0) * np.tanh(y))


def tanh_sigmoid(x, y):
    return np.sum(np.tanh(np.sin(x) * np.cos(y) + x * y) / (1 + np.exp(-x)))


def libm_only() -> None:
    """Back to the state before: only exp has an inline version (the other primitives'
    declared vector forms are dropped for the rest of the process)."""
    for name in ("expm1", "log"):
        prim = PRIMS[name]
        object.__setattr__(prim, "scalar", dataclasses.replace(prim.scalar, vector=None))


def best(f, *args, reps: int = 7) -> float:
    f(*args)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f(*args)
        ts.append(time.perf_counter() - t)
    return min(ts)


def main() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-2.0, 2.0, N), rng.uniform(-2.0, 2.0, N)
    rows = []
    for label in ("fm (vectorized)", "libm (scalar)"):
        if label.startswith("libm"):
            libm_only()
        for name, fn in (("log*tanh", logtanh), ("tanh_sigmoid", tanh_sigmoid)):
            for what, g in (("value", adjit.jit(fn)), ("value_and_grad",
                                                       adjit.value_and_grad(fn, argnums=(0, 1)))):
                t = time.perf_counter()
                g(x, y)
                first = time.perf_counter() - t
                rows.append((label, name, what, best(g, x, y), first))
    for label, name, what, t, first in rows:
        print(f"{label:16s} {name:13s} {what:15s} {t * 1e3:8.2f} ms   first call {first:5.2f} s")


if __name__ == "__main__":
    main()
