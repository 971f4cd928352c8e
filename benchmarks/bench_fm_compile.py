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
import operator
import subprocess
import sys
import tempfile
import time
import types as pytypes
from typing import Any


def _loop(x, y):  # (tanh, sin, ... are bound by `one`: fastmath's or libm's)
    out = np.empty_like(x)  # noqa: F821
    s = 0.0
    for i in range(x.shape[0]):
        v = tanh(sin(x[i]) * cos(y[i]) + x[i] * y[i]) / (1.0 + exp(-x[i])) \
            + log1p(x[i] * x[i]) + expm1(y[i]) + log(y[i] + 2.0) + tan(x[i])  # noqa: F821
        out[i] = v
        s = add(s, v)  # noqa: F821
    return s, out


def _loop32(x):
    out = np.empty_like(x)  # noqa: F821
    for i in range(x.shape[0]):
        out[i] = tanh(x[i]) + exp(x[i]) + sin_full(x[i]) + cos_full(x[i])  # noqa: F821
    return out


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
        names = {"tanh": math.tanh, "sin": math.sin, "cos": math.cos, "exp": math.exp,
                 "log1p": math.log1p, "expm1": math.expm1, "log": math.log, "tan": math.tan,
                 "add": operator.add, "sin_full": math.sin, "cos_full": math.cos}
    else:
        names = {"tanh": fm.tanh, "sin": fm.sin_small, "cos": fm.cos_small, "exp": fm.exp,
                 "log1p": fm.log1p, "expm1": fm.expm1, "log": fm.log, "tan": fm.tan_small,
                 "add": fm.reassoc_add, "sin_full": fm.sin, "cos_full": fm.cos}

    def bind(f: Any, name: str) -> Any:  # `f` reading this math from its globals
        return pytypes.FunctionType(f.__code__, {**f.__globals__, **names, "np": np}, name)

    k, k32 = bind(_loop, "k"), bind(_loop32, "k32")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(1 << 20) * 3, rng.random(1 << 20)
    t = time.perf_counter()
    first = numba.njit(error_model="numpy")(k)
    out = first(x, y)
    t_first = time.perf_counter() - t
    second = numba.njit(error_model="numpy")(bind(_loop, "k2"))
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
