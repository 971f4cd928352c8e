"""Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions (codegen/conv_kernels.py calls it).

A 4x4 tile d of the padded input gives a 2x2 tile of the output as Y = A^T [U (.) V] A, with
U = G g G^T (the 3x3 filter g made 4x4) and V = B^T d B; summed over input channels, each of
the 16 places of U (.) V is a matrix product, M[k] (O, T) = U[k] (O, C) @ V[k] (C, T), over all
T tiles of a block of images at once. That is 16 products of O C T multiply-adds for 4 T
outputs, against im2col's 9 O C per output: 2.25x fewer, and the transformed input is 4x the
image where im2col's column matrix is 9x. codegen/conv_kernels.py's `_winograd` says when.

- conv2d:             `forward`.
- conv2d_input_grad:  at stride 1 the transpose of a 3x3 convolution with padding p is a 3x3
                      convolution of ct with padding 2 - p and the weight flipped and with its
                      channel axes swapped: `forward` again (for p <= 2).
- conv2d_weight_grad: the transpose of the forward in g: Z = A ct_tile A^T for each output
                      tile, dU[k] (O, C) = sum over tiles Z[k] (O, T) @ V[k].T, and the
                      gradient is G^T dU G: the exact gradient of the same bilinear form.

The transforms are exact in real arithmetic (B, G, A hold 0, +-1 and 1/2), so the results
equal the direct sums up to rounding: float32 within ~1e-6 of the sum's size, float64 ~1e-15
(F(4x4, 3x3), not tried: its matrices hold +-2, +-4 and 1/6 to 1/24, which cost float32
precision, and its 4x4 tiles would waste work on resnet18's 4x4 and 8x8 layers).

As in conv_kernels, each transform is written twice: with slices for numpy (`ADJIT_NOJIT=1`
runs it as plain numpy) and with explicit loops for numba (`register`), which compiles those
much faster than multi-dimensional slice assignments and runs them as fast. The small
helpers (`_bt`, `_at`, `_a`, `_g`, `_gt`) apply one 1-d transform to four (or two, three)
values, and serve both: arrays in numpy, scalars in numba.
"""
from __future__ import annotations

from typing import Any

import numpy as np

# Tiles per block of images (whole images, at least one): the block's V (16, C, T) and M
# (16, O, T) then take 64 T (C + O) bytes in float32, 1 MB at 64 channels, and stay in L2
# between the transforms and the products. Measured on resnet18's 3x3 layers at batch 32
# (one thread, a loaded machine): 128 tiles 1.5-2x faster than 512 to 1024 on the 16x16 and
# 8x8 layers, the same on 4x4; the products are short (64-256 channels deep, 128 wide) but
# BLAS still runs them at 45-60 GF/s.
TILES = 128


def _bt(d0: Any, d1: Any, d2: Any, d3: Any) -> Any:
    """B^T d for one 4-vector: the input transform along one axis."""
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


def _at(m0: Any, m1: Any, m2: Any, m3: Any) -> Any:
    """A^T m: 4 values of a transformed tile back to 2 outputs."""
    return m0 + m1 + m2, m1 - m2 - m3


def _a(y0: Any, y1: Any) -> Any:
    """A y, the transpose of `_at`: 2 output cotangents spread onto 4 places."""
    return y0, y0 + y1, y0 - y1, -y1


def _g(g0: Any, g1: Any, g2: Any) -> Any:
    """G g: 3 filter taps made 4."""
    return g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2


def _gt(u0: Any, u1: Any, u2: Any, u3: Any) -> Any:
    """G^T u, the transpose of `_g`."""
    return u0 + 0.5 * (u1 + u2), 0.5 * (u1 - u2), 0.5 * (u1 + u2) + u3


def tiles(oh: int, ow: int) -> tuple[int, int]:
    """The 2x2 output tiles of an (oh, ow) output: rows, columns (the last ones partial when
    oh or ow is odd)."""
    return (oh + 1) // 2, (ow + 1) // 2


