"""Convolution benchmark: value and gradient of the resnet18 stem's first layers.

Run:  python benchmarks/bench_conv.py [--quick] [--dtype f32|f64 ...] [--batch N ...]

    loss(w, b) = sum(max_pool2d(relu(conv2d(x, w, b, stride=2, padding=3)), 3, 2, 1))

x is (N, 3, 64, 64), w (64, 3, 7, 7), b (64,); the value and the gradients wrt w and b (a
training step's: the image needs none). Contenders, all on ONE thread (BLAS, OpenMP, numba,
torch.set_num_threads(1), the process pinned to one CPU):

  numpy   hand-written value and gradient: im2col by sliding_window_view and a copy, the
          products by BLAS (matmul), max pooling by argmax over windows and its backward by
          np.bincount onto the argmax places;
  torch   PyTorch eager autograd (F.conv2d + F.relu + F.max_pool2d, .backward()), if
          importable;
  adjit   adjit.value_and_grad(loss, argnums=(1, 2)) written with adjit.tracer.nn_functional
          (the first call, compile included, is reported separately).

With --layers, also every convolution shape of resnet18 on 64x64 images (batch 32 by
default): value and gradients wrt x and w of sum(conv2d(x, w) * ct), adjit against torch.

Before timing, the three are checked against each other (rtol 1e-4 in float32, 1e-9 in
float64, relative to each array's largest entry). Each figure is the minimum over 7 loops of
calls (each loop ~budget/7 long) divided by the loop length, the contenders' loops
interleaved so that a change in the machine's load affects them alike.
"""
from __future__ import annotations

import os

# steady-state timings: every timed call runs the kernel (a kernel compiling in the
# background has its first calls answered by the interpreter: runtime/background.py)
os.environ.setdefault("ADJIT_BACKGROUND_COMPILE", "0")

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse
import gc
import math
import platform
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

os.environ.setdefault("ADJIT_CACHE_DIR", tempfile.mkdtemp(prefix="adjit-bench-conv-"))

import adjit  # noqa: E402  (after the cache directory is chosen)
from adjit.tracer import nn_functional as F  # noqa: E402

STRIDE, PAD, POOL = 2, 3, (3, 2, 1)  # the stem: 7x7 stride 2 padding 3; 3x3 stride 2 pad 1


def adjit_loss(x, w, b):
    y = F.conv2d(x, w, b, stride=STRIDE, padding=PAD)
    return np.sum(F.max_pool2d(F.relu(y), *POOL))


