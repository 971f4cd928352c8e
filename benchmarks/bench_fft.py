"""np.fft through adjit: the cost of lowering a transform to numpy's pocketfft (one object-mode
call per transform in compiled code, codegen/fft_kernels.py), against references measured in
the same run.

Run:  python benchmarks/bench_fft.py [--no-jax]

Cases (float64/complex128, one thread, the process pinned to one CPU), for n = 16 .. 2**20:

  fft        adjit.jit(np.fft.fft) against numpy's np.fft.fft called directly: the price of
             the compiled call and the object-mode switch around the same pocketfft.
  spectral   the value and gradient of sum(|rfft(x)|^2 * w) + sum(irfft(rfft(x) * h)):
             adjit.value_and_grad (the transforms and their adjoints, compiled) against
             jax.jit(jax.value_and_grad) and against numpy computing the value alone.

Each figure is the minimum per-call time over 5 blocks after a warm-up call that compiles.
"""
from __future__ import annotations

import os

# steady-state timings: every timed call runs the kernel (a kernel compiling in the
# background has its first calls answered by the interpreter: runtime/background.py)
os.environ.setdefault("ADJIT_BACKGROUND_COMPILE", "0")

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_ENABLE_X64", "1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import functools  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import adjit  # noqa: E402

try:
    import jax  # noqa: E402
    import jax.numpy as jnp  # noqa: E402
except ImportError:  # pragma: no cover - JAX is optional
    jax = jnp = None


def best(fn: Callable[[], Any], budget: float = 0.5, repeats: int = 5) -> float:
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    per_block = max(1, int(budget / repeats / one))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(per_block):
            fn()
        times.append((time.perf_counter() - t0) / per_block)
    return min(times)


def _ready(f: Callable[..., Any], *a: Any) -> Any:
    return jax.block_until_ready(f(*a))


def fmt(s: float) -> str:
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def spectral(x, w, h):  # noqa: ANN001, ANN201
    f = np.fft.rfft(x)
    return np.sum(np.abs(f) ** 2 * w) + np.sum(np.fft.irfft(f * h, n=x.shape[0]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-jax", action="store_true")
    args = ap.parse_args()
    use_jax = jax is not None and not args.no_jax
    print(f"numpy {np.__version__}, jax {jax.__version__ if use_jax else '-'}; one thread, "
          "pinned; minimum of 5 blocks")
    fft = adjit.jit(lambda x: np.fft.fft(x))
    vg = adjit.value_and_grad(spectral)
    if use_jax:
        def jspectral(x, w, h):  # noqa: ANN001, ANN202
            f = jnp.fft.rfft(x)
            return jnp.sum(jnp.abs(f) ** 2 * w) + jnp.sum(jnp.fft.irfft(f * h, n=x.shape[0]))

        jvg = jax.jit(jax.value_and_grad(jspectral))
    print(f"\n{'n':>8s} {'adjit fft':>11s} {'numpy fft':>11s} {'ratio':>6s}   "
          f"{'adjit v&g':>11s} {'numpy value':>11s} {'jax v&g':>11s} {'adjit/jax':>9s}")
    rng = np.random.default_rng(0)
    for n in (16, 1024, 2**14, 2**17, 2**20):
        x = rng.standard_normal(n)
        w = rng.random(n // 2 + 1)
        h = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
        np.testing.assert_allclose(fft(x), np.fft.fft(x), rtol=1e-12, atol=1e-9)
        p = functools.partial
        t_fft, t_np = best(p(fft, x)), best(p(np.fft.fft, x))
        value, grad = vg(x, w, h)
        np.testing.assert_allclose(value, spectral(x, w, h), rtol=1e-10)
        t_vg, t_val = best(p(vg, x, w, h)), best(p(spectral, x, w, h))
        row = (f"{n:8d} {fmt(t_fft):>11s} {fmt(t_np):>11s} {t_fft / t_np:6.2f}   "
               f"{fmt(t_vg):>11s} {fmt(t_val):>11s}")
        if use_jax:
            jx, jw, jh = jnp.asarray(x), jnp.asarray(w), jnp.asarray(h)
            jv, jg = jvg(jx, jw, jh)
            np.testing.assert_allclose(np.asarray(jg), grad, rtol=1e-8, atol=1e-8 * n)
            t_j = best(p(_ready, jvg, jx, jw, jh))
            row += f" {fmt(t_j):>11s} {t_vg / t_j:9.2f}"
        print(row)


if __name__ == "__main__":
    main()
