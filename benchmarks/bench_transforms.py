"""Transformations as values, against references measured in the same run.

Run:  python benchmarks/bench_transforms.py [--quick] [--no-jax] [--plot PATH]

Cases (float64, one thread everywhere, the process pinned to one CPU):

  hvp_rosen      Hessian-vector product of the n-d Rosenbrock function at n = 1e6:
                 adjit.hvp (forward over reverse, compiled) against a hand-written numba
                 HVP (the closed form, one loop) and jax.jit(jax.jvp of jax.grad).
                 Targets: within 1.5x of hand numba, faster than JAX.
  hessian_100    the full Hessian of a 100-dimensional function (sum of log1p((A x)^2)):
                 adjit.hessian against jax.jit(jax.hessian) and numpy's closed form.
  per_example    per-example gradients of a 784-512-10 tanh MLP, batch 256:
                 adjit.vmap(adjit.grad(loss), in_axes=(None, 0, 0)) against
                 jax.jit(jax.vmap(jax.grad(loss), ...)). Target: faster than JAX.
  fwd_vs_rev     the seed's forward-vs-reverse complexity: time of the full gradient of a
                 scalar function of n inputs by adjit.jacfwd (n JVPs, batched) and by
                 adjit.grad (one reverse pass) for n = 1 .. 1000; --plot draws it.
  checkpoint     peak memory of the gradient of a deep tanh network (8 blocks of 3 layers,
                 2048x256 activations, a matmul between layers) with and without
                 adjit.checkpoint around each block: each variant runs in a fresh process
                 that loads its compiled code from a disk cache filled by an earlier process,
                 and reports its peak resident memory during one gradient call above what it
                 held before the call.
  compile_2nd    the seed's second derivative: cold compile time (fresh processes, empty
                 cache) of adjit.grad of a function against adjit.hvp and adjit.hessian of
                 it. Target: a second derivative compiles in under 2x the first.

Each figure is the minimum per-call time over `repeats` blocks (the least noisy estimate on a
shared machine), after a warm-up call that compiles; compile times are reported apart.
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

import numba  # noqa: E402
import numpy as np  # noqa: E402

import adjit  # noqa: E402

try:
    import jax  # noqa: E402
    import jax.numpy as jnp  # noqa: E402
except ImportError:  # pragma: no cover - JAX is optional
    jax = jnp = None


def best(fn: Callable[[], Any], budget: float, repeats: int = 5) -> float:
    """Minimum seconds per call over `repeats` blocks filling `budget` seconds."""
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


def first_call(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def fmt(s: float) -> str:
    return f"{s * 1e3:.2f} ms" if s >= 1e-3 else f"{s * 1e6:.1f} us"


# ---- hvp_rosen -------------------------------------------------------------------------------

def rosen(x):  # noqa: ANN001, ANN201
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


@numba.njit(cache=True, fastmath=False)
def rosen_hvp_numba(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The closed form (scipy's rosen_hess_prod), one pass."""
    n = x.size
    out = np.empty(n)
    for i in range(n):
        acc = 0.0
        if i > 0:
            acc += 200.0 * v[i] - 400.0 * x[i - 1] * v[i - 1]
        if i < n - 1:
            acc += (1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0) * v[i] - 400.0 * x[i] * v[i + 1]
        out[i] = acc
    return out


