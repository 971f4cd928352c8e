"""Chunked loops (codegen/parallel.py, cpu_passes.py `_chunk`) at one and two numba threads:
both processes run the same `prange` kernels, get right answers and the same bits (the chunks
fix the order of a reduction, not the threads). The processes share ONE fresh cache folder (run
at once); a third runs with ADJIT_PARALLEL=0 (no chunks, no prange).

(A printing of the chunk loop as a plain `range` at one thread was tried and withdrawn: LLVM
vectorized the chunks' sums differently in the two forms, so `np.sum(x[::-1] * y)` differed in
its last bits between 1 and 2 threads: the `rev` case.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

N = 1 << 18  # parallel.MIN_WORK: the smallest loop that is chunked

_WORKER = r"""
import json, sys
import numpy as np, adjit

N = 1 << 18
rng = np.random.default_rng(0)
x, y = rng.standard_normal(N), rng.standard_normal(N)

def f_sum(x, y): return np.sum(np.sin(x) * y + x * x)
def f_max(x, y): return np.max(np.sin(x) * y) + np.sum(x * y)
def f_f32(x, y): return np.sum(x * x + np.sin(y))
def f_rev(x, y): return np.sum(x[::-1] * y)  # a reduction and a reversed store in one loop

cases = {"sum": (f_sum, (x, y)), "max": (f_max, (x, y)),
         "f32": (f_f32, (x.astype(np.float32), y.astype(np.float32))), "rev": (f_rev, (x, y))}
arrays, prange = {}, {}
for name, (f, args) in cases.items():
    g = adjit.value_and_grad(f, argnums=(0, 1))
    v, (gx, gy) = g(*args)
    again = g(*args)
    assert again[0] == v and np.array_equal(again[1][0], gx), name
    arrays[name + "_v"], arrays[name + "_gx"], arrays[name + "_gy"] = np.asarray(v), gx, gy
    prange[name] = "prange(" in adjit.inspect(g, *args).source
np.savez(sys.argv[1] + ".npz", **arrays)
json.dump({"prange": prange}, open(sys.argv[1] + ".json", "w"))
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    cache = folder / "cache"  # one cache folder for all three processes
    script = folder / "worker.py"
    script.write_text(_WORKER)
    base = {k: v for k, v in os.environ.items()
            if k not in ("NUMBA_NUM_THREADS", "ADJIT_PARALLEL", "NUMBA_THREADING_LAYER")}
    base.update(ADJIT_CACHE_DIR=str(cache), ADJIT_COMPILE_AFTER="1",
                ADJIT_BACKGROUND_COMPILE="0")
    configs = {"one": {"NUMBA_NUM_THREADS": "1"}, "two": {"NUMBA_NUM_THREADS": "2"},
               "off": {"NUMBA_NUM_THREADS": "2", "ADJIT_PARALLEL": "0"}}
    procs = {name: subprocess.Popen([sys.executable, str(script), str(folder / name)],
                                    env={**base, **extra}, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
             for name, extra in configs.items()}
    out = {}
    for name, p in procs.items():
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
        out[name] = (dict(np.load(folder / f"{name}.npz")),
                     json.loads((folder / f"{name}.json").read_text()))
    return out


def _reference():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(N), rng.standard_normal(N)
    m = np.sin(x) * y
    k = np.argmax(m)
    onehot = np.zeros(N)
    onehot[k] = 1.0
    x32, y32 = x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)
    return {
        "sum": (np.sum(np.sin(x) * y + x * x), np.cos(x) * y + 2 * x, np.sin(x), 1e-12),
        "max": (m[k] + np.sum(x * y), onehot * np.cos(x) * y + y, onehot * np.sin(x) + x, 1e-12),
        "f32": (np.sum(x32 * x32 + np.sin(y32)), 2 * x32, np.cos(y32), 1e-5),
        "rev": (np.sum(x[::-1] * y), y[::-1], x[::-1], 1e-12),
    }


def test_both_thread_counts_run_the_chunks_on_prange_and_parallel_off_does_not(runs):
    one, two, off = (runs[k][1] for k in ("one", "two", "off"))
    assert all(one["prange"].values()) and all(two["prange"].values())
    assert not any(off["prange"].values())


@pytest.mark.parametrize("run", ["one", "two", "off"])
def test_every_thread_count_gives_the_right_values_and_gradients(runs, run):
    arrays = runs[run][0]
    for name, (v, gx, gy, rtol) in _reference().items():
        np.testing.assert_allclose(arrays[name + "_v"], v, rtol=rtol, err_msg=name)
        for got, want in ((arrays[name + "_gx"], gx), (arrays[name + "_gy"], gy)):
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.max(np.abs(want)),
                                       err_msg=name)


@pytest.mark.parametrize("name", ["sum", "max", "f32", "rev"])
def test_one_and_two_threads_give_the_same_bits(runs, name):
    one, two = runs["one"][0], runs["two"][0]
    for part in ("_v", "_gx", "_gy"):
        a, b = one[name + part], two[name + part]
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), (name + part, a, b)