def numpy_value_and_grad(x, w, b):
    """The same value and gradients wrt (w, b), written by hand in numpy + BLAS."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (PAD, PAD), (PAD, PAD)))
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::STRIDE, ::STRIDE]
    oh, ow = win.shape[2:4]
    cols = np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(n * oh * ow, -1)
    y = (cols @ w.reshape(o, -1).T + b).reshape(n, oh, ow, o).transpose(0, 3, 1, 2)
    r = np.maximum(y, 0)
    k, s, p = POOL
    rp = np.pad(r, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    pw = sliding_window_view(rp, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    ph_, pw_ = pw.shape[2:4]
    flat = pw.reshape(n, o, ph_, pw_, k * k)
    arg = flat.argmax(axis=-1)
    value = np.take_along_axis(flat, arg[..., None], -1).sum()
    # backward: 1 to each window's argmax place in the padded relu output, through relu
    rows = (np.arange(ph_) * s)[:, None] + arg // k
    cols_ = (np.arange(pw_) * s)[None, :] + arg % k
    hp, wp = rp.shape[2:]
    plane = (np.arange(n)[:, None] * o + np.arange(o)[None, :])[:, :, None, None]
    where = ((plane * hp + rows) * wp + cols_).ravel()
    g = np.bincount(where, minlength=n * o * hp * wp).reshape(n, o, hp, wp)
    g = g[:, :, p:p + oh, p:p + ow].astype(x.dtype) * (y > 0)
    g2 = g.transpose(0, 2, 3, 1).reshape(-1, o)
    gw = (g2.T @ cols).reshape(w.shape)
    return value, (gw, g2.sum(axis=0))


def torch_callable(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> Callable[[], Any] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    tf = torch.nn.functional
    tx = torch.from_numpy(x)
    tw = torch.from_numpy(w).requires_grad_()
    tb = torch.from_numpy(b).requires_grad_()

    def call():
        tw.grad = tb.grad = None
        loss = tf.max_pool2d(tf.relu(tf.conv2d(tx, tw, tb, stride=STRIDE, padding=PAD)),
                             *POOL).sum()
        loss.backward()
        return loss.item(), (tw.grad.numpy(), tb.grad.numpy())

    return call


def bench(calls: list[Callable[[], Any] | None], budget: float,
          repeats: int = 7) -> list[float | None]:
    """Seconds per call of each of `calls`: the minimum over `repeats` loops, each ~budget /
    repeats long. The contenders' loops are interleaved (a, b, c, a, b, c, ...), so that a
    machine whose load changes during the run slows them alike."""
    numbers = []
    for call in calls:
        if call is None:
            numbers.append(0)
            continue
        call()
        number = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(number):
                call()
            dt = time.perf_counter() - t0
            if dt >= budget / repeats / 10:
                break
            number *= 2
        numbers.append(max(1, int(number * budget / repeats / max(dt, 1e-9))))
    best = [math.inf] * len(calls)
    gc.disable()
    try:
        for _ in range(repeats):
            for i, (call, number) in enumerate(zip(calls, numbers, strict=True)):
                if call is None:
                    continue
                t0 = time.perf_counter()
                for _ in range(number):
                    call()
                best[i] = min(best[i], (time.perf_counter() - t0) / number)
    finally:
        gc.enable()
    return [None if c is None else b for c, b in zip(calls, best, strict=True)]


def check(got: Any, want: Any, rtol: float, what: str) -> None:
    value, grads = got
    wvalue, wgrads = want
    for a, b_ in [(value, wvalue), *zip(grads, wgrads, strict=True)]:
        a, b_ = np.asarray(a, np.float64), np.asarray(b_, np.float64)
        scale = max(np.abs(b_).max(), 1e-30)
        err = np.abs(a - b_).max() / scale
        if not err <= rtol:
            sys.exit(f"MISMATCH {what}: relative error {err:.2e} > {rtol:.0e}")


# resnet18's convolutions on 64x64 images: (C, O, H, kernel, stride, padding)
RESNET18_CONVS = [(3, 64, 64, 7, 2, 3), (64, 64, 16, 3, 1, 1), (64, 128, 16, 3, 2, 1),
                  (64, 128, 16, 1, 2, 0), (128, 128, 8, 3, 1, 1), (128, 256, 8, 3, 2, 1),
                  (256, 256, 4, 3, 1, 1), (256, 512, 4, 3, 2, 1), (512, 512, 2, 3, 1, 1)]


def layers(batch: int, dtype: Any, budget: float) -> None:
    """Each resnet18 convolution's value and gradients wrt x and w, adjit against torch."""
    try:
        import torch
    except ImportError:
        print("--layers: torch is not installed")
        return
    torch.set_num_threads(1)
    tf = torch.nn.functional
    print(f"\nresnet18 convolutions, batch {batch}: value, d/dx and d/dw of "
          "sum(conv2d(x, w) * ct)")
    print(f"{'layer':>32}  {'torch':>9}  {'adjit':>9}  adjit/torch")
    total = [0.0, 0.0]
    for c, o, h, k, s, p in RESNET18_CONVS:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, c, h, h)).astype(dtype)
        w = (rng.standard_normal((o, c, k, k)) * 0.1).astype(dtype)
        oh = (h + 2 * p - k) // s + 1
        ct = rng.standard_normal((batch, o, oh, oh)).astype(dtype)

        def loss(x, w, ct, s=s, p=p):
            return np.sum(F.conv2d(x, w, stride=s, padding=p) * ct)

        vg = adjit.value_and_grad(loss, argnums=(0, 1))
        tx, tw = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
        tct = torch.from_numpy(ct)

        def tcall(tx=tx, tw=tw, tct=tct, s=s, p=p):
            tx.grad = tw.grad = None
            loss = (tf.conv2d(tx, tw, stride=s, padding=p) * tct).sum()
            loss.backward()
            return loss.item(), (tx.grad.numpy(), tw.grad.numpy())

        check(vg(x, w, ct), tcall(), 1e-4 if dtype == np.float32 else 1e-9, f"layer {c}->{o}")
        t_torch, t_adjit = bench([tcall, lambda f=vg, a=(x, w, ct): f(*a)], budget)
        total[0] += t_torch
        total[1] += t_adjit
        name = f"{c}->{o} {h}x{h} {k}x{k} s{s} p{p}"
        print(f"{name:>32}  {fmt(t_torch):>9}  {fmt(t_adjit):>9}  {t_adjit / t_torch:.2f}x")
    print(f"{'sum':>32}  {fmt(total[0]):>9}  {fmt(total[1]):>9}  {total[1] / total[0]:.2f}x")


