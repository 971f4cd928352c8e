"""Compile time of loops calling adjit's vectorizable math (codegen/fastmath.py), new processes.

    python benchmarks/bench_fm_compile.py            # the driver: three processes
    python benchmarks/bench_fm_compile.py one DIR    # one process, cache folder DIR

Each process compiles, with plain numba, a float64 loop of tanh(sin_small * cos_small) /
(1 + exp) + log1p + expm1 + log + tan_small (summed with fm.reassoc_add), then a second
kernel of the same loop (a new function), then a float32 loop of tanh + exp + sin + cos; and
reports each compile, the float64 loop's run time on 2^20 elements (best of 10), whether its
optimized machine code has vector registers, and a hash of its outputs (equal across
processes and versions: the math is the same). The driver runs a process with an empty cache
folder, another with the folder it left (fastmath's implementations cached), and the same loop
with libm's math.* functions for reference.
"""
from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
import tempfile
import time
import types as pytypes


def one(folder: str, libm: bool) -> dict:
    import numba
    import numpy as np
    from adjit.codegen import cache
    from adjit.codegen import fastmath as fm

    try:
        fm.register(cache.open_folder(folder))
    except TypeError:  # (before 9aba635: numba-level inlining, nothing to cache)
        fm.register()
    if libm:
        def k(x, y):
            out = np.empty_like(x)
            s = 0.0
            for i in range(x.shape[0]):
                v = math.tanh(math.sin(x[i]) * math.cos(y[i]) + x[i] * y[i]) \
                    / (1.0 + math.exp(-x[i])) + math.log1p(x[i] * x[i]) + math.expm1(y[i]) \
                    + math.log(y[i] + 2.0) + math.tan(x[i])
                out[i] = v
                s += v
            return s, out

        def k32(x):
            out = np.empty_like(x)
            for i in range(x.shape[0]):
                out[i] = math.tanh(x[i]) + math.exp(x[i]) + math.sin(x[i]) + math.cos(x[i])
            return out
    else:
        def k(x, y):
            out = np.empty_like(x)
            s = 0.0
            for i in range(x.shape[0]):
                v = fm.tanh(fm.sin_small(x[i]) * fm.cos_small(y[i]) + x[i] * y[i]) \
                    / (1.0 + fm.exp(-x[i])) + fm.log1p(x[i] * x[i]) + fm.expm1(y[i]) \
                    + fm.log(y[i] + 2.0) + fm.tan_small(x[i])
                out[i] = v
                s = fm.reassoc_add(s, v)
            return s, out

        def k32(x):
            out = np.empty_like(x)
            for i in range(x.shape[0]):
                out[i] = fm.tanh(x[i]) + fm.exp(x[i]) + fm.sin(x[i]) + fm.cos(x[i])
            return out

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(1 << 20) * 3, rng.random(1 << 20)
    t = time.perf_counter()
    first = numba.njit(error_model="numpy")(k)
    out = first(x, y)
    t_first = time.perf_counter() - t
    second = numba.njit(error_model="numpy")(pytypes.FunctionType(
        k.__code__, k.__globals__, "k2", None, k.__closure__))
    t = time.perf_counter()
    second(x, y)
    t_second = time.perf_counter() - t
    t = time.perf_counter()
    out32 = numba.njit(error_model="numpy")(k32)(x[:1000].astype(np.float32))
    t_f32 = time.perf_counter() - t
    best = math.inf
    for _ in range(10):
        t = time.perf_counter()
        first(x, y)
        best = min(best, time.perf_counter() - t)
    asm = first.inspect_asm(first.signatures[0])
    return {"first_s": t_first, "second_s": t_second, "f32_s": t_f32, "run_ms": best * 1e3,
            "vector_registers": asm.count("ymm") + asm.count("zmm"),
            "outputs": hashlib.sha256(out[1].tobytes() + out32.tobytes()).hexdigest()[:12]}


def driver() -> None:
    folder = tempfile.mkdtemp(prefix="bench-fm-")
    rows = []
    for label, libm in (("fastmath, empty cache folder", False),
                        ("fastmath, implementations cached", False), ("libm math.*", True)):
        p = subprocess.run([sys.executable, __file__, "one", folder] + ["--libm"] * libm,
                           capture_output=True, text=True, check=True)
        rows.append((label, json.loads(p.stdout.strip().splitlines()[-1])))
    print("| process | first kernel (s) | second kernel (s) | float32 kernel (s) | run (ms) "
          "| vector registers | outputs |")
    print("|---|---|---|---|---|---|---|")
    for label, r in rows:
        print(f"| {label} | {r['first_s']:.2f} | {r['second_s']:.2f} | {r['f32_s']:.2f} | "
              f"{r['run_ms']:.2f} | {r['vector_registers']} | {r['outputs']} |")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "one":
        print(json.dumps(one(sys.argv[2], "--libm" in sys.argv)))
    else:
        driver()