# The 16 matrices of a transform (U, V, M, Z) are the rows of one (16, rows cols + PAD) array,
# `_plane` the k-th as a contiguous (rows, cols) matrix for np.dot. The transforms read or
# write all 16 at once, one element each; when the distance between them is a power of two
# (64 channels x 2048 tiles x 4 bytes = 512 KB) all 16 fall in one cache set and evict each
# other. With PAD and the loops' channel-by-channel order, the input transform of a 64-channel
# 16x16 layer at batch 32 went from 20 ms to 3.
PAD = 16


def _planes(rows: int, cols: int, dtype: Any) -> Any:
    return np.empty((16, rows * cols + PAD), dtype)


def _plane(a: Any, k: int, rows: int, cols: int) -> Any:
    return a[k, :rows * cols].reshape(rows, cols)


def _filter(w: Any, u: Any) -> None:
    """u[k] (O, C) = (G w[o, c] G^T)[k] for every filter."""
    o, c = w.shape[0], w.shape[1]
    u3 = u[:, :o * c].reshape(16, o, c)
    cols = [_g(w[:, :, 0, b], w[:, :, 1, b], w[:, :, 2, b]) for b in range(3)]  # [b][i]
    for i in range(4):
        row = _g(cols[0][i], cols[1][i], cols[2][i])
        for j in range(4):
            u3[4 * i + j] = row[j]


def _filter_loops(w: Any, u: Any) -> None:
    # G down the 3 columns of w[o, c], then G along the 4 rows of the result, in locals (a
    # scratch array for the 4x3 middle took 6.5 ms on 512 x 512 filters, locals 3.8)
    q = 0
    for o in range(w.shape[0]):
        for c in range(w.shape[1]):
            a0, a1, a2, a3 = _g(w[o, c, 0, 0], w[o, c, 1, 0], w[o, c, 2, 0])
            b0, b1, b2, b3 = _g(w[o, c, 0, 1], w[o, c, 1, 1], w[o, c, 2, 1])
            c0, c1, c2, c3 = _g(w[o, c, 0, 2], w[o, c, 1, 2], w[o, c, 2, 2])
            u[0, q], u[1, q], u[2, q], u[3, q] = _g(a0, b0, c0)
            u[4, q], u[5, q], u[6, q], u[7, q] = _g(a1, b1, c1)
            u[8, q], u[9, q], u[10, q], u[11, q] = _g(a2, b2, c2)
            u[12, q], u[13, q], u[14, q], u[15, q] = _g(a3, b3, c3)
            q += 1


def _filter_t(du: Any, out: Any) -> None:
    """out (O, C, 3, 3) = G^T du[:, o, c] G: the transpose of `_filter`."""
    o, c = out.shape[0], out.shape[1]
    d3 = du[:, :o * c].reshape(16, o, c)
    cols = [_gt(d3[j], d3[4 + j], d3[8 + j], d3[12 + j]) for j in range(4)]  # [j][a]
    for a in range(3):
        row = _gt(cols[0][a], cols[1][a], cols[2][a], cols[3][a])
        for b in range(3):
            out[:, :, a, b] = row[b]


def _filter_t_loops(du: Any, out: Any) -> None:
    q = 0
    for o in range(out.shape[0]):
        for c in range(out.shape[1]):
            a0, a1, a2 = _gt(du[0, q], du[4, q], du[8, q], du[12, q])
            b0, b1, b2 = _gt(du[1, q], du[5, q], du[9, q], du[13, q])
            c0, c1, c2 = _gt(du[2, q], du[6, q], du[10, q], du[14, q])
            d0, d1, d2 = _gt(du[3, q], du[7, q], du[11, q], du[15, q])
            out[o, c, 0, 0], out[o, c, 0, 1], out[o, c, 0, 2] = _gt(a0, b0, c0, d0)
            out[o, c, 1, 0], out[o, c, 1, 1], out[o, c, 1, 2] = _gt(a1, b1, c1, d1)
            out[o, c, 2, 0], out[o, c, 2, 1], out[o, c, 2, 2] = _gt(a2, b2, c2, d2)
            q += 1


