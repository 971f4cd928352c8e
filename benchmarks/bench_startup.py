"""Startup benchmark: how long a fresh Python process takes to get its first adjit result.

Run:  python benchmarks/bench_startup.py [--quick]

Every figure comes from a new `python` subprocess (single-threaded, like bench_core.py):

  baseline     `python -c "import numpy, numba"`: the floor that any numba-based tool pays.
  cold         the command below with ADJIT_CACHE_DIR set to a fresh, empty temporary
               directory: trace, passes, code generation and a full numba compile.
  warm         the same command again with the same cache directory: adjit's generated
               source and numba's on-disk cache are reused. Target: process start to first
               result under 0.8 s.

      python -c "import adjit, numpy as np; \
                 f=adjit.value_and_grad(lambda x: (x**2*np.exp(x)).sum()); f(np.ones(4))"

Two measurements per run:
  - wall: the exact command above, timed from just before the spawn to its exit
    (includes interpreter start-up and shutdown);
  - split: an instrumented copy of the same code, which reports when `import adjit, numpy`
    finished and when the first result was back. The times are wall-clock timestamps
    (time.time(), shared by parent and child), so "to first result" counts from just before
    the parent spawned the process and excludes interpreter shutdown.
Each figure is the minimum over several runs (cold runs each get their own fresh cache dir);
the median is shown as well since start-up times are noisy (disk cache, page faults).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SINGLE_THREAD = {v: "1" for v in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                  "MKL_NUM_THREADS")}

COMMAND = ("import adjit, numpy as np; "
           "f=adjit.value_and_grad(lambda x: (x**2*np.exp(x)).sum()); f(np.ones(4))")

# The same work, instrumented. time.time() rather than perf_counter so that the parent's
# spawn timestamp and the child's timestamps are on one clock.
INSTRUMENTED = """\
import time, json
t0 = time.time()
import adjit, numpy as np
t1 = time.time()
f = adjit.value_and_grad(lambda x: (x**2*np.exp(x)).sum())
v, g = f(np.ones(4))
t2 = time.time()
assert abs(v - 4 * np.e) < 1e-12 and abs(g[0] - 3 * np.e) < 1e-12, (v, g)
print(json.dumps({"start": t0, "imported": t1, "first_result": t2}))
"""

TARGET_WARM_S = 0.8


def run(code: str, cache: str | None) -> tuple[float, str]:
    """Run `python -c code`; return (seconds from spawn to exit, stdout)."""
    env = {**os.environ, **SINGLE_THREAD}
    if cache is not None:
        env["ADJIT_CACHE_DIR"] = cache
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"subprocess failed (exit {proc.returncode}):\n  python -c {code!r}\n"
                 f"{proc.stderr}")
    return wall, proc.stdout


def run_split(cache: str) -> dict[str, float]:
    """Interpreter start, import, first call, and spawn-to-first-result, in seconds."""
    env = {**os.environ, **SINGLE_THREAD, "ADJIT_CACHE_DIR": cache}
    spawn = time.time()
    proc = subprocess.run([sys.executable, "-c", INSTRUMENTED], env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"instrumented subprocess failed (exit {proc.returncode}):\n{proc.stderr}")
    ts = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"interpreter": ts["start"] - spawn, "import": ts["imported"] - ts["start"],
            "first_call": ts["first_result"] - ts["imported"],
            "to_result": ts["first_result"] - spawn}


def summary(xs: list[float]) -> str:
    return f"min {min(xs):6.3f} s   median {statistics.median(xs):6.3f} s   (n={len(xs)})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions")
    opts = p.parse_args()
    n_cold, n_warm = (1, 3) if opts.quick else (3, 7)

    print(f"python {sys.version.split()[0]} ({sys.executable})")
    print(f"command: python -c \"{COMMAND}\"\n")

    base = [run("import numpy, numba", None)[0] for _ in range(n_warm)]
    bare = [run("pass", None)[0] for _ in range(n_warm)]

    cold_wall, cold_split, warm_wall, warm_split = [], [], [], []
    dirs = []
    try:
        for _ in range(n_cold):
            # Two fresh directories per cold sample: one for the exact command, one for the
            # instrumented copy, so neither is warmed by the other.
            d1, d2 = tempfile.mkdtemp(prefix="adjit-cold-"), tempfile.mkdtemp(prefix="adjit-cold-")
            dirs += [d1, d2]
            cold_wall.append(run(COMMAND, d1)[0])
            cold_split.append(run_split(d2))
        # Warm: reuse the last cold directories, now populated.
        for _ in range(n_warm):
            warm_wall.append(run(COMMAND, d1)[0])
            warm_split.append(run_split(d2))
    finally:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)

    print(f"baseline  python -c pass                 {summary(bare)}")
    print(f"baseline  python -c 'import numpy, numba' {summary(base)}")
    print()
    for label, wall, split in (("cold", cold_wall, cold_split), ("warm", warm_wall, warm_split)):
        print(f"{label}  exact command, spawn to exit       {summary(wall)}")
        for key, what in (("interpreter", "interpreter start"),
                          ("import", "import adjit, numpy"),
                          ("first_call", "first call (trace+compile/load)"),
                          ("to_result", "spawn to first result")):
            print(f"{label}    {what:33s} {summary([s[key] for s in split])}")
        print()
    best = min(s["to_result"] for s in warm_split)
    verdict = "PASS" if best < TARGET_WARM_S else "FAIL"
    print(f"target: warm start, process start to first result < {TARGET_WARM_S} s: "
          f"{best:.3f} s  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
