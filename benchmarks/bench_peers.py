"""Peers benchmark: adjit.value_and_grad against JAX, PyTorch and torch.compile, side by side.

Run:  python benchmarks/bench_peers.py [--quick] [--only WORKLOAD ...] [--systems SYSTEM ...]
                                       [--warm] [--warm-runs 5]

Each cell (workload x system) is a fresh process (`--child WORKLOAD SYSTEM`), single-threaded
and pinned to one CPU as in bench_core.py (thread variables set before any import; the child
imports bench_core, keeping out the peers it does not run), float64, default_rng(0). It reports
  first   the first call's wall time, compile included, fresh caches ("+ 2nd": the second call
          was slow too; adjit compiles a small function at its second call, ADJIT_COMPILE_AFTER)
  steady  bench_core.bench: the minimum over repeated calibrated loops, after a warm-up
  error   max over outputs (value, each gradient) of max|out - hand| / max|hand|, of a call
          after the timing; bound 1e-12 for adjit, 1e-6 for the others (else FAIL)
Workloads (n = 1e6; --quick: 1e5 and batches / 10): f4 sum(3*a**3 - b**2), chain
(bench_core.tanh_sigmoid), dot 2*dot(x, x), rosen2 (2-D Rosenbrock, us), tutorial
(bench_control.tutorial_np: data-dependent while and if, 10 elements, us), mlp
(bench_core.mlp_loss, 784-512-10, batch 256), softmax (bench_core.softmax_xent, 1024x1000).

Systems: hand: value and gradients in one numba.njit call (bench_core's kernels for chain and
softmax, new ones here for f4, dot, rosen2, tutorial), numpy+BLAS for mlp (bench_core.numpy_mlp).
adjit: adjit.value_and_grad(f, argnums), default settings: a first call on a cache miss is
answered by the interpreter while numba compiles in the background ("kernel": when calls
switch to it; the steady state is timed after that). jax:
jax.jit(jax.value_and_grad(f)) of the same code with xp=jax.numpy, x64; the tutorial is n/a with
the error JAX gives for reverse mode through lax.while_loop (bench_control.jax_tutorial).
torch: eager, forward then torch.autograd.grad (bench_core.torch_callable). torch.compile:
torch.compile of the FORWARD, then torch.autograd.grad as in eager mode (AOTAutograd compiles
the backward with inductor too); a compiled function calling torch.autograd.grad graph-breaks
at that call in torch 2.13 unless torch._dynamo.config.trace_autograd_ops (off by default) is
set. Its graphs and graph breaks are reported (the tutorial's while and if break). A system
that does not import, or cannot run a workload, is reported n/a with the reason.

--warm: whole-process warm start of f4, mlp, tutorial (disk caches filled), from spawning the
process to its result line (teardown excluded), adjit against a hand numba.njit(cache=True)
kernel, median of --warm-runs alternating runs: bench_first_call.py's processes (`one W
adjit|njit --plain`) for f4 and mlp, this script's `--warm-child` for the tutorial.

(Over 500 lines on purpose: a benchmark is read whole, so its workloads, hand kernels, child
process and report are one file: what was timed is what the reader sees.)

Time: a full run took 4 minutes on the 2-core reference machine (+ 30 s for --warm), half of it
torch.compile's compiles (6-25 s a workload); --quick about as long (the compiles remain).
"""
from __future__ import annotations

import os
import sys

# Single-threaded everything, before numpy/numba/torch/jax start their pools; the children
# inherit this environment and the CPU pin (bench_core.py, which each child imports, does the
# same again).
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
if "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen"
                               "=false intra_op_parallelism_threads=1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse
import functools
import importlib.metadata
import json
import math
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bench_core, bench_control

