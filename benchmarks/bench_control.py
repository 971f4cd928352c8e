"""Control-flow benchmark: gradients through data-dependent `while` loops and `if`s.

Run:  python benchmarks/bench_control.py [--quick]

1. tutorial: the function of the tutorial,
       b = a*2; while norm(b) < 1000: b = b*2; c = b if sum(b) > 0 else 100*b; sum(c)
   on a 10-element input: microseconds per value-and-gradient call (target < 10 us), and
   that 1000 random inputs (different trip counts, both branches) are served by the one
   compilation, with the right values (f = k*sum(a), gradient k*ones, k = 2^n or 100*2^n).
2. euler: `for t in range(n): x = x + dt*np.sin(x)`, n = 100 steps on 1e4 elements, the
   value and gradient of sum(x_n**2) with respect to x_0, against a hand-written numba
   forward + backward (target: adjit within 1.5x), and the tape's peak memory.

The graphs are captured from Python with `adjit.value_and_grad` when the tracer can capture
`while` on traced values (tracer/autograph.py); otherwise they are built by hand as IR (the
graph capture would produce: a `while` with consts and carried values, a `cond`) and go
through the same passes (adjoint -> prune -> simplify), fusion, code generation and numba
compilation (runtime.compiler.build). The loop count `n` of the Euler loop is an argument,
a traced integer, so the loop is a `while` (with a Python int it would unroll).

JAX: reverse mode through a data-dependent `lax.while_loop` is not supported; jax.grad of
the tutorial function raises "Reverse-mode differentiation does not work for lax.while_loop
or lax.fori_loop with dynamic start/stop values." The script records the error JAX gives
when JAX is importable, and that text otherwise. For the Euler loop with a fixed count JAX
can differentiate `lax.fori_loop` with static bounds (a scan); it is timed when importable.

Timing: minimum over repeats of a calibrated loop of calls (as in bench_core.py), one thread.
"""
from __future__ import annotations

import os

# steady-state timings: every timed call runs the kernel (a kernel compiling in the
# background has its first calls answered by the interpreter: runtime/background.py)
os.environ.setdefault("ADJIT_BACKGROUND_COMPILE", "0")

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

JAX_WHILE_ERROR = ("Reverse-mode differentiation does not work for lax.while_loop or "
                   "lax.fori_loop with dynamic start/stop values.")


# ---- timing ---------------------------------------------------------------------------------

def bench(fn: Callable[[], Any], budget: float, repeats: int = 7) -> float:
    """Seconds per call: the minimum over `repeats` loops of a calibrated length."""
    fn()
    n, t = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        t = time.perf_counter() - t0
        if t > budget / repeats / 4 or n > 1 << 22:
            break
        n *= 2
    n = max(1, int(n * (budget / repeats) / max(t, 1e-9)))
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


# ---- the functions, in numpy ----------------------------------------------------------------

def tutorial_np(a: np.ndarray) -> float:
    b = a * 2
    while np.linalg.norm(b) < 1000:
        b = b * 2
    c = b if np.sum(b) > 0 else 100 * b
    return np.sum(c)


def euler_np(x: np.ndarray, dt: float, n: int) -> float:
    for _ in range(n):
        x = x + dt * np.sin(x)
    return np.sum(x * x)


# ---- the graphs -----------------------------------------------------------------------------

def _graph(name: str, types: list, body: Callable[..., Any], names: str):
    from adjit.ir import Builder, Var, building

    ins = [Var(t, n) for t, n in zip(types, names.split(), strict=True)]
    with building(Builder()) as b:
        outs = body(*ins)
    return b.graph(name, tuple(ins), tuple(outs if isinstance(outs, (list, tuple)) else [outs]))


def tutorial_graph(n: int):
    from adjit.ir import ArrayType, emit_multi, ops

    F = ArrayType("f64", (n,))
    cond = _graph("cond", [F], lambda b: ops.ew("lt", ops.ew("sqrt", ops.reduce_sum(
        ops.mul(b, b), (0,))), 1000.0), "b")
    body = _graph("body", [F], lambda b: ops.mul(b, 2.0), "b")
    then = _graph("then", [F], lambda b: b, "b")
    other = _graph("other", [F], lambda b: ops.mul(100.0, b), "b")

    def f(a: Any) -> Any:
        (b,) = emit_multi("while", ops.mul(a, 2.0), cond=cond, body=body, n_consts=0)
        pred = ops.ew("gt", ops.reduce_sum(b, (0,)), 0.0)
        (c,) = emit_multi("cond", pred, b, branches=(other, then))
        return ops.reduce_sum(c, (0,))

    return _graph("tutorial", [F], f, "a")


