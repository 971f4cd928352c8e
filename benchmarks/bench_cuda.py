"""target="cuda" against a hand-written numba.cuda kernel (issue 11, item 7).

Run on a GPU:     python benchmarks/bench_cuda.py [--n 1e7 1e8]
Smoke test (CPU): NUMBA_ENABLE_CUDASIM=1 python benchmarks/bench_cuda.py --n 1000 --repeats 1

For each workload, value_and_grad on device arrays (no host copies in the timed region: the
inputs are `cuda.to_device`d once and the results stay on the device), timed with a device
synchronisation after each call, after a warm-up call, best of `--repeats`; against one
hand-written grid-stride kernel that computes the same value and gradient in one pass
(per-thread partial sums, one atomic add per thread). Bandwidth: the bytes that must move
once (inputs read, gradients written) over the time, as a fraction of `--peak-gbs` (the
card's peak; H200 about 4800 GB/s). Values and gradients are checked against each other
(rtol 1e-10 in float64) before timing.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
from numba import cuda

import adjit


def chain(x, y):
    return np.sum(np.tanh(np.sin(x) * np.cos(y) + x * y) / (1 + np.exp(-x)))


def f4(x, y):
    return np.sum(3 * x ** 3 - y ** 2)


@cuda.jit
def _hand_f4(x, y, out, gx, gy):
    acc = 0.0
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        a, b = x[i], y[i]
        acc += 3.0 * a * a * a - b * b
        gx[i] = 9.0 * a * a
        gy[i] = -2.0 * b
    cuda.atomic.add(out, 0, acc)


@cuda.jit
def _hand_chain(x, y, out, gx, gy):
    acc = 0.0
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        a, b = x[i], y[i]
        sa, ca, sb, cb = math.sin(a), math.cos(a), math.sin(b), math.cos(b)
        u = sa * cb + a * b
        t = math.tanh(u)
        e = math.exp(-a)
        d = 1.0 + e
        acc += t / d
        du = (1.0 - t * t) / d
        gx[i] = du * (ca * cb + b) + t * e / (d * d)
        gy[i] = du * (-sa * sb + a)
    cuda.atomic.add(out, 0, acc)


CASES = {"f4": (f4, _hand_f4), "chain": (chain, _hand_chain)}


def _time(fn, repeats: int) -> float:
    """Best wall time of `fn` over `repeats` calls, each followed by a device sync."""
    fn()
    cuda.synchronize()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(name: str, n: int, x, y, repeats: int) -> tuple[float, float]:
    """(adjit's time, the hand kernel's time) for case `name` on device arrays x, y."""
    fn, hand = CASES[name]
    g = adjit.value_and_grad(fn, argnums=(0, 1), target="cuda")
    out = cuda.to_device(np.zeros(1))
    gx, gy = cuda.device_array(n), cuda.device_array(n)
    threads = 256
    blocks = min(4096, (n + threads - 1) // threads)

    def run_hand() -> None:
        out.copy_to_device(np.zeros(1))
        hand[blocks, threads](x, y, out, gx, gy)

    val, (ax, ay) = g(x, y)
    run_hand()
    ref = out.copy_to_host()[0]
    assert np.isclose(float(val.copy_to_host()), ref, rtol=1e-9), (name, val, ref)
    assert np.allclose(ax.copy_to_host(), gx.copy_to_host(), rtol=1e-10, atol=1e-12)
    assert np.allclose(ay.copy_to_host(), gy.copy_to_host(), rtol=1e-10, atol=1e-12)
    return _time(lambda: g(x, y), repeats), _time(run_hand, repeats)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=float, nargs="+", default=[1e7, 1e8])
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--peak-gbs", type=float, default=4800.0)
    args = p.parse_args()
    device = cuda.get_current_device() if hasattr(cuda, "get_current_device") else None
    print(f"device: {getattr(device, 'name', '?')}")
    print(f"{'case':6s} {'n':>8s} {'adjit ms':>10s} {'hand ms':>10s} {'ratio':>6s} "
          f"{'adjit GB/s':>11s} {'of peak':>8s}")
    for n in (int(v) for v in args.n):
        rng = np.random.default_rng(0)
        x = cuda.to_device(rng.uniform(-1, 1, n))
        y = cuda.to_device(rng.uniform(-1, 1, n))
        for name in CASES:
            t_adjit, t_hand = measure(name, n, x, y, args.repeats)
            gbs = 4 * n * 8 / t_adjit / 1e9  # x, y read; gx, gy written
            print(f"{name:6s} {n:8.0e} {t_adjit * 1e3:10.3f} {t_hand * 1e3:10.3f} "
                  f"{t_adjit / t_hand:6.2f} {gbs:11.1f} {gbs / args.peak_gbs:8.1%}")


if __name__ == "__main__":
    main()
