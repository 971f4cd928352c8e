"""First-call benchmark: where a fresh process's first adjit result spends its time.

Run:  python benchmarks/bench_first_call.py [--runs 5] [--workloads f4,mlp,euler]
      python benchmarks/bench_first_call.py one WORKLOAD MODE [--cold] [--plain]  (one process)

Workloads (issue 12 item 4):
  f4     value_and_grad of sum(3*a**3 - b**2), n = 1e6 (seed F4)
  mlp    grad of an MLP 784-512-10 tanh loss, batch 256, wrt W1, b1, W2, b2
  euler  value_and_grad of `t = 0; while t < n: x = x + dt*sin(x); t += 1` then sum(x*x),
         x of 1e4 elements, n = 100 a traced int64 (a `while` in the IR)

Modes, each in a new process:
  adjit  the first call of the adjit function; `--cold` gives it a fresh, empty cache folder
         (ADJIT_CACHE_DIR and NUMBA_CACHE_DIR), else the folder named by ADJIT_CACHE_DIR
  jax    jax.jit of the same function's value_and_grad (JAX's first call: it has no disk cache
         by default)
  njit   a hand-written numba.njit(cache=True) kernel of the same value and gradient
         (NUMBA_CACHE_DIR: fresh with --cold)

A process prints one JSON line: seconds from the start of `import` to the first result, and
for adjit where that time went: trace, passes (+fuse), codegen text, numba typing, numba
lowering + LLVM (the rest of numba's compile), cache loads, and the rest (imports, numba's
start-up, the call itself). The driver (no arguments) runs every mode cold and warm in new
processes and prints medians; whole-process timings come from an external timer.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

WORKLOADS = ("f4", "mlp", "euler")


def _data(name: str):
    import numpy as np

    rng = np.random.default_rng(0)
    if name == "f4":
        return rng.random(10**6), rng.random(10**6)
    if name == "mlp":
        return (rng.standard_normal((784, 512)) / 28, 0.1 * rng.standard_normal(512),
                rng.standard_normal((512, 10)) / 22.6, 0.1 * rng.standard_normal(10),
                rng.standard_normal((256, 784)), rng.standard_normal((256, 10)))
    return rng.normal(size=10_000), np.array(0.01), np.array(100, dtype=np.int64)


def _adjit(name: str):
    import adjit
    import numpy as np

    if name == "f4":
        return adjit.value_and_grad(lambda a, b: np.sum(3 * a**3 - b**2), argnums=(0, 1))
    if name == "mlp":
        def loss(W1, b1, W2, b2, x, y):
            h = np.tanh(x @ W1 + b1)
            return np.mean((h @ W2 + b2 - y) ** 2)
        return adjit.grad(loss, argnums=(0, 1, 2, 3))

    def euler(x, dt, n):
        t = 0
        while t < n:
            x = x + dt * np.sin(x)
            t = t + 1
        return np.sum(x * x)
    return adjit.value_and_grad(euler)


def _jax(name: str):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    if name == "f4":
        return jax.jit(jax.value_and_grad(lambda a, b: jnp.sum(3 * a**3 - b**2), argnums=(0, 1)))
    if name == "mlp":
        def loss(W1, b1, W2, b2, x, y):
            h = jnp.tanh(x @ W1 + b1)
            return jnp.mean((h @ W2 + b2 - y) ** 2)
        return jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3)))

    def euler(x, dt, n):  # reverse mode needs a known trip count: fori_loop with static n
        x = jax.lax.fori_loop(0, 100, lambda t, x: x + dt * jnp.sin(x), x)
        return jnp.sum(x * x)
    f = jax.jit(jax.value_and_grad(euler))
    return lambda x, dt, n: f(x, dt, int(n))


def _njit(name: str):
    import numba
    import numpy as np

    if name == "f4":
        @numba.njit(cache=True)
        def f4(a, b):
            ga, gb = np.empty_like(a), np.empty_like(b)
            s = 0.0
            for i in range(a.size):
                s += 3 * a[i] ** 3 - b[i] ** 2
                ga[i] = 9 * a[i] ** 2
                gb[i] = -2 * b[i]
            return s, ga, gb
        return f4
    if name == "mlp":
        @numba.njit(cache=True)
        def mlp(W1, b1, W2, b2, x, y):
            h = np.tanh(x @ W1 + b1)
            d = 2 * (h @ W2 + b2 - y) / y.size
            dh = (d @ W2.T) * (1 - h * h)
            return x.T @ dh, dh.sum(axis=0), h.T @ d, d.sum(axis=0)
        return mlp

    @numba.njit(cache=True)
    def euler(x0, dt, n):
        dt = dt[()]
        steps = n[()]
        tape = np.empty((steps, x0.size))
        x = x0.copy()
        for t in range(steps):
            tape[t] = x
            x = x + dt * np.sin(x)
        g = 2 * x
        for t in range(steps - 1, -1, -1):
            g = g * (1 + dt * np.cos(tape[t]))
        return np.sum(x * x), g
    return euler


def _instrument() -> dict[str, float]:
    """Wrap adjit's stages and listen to numba's compiler passes; returns the running totals.
    Each interval counts once, exclusive of the intervals nested in it (numba compiles a
    callee inside its caller's type inference; a cache load starts numba's target context)."""
    import adjit.codegen.cpu as cpu
    import adjit.passes.fuse as fuse
    import adjit.runtime.api as api
    import adjit.runtime.compiler as compiler
    from adjit.codegen import kernelcache
    from numba.core import cpu as numba_cpu
    from numba.core import event

    t: dict[str, float] = {"trace": 0.0, "passes": 0.0, "codegen": 0.0, "numba_init": 0.0,
                           "typing": 0.0, "lower_llvm": 0.0, "cache_load": 0.0}
    local = threading.local()  # a background compile (runtime/background.py) has its own

    def start() -> None:
        if not hasattr(local, "stack"):
            local.stack = []
        local.stack.append([time.perf_counter(), 0.0])

    def end(key: str) -> None:
        stack = local.stack
        s, inner = stack.pop()
        d = time.perf_counter() - s
        if stack:
            stack[-1][1] += d
        t[key] += d - inner

    def timed(owner, attr, key):
        f = getattr(owner, attr)

        def wrapper(*a, **k):
            start()
            try:
                return f(*a, **k)
            finally:
                end(key)
        setattr(owner, attr, wrapper)

    timed(api, "trace", "trace")
    timed(compiler, "run", "passes")
    timed(fuse, "fuse", "passes")
    timed(cpu, "emit_cpu", "codegen")
    timed(kernelcache.KernelCache, "load_overload", "cache_load")
    timed(numba_cpu.CPUContext, "refresh", "numba_init")

    class Listener(event.Listener):
        def on_start(self, ev):
            start()

        def on_end(self, ev):
            typing = (ev.kind == "numba:run_pass"
                      and ev.data["name"].startswith("nopython_type_inf"))
            # the rest: lowering, LLVM's optimization and code generation, numba's bookkeeping
            end("typing" if typing else "lower_llvm")

    event.register("numba:run_pass", Listener())
    event.register("numba:compile", Listener())
    return t


def one(name: str, mode: str, cold: bool, plain: bool = False) -> dict[str, float]:
    if cold:
        d = tempfile.mkdtemp(prefix="adjit-first-")
        os.environ["ADJIT_CACHE_DIR"] = os.path.join(d, "adjit")
        os.environ["NUMBA_CACHE_DIR"] = os.path.join(d, "numba")
    s = time.perf_counter()
    make = {"adjit": _adjit, "jax": _jax, "njit": _njit}[mode]
    f = make(name)
    t = _instrument() if mode == "adjit" and not plain else {}
    args = _data(name)
    s1 = time.perf_counter()
    out = f(*args)
    if mode == "jax":
        import jax
        jax.block_until_ready(out)
    end = time.perf_counter()
    res = {"total": end - s, "import+setup": s1 - s, "first_call": end - s1}
    if mode == "adjit":  # a kernel compiling in the background: when it is ready
        spec = next(iter(f.specializations.values()))
        background = type(spec.fn).__name__ == "Background"  # (hasattr would compile a Tiered)
        if background:
            spec.fn.wait()
        res["kernel_ready"] = time.perf_counter() - s1
    if t:
        res.update(t)
        # with a background compile, numba's stages run in its thread, after the first result
        # or beside it: they are the thread's totals, and "other" means nothing then
        res["other"] = res["first_call"] - sum(t.values()) if not background else 0.0
    return res


def driver(runs: int, workloads: list[str]) -> None:
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1"}
    for name in workloads:
        for mode in ("adjit", "jax", "njit"):
            warm_dir = tempfile.mkdtemp(prefix="adjit-warm-")
            wenv = {**env, "ADJIT_CACHE_DIR": os.path.join(warm_dir, "adjit"),
                    "NUMBA_CACHE_DIR": os.path.join(warm_dir, "numba")}
            for label, cold, e in (("cold", True, env), ("warm", False, wenv)):
                if not cold:  # fill the folder once
                    subprocess.run([sys.executable, __file__, "one", name, mode], env=e,
                                   check=True, capture_output=True)
                rows = []
                for _ in range(runs):
                    p = subprocess.run([sys.executable, __file__, "one", name, mode]
                                       + (["--cold"] if cold else []), env=e, check=True,
                                       capture_output=True, text=True)
                    rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
                med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
                print(f"{name:6s} {mode:6s} {label}  " + "  ".join(
                    f"{k} {v * 1e3:7.0f}" for k, v in med.items()), flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", nargs="*")
    p.add_argument("--cold", action="store_true")
    p.add_argument("--plain", action="store_true",
                   help="no instrumentation (for whole-process timings: it imports numba)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    o = p.parse_args()
    if o.what and o.what[0] == "one":
        print(json.dumps(one(o.what[1], o.what[2], o.cold, o.plain)))
        return 0
    driver(o.runs, o.workloads.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
