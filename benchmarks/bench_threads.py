"""Multi-core CPU kernels (codegen/parallel.py): value_and_grad at 1 and 2 threads.

Run:  python benchmarks/bench_threads.py [--n 10000000] [--threads 1 2]

Each thread count runs in a fresh process (NUMBA_NUM_THREADS and the BLAS/OpenMP pools are
fixed at start-up), with a warm disk cache from a first untimed process, so the figures are
steady-state calls. The workloads are the core elementwise ones (bench_core.py) at n = 1e7;
the script checks that every thread count gives the same bits (the chunked reductions'
order does not depend on the threads) and prints the speed-up over one thread.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
import numpy as np
import adjit

n = int(sys.argv[1])
rng = np.random.default_rng(0)
x, y = rng.normal(size=n), rng.normal(size=n)

def f4(a, b):
    return np.sum(3 * a ** 3 - b ** 2)

def chain(a, b):
    return np.sum(np.tanh(np.sin(a) * np.cos(b) + a * b) / (1 + np.exp(-a)))

def dot(a, b):
    return 2 * np.dot(a, a) + np.sum(a * b)

out = {}
for f in (f4, chain, dot):
    g = adjit.value_and_grad(f, argnums=(0, 1))
    v, (ga, gb) = g(x, y)
    best = float("inf")
    for _ in range(7):
        t = time.perf_counter()
        g(x, y)
        best = min(best, time.perf_counter() - t)
    out[f.__name__] = {"ms": best * 1e3, "value": float(v), "ga0": float(ga[0]),
                       "gsum": float(ga.sum() + gb.sum())}
print(json.dumps(out))
"""


def run(n: int, threads: int, cache: str) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS="1", ADJIT_CACHE_DIR=cache,
               ADJIT_BACKGROUND_COMPILE="0")  # steady state: the kernel from the first call
    res = subprocess.run([sys.executable, "-c", CHILD, str(n)], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000_000)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        run(1000, 1, cache)  # compile once into the cache (small n: serial kernels)
        run(args.n, args.threads[0], cache)  # and the parallel ones
        results = {t: run(args.n, t, cache) for t in args.threads}
    base = results[args.threads[0]]
    print(f"n = {args.n:.0e}, value_and_grad, best of 7 calls; os.cpu_count() = "
          f"{os.cpu_count()}")
    print(f"{'case':8s}" + "".join(f"{f'{t} thr ms':>12s}" for t in args.threads)
          + f"{'speed-up':>10s}  same bits")
    for case in base:
        ms = [results[t][case]["ms"] for t in args.threads]
        same = all(results[t][case] == {**results[t][case], **{k: base[case][k]
                                                               for k in ("value", "ga0", "gsum")}}
                   for t in args.threads)
        print(f"{case:8s}" + "".join(f"{m:12.2f}" for m in ms)
              + f"{ms[0] / ms[-1]:10.2f}  {same}")


if __name__ == "__main__":
    main()