def _input(x: Any, n0: int, nb: int, ph: int, pw: int, xp: Any, v: Any) -> None:
    """v[k] (C, nb th tw) = (B^T d B)[k] for every 4x4 tile d (stride 2) of images n0 .. n0 +
    nb of x, each image padded in xp (2 th + 2, 2 tw + 2), whose border is zero and stays so.
    Tile (ty, tx) of image b is column (b th + ty) tw + tx."""
    h, wd, c = x.shape[2], x.shape[3], x.shape[1]
    th, tw = (xp.shape[0] - 2) // 2, (xp.shape[1] - 2) // 2
    xpb = np.zeros((nb, c) + xp.shape, x.dtype)
    xpb[:, :, ph:ph + h, pw:pw + wd] = x[n0:n0 + nb]
    v4 = v[:, :c * nb * th * tw].reshape(16, c, nb, th * tw)
    rows = [_bt(*(xpb[:, :, i:i + 2 * th:2, j:j + 2 * tw:2] for i in range(4)))
            for j in range(4)]  # [j][i]: B^T applied down column j of each tile
    for i in range(4):
        r = _bt(rows[0][i], rows[1][i], rows[2][i], rows[3][i])
        for j in range(4):
            v4[4 * i + j] = r[j].reshape(nb, c, th * tw).transpose(1, 0, 2)


def _input_loops(x: Any, n0: int, nb: int, ph: int, pw: int, xp: Any, v: Any) -> None:
    # Channel by channel, so that the 16 rows of v are written in order; per tile row, B^T
    # down the columns of 4 image rows (contiguous, vectorized), then B along each result.
    h, wd = x.shape[2], x.shape[3]
    th, tw = (xp.shape[0] - 2) // 2, (xp.shape[1] - 2) // 2
    e = np.empty((4, xp.shape[1]), v.dtype)
    t = 0
    for c in range(x.shape[1]):
        for b in range(nb):
            for i in range(h):
                for j in range(wd):
                    xp[ph + i, pw + j] = x[n0 + b, c, i, j]
            for ty in range(th):
                r = 2 * ty
                for q in range(xp.shape[1]):
                    e[0, q], e[1, q], e[2, q], e[3, q] = _bt(xp[r, q], xp[r + 1, q],
                                                             xp[r + 2, q], xp[r + 3, q])
                for i in range(4):
                    for tx in range(tw):
                        s = 2 * tx
                        (v[4 * i, t + tx], v[4 * i + 1, t + tx], v[4 * i + 2, t + tx],
                         v[4 * i + 3, t + tx]) = _bt(e[i, s], e[i, s + 1], e[i, s + 2],
                                                     e[i, s + 3])
                t += tw


def _output(m: Any, out: Any, n0: int, nb: int, th: int, tw: int) -> None:
    """out[n0 .. n0 + nb] = A^T m A for each tile (the inverse transform), the parts of the
    last row and column of tiles that fall outside out (odd sizes) dropped."""
    o, oh, ow = out.shape[1], out.shape[2], out.shape[3]
    m5 = m[:, :o * nb * th * tw].reshape(4, 4, o, nb, th, tw)
    cols = [_at(m5[0, j], m5[1, j], m5[2, j], m5[3, j]) for j in range(4)]  # [j][i]
    full = np.empty((o, nb, th, 2, tw, 2), m.dtype)
    for i in range(2):
        r = _at(cols[0][i], cols[1][i], cols[2][i], cols[3][i])
        for j in range(2):
            full[:, :, :, i, :, j] = r[j]
    full = full.reshape(o, nb, 2 * th, 2 * tw)[:, :, :oh, :ow]
    out[n0:n0 + nb] = full.transpose(1, 0, 2, 3)