WORKLOADS = ("f4", "chain", "dot", "rosen2", "tutorial", "mlp", "softmax")
SYSTEMS = ("hand", "adjit", "jax", "torch", "torch.compile")
PEERS = ("jax", "torch", "torch.compile")
OVERHEAD = ("rosen2", "tutorial")  # call-overhead cells, in microseconds
BOUND = {"adjit": 1e-12}  # error bound relative to the hand kernel; the others: 1e-6
WARM = ("f4", "mlp", "tutorial")
TIMEOUT_S = 1800
TARGETS = (  # the issue's, on steady times: (workload, text, a, b, strict): a < b or a <= b
    ("f4", "adjit/hand <= 1.0", "adjit", "hand", False),
    ("chain", "adjit/hand <= torch.compile/hand", "adjit", "torch.compile", False),
    ("dot", "adjit/hand <= 1.0", "adjit", "hand", False),
    ("mlp", "adjit < jax", "adjit", "jax", True),
    ("softmax", "adjit < torch.compile", "adjit", "torch.compile", True),
)


# ---- the new workloads (xp=np traced by adjit; xp=jax.numpy / torch for the peers) -----------

def f4(a, b, xp=np):
    return xp.sum(3 * a**3 - b**2)


def dot(x, xp=np):
    return 2 * xp.dot(x, x)


def rosen2(x, xp=np):  # indexing and arithmetic only: the same code in every framework
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def tutorial_torch(a):
    """bench_control.tutorial_np in PyTorch (eager: the `while` and `if` test tensors)."""
    import torch

    b = a * 2
    while torch.linalg.norm(b) < 1000:
        b = b * 2
    c = b if torch.sum(b) > 0 else 100 * b
    return torch.sum(c)


# ---- hand kernels bench_core.py lacks: value and gradient in one call ----------------------
# As bench_core's (error_model="numpy", no fastmath); cache=True for --warm's njit process
# (NUMBA_CACHE_DIR is the run's temporary folder).
NJIT = {"cache": True, "error_model": "numpy"}


@njit(**NJIT)
def hand_f4(a, b):
    n = a.shape[0]
    ga = np.empty(n)
    gb = np.empty(n)
    s = 0.0
    for i in range(n):
        s += 3.0 * a[i] ** 3 - b[i] ** 2
        ga[i] = 9.0 * a[i] ** 2
        gb[i] = -2.0 * b[i]
    return s, ga, gb


@njit(**NJIT)
def hand_dot(x):
    n = x.shape[0]
    g = np.empty(n)
    s = 0.0
    for i in range(n):
        s += x[i] * x[i]
        g[i] = 4.0 * x[i]
    return 2.0 * s, g


@njit(**NJIT)
def hand_rosen2(x):
    u = 1.0 - x[0]
    d = x[1] - x[0] * x[0]
    g = np.empty(2)
    g[0] = -2.0 * u - 400.0 * x[0] * d
    g[1] = 200.0 * d
    return u * u + 100.0 * d * d, g


@njit(**NJIT)
def hand_tutorial(a):
    # c = k * a with k = 2^m (and x100 on the else branch), so the gradient is k everywhere.
    n = a.shape[0]
    b = np.empty(n)
    for i in range(n):
        b[i] = 2.0 * a[i]
    k = 2.0
    while True:
        ss = 0.0
        for i in range(n):
            ss += b[i] * b[i]
        if not math.sqrt(ss) < 1000.0:  # `not <`: NaN leaves the loop, as in numpy
            break
        for i in range(n):
            b[i] *= 2.0
        k *= 2.0
    s = 0.0
    for i in range(n):
        s += b[i]
    if not s > 0.0:
        k *= 100.0
        s = 0.0
        for i in range(n):
            s += 100.0 * b[i]
    return s, np.full(n, k)


# ---- one cell, in its own process -----------------------------------------------------------

class NotAvailable(Exception):
    pass