def case_hvp(n: int, budget: float) -> list[tuple[str, float, str]]:
    rng = np.random.default_rng(0)
    x, v = rng.normal(size=n), rng.normal(size=n)
    rows = []
    c = first_call(lambda: adjit.hvp(rosen, x, v))
    got = adjit.hvp(rosen, x, v)
    np.testing.assert_allclose(got, rosen_hvp_numba(x, v), rtol=1e-9, atol=1e-6)
    rows.append(("adjit.hvp", best(lambda: adjit.hvp(rosen, x, v), budget), f"compile {c:.1f} s"))
    rows.append(("hand numba", best(lambda: rosen_hvp_numba(x, v), budget), "closed form"))
    if jax is not None:
        def jrosen(x):  # noqa: ANN001, ANN202
            return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

        jhvp = jax.jit(lambda x, v: jax.jvp(jax.grad(jrosen), (x,), (v,))[1])
        jx, jv = jnp.asarray(x), jnp.asarray(v)
        c = first_call(lambda: jhvp(jx, jv).block_until_ready())
        np.testing.assert_allclose(np.asarray(jhvp(jx, jv)), got, rtol=1e-9, atol=1e-6)
        rows.append(("jax jvp(grad)", best(lambda: jhvp(jx, jv).block_until_ready(), budget),
                     f"compile {c:.1f} s"))
    return rows


# ---- hessian_100 -----------------------------------------------------------------------------

def case_hessian(budget: float) -> list[tuple[str, float, str]]:
    rng = np.random.default_rng(1)
    A = rng.normal(size=(100, 100)) / 10
    x = rng.normal(size=100)

    def f(x):  # noqa: ANN001, ANN202
        return np.sum(np.log1p((A @ x) ** 2))

    def closed(x):  # noqa: ANN001, ANN202
        z = A @ x
        return A.T @ (((2 - 2 * z ** 2) / (1 + z ** 2) ** 2)[:, None] * A)

    h = adjit.hessian(f)
    c = first_call(lambda: h(x))
    np.testing.assert_allclose(h(x), closed(x), rtol=1e-9, atol=1e-12)
    rows = [("adjit.hessian", best(lambda: h(x), budget), f"compile {c:.1f} s"),
            ("numpy closed form", best(lambda: closed(x), budget), "")]
    if jax is not None:
        jA = jnp.asarray(A)
        jh = jax.jit(jax.hessian(lambda x: jnp.sum(jnp.log1p((jA @ x) ** 2))))
        jx = jnp.asarray(x)
        c = first_call(lambda: jh(jx).block_until_ready())
        rows.append(("jax.hessian", best(lambda: jh(jx).block_until_ready(), budget),
                     f"compile {c:.1f} s"))
    return rows


# ---- per_example -----------------------------------------------------------------------------

def loss(p, x, y):  # noqa: ANN001, ANN201
    h = np.tanh(x @ p["W1"] + p["b1"])
    return np.sum((h @ p["W2"] + p["b2"] - y) ** 2)


def case_per_example(batch: int, budget: float) -> list[tuple[str, float, str]]:
    rng = np.random.default_rng(2)
    p = {"W1": rng.normal(size=(784, 512)) / 28, "b1": np.zeros(512),
         "W2": rng.normal(size=(512, 10)) / 22, "b2": np.zeros(10)}
    xs, ys = rng.normal(size=(batch, 784)), rng.normal(size=(batch, 10))
    per_example = adjit.vmap(adjit.grad(loss), in_axes=(None, 0, 0))
    c = first_call(lambda: per_example(p, xs, ys))
    got = per_example(p, xs, ys)
    ref = adjit.grad(loss)(p, xs[3], ys[3])
    np.testing.assert_allclose(got["W1"][3], ref["W1"], rtol=1e-9, atol=1e-12)
    rows = [("adjit vmap(grad)", best(lambda: per_example(p, xs, ys), budget),
             f"compile {c:.1f} s")]
    if jax is not None:
        def jloss(p, x, y):  # noqa: ANN001, ANN202
            h = jnp.tanh(x @ p["W1"] + p["b1"])
            return jnp.sum((h @ p["W2"] + p["b2"] - y) ** 2)

        jpe = jax.jit(jax.vmap(jax.grad(jloss), in_axes=(None, 0, 0)))
        jp = {k: jnp.asarray(v) for k, v in p.items()}
        jxs, jys = jnp.asarray(xs), jnp.asarray(ys)
        c = first_call(lambda: jax.block_until_ready(jpe(jp, jxs, jys)))
        np.testing.assert_allclose(np.asarray(jpe(jp, jxs, jys)["W1"][3]), ref["W1"],
                                   rtol=1e-9, atol=1e-12)
        rows.append(("jax vmap(grad)", best(lambda: jax.block_until_ready(jpe(jp, jxs, jys)),
                                            budget), f"compile {c:.1f} s"))
    return rows