def _output_loops(m: Any, out: Any, n0: int, nb: int, th: int, tw: int) -> None:
    oh, ow = out.shape[2], out.shape[3]
    t = 0
    for o in range(out.shape[1]):
        for b in range(nb):
            for ty in range(th):
                r = 2 * ty
                for tx in range(tw):
                    s = 2 * tx
                    a0, a1 = _at(m[0, t], m[4, t], m[8, t], m[12, t])
                    b0, b1 = _at(m[1, t], m[5, t], m[9, t], m[13, t])
                    c0, c1 = _at(m[2, t], m[6, t], m[10, t], m[14, t])
                    d0, d1 = _at(m[3, t], m[7, t], m[11, t], m[15, t])
                    y00, y01 = _at(a0, b0, c0, d0)
                    y10, y11 = _at(a1, b1, c1, d1)
                    out[n0 + b, o, r, s] = y00
                    if s + 1 < ow:
                        out[n0 + b, o, r, s + 1] = y01
                    if r + 1 < oh:
                        out[n0 + b, o, r + 1, s] = y10
                        if s + 1 < ow:
                            out[n0 + b, o, r + 1, s + 1] = y11
                    t += 1


def _output_t(ct: Any, n0: int, nb: int, th: int, tw: int, z: Any) -> None:
    """z[k] (O, nb th tw) = (A y A^T)[k] for each 2x2 tile y of ct[n0 .. n0 + nb] (zeros past
    the edge): the transpose of `_output`."""
    o, oh, ow = ct.shape[1], ct.shape[2], ct.shape[3]
    y = np.zeros((o, nb, 2 * th, 2 * tw), ct.dtype)
    y[:, :, :oh, :ow] = ct[n0:n0 + nb].transpose(1, 0, 2, 3)
    cols = [_a(y[:, :, 0::2, j::2], y[:, :, 1::2, j::2]) for j in range(2)]  # [j][i]
    for i in range(4):
        r = _a(cols[0][i], cols[1][i])
        for j in range(4):
            z[4 * i + j, :o * nb * th * tw] = r[j].reshape(-1)


def _output_t_loops(ct: Any, n0: int, nb: int, th: int, tw: int, z: Any) -> None:
    oh, ow = ct.shape[2], ct.shape[3]
    t = 0
    for o in range(ct.shape[1]):
        for b in range(nb):
            for ty in range(th):
                r = 2 * ty
                for tx in range(tw):
                    s = 2 * tx
                    y00 = ct[n0 + b, o, r, s]
                    y01 = ct[n0 + b, o, r, s + 1] if s + 1 < ow else 0.0
                    y10 = ct[n0 + b, o, r + 1, s] if r + 1 < oh else 0.0
                    y11 = ct[n0 + b, o, r + 1, s + 1] if r + 1 < oh and s + 1 < ow else 0.0
                    a0, a1, a2, a3 = _a(y00, y10)
                    b0, b1, b2, b3 = _a(y01, y11)
                    z[0, t], z[1, t], z[2, t], z[3, t] = _a(a0, b0)
                    z[4, t], z[5, t], z[6, t], z[7, t] = _a(a1, b1)
                    z[8, t], z[9, t], z[10, t], z[11, t] = _a(a2, b2)
                    z[12, t], z[13, t], z[14, t], z[15, t] = _a(a3, b3)
                    t += 1


def _turn(k: int) -> int:
    """The place of G g G^T that holds place k of the transform of g turned by 180 degrees."""
    i, j = k // 4, k % 4
    return 4 * (i if i == 1 or i == 2 else 3 - i) + (j if j == 1 or j == 2 else 3 - j)