def make_case(name: str, quick: bool) -> Any:
    """The workload as a bench_core.Case. Its `name` is the key of its PyTorch function in
    bench_core.TORCH_FNS (bench_core.torch_callable looks it up there)."""
    import bench_core as bc
    from bench_control import tutorial_np

    rng = np.random.default_rng(0)
    n, div = (10**5, 10) if quick else (10**6, 1)
    def two() -> tuple[np.ndarray, np.ndarray]:
        return rng.standard_normal(n), rng.standard_normal(n)

    spec = {  # name: (torch key, numpy fn, args, argnums, hand, hand label)
        "f4": ("f4", f4, two, (0, 1), hand_f4, "numba"),
        "chain": ("tanh_sigmoid", bc.tanh_sigmoid, two, (0, 1), bc.hand_tanh_sigmoid, "numba"),
        "dot": ("dot", dot, lambda: (rng.standard_normal(n),), 0, hand_dot, "numba"),
        "rosen2": ("rosen2", rosen2, lambda: (rng.standard_normal(2),), 0, hand_rosen2, "numba"),
        "tutorial": ("tutorial", tutorial_np, lambda: (rng.standard_normal(10),), 0,
                     hand_tutorial, "numba"),
        "mlp": ("mlp", bc.mlp_loss, lambda: bc._mlp_args(rng, 256 // div, 784, 512, 10),
                (0, 1, 2, 3), bc.numpy_mlp, "numpy+BLAS"),
        "softmax": ("softmax_xent", bc.softmax_xent,
                    lambda: bc._softmax_args(rng, 1024 // div, 1000), 0, bc.hand_softmax_xent,
                    "numba"),
    }
    key, fn, args, argnums, hand, label = spec[name]
    return bc.Case(name=key, title=name, fn=fn, args=args(), argnums=argnums, hand=hand,
                   hand_label=label, target=0.0, small_args=(), overhead=name in OVERHEAD)


def make_call(system: str, name: str, case: Any) -> tuple[Callable[[], Any], Callable[[], str]]:
    """A zero-argument call of the system's value and gradient, and a note for after the run."""
    import bench_core as bc

    if system == "hand":
        return lambda: case.hand(*case.args), str
    if system == "adjit":
        import adjit

        vg = adjit.value_and_grad(case.fn, argnums=case.argnums)

        def call() -> Any:
            return vg(*case.args)

        call.vg = vg  # type: ignore[attr-defined]
        return call, lambda: "" if vg.compilations == 1 else f"{vg.compilations} compilations"
    if system == "jax":
        if bc.jax is None:
            raise NotAvailable(bc.JAX_NOTE)
        if name == "tutorial":
            from bench_control import jax_tutorial

            raise NotAvailable(jax_tutorial(case.args[0]))
        return bc.jax_callable(case), str
    if bc.torch is None:
        raise NotAvailable(bc.TORCH_NOTE)
    torch = bc.torch
    bc.TORCH_FNS.update(f4=functools.partial(f4, xp=torch), dot=functools.partial(dot, xp=torch),
                        rosen2=rosen2, tutorial=tutorial_torch)
    if system == "torch":
        return bc.torch_callable(case), str
    from torch._dynamo.utils import counters

    bc.TORCH_FNS[case.name] = torch.compile(bc.TORCH_FNS[case.name])

    def note() -> str:  # torch 2.13 counts a data-dependent branch under "unimplemented"
        breaks = {**counters["graph_break"], **counters["unimplemented"]}
        why = f" ({next(iter(breaks)).splitlines()[0]})" if breaks else ""
        return (f"{counters['stats']['unique_graphs']} graph(s) compiled, "
                f"{sum(breaks.values())} graph break(s){why}")
    return bc.torch_callable(case), note


def child(name: str, system: str, quick: bool, out: Path) -> dict[str, Any]:
    # bench_core imports jax and torch when it can: keep a cell's process free of the peers it
    # does not run (import time, memory, a second OpenMP runtime beside numba's).
    for mod in ("jax", "torch"):
        if not system.startswith(mod):
            sys.modules.setdefault(mod, None)  # `import mod` now raises ImportError
    # adjit's default (bench_core and bench_control, timing steady states only, turn it off
    # unless set): a first call on a cache miss answered while numba compiles
    os.environ.setdefault("ADJIT_BACKGROUND_COMPILE", "1")
    import bench_core as bc

    bc.pin_allocator()
    case = make_case(name, quick)
    try:
        call, note = make_call(system, name, case)
        t0 = time.perf_counter()
        call()
        first = time.perf_counter() - t0
    except NotAvailable as e:
        return {"na": str(e)}
    except Exception as e:  # noqa: BLE001  (a peer that cannot run the workload: say why)
        if system == "adjit":
            raise  # an adjit failure is a finding: the parent reports the traceback's end
        return {"na": f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"}
    ready = first
    if system == "adjit":  # its first results may come from the interpreter (background
        ready = adjit_ready(call, t0)  # compile): time the kernel, once it is in place
    t0 = time.perf_counter()
    call()
    second = time.perf_counter() - t0
    budget, repeats = (0.04, 3) if quick else (0.2, 5)
    steady = bc.bench(call, budget, repeats)
    # checked after the timing: the outputs of the code that was timed (adjit's first calls
    # may come from its interpreter)
    np.savez(out / f"{name}.{system}.npz", *bc._flat(call()))
    return {"first_s": first, "ready_s": ready, "second_s": second, "steady_s": steady,
            "note": note()}


def adjit_ready(call: Callable[[], Any], t0: float) -> float:
    """Seconds from the first call's start until every kernel of the function runs compiled
    (runtime/background.py answers with the interpreter until then; calls switch over)."""
    from adjit.runtime.compiler import provisional

    vg = call.vg  # type: ignore[attr-defined]
    while any(provisional(s.fn) for s in vg.specializations.values()):
        time.sleep(0.01)
        call()
    return time.perf_counter() - t0


def warm_child(name: str, mode: str) -> None:
    """--warm's tutorial process (bench_first_call.py has no tutorial): one result, printed."""
    a = np.random.default_rng(0).standard_normal(10)
    if mode == "njit":
        value = hand_tutorial(a)[0]
    else:
        import adjit
        from bench_control import tutorial_np

        value = adjit.value_and_grad(tutorial_np)(a)[0]
    print(json.dumps({"value": float(value)}), flush=True)


# ---- the driver -----------------------------------------------------------------------------

def run_cell(name: str, system: str, quick: bool, run_dir: Path, env: dict[str, str]) -> dict:
    cmd = [sys.executable, __file__, "--child", name, system, "--out", str(run_dir)]
    try:
        p = subprocess.run(cmd + ["--quick"] * quick, env=env, capture_output=True, text=True,
                           timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {TIMEOUT_S} s"}
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        tail = " | ".join(p.stderr.strip().splitlines()[-3:])
        return {"error": f"exit status {p.returncode}: {tail[-600:]}"}
    return json.loads(lines[-1])


def rel_error(path: Path, ref: Path) -> float:
    """max over outputs of max|x - r| / max|r|; inf for a missing, misshapen or NaN output."""
    with np.load(path) as got, np.load(ref) as want:
        if len(got.files) != len(want.files):
            return math.inf
        worst = 0.0
        for k in want.files:
            x, r = got[k], want[k]
            if x.shape != r.shape or not np.all(np.isfinite(x)):
                return math.inf
            scale, err = float(np.max(np.abs(r))), float(np.max(np.abs(x - r)))
            worst = max(worst, err / scale if scale > 0 else err)
    return worst


def fmt_steady(name: str, r: dict | None) -> str:
    if r is None or "steady_s" not in r:
        return "-" if r is None else "n/a" if "na" in r else "error"
    return f"{r['steady_s'] * (1e6 if name in OVERHEAD else 1e3):.3g}"


def fmt_first(r: dict | None) -> str:
    if r is None or "first_s" not in r:
        return fmt_steady("", r)
    ready = r.get("ready_s", r["first_s"])
    if ready > r["first_s"] + 0.01:  # adjit: the kernel took over later (background compile)
        return f"{r['first_s']:.2f} (kernel {ready:.2f})"
    slow_second = r["second_s"] > max(0.005, 10 * r["steady_s"])  # compile work deferred
    return f"{r['first_s']:.2f}" + (f" + 2nd {r['second_s']:.2f}" if slow_second else "")


def table(head: list[str], rows: list[list[str]]) -> str:
    return "\n".join("| " + " | ".join(cells) + " |"
                     for cells in [head, ["---"] * len(head), *rows])


def report(results: dict, errors: dict, names: list[str], systems: list[str]) -> None:
    steady = {n: {s: r["steady_s"] for (m, s), r in results.items() if m == n and "steady_s" in r}
              for n in names}
    rows = []
    for n in names:
        st = steady[n]
        hand = st.get("hand", math.nan)
        peers = [st[s] / hand for s in PEERS if s in st]
        rows.append([f"{n} ({'us' if n in OVERHEAD else 'ms'})",
                     *(fmt_steady(n, results.get((n, s))) for s in systems),
                     f"{st.get('adjit', math.nan) / hand:.2f}",
                     f"{min(peers, default=math.nan):.2f}"])
    print(f"\nSteady state, value and gradients per call (ms; us for {', '.join(OVERHEAD)}), "
          "minimum over loops; ratios to hand, lower is faster\n")
    print(table(["workload", *systems, "adjit/hand", "best peer/hand"], rows))
    print("\nFirst call (s, compile included, fresh caches)\n")
    print(table(["workload", *systems],
                [[n, *(fmt_first(results.get((n, s))) for s in systems)] for n in names]))
    print("\nError relative to hand: max over outputs of max|x - hand| / max|hand| (bound 1e-12 "
          "for adjit, 1e-6 for the others)\n")
    rows = [[n, *("-" if (n, s) not in errors else f"{errors[n, s]:.1e}"
                  + (" FAIL" if errors[n, s] > BOUND.get(s, 1e-6) else "") for s in systems[1:])]
            for n in names]
    print(table(["workload", *systems[1:]], rows))
    firsts = [(n, results[n, "adjit"]["first_s"], results[n, "jax"]["first_s"]) for n in names
              if all("first_s" in results.get((n, s), {}) for s in ("adjit", "jax"))]
    if firsts:
        print("\nFirst result, adjit / jax (target <= 1.5): " + ", ".join(
            f"{n} {a / j:.2f}{'' if a <= 1.5 * j else ' MISSED'}" for n, a, j in firsts))
    print(f"\nThe issue's targets (steady state; {', '.join(OVERHEAD)}: reported above):")
    for n, text, a, b, strict in (t for t in TARGETS if t[0] in names):
        st = steady[n]
        if not {a, b, "hand"} <= st.keys():
            print(f"  {n:8s} {text}: not evaluated (missing cell)")
            continue
        ok = st[a] < st[b] if strict else st[a] <= st[b]
        other = f", {b}/hand {st[b] / st['hand']:.2f}" if b != "hand" else ""
        print(f"  {n:8s} {text}: adjit/hand {st[a] / st['hand']:.2f}{other}: "
              f"{'met' if ok else 'MISSED'}")
    notes = [f"  {n}/{s}: " + (f"n/a ({r['na']})" if "na" in r else r.get("error") or r["note"])
             for (n, s), r in results.items() if {"na", "error"} & r.keys() or r.get("note")]
    print("\nNotes:\n" + "\n".join(notes) if notes else "")


def first_result_s(cmd: list[str], env: dict[str, str], err: Path) -> float:
    """Seconds from spawning `cmd` to its first line on stdout (its result)."""
    t0 = time.perf_counter()
    with err.open("w") as stderr, subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                                   stderr=stderr, text=True) as p:
        line = p.stdout.readline()
        t = time.perf_counter() - t0
        p.stdout.read()
        if p.wait() != 0 or not line:
            raise RuntimeError(f"{' '.join(cmd[1:])}: {err.read_text().strip()[-400:]}")
    return t


def warm_cmd(name: str, mode: str) -> list[str]:
    if name == "tutorial":  # bench_first_call.py has no tutorial
        return [sys.executable, __file__, "--warm-child", name, mode]
    return [sys.executable, str(HERE / "bench_first_call.py"), "one", name, mode, "--plain"]


def warm(names: list[str], runs: int, env: dict[str, str], err: Path) -> None:
    env = {**env, "PYTHONUNBUFFERED": "1"}  # the result line must leave when it is printed
    rows = []
    for n in (m for m in WARM if m in names):
        times: dict[str, list[float]] = {"adjit": [], "njit": []}
        try:
            for mode in times:  # fill the caches
                first_result_s(warm_cmd(n, mode), env, err)
            for _ in range(runs):
                for mode, ts in times.items():
                    ts.append(first_result_s(warm_cmd(n, mode), env, err))
        except RuntimeError as e:
            rows.append([n, f"error: {e}", "", ""])
            continue
        adj, nj = (statistics.median(times[m]) for m in ("adjit", "njit"))
        rows.append([n, f"{adj:.3f}", f"{nj:.3f}", f"{adj / nj:.2f}"])
    print(f"\nWarm start: new process, disk caches filled, spawn to first result (s), median of "
          f"{runs} alternating runs\n")
    print(table(["workload", "adjit", "njit(cache=True)", "adjit/njit"], rows))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short timing, n and batches / 10")
    p.add_argument("--only", action="append", choices=WORKLOADS, metavar="WORKLOAD",
                   help=f"run this workload (repeatable): {', '.join(WORKLOADS)}")
    p.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS),
                   help="the systems to run (hand always runs: it is the reference)")
    p.add_argument("--warm", action="store_true", help="also the warm-start section")
    p.add_argument("--warm-runs", type=int, default=5)
    p.add_argument("--child", nargs=2, metavar=("WORKLOAD", "SYSTEM"), help=argparse.SUPPRESS)
    p.add_argument("--warm-child", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    o = p.parse_args()
    if o.child:
        print(json.dumps(child(*o.child, o.quick, o.out)), flush=True)
        return 0
    if o.warm_child:
        warm_child(*o.warm_child)
        return 0

    names = [n for n in WORKLOADS if not o.only or n in o.only]
    systems = ["hand", *(s for s in SYSTEMS[1:] if s in o.systems)]
    run_dir = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    env = {**os.environ, "ADJIT_CACHE_DIR": f"{run_dir}/adjit",
           "NUMBA_CACHE_DIR": f"{run_dir}/numba", "TORCHINDUCTOR_CACHE_DIR": f"{run_dir}/ind"}
    pkgs = []
    for pkg in ("numpy", "numba", "adjit", "jax", "torch"):
        try:
            pkgs.append(f"{pkg} {importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            pkgs.append(f"{pkg} not installed")
    blas = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_") and "THREADS" not in k}
    print(f"python {sys.version.split()[0]}, {', '.join(pkgs)}; one thread, pinned to CPU "
          f"{min(os.sched_getaffinity(0))}; {'quick' if o.quick else 'full'} mode"
          + (f"; {blas}" if blas else ""), flush=True)
    t_start = time.perf_counter()
    results: dict[tuple[str, str], dict] = {}
    errors: dict[tuple[str, str], float] = {}
    try:
        for n in names:
            for s in systems:
                t0 = time.perf_counter()
                r = results[n, s] = run_cell(n, s, o.quick, run_dir, env)
                ref, got = run_dir / f"{n}.hand.npz", run_dir / f"{n}.{s}.npz"
                if s != "hand" and ref.exists() and got.exists():
                    errors[n, s] = rel_error(got, ref)
                print(f"  {n:8s} {s:13s} {time.perf_counter() - t0:6.1f} s  {fmt_steady(n, r)}",
                      flush=True)
        report(results, errors, names, systems)
        if o.warm:
            warm(names, o.warm_runs, env, run_dir / "warm.err")
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