def euler_graph(size: int):
    """x, dt, n -> sum(x_n**2), the loop a `while` over (t, x) with consts (dt, n)."""
    from adjit.ir import ArrayType, Lit, emit_multi, ops

    F, S, I = ArrayType("f64", (size,)), ArrayType("f64", ()), ArrayType("i64", ())
    types = [S, I, I, F]  # consts dt, n; carried t, x
    cond = _graph("cond", types, lambda dt, n, t, x: ops.ew("lt", t, n), "dt n t x")
    body = _graph("body", types, lambda dt, n, t, x: [
        ops.add(t, Lit.make(np.int64(1))), ops.add(x, ops.mul(dt, ops.ew("sin", x)))],
        "dt n t x")

    def f(x0: Any, dt: Any, n: Any) -> Any:
        _, x = emit_multi("while", dt, n, Lit.make(np.int64(0)), x0, cond=cond, body=body,
                          n_consts=2)
        return ops.reduce_sum(ops.mul(x, x), (0,))

    return _graph("euler", [F, S, I], f, "x dt n")


class Compiled:
    """value_and_grad of a hand-built graph through the runtime's compiler."""

    def __init__(self, graph: Any, wrt: list[int]) -> None:
        from adjit.runtime.compiler import build
        from adjit.tracer.trace import Traced

        self.spec = build(Traced(graph, None, tuple(False for _ in graph.inputs)), wrt=wrt,
                          static=(), n_args=len(graph.inputs))
        self.fn = self.spec.fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


def captured(f: Callable[..., Any], *args: Any) -> Any:
    """adjit.value_and_grad(f) when the tracer captures f's control flow, else None."""
    import adjit

    try:
        vg = adjit.value_and_grad(f)
        vg(*args)
        spec = next(iter(vg.specializations.values()))
        if not any(e.prim == "while" for e in spec.traced.graph.eqns):
            return None
        return vg
    except Exception as e:  # noqa: BLE001  (capture not available: build by hand)
        print(f"  (capture: {type(e).__name__}: {str(e).splitlines()[0][:100]}; "
              "the graph is built by hand)")
        return None


# ---- 1. the tutorial function ---------------------------------------------------------------

def run_tutorial(budget: float) -> dict[str, Any]:
    print("tutorial: b = a*2; while norm(b) < 1000: b = b*2; c = b if sum(b) > 0 else 100*b; "
          "sum(c)   (10 elements)")
    rng = np.random.default_rng(0)
    a = rng.normal(size=10)
    c = Compiled(tutorial_graph(10), [0])
    vg = captured(tutorial_np, a)
    out: dict[str, Any] = {}
    # correctness and no recompilation over 1000 random inputs of varied scale
    trips, branches = set(), set()
    c(a)  # the first call compiles
    sigs_before = len(c.fn.signatures)
    for i in range(1000):
        x = rng.normal(size=10) * 10.0 ** rng.uniform(-3, 2)
        value, grad = c(x)
        ref = tutorial_np(x)
        k = ref / x.sum()
        assert np.isclose(value, ref, rtol=1e-12), (i, value, ref)
        assert np.allclose(grad, k, rtol=1e-12), (i, grad, k)
        trips.add(round(math.log2(abs(k) / (100 if k < 0 else 1))) - 1)
        branches.add(bool(x.sum() > 0))
        if vg is not None:
            v2, g2 = vg(x)
            assert np.isclose(v2, ref) and np.allclose(g2, k)
    out["compilations"] = len(c.fn.signatures)
    out["new_compilations_over_1000_inputs"] = len(c.fn.signatures) - sigs_before
    out["trip_counts"] = f"{min(trips)}..{max(trips)} ({len(trips)} distinct)"
    out["branches"] = sorted(branches)
    out["kernel_us"] = bench(lambda: c.fn(a), budget) * 1e6
    out["spec_run_us"] = bench(lambda: c.spec.run([a]), budget) * 1e6
    if vg is not None:
        out["adjit_value_and_grad_us"] = bench(lambda: vg(a), budget) * 1e6
    out["numpy_forward_us"] = bench(lambda: tutorial_np(a), budget) * 1e6
    out["jax"] = jax_tutorial(a)
    try:
        import torch

        ta = torch.tensor(a, requires_grad=True)

        def torch_vg() -> Any:
            x = ta.detach().requires_grad_(True)
            b = x * 2
            while torch.linalg.norm(b) < 1000:
                b = b * 2
            cc = b if b.sum() > 0 else 100 * b
            v = cc.sum()
            v.backward()
            return v, x.grad
        out["torch_us"] = bench(torch_vg, budget) * 1e6
    except ImportError:
        out["torch_us"] = "torch not installed"
    return out