# ---- fwd_vs_rev ------------------------------------------------------------------------------

def case_fwd_vs_rev(sizes: list[int], budget: float) -> list[tuple[int, float, float]]:
    out = []
    for n in sizes:
        x = np.linspace(-1, 1, n)

        def f(x):  # noqa: ANN001, ANN202
            return np.sum(np.sin(x) * np.cumsum(x)) + np.sum(x * x)

        fwd, rev = adjit.jacfwd(f), adjit.grad(f)
        np.testing.assert_allclose(fwd(x), rev(x), rtol=1e-9, atol=1e-12)
        out.append((n, best(functools.partial(fwd, x), budget / 2, 3),
                    best(functools.partial(rev, x), budget / 2, 3)))
    return out


CKPT_BLOCKS, CKPT_LAYERS, CKPT_ROWS, CKPT_WIDTH = 8, 3, 2048, 256


def _deep(checkpointed: bool) -> Callable[..., Any]:
    def block(h, w):  # noqa: ANN001, ANN202
        for _ in range(CKPT_LAYERS):
            h = np.tanh(h @ w)
        return h

    blk = adjit.checkpoint(block) if checkpointed else block

    def loss(ws, x):  # noqa: ANN001, ANN202
        h = x
        for w in ws:
            h = blk(h, w)
        return np.sum(h * h)

    return adjit.grad(loss)


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _child(kind: str) -> None:
    """One measurement in this (fresh) process; prints its result as JSON."""
    import json
    import resource

    if kind in ("plain", "checkpoint"):
        rng = np.random.default_rng(0)
        ws = [rng.standard_normal((CKPT_WIDTH, CKPT_WIDTH)) / np.sqrt(CKPT_WIDTH)
              for _ in range(CKPT_BLOCKS)]
        x = rng.standard_normal((CKPT_ROWS, CKPT_WIDTH))
        g = _deep(kind == "checkpoint")
        g(ws, x)  # compiles or loads, and allocates what numba keeps
        before = _rss_mb()
        peak0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out = g(ws, x)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"before_mb": before, "peak_mb": peak, "peak_before_mb": peak0,
                          "checksum": float(sum(np.sum(o) for o in out))}))
        return

    def f(x):  # noqa: ANN001, ANN202
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2) \
            + np.sum(np.log1p(np.exp(-x)))

    x = np.linspace(-1, 1, 50)
    fn = {"grad": lambda: adjit.grad(f)(x), "hvp": lambda: adjit.hvp(f, x, x),
          "hessian": lambda: adjit.hessian(f)(x)}[kind]
    t0 = time.perf_counter()
    fn()
    print(json.dumps({"seconds": time.perf_counter() - t0}))