def _per_block(n_img: int, per_image: int) -> int:
    return max(1, min(n_img, TILES // per_image))


def forward(x: Any, w: Any, out: Any, ph: int, pw: int) -> None:
    """out = conv2d(x, w) for a 3x3 w at stride 1 with padding (ph, pw)."""
    u = _planes(w.shape[0], w.shape[1], x.dtype)
    _filter(np.ascontiguousarray(w), u)
    _apply(x, u, False, out, ph, pw)


def input_grad(ct: Any, w: Any, out: Any, ph: int, pw: int) -> None:
    """out = conv2d_input_grad(ct, w) for a 3x3 w at stride 1, padding (ph, pw) <= (2, 2):
    the forward with padding 2 - p and the weight turned by 180 degrees with its channel
    axes swapped. Reversing g swaps the first and last of G g (and keeps the middle two), so
    that weight's U[4 i + j] is U[4 f(i) + f(j)].T of w's, f = (3, 1, 2, 0): no copy."""
    u = _planes(w.shape[0], w.shape[1], ct.dtype)
    _filter(np.ascontiguousarray(w), u)
    _apply(ct, u, True, out, 2 - ph, 2 - pw)


def _apply(x: Any, u: Any, turned: bool, out: Any, ph: int, pw: int) -> None:
    """out = the convolution of x with the filters whose transforms are u (O, C planes), or
    with U[_turn(k)].T when `turned`."""
    n_img, c = x.shape[0], x.shape[1]
    o, oh, ow = out.shape[1], out.shape[2], out.shape[3]
    th, tw = tiles(oh, ow)
    xp = np.zeros((2 * th + 2, 2 * tw + 2), x.dtype)
    per = _per_block(n_img, th * tw)
    for n0 in range(0, n_img, per):
        nb = min(per, n_img - n0)
        t = nb * th * tw
        v = _planes(c, t, x.dtype)
        _input(x, n0, nb, ph, pw, xp, v)
        m = _planes(o, t, x.dtype)
        for k in range(16):
            if turned:
                np.dot(_plane(u, _turn(k), c, o).T, _plane(v, k, c, t), _plane(m, k, o, t))
            else:
                np.dot(_plane(u, k, o, c), _plane(v, k, c, t), _plane(m, k, o, t))
        _output(m, out, n0, nb, th, tw)


def weight_grad(x: Any, ct: Any, out: Any, ph: int, pw: int) -> None:
    """out (O, C, 3, 3) = conv2d_weight_grad(x, ct) at stride 1 with padding (ph, pw)."""
    n_img, c = x.shape[0], x.shape[1]
    o, oh, ow = ct.shape[1], ct.shape[2], ct.shape[3]
    th, tw = tiles(oh, ow)
    xp = np.zeros((2 * th + 2, 2 * tw + 2), x.dtype)
    du = _planes(o, c, x.dtype)
    part = np.empty((o, c), x.dtype)
    per = _per_block(n_img, th * tw)
    for n0 in range(0, n_img, per):
        nb = min(per, n_img - n0)
        t = nb * th * tw
        v = _planes(c, t, x.dtype)
        _input(x, n0, nb, ph, pw, xp, v)
        z = _planes(o, t, x.dtype)
        _output_t(ct, n0, nb, th, tw, z)
        for k in range(16):
            if n0 == 0:
                np.dot(_plane(z, k, o, t), _plane(v, k, c, t).T, _plane(du, k, o, c))
            else:
                np.dot(_plane(z, k, o, t), _plane(v, k, c, t).T, part)
                _plane(du, k, o, c)[:] += part
    _filter_t(du, out)


LOOPS = ((_filter, _filter_loops), (_filter_t, _filter_t_loops), (_input, _input_loops),
         (_output, _output_loops), (_output_t, _output_t_loops))
JITABLE = (_bt, _at, _a, _g, _gt, tiles, _planes, _plane, _turn, _per_block, forward,
           input_grad, _apply, weight_grad)


def register() -> None:
    """Make the functions here callable from numba-compiled code (conv_kernels.register
    calls this once): each transform's loops stand in for its numpy version."""
    from numba.extending import overload, register_jitable

    for fn, loops in LOOPS:
        overload(fn, strict=False)(lambda *args, impl=loops: impl)
    for fn in JITABLE:
        register_jitable(fn)