def jax_tutorial(a: np.ndarray) -> str:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return f"JAX not installed; jax.grad of lax.while_loop raises: {JAX_WHILE_ERROR}"

    def f(a: Any) -> Any:
        b = jax.lax.while_loop(lambda b: jnp.linalg.norm(b) < 1000, lambda b: b * 2, a * 2)
        c = jax.lax.cond(jnp.sum(b) > 0, lambda b: b, lambda b: 100 * b, b)
        return jnp.sum(c)
    try:
        jax.grad(f)(a)
        return "jax.grad succeeded (unexpected)"
    except Exception as e:  # noqa: BLE001
        return f"jax {jax.__version__}: {type(e).__name__}: {str(e).splitlines()[0]}"


# ---- 2. the Euler loop ----------------------------------------------------------------------

@numba.njit(cache=False, fastmath=False, error_model="numpy")
def hand_euler(x0: np.ndarray, dt: float, n: int) -> tuple[float, np.ndarray]:
    """value and gradient of sum(x_n**2) wrt x_0: the forward loop stores every x_t (the
    tape), the backward loop multiplies by dx_{t+1}/dx_t = 1 + dt*cos(x_t)."""
    size = x0.shape[0]
    xs = np.empty((n + 1, size))
    xs[0] = x0
    for t in range(n):
        for i in range(size):
            xs[t + 1, i] = xs[t, i] + dt * math.sin(xs[t, i])
    value = 0.0
    g = np.empty(size)
    for i in range(size):
        value += xs[n, i] * xs[n, i]
        g[i] = 2.0 * xs[n, i]
    for t in range(n - 1, -1, -1):
        for i in range(size):
            g[i] *= 1.0 + dt * math.cos(xs[t, i])
    return value, g


def run_euler(budget: float, n: int = 100, size: int = 10_000) -> dict[str, Any]:
    print(f"euler: for t in range(n): x = x + dt*np.sin(x)   (n = {n}, {size} elements)")
    rng = np.random.default_rng(1)
    x0 = rng.normal(size=size)
    dt, nn = np.array(0.01), np.array(n, dtype=np.int64)
    g = euler_graph(size)
    c = Compiled(g, [0])
    vg = captured(euler_np, x0, dt, nn)
    out: dict[str, Any] = {}
    value, grad = c(x0, dt, nn)
    hv, hg = hand_euler(x0, 0.01, n)
    assert np.isclose(value, euler_np(x0, 0.01, n), rtol=1e-12)
    assert np.isclose(value, hv, rtol=1e-12) and np.allclose(grad, hg, rtol=1e-12, atol=1e-12)
    # finite differences on a few coordinates
    for i in (0, 1, 2):
        e = np.zeros(size)
        e[i] = 1e-6
        fd = (euler_np(x0 + e, 0.01, n) - euler_np(x0 - e, 0.01, n)) / 2e-6
        assert np.isclose(grad[i], fd, rtol=1e-5), (grad[i], fd)
    out["adjit_ms"] = bench(lambda: c.fn(x0, dt, nn), budget) * 1e3
    if vg is not None:
        out["adjit_value_and_grad_ms"] = bench(lambda: vg(x0, dt, nn), budget) * 1e3
    out["hand_ms"] = bench(lambda: hand_euler(x0, 0.01, n), budget) * 1e3
    out["numpy_forward_ms"] = bench(lambda: euler_np(x0, 0.01, n), budget) * 1e3
    out["adjit/hand"] = out["adjit_ms"] / out["hand_ms"]
    # the tape: a debug build of the same plan returns its peak size
    from adjit.codegen.compile import compile_source
    from adjit.codegen.cpu import emit_cpu

    spec = c.spec
    src = emit_cpu(spec.final, spec.plan, "euler_tape", tape_bytes=True)
    with tempfile.TemporaryDirectory() as d:
        import pathlib

        tape_fn = compile_source(src, pathlib.Path(d))
        out["tape_peak_bytes"] = int(tape_fn(x0, dt, nn)[-1])
    (k,) = [k for k in spec.plan.kernels if k.kind == "while_grad"]
    out["tape_row_bytes"] = k.tape_row_bytes
    out["hand_tape_bytes"] = (n + 1) * size * 8
    out["plan"] = str(spec.plan)
    out["jax"] = jax_euler(x0, n, budget)
    return out