def fmt(s: float) -> str:
    return f"{s * 1e3:.2f} ms" if s >= 1e-3 else f"{s * 1e6:.0f} us"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="0.3 s per measurement instead of 2 s")
    p.add_argument("--dtype", action="append", choices=["f32", "f64"])
    p.add_argument("--batch", action="append", type=int)
    p.add_argument("--layers", action="store_true",
                   help="also time every resnet18 convolution shape (float32, batch 32)")
    opts = p.parse_args()
    budget = 0.3 if opts.quick else 2.0
    import numba

    print(f"python {platform.python_version()}, numpy {np.__version__}, numba "
          f"{numba.__version__}, adjit {adjit.__version__}; one thread, pinned to CPUs "
          f"{sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}")
    rows = []
    for dt in opts.dtype or ["f32", "f64"]:
        dtype = np.float32 if dt == "f32" else np.float64
        rtol = 1e-4 if dt == "f32" else 1e-9
        for n in opts.batch or [1, 32]:
            rng = np.random.default_rng(0)
            x = rng.standard_normal((n, 3, 64, 64)).astype(dtype)
            w = (rng.standard_normal((64, 3, 7, 7)) * 0.1).astype(dtype)
            b = (rng.standard_normal(64) * 0.1).astype(dtype)
            vg = adjit.value_and_grad(adjit_loss, argnums=(1, 2))
            t0 = time.perf_counter()
            ours = vg(x, w, b)
            first = time.perf_counter() - t0
            ref = numpy_value_and_grad(x, w, b)
            check(ours, ref, rtol, f"adjit vs numpy ({dt}, N={n})")
            tcall = torch_callable(x, w, b)
            if tcall is not None:
                check(tcall(), ref, rtol, f"torch vs numpy ({dt}, N={n})")
            t_np, t_torch, t_adjit = bench([lambda a=(x, w, b): numpy_value_and_grad(*a),
                                            tcall, lambda f=vg, a=(x, w, b): f(*a)], budget)
            rows.append((dt, n, t_np, t_torch, t_adjit, first))
            print(f"  {dt} N={n}: ok, first call {first:.1f} s", flush=True)
    print()
    head = ("dtype", "batch", "numpy", "torch", "adjit", "adjit/torch", "adjit/numpy",
            "first call")
    print("  ".join(f"{h:>11}" for h in head))
    for dt, n, t_np, t_torch, t_adjit, first in rows:
        cells = [dt, n, fmt(t_np), fmt(t_torch) if t_torch else "-", fmt(t_adjit),
                 f"{t_adjit / t_torch:.2f}x" if t_torch else "-", f"{t_adjit / t_np:.2f}x",
                 f"{first:.1f} s"]
        print("  ".join(f"{c:>11}" for c in cells))
    if opts.layers:
        layers(32, np.float32, budget)


if __name__ == "__main__":
    main()
