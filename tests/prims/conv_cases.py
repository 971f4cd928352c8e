"""Test cases of the convolution and pooling primitives (ir/prims/conv.py) for the table in
prim_cases.py: small images, odd sizes, strides and paddings that leave rows unread (a
stride that does not divide the padded size), the resnet18 stem's 7x7/2/3 shrunk, 1x1
kernels, and a literal weight (its cotangent is a symbolic zero)."""
from __future__ import annotations

from typing import Any

import numpy as np
from adjit.ir.prims.conv import out_size
from prim_cases import DEFAULT, Case, Maker, _floats

# (desc, x shape, w shape, stride, padding)
CONVS = [("3x3", (2, 3, 5, 6), (4, 3, 3, 3), (1, 1), (0, 0)),
         ("3x2-s2-p1", (2, 3, 7, 6), (4, 3, 3, 2), (2, 2), (1, 1)),
         ("s2x1-p0x2", (1, 2, 6, 5), (3, 2, 2, 3), (2, 1), (0, 2)),
         ("stem-7x7-s2-p3", (1, 3, 9, 8), (2, 3, 7, 7), (2, 2), (3, 3)),
         ("1x1-s2", (2, 4, 5, 5), (3, 4, 1, 1), (2, 2), (0, 0)),
         # 256 output places an image: conv2d_weight_grad's long products, one image each
         # (the cases above are short ones, computed in a single product)
         ("3x3-p1-16x16", (3, 2, 16, 16), (3, 2, 3, 3), (1, 1), (1, 1)),
         # Winograd F(2x2, 3x3) in the kernels (codegen/winograd.py: 3x3, stride 1, >= 64
         # tiles of 2x2 in the batch): odd output sizes (partial tiles), paddings 0 to 2 (the
         # input gradient runs the forward with padding 2 - p), batch 1, and blocks of
         # images (16x16: two images a block, the last one short)
         ("wino-odd-p1", (4, 3, 9, 11), (4, 3, 3, 3), (1, 1), (1, 1)),
         ("wino-p0", (3, 2, 13, 12), (3, 2, 3, 3), (1, 1), (0, 0)),
         ("wino-p2-b1", (1, 3, 17, 15), (2, 3, 3, 3), (1, 1), (2, 2)),
         ("wino-p1x0-blocks", (5, 2, 16, 15), (3, 2, 3, 3), (1, 1), (1, 0))]
# (desc, x shape, kernel, stride, padding)
POOLS = [("3x3-s2-p1", (2, 3, 7, 6), (3, 3), (2, 2), (1, 1)),
         ("2x2", (1, 2, 4, 6), (2, 2), (2, 2), (0, 0)),
         ("3x2-s1", (1, 2, 5, 4), (3, 2), (1, 1), (1, 0))]


def _out(x: tuple[int, ...], w: tuple[int, ...], stride: Any, padding: Any) -> tuple[int, ...]:
    return (x[0], w[0]) + out_size(x[2:], w[2:], stride, padding)


def _distinct(shape: tuple[int, ...]) -> Maker:
    """Values without ties within a window (shuffled steps of 0.1), so that the max is
    unambiguous and finite differences see no kink."""
    def make(rng: np.random.Generator, dt: str) -> list[np.ndarray]:
        n = int(np.prod(shape))
        return [(rng.permutation(n).reshape(shape) * 0.1 - n * 0.05).astype(dt)]
    return make


def conv_cases() -> list[Case]:
    cases = []
    for desc, x, w, s, p in CONVS:
        y = _out(x, w, s, p)
        conv = {"stride": s, "padding": p}
        cases.append(Case("conv2d", desc, _floats((DEFAULT, DEFAULT), (x, w)), conv))
        cases.append(Case("conv2d_input_grad", desc, _floats((DEFAULT, DEFAULT), (y, w)),
                          {**conv, "size": x[2:]}))
        cases.append(Case("conv2d_weight_grad", desc, _floats((DEFAULT, DEFAULT), (x, y)),
                          {**conv, "size": w[2:]}))
    desc, x, w, s, p = CONVS[1]
    conv = {"stride": s, "padding": p}
    cases.append(Case("conv2d", "lit-w", _floats((DEFAULT, DEFAULT), (x, w)), conv, const=(1,)))
    cases.append(Case("conv2d_input_grad", "lit-ct",
                      _floats((DEFAULT, DEFAULT), (_out(x, w, s, p), w)),
                      {**conv, "size": x[2:]}, const=(0,)))
    for desc, x, k, s, p in POOLS:
        pool = {"kernel": k, "stride": s, "padding": p}
        y = x[:2] + out_size(x[2:], k, s, p)
        cases.append(Case("avg_pool2d", desc, _floats((DEFAULT,), (x,)), pool))
        cases.append(Case("avg_pool2d_grad", desc, _floats((DEFAULT,), (y,)),
                          {**pool, "size": x[2:]}))
        cases.append(Case("max_pool2d_index", desc, _distinct(x), pool, kind="nondiff"))
    return cases