def _run_child(kind: str, cache: str) -> dict[str, Any]:
    import json
    import subprocess
    import sys

    env = dict(os.environ, ADJIT_CACHE_DIR=cache, ADJIT_COMPILE_AFTER="1")
    out = subprocess.run([sys.executable, __file__, "--child", kind], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def case_checkpoint() -> list[tuple[str, dict[str, Any]]]:
    """Peak memory of one gradient call, loaded from a warm disk cache in a fresh process."""
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for kind in ("plain", "checkpoint"):
            _run_child(kind, cache)  # compiles into the cache
            rows.append((kind, _run_child(kind, cache)))
    return rows


def case_compile_second(repeats: int = 3) -> list[tuple[str, float]]:
    """Cold compile (fresh process, empty cache) of a first and of second derivatives: the
    minimum over `repeats` rounds, the kinds interleaved so that load hits them alike."""
    import tempfile

    kinds = ("grad", "hvp", "hessian")
    best_s = dict.fromkeys(kinds, float("inf"))
    for _ in range(repeats):
        for kind in kinds:
            with tempfile.TemporaryDirectory() as cache:
                best_s[kind] = min(best_s[kind], _run_child(kind, cache)["seconds"])
    return [(k, best_s[k]) for k in kinds]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small budgets, n=1e5 for the HVP")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--plot", metavar="PATH", help="draw fwd_vs_rev into PATH (matplotlib)")
    ap.add_argument("--case", action="append", choices=("hvp", "hessian", "per_example",
                                                        "fwd_vs_rev", "checkpoint",
                                                        "compile_2nd"),
                    help="run only these cases (repeatable); all by default")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child)
        return
    cases = set(args.case or ("hvp", "hessian", "per_example", "fwd_vs_rev", "checkpoint",
                              "compile_2nd"))
    global jax, jnp
    if args.no_jax:
        jax = jnp = None
    budget = 0.5 if args.quick else 3.0
    import platform

    print(f"python {platform.python_version()}, numpy {np.__version__}, numba "
          f"{numba.__version__}, jax {jax.__version__ if jax else '-'}; one thread, pinned")
    n = 100_000 if args.quick else 1_000_000
    timed = (("hvp", f"hvp_rosen n={n}", lambda: case_hvp(n, budget)),
             ("hessian", "hessian_100", lambda: case_hessian(budget)),
             ("per_example", "per_example batch 256", lambda: case_per_example(256, budget)))
    for key, title, run in timed:
        if key not in cases:
            continue
        rows = run()
        print(f"\n{title}")
        base = rows[0][1]
        for name, t, note in rows:
            print(f"  {name:20s} {fmt(t):>12s}  adjit/this {base / t:6.2f}x  {note}")
    if "checkpoint" in cases:
        print(f"\ncheckpoint: peak memory of one gradient call ({CKPT_BLOCKS} blocks x "
              f"{CKPT_LAYERS} tanh layers, activations {CKPT_ROWS}x{CKPT_WIDTH} f64 = "
              f"{CKPT_ROWS * CKPT_WIDTH * 8 / 2**20:.0f} MiB)")
        ck = case_checkpoint()
        for kind, r in ck:
            print(f"  {kind:12s} peak above the call's start {r['peak_mb'] - r['before_mb']:8.1f}"
                  f" MiB  (resident before {r['before_mb']:.0f} MiB, checksum "
                  f"{r['checksum']:.6g})")
        assert abs(ck[0][1]["checksum"] - ck[1][1]["checksum"]) <= 1e-9 * abs(
            ck[0][1]["checksum"]), "checkpointed gradients differ"
    if "compile_2nd" in cases:
        print("\ncompile_2nd: cold compile of the first call (fresh process, empty cache)")
        rows2 = case_compile_second()
        first = rows2[0][1]
        for kind, sec in rows2:
            print(f"  {kind:10s} {sec:7.2f} s  {sec / first:5.2f}x grad's"
                  + ("   target < 2x" if kind != "grad" else ""))
    if "fwd_vs_rev" not in cases:
        return
    sizes = [1, 3, 10, 30, 100, 300, 1000]
    table = case_fwd_vs_rev(sizes, budget / 4)
    print("\nfwd_vs_rev: full gradient of f: R^n -> R")
    print(f"  {'n':>6s} {'jacfwd':>12s} {'grad':>12s} {'fwd/rev':>8s}")
    for n, tf, tr in table:
        print(f"  {n:6d} {fmt(tf):>12s} {fmt(tr):>12s} {tf / tr:8.2f}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.loglog([r[0] for r in table], [r[1] for r in table], "o-", label="jacfwd (n JVPs)")
        ax.loglog([r[0] for r in table], [r[2] for r in table], "s-", label="grad (1 VJP)")
        ax.set_xlabel("n (inputs)")
        ax.set_ylabel("seconds per full gradient")
        ax.set_title("forward vs reverse mode, f: R^n -> R")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
