"""exp alone: adjit's inline exp (codegen/fastmath.py) against libm's and numpy's.

Run:  python benchmarks/bench_exp.py [--quick] [--accuracy]

Each contender computes out[i] = exp(x[i]) into a preallocated array, one thread:
  numba math.exp   a numba loop calling libm's scalar exp (what generated code used before)
  numba fm.exp     the same loop calling adjit.codegen.fastmath.exp (vectorized by LLVM)
  numba fm.exp, scalar   the same, with a strict sum in the loop, which keeps it scalar: what
                   the inline exp would cost in a loop that does not vectorize
  numpy            np.exp(x, out=out) (numpy's own SIMD exp)
for float64 and float32, on 4096 elements (in L1: arithmetic throughput) and 1e6 (8 MB in,
8 MB out: memory traffic too), x uniform in [-20, 20]. Figures are ns per element, the
minimum over repeats of a calibrated loop (as in bench_core.py).

--accuracy: instead, the error of fm.exp, numpy's exp and libm's exp against mpmath (120-bit
arithmetic, correctly rounded) on 2.3 million points: the whole range, [-1, 1], the subnormal
results, near overflow and tiny x. Errors are in units in the last place of the correctly
rounded result (of the subnormal grid below 2^-1022). Takes ~80 s.
"""
from __future__ import annotations

import os

os.environ["NUMBA_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse
import math
import time
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from adjit.codegen import fastmath as fm

fm.register()


@numba.njit(error_model="numpy")
def libm_loop(x: Any, out: Any) -> None:
    for i in range(x.shape[0]):
        out[i] = math.exp(x[i])


@numba.njit(error_model="numpy")
def fm_loop(x: Any, out: Any) -> None:
    for i in range(x.shape[0]):
        out[i] = fm.exp(x[i])


@numba.njit(error_model="numpy")
def fm_scalar_loop(x: Any, out: Any) -> float:
    s = 0.0
    for i in range(x.shape[0]):
        e = fm.exp(x[i])
        out[i] = e
        s += e  # a sequential sum: LLVM cannot vectorize this loop
    return s


@numba.njit(error_model="numpy")
def libm_scalar_loop(x: Any, out: Any) -> float:
    s = 0.0
    for i in range(x.shape[0]):
        e = math.exp(x[i])
        out[i] = e
        s += e
    return s


def bench(call: Callable[[], Any], budget: float, repeats: int) -> float:
    call()
    n, t = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        t = time.perf_counter() - t0
        if t >= budget / repeats / 4:
            break
        n *= 2
    n = max(1, int(n * (budget / repeats) / max(t, 1e-9)))
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def _ulps(got: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Errors of `got` in ulps against mpmath, and the correctly rounded results."""
    import mpmath as mp

    mp.mp.prec = 120
    tiny = np.finfo(float).tiny
    err, rounded = np.empty(len(x)), np.empty(len(x))
    for i, (g, v) in enumerate(zip(got.tolist(), x.tolist(), strict=True)):
        exact = mp.exp(mp.mpf(v))
        c = float(exact)  # round to nearest (inf above the overflow threshold)
        rounded[i] = c
        if math.isinf(c) or c == 0.0:
            err[i] = 0.0 if g == c else math.inf
            continue
        ulp = math.ulp(c) if c >= tiny else 5e-324
        if exact < c and math.frexp(c)[0] == 0.5 and c > tiny:
            ulp /= 2  # just below a power of two: the lower binade's ulp
        err[i] = float(abs(mp.mpf(g) - exact) / ulp)
    return err, rounded


def accuracy() -> None:
    rng = np.random.default_rng(2026)
    parts = {"whole range [-745.2, 709.79]": rng.uniform(-745.2, 709.79, 1_500_000),
             "[-1, 1]": rng.uniform(-1, 1, 500_000),
             "subnormal results [-745.14, -708.4]": rng.uniform(-745.14, -708.4, 100_000),
             "near overflow [700, 709.7827]": rng.uniform(700, 709.7827, 100_000),
             "|x| < 1e-5": rng.uniform(-1e-5, 1e-5, 100_000)}
    fns: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "adjit fm.exp": lambda x: (fm_loop(x, out := np.empty_like(x)), out)[1],
        "numpy exp": np.exp,
        "libm math.exp": lambda x: (libm_loop(x, out := np.empty_like(x)), out)[1]}
    errs: dict[str, list[np.ndarray]] = {k: [] for k in fns}
    wrong = dict.fromkeys(fns, 0)
    t0 = time.perf_counter()
    with np.errstate(over="ignore"):
        for name, x in parts.items():
            line = f"{name:37s} n={len(x):>9,}"
            for k, f in fns.items():
                got = f(x)
                e, rounded = _ulps(got, x)
                errs[k].append(e)
                wrong[k] += int((got != rounded).sum())
                line += f"  {k.split()[0]} max {e.max():.3f}"
            print(line, flush=True)
    total = sum(len(x) for x in parts.values())
    print(f"{total:,} points against mpmath in {time.perf_counter() - t0:.0f} s")
    bins = [0, 0.5, 0.501, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0, np.inf]
    for k, es in errs.items():
        e = np.concatenate(es)
        h, _ = np.histogram(e, bins=bins)
        print(f"{k:14s} max {e.max():.4f} ulp, mean {e.mean():.4f}, correctly rounded "
              f"{100 * (1 - wrong[k] / total):.2f}%; error in ulps: "
              + ", ".join(f"[{lo:g}, {hi:g}) {100 * c / total:.3f}%"
                          for lo, hi, c in zip(bins[:-1], bins[1:], h, strict=True) if c))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--accuracy", action="store_true")
    args = ap.parse_args()
    if args.accuracy:
        accuracy()
        return
    budget, repeats = (0.04, 3) if args.quick else (0.2, 5)
    import llvmlite.binding

    print(f"numba {numba.__version__}, numpy {np.__version__}, one thread pinned to CPU "
          f"{min(os.sched_getaffinity(0))}, LLVM target {llvmlite.binding.get_host_cpu_name()}")
    print(f"{'dtype':6} {'n':>8}  {'numba math.exp':>15} {'numba fm.exp':>13} {'numpy':>8}"
          f"  {'fm/libm':>8} {'fm/numpy':>8}   scalar loops: {'libm':>6} {'fm.exp':>7}")
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        for n in (4096, 1_000_000):
            x = rng.uniform(-20.0, 20.0, n).astype(dtype)
            out = np.empty_like(x)
            ref = np.exp(x.astype(np.float64))
            for f in (libm_loop, fm_loop):
                f(x, out)
                np.testing.assert_allclose(out, ref, rtol=2e-7 if dtype == np.float32 else 3e-16)
            calls = {"libm": libm_loop, "fm": fm_loop, "libm_s": libm_scalar_loop,
                     "fm_s": fm_scalar_loop, "numpy": lambda x, out: np.exp(x, out=out)}
            t = {name: bench(lambda f=f, x=x, out=out: f(x, out), budget, repeats) / n * 1e9
                 for name, f in calls.items()}
            print(f"{np.dtype(dtype).name:6} {n:>8}  {t['libm']:>12.2f} ns {t['fm']:>10.2f} ns "
                  f"{t['numpy']:>5.2f} ns  {t['fm'] / t['libm']:>7.2f}x "
                  f"{t['fm'] / t['numpy']:>7.2f}x"
                  f"   {t['libm_s']:>15.2f} ns {t['fm_s']:>5.2f} ns")


if __name__ == "__main__":
    main()