def jax_euler(x0: np.ndarray, n: int, budget: float) -> str:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return "JAX not installed"
    jax.config.update("jax_enable_x64", True)

    def f(x: Any, dt: Any) -> Any:
        x = jax.lax.fori_loop(0, n, lambda t, x: x + dt * jnp.sin(x), x)  # static bounds: scan
        return jnp.sum(x * x)

    vg = jax.jit(jax.value_and_grad(f))
    xj = jnp.asarray(x0)
    t = bench(lambda: vg(xj, 0.01)[1].block_until_ready(), budget) * 1e3
    return f"jax {jax.__version__} fori_loop with static bounds (a scan): {t:.2f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    budget = 0.05 if args.quick else 0.3
    cache = tempfile.mkdtemp(prefix="adjit-bench-control-")
    os.environ["ADJIT_CACHE_DIR"] = cache
    print(f"numba {numba.__version__}, numpy {np.__version__}, one thread, cache {cache}\n")

    t0 = time.perf_counter()
    tut = run_tutorial(budget)
    ok = tut["kernel_us"] < 10 and tut["new_compilations_over_1000_inputs"] == 0
    print(f"  compiled kernel (numba dispatch + loop): {tut['kernel_us']:.2f} us per call")
    print(f"  Specialization.run (argument conversion): {tut['spec_run_us']:.2f} us per call")
    if "adjit_value_and_grad_us" in tut:
        print(f"  adjit.value_and_grad (captured):  {tut['adjit_value_and_grad_us']:.2f} us")
    print(f"  numpy forward alone:                {tut['numpy_forward_us']:.2f} us")
    torch_us = tut["torch_us"]
    print("  torch autograd (eager):             "
          + (torch_us if isinstance(torch_us, str) else f"{torch_us:.2f} us"))
    print(f"  1000 random inputs: trip counts {tut['trip_counts']}, branches {tut['branches']}, "
          f"values and gradients checked; numba signatures {tut['compilations']} "
          f"(new compilations: {tut['new_compilations_over_1000_inputs']})")
    print(f"  target < 10 us per call, no recompilation: {'ok' if ok else 'FAIL'}")
    print(f"  {tut['jax']}")

    eu = run_euler(budget)
    print(f"  adjit compiled kernel:  {eu['adjit_ms']:.3f} ms")
    if "adjit_value_and_grad_ms" in eu:
        print(f"  adjit.value_and_grad (captured): {eu['adjit_value_and_grad_ms']:.3f} ms")
    print(f"  hand numba fwd+bwd:     {eu['hand_ms']:.3f} ms")
    print(f"  numpy forward alone:    {eu['numpy_forward_ms']:.3f} ms")
    print(f"  adjit/hand {eu['adjit/hand']:.2f}  (target <= 1.5: "
          f"{'ok' if eu['adjit/hand'] <= 1.5 else 'FAIL'})")
    print(f"  tape peak: {eu['tape_peak_bytes'] / 1e6:.2f} MB = 100 iterations x "
          f"{eu['tape_row_bytes']} B (x, float64[{10_000}]); hand-written stores "
          f"{eu['hand_tape_bytes'] / 1e6:.2f} MB")
    print(f"  {eu['jax']}")
    print("  plan:\n    " + eu["plan"].replace("\n", "\n    "))
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
