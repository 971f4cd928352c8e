"""Codegen cases of the convolution and pooling primitives, for `codegen_graphs.PRIM_CASES`:
each library kernel on inputs computed by a fused loop and feeding one, with strides and
paddings that leave rows unread, a literal weight (an array constant of the generated
function), batches that the kernels split into blocks of images, and max pooling over
ties."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from adjit.ir import Lit, Var, emit, ops

Mk = Callable[..., Var]
# 5 images of 8x8 outputs: the kernels multiply 4 images at a time (COLUMNS = 256 output
# places per product), so this batch has a block of 4 and a tail of 1.
BATCH, BATCH_OUT = (5, 2, 8, 8), (5, 3, 8, 8)


def _conv2d(mk: Mk, dt: str) -> list:
    x, w = mk((2, 3, 7, 6), dt), mk((4, 3, 3, 2), dt)
    lit_w = Lit.make(np.linspace(-1, 1, 2 * 3 * 3 * 3).reshape(2, 3, 3, 3), dt)
    xb, wb = mk(BATCH, dt), mk((3, 2, 3, 3), dt)
    return [emit("conv2d", xb, wb, stride=(1, 1), padding=(1, 1)),
            emit("conv2d", x, w, stride=(1, 1), padding=(0, 0)),
            emit("conv2d", x, w, stride=(2, 3), padding=(1, 2)),
            ops.mul(emit("conv2d", ops.exp(x), w, stride=(2, 2), padding=(1, 1)), 2.0),
            emit("conv2d", x, lit_w, stride=(2, 2), padding=(1, 0))]


def _conv2d_input_grad(mk: Mk, dt: str) -> list:
    ct, w = mk((2, 4, 4, 4), dt), mk((4, 3, 3, 2), dt)
    ct0 = mk((2, 4, 4, 3), dt)
    ct1 = mk((1, 2, 2, 2), dt)
    w1 = mk((2, 3, 7, 7), dt)
    ctb, wb = mk(BATCH_OUT, dt), mk((3, 2, 3, 3), dt)
    return [emit("conv2d_input_grad", ctb, wb, stride=(1, 1), padding=(1, 1), size=(8, 8)),
            emit("conv2d_input_grad", ct, w, stride=(2, 2), padding=(1, 1), size=(7, 6)),
            emit("conv2d_input_grad", ct0, w, stride=(1, 1), padding=(0, 0), size=(6, 4)),
            emit("conv2d_input_grad", ct1, w1, stride=(2, 2), padding=(3, 3), size=(4, 4))]


def _conv2d_weight_grad(mk: Mk, dt: str) -> list:
    x, ct = mk((2, 3, 7, 6), dt), mk((2, 4, 4, 4), dt)
    xb, ctb = mk(BATCH, dt), mk(BATCH_OUT, dt)
    return [emit("conv2d_weight_grad", xb, ctb, stride=(1, 1), padding=(1, 1), size=(3, 3)),
            emit("conv2d_weight_grad", x, ct, stride=(2, 2), padding=(1, 1), size=(3, 2)),
            emit("conv2d_weight_grad", ops.tanh(x), ops.mul(ct, ct), stride=(2, 2),
                 padding=(1, 1), size=(3, 2))]


def _avg_pool2d(mk: Mk, dt: str) -> list:
    x = mk((2, 3, 7, 6), dt)
    return [emit("avg_pool2d", x, kernel=(3, 3), stride=(2, 2), padding=(1, 1)),
            emit("avg_pool2d", ops.exp(x), kernel=(2, 3), stride=(1, 2), padding=(0, 1))]


def _avg_pool2d_grad(mk: Mk, dt: str) -> list:
    ct = mk((2, 3, 4, 3), dt)
    return [emit("avg_pool2d_grad", ct, kernel=(3, 3), stride=(2, 2), padding=(1, 1),
                 size=(7, 6))]


def _max_pool2d_index(mk: Mk, dt: str) -> list:
    x = mk((2, 3, 7, 6), dt, "small_int")  # ties: the first maximum of a window wins
    y = mk((1, 2, 6, 6), dt)
    idx = emit("max_pool2d_index", x, kernel=(3, 3), stride=(2, 2), padding=(1, 1))
    flat = ops.reshape(x, (2 * 3 * 7 * 6,))
    return [idx, emit("gather", flat, idx, axis=0),
            emit("max_pool2d_index", ops.neg(y), kernel=(2, 2), stride=(2, 2), padding=(0, 0))]


CONV_CASES: dict[str, Callable[[Mk, str], list]] = {
    "conv2d": _conv2d, "conv2d_input_grad": _conv2d_input_grad,
    "conv2d_weight_grad": _conv2d_weight_grad, "avg_pool2d": _avg_pool2d,
    "avg_pool2d_grad": _avg_pool2d_grad, "max_pool2d_index": _max_pool2d_index,
}
