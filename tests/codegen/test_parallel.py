"""Multi-core loops (codegen/parallel.py): which outermost loops run on threads, and that the
result's bits do not depend on the number of threads."""
from __future__ import annotations

import numba
import numpy as np
import pytest

import adjit
from adjit.codegen import parallel

N = parallel.MIN_WORK  # the smallest domain that runs on threads

pytestmark = pytest.mark.skipif(not parallel.available(),
                                reason="no thread-safe numba threading layer here")


def _loss(x, y):
    return np.sum(np.tanh(np.sin(x) * np.cos(y) + x * y) / (1 + np.exp(-x))) + np.max(x * y)


def test_a_large_kernel_runs_on_threads_and_its_bits_do_not_depend_on_how_many():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=N), rng.normal(size=N)
    g = adjit.value_and_grad(_loss, argnums=(0, 1))
    assert "prange(" in adjit.inspect(g, x, y).source
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = g(x, y)
        numba.set_num_threads(before)
        many = g(x, y)
    finally:
        numba.set_num_threads(before)
    assert one[0] == many[0]
    assert all(np.array_equal(a, b) for a, b in zip(one[1], many[1], strict=True))
    ref = adjit.value_and_grad(_loss, argnums=(0, 1))(x[:1000], y[:1000])  # serial: small
    assert "prange(" not in adjit.inspect(adjit.value_and_grad(_loss, argnums=(0, 1)),
                                          x[:1000], y[:1000]).source
    assert np.isfinite(ref[0]) and np.isclose(many[0], _loss(x, y), rtol=1e-12)


def test_loops_whose_iterations_depend_on_each_other_stay_serial():
    x = np.linspace(-1, 1, N)

    def scan(v):  # each element of a cumsum reads the one before
        return np.sum(np.cumsum(v) ** 2)

    def arg(v):  # argmax over the loop: no partial combination for it
        return v[np.argmax(np.sin(v))]

    def shifted(v):  # the gradient adds shifted slices: a walk carried across iterations
        return np.sum((v[1:] - v[:-1] ** 2) ** 2)

    for f, word in ((scan, "cumsum"), (arg, "argmax"), (shifted, "acc")):
        src = adjit.inspect(adjit.grad(f), x).source
        sections = src.split("    # k")[1:]  # one per kernel, from its plan line
        dependent = [sec for sec in sections if word in sec.splitlines()[0]]
        assert dependent and not any("prange(" in sec for sec in dependent), f.__name__


_FORK_THEN_THREADS = """
import multiprocessing as mp, threading, sys
import numpy as np, adjit
g = adjit.value_and_grad(lambda x: np.sum(np.exp(x) * x))
x = np.linspace(0.0, 1.0, {n})
want = g(x)[0]
assert "prange(" in adjit.inspect(g, x).source

def child(q):
    q.put(float(g(x)[0]))

ctx = mp.get_context("fork")
q = ctx.Queue()
p = ctx.Process(target=child, args=(q,))
p.start()
p.join(60)
assert p.exitcode == 0, p.exitcode
assert q.get(timeout=5) == want
got = []
threads = [threading.Thread(target=lambda: got.extend(g(x)[0] for _ in range(20)))
           for _ in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert got == [want] * 60, set(got)
print("ok")
"""


def test_fork_after_a_parallel_kernel_and_threads_at_once(tmp_path):
    """A forked child runs (GNU OpenMP would have killed it at fork), and three Python
    threads calling a parallel kernel at once neither abort (workqueue) nor disagree."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    out = subprocess.run([sys.executable, "-c", _FORK_THEN_THREADS.format(n=N)],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
