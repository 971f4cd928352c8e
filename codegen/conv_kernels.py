"""Library kernels for the `LIBRARY` primitives of ir/prims/conv.py: convolution and pooling.

Generated code calls them by the primitive's name, inputs first, then the output array it
allocated, then the primitive's params as keywords (`ck.conv2d(x, w, a3, padding=(3, 3),
stride=(2, 2))`); each fills its output and returns nothing. They are plain numpy as written
(so `ADJIT_NOJIT=1` runs the same generated text), and `register()` makes each callable from
numba-compiled code (`register_jitable`: numba compiles the same Python into the caller). The
generated module imports this one by name with `TAG`, a hash of its text, in the comment, so
an edit here changes the generated source and its cache entry (as codegen/fastmath.py).

Convolution is im2col plus BLAS (except 3x3 stride-1 ones with enough 2x2 output tiles,
which run as Winograd F(2x2, 3x3): codegen/winograd.py, `_winograd` below), one image at a
time, with two scratch buffers reused across the batch: the image copied into a zero-padded
buffer `xp` (C, H + 2 ph, W + 2 pw), then its windows unrolled into `col` (C KH KW, OH OW),
one strided slice copy per kernel offset (row r = (c, a, b) holds xp[c, a::sh, b::sw]), so
that

- conv2d:             out[n] (O, OH OW)  = w (O, C KH KW) @ col
- conv2d_weight_grad: out (O, C KH KW)  += ct[n] (O, OH OW) @ col.T (computed transposed)
- conv2d_input_grad:  col = w.T @ ct[n], then `col2im` adds each row back onto xp at the
                      offsets it was read from, and out[n] is the inside of xp.

The products are `np.dot` (BLAS sgemm/dgemm, float32 for float32 as numpy's); the copies
are strided slice assignments in numpy and explicit loops in numba (see below). Per image
rather than one product for the batch: the column matrix of one image (147 x 1024 on the
resnet18 stem, 3 -> 64, 7x7, stride 2, 64x64 images) stays in cache. Pooling windows are
small, so pooling is direct loops over the output, in both.
"""
from __future__ import annotations

import hashlib
import pathlib
from typing import Any

import numpy as np

from . import sort_kernels, winograd
from .sort_kernels import argsort  # noqa: F401  (generated code calls ck.argsort)

# A hash of this file and of the kernels it re-exports or calls.
TAG = hashlib.sha256(b"".join(pathlib.Path(m.__file__).read_bytes()
                              for m in (sort_kernels, winograd)) +
                     pathlib.Path(__file__).read_bytes()).hexdigest()[:12]


# Copies between images, padded images and column matrices. Each is written twice: with
# strided slices for numpy (the plain-Python run), and with explicit loops for numba, which
# compiles those 5-10x faster than its multi-dimensional slice assignments and runs them as
# fast (`register` makes numba use the loops). Both copy the same elements.

def _pad_image(x: Any, n: int, xp: Any, ph: int, pw: int) -> None:
    """Copy image n of x into the inside of the zero-bordered buffer xp."""
    h, w = x.shape[2], x.shape[3]
    xp[:, ph:ph + h, pw:pw + w] = x[n]


def _pad_image_loops(x: Any, n: int, xp: Any, ph: int, pw: int) -> None:
    for c in range(x.shape[1]):
        for i in range(x.shape[2]):
            for j in range(x.shape[3]):
                xp[c, ph + i, pw + j] = x[n, c, i, j]


def _unpad_image(xp: Any, out: Any, n: int, ph: int, pw: int) -> None:
    """out[n] = the inside of xp (the transpose of `_pad_image`)."""
    h, w = out.shape[2], out.shape[3]
    out[n] = xp[:, ph:ph + h, pw:pw + w]


def _unpad_image_loops(xp: Any, out: Any, n: int, ph: int, pw: int) -> None:
    for c in range(out.shape[1]):
        for i in range(out.shape[2]):
            for j in range(out.shape[3]):
                out[n, c, i, j] = xp[c, ph + i, pw + j]


def _im2col(xp: Any, col3: Any, kh: int, kw: int, sh: int, sw: int) -> None:
    """col3[(c, a, b)] = the (OH, OW) grid of xp[c] read at offset (a, b) with the strides."""
    oh, ow = col3.shape[1], col3.shape[2]
    r = 0
    for c in range(xp.shape[0]):
        for a in range(kh):
            for b in range(kw):
                col3[r] = xp[c, a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw]
                r += 1


def _im2col_loops(xp: Any, col3: Any, kh: int, kw: int, sh: int, sw: int) -> None:
    oh, ow = col3.shape[1], col3.shape[2]
    r = 0
    for c in range(xp.shape[0]):
        for a in range(kh):
            for b in range(kw):
                for i in range(oh):
                    for j in range(ow):
                        col3[r, i, j] = xp[c, a + sh * i, b + sw * j]
                r += 1


def _col2im(col3: Any, xp: Any, kh: int, kw: int, sh: int, sw: int) -> None:
    """The transpose of `_im2col`: add every row of col3 back where it was read (xp zeroed)."""
    oh, ow = col3.shape[1], col3.shape[2]
    xp[:] = 0
    r = 0
    for c in range(xp.shape[0]):
        for a in range(kh):
            for b in range(kw):
                xp[c, a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw] += col3[r]
                r += 1


def _col2im_loops(col3: Any, xp: Any, kh: int, kw: int, sh: int, sw: int) -> None:
    oh, ow = col3.shape[1], col3.shape[2]
    xp[:] = 0
    r = 0
    for c in range(xp.shape[0]):
        for a in range(kh):
            for b in range(kw):
                for i in range(oh):
                    for j in range(ow):
                        xp[c, a + sh * i, b + sw * j] += col3[r, i, j]
                r += 1


def _gather_block(ct3: Any, n0: int, nb: int) -> Any:
    """Images n0 .. n0 + nb of ct3 (N, O, OH OW) side by side: (O, nb, OH OW)."""
    return np.ascontiguousarray(ct3[n0:n0 + nb].transpose(1, 0, 2))


def _gather_block_loops(ct3: Any, n0: int, nb: int) -> Any:
    o, ohw = ct3.shape[1], ct3.shape[2]
    blk = np.empty((o, nb, ohw), ct3.dtype)
    for b in range(nb):
        for q in range(o):
            for t in range(ohw):
                blk[q, b, t] = ct3[n0 + b, q, t]
    return blk


def _scatter_block(blk: Any, out3: Any, n0: int) -> None:
    """The transpose of `_gather_block`: out3[n0 + b] = blk[:, b]."""
    out3[n0:n0 + blk.shape[1]] = blk.transpose(1, 0, 2)


def _scatter_block_loops(blk: Any, out3: Any, n0: int) -> None:
    o, nb, ohw = blk.shape
    for b in range(nb):
        for q in range(o):
            for t in range(ohw):
                out3[n0 + b, q, t] = blk[q, b, t]


# Images per product: enough that a product has COLUMNS columns (output places), so that the
# weight is read once per block, not once per image. On resnet18's 2x2 and 4x4 layers one
# image per product is a matrix-vector product that rereads the weight (a 512 -> 512 3x3
# layer, 9.4 MB of float32, 32 times); blocks made those layers 5-10x faster.
COLUMNS = 256


def _images_per_block(n_img: int, ohw: int) -> int:
    return max(1, min(n_img, -(-COLUMNS // ohw)))


def _unroll(x: Any, n0: int, nb: int, xp: Any, col: Any, kh: int, kw: int, sh: int,
            sw: int, ph: int, pw: int) -> None:
    """col (K, nb, OH, OW) = the windows of images n0 .. n0 + nb of x."""
    for b in range(nb):
        _pad_image(x, n0 + b, xp, ph, pw)
        _im2col(xp, col[:, b], kh, kw, sh, sw)


def _winograd(n_img: int, kh: int, kw: int, sh: int, sw: int, oh: int, ow: int) -> bool:
    """Whether a convolution runs as Winograd F(2x2, 3x3) (codegen/winograd.py): 3x3 at
    stride 1 (most of resnet18's), with 4 tiles an image or more and 64 in the batch. On
    fewer the products are as narrow as the tiles, and transforming the weight (16 O C,
    16 MB at 512 channels) costs more than it saves: im2col was as fast on resnet18's 2x2
    layers at batch 32 (one tile an image; 1.5x faster for the input gradient), and 2x
    faster on its 4x4 layers at batch 1 (measured, one thread, float32)."""
    th, tw = winograd.tiles(oh, ow)
    return kh == 3 and kw == 3 and sh == 1 and sw == 1 and th * tw >= 4 and n_img * th * tw >= 64


def conv2d(x: Any, w: Any, out: Any, padding: Any, stride: Any) -> None:
    """out = conv2d(x, w): (N, C, H, W) * (O, C, KH, KW) -> (N, O, OH, OW)."""
    n_img, c, h, wd = x.shape
    o, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    oh, ow = out.shape[2], out.shape[3]
    (ph, pw), (sh, sw) = padding, stride
    if _winograd(n_img, kh, kw, sh, sw, oh, ow):
        winograd.forward(x, w, out, ph, pw)
        return
    k, ohw = c * kh * kw, oh * ow
    w2 = np.ascontiguousarray(w).reshape(o, k)
    out3 = out.reshape(n_img, o, ohw)
    xp = np.zeros((c, h + 2 * ph, wd + 2 * pw), x.dtype)
    per = _images_per_block(n_img, ohw)
    for n0 in range(0, n_img, per):
        nb = min(per, n_img - n0)
        col = np.empty((k, nb, oh, ow), x.dtype)
        _unroll(x, n0, nb, xp, col, kh, kw, sh, sw, ph, pw)
        if nb == 1:
            np.dot(w2, col.reshape(k, ohw), out3[n0])
        else:
            _scatter_block(np.dot(w2, col.reshape(k, nb * ohw)).reshape(o, nb, ohw), out3, n0)


def conv2d_weight_grad(x: Any, ct: Any, out: Any, padding: Any, size: Any,
                       stride: Any) -> None:
    """out = sum over images of ct[n] @ col(x[n]).T: the (O, C, KH, KW) gradient of w.
    Accumulated transposed, (C KH KW, O) += col @ ct[n].T: BLAS runs that product 20-25%
    faster than ct[n] @ col.T (measured, float32, on the resnet18 stem), except when the
    product is short (below)."""
    n_img, c, h, wd = x.shape
    o, oh, ow = ct.shape[1], ct.shape[2], ct.shape[3]
    kh, kw = size
    (ph, pw), (sh, sw) = padding, stride
    if _winograd(n_img, kh, kw, sh, sw, oh, ow):
        winograd.weight_grad(x, ct, out, ph, pw)
        return
    k, ohw = c * kh * kw, oh * ow
    ct3 = np.ascontiguousarray(ct).reshape(n_img, o, ohw)
    xp = np.zeros((c, h + 2 * ph, wd + 2 * pw), x.dtype)
    per = _images_per_block(n_img, ohw)
    if n_img * ohw < COLUMNS:
        # One short product (few output places: resnet18's 2x2 to 8x8 layers at batch 1),
        # written straight into out: copying a transposed (C KH KW, O) result into out took
        # 10-40x the product itself (512 -> 512 3x3 on 2x2: 18 ms against 0.5 ms).
        col = np.empty((k, n_img, oh, ow), x.dtype)
        _unroll(x, 0, n_img, xp, col, kh, kw, sh, sw, ph, pw)
        cts = ct3[0] if n_img == 1 else _gather_block(ct3, 0, n_img).reshape(o, n_img * ohw)
        np.dot(cts, col.reshape(k, n_img * ohw).T, out.reshape(o, k))
        return
    acc = np.zeros((k, o), x.dtype)
    for n0 in range(0, n_img, per):
        nb = min(per, n_img - n0)
        col = np.empty((k, nb, oh, ow), x.dtype)
        _unroll(x, n0, nb, xp, col, kh, kw, sh, sw, ph, pw)
        cts = ct3[n0] if nb == 1 else _gather_block(ct3, n0, nb).reshape(o, nb * ohw)
        acc += np.dot(col.reshape(k, nb * ohw), cts.T)
    out.reshape(o, k)[:] = acc.T


def conv2d_input_grad(ct: Any, w: Any, out: Any, padding: Any, size: Any,
                      stride: Any) -> None:
    """out[n] = col2im(w.T @ ct[n]): the (N, C, H, W) gradient of x."""
    n_img, o, oh, ow = ct.shape
    c, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    h, wd = size
    (ph, pw), (sh, sw) = padding, stride
    if _winograd(n_img, kh, kw, sh, sw, oh, ow) and ph <= 2 and pw <= 2:
        winograd.input_grad(ct, w, out, ph, pw)
        return
    k, ohw = c * kh * kw, oh * ow
    w2t = np.ascontiguousarray(w).reshape(o, k).T
    ct3 = np.ascontiguousarray(ct).reshape(n_img, o, ohw)
    xp = np.empty((c, h + 2 * ph, wd + 2 * pw), ct.dtype)
    per = _images_per_block(n_img, ohw)
    for n0 in range(0, n_img, per):
        nb = min(per, n_img - n0)
        cts = ct3[n0] if nb == 1 else _gather_block(ct3, n0, nb).reshape(o, nb * ohw)
        col = np.dot(w2t, cts).reshape(k, nb, oh, ow)
        for b in range(nb):
            _col2im(col[:, b], xp, kh, kw, sh, sw)
            _unpad_image(xp, out, n0 + b, ph, pw)


def avg_pool2d(x: Any, out: Any, kernel: Any, padding: Any, stride: Any) -> None:
    """out = the mean of each window of x padded with zeros (padded places count)."""
    n_img, c, h, wd = x.shape
    oh, ow = out.shape[2], out.shape[3]
    (kh, kw), (ph, pw), (sh, sw) = kernel, padding, stride
    scale = 1.0 / (kh * kw)
    for n in range(n_img):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    s = 0.0
                    for a in range(max(0, ph - i * sh), min(kh, h + ph - i * sh)):
                        for b in range(max(0, pw - j * sw), min(kw, wd + pw - j * sw)):
                            s += x[n, ch, i * sh - ph + a, j * sw - pw + b]
                    out[n, ch, i, j] = s * scale


def avg_pool2d_grad(ct: Any, out: Any, kernel: Any, padding: Any, size: Any,
                    stride: Any) -> None:
    """out = each cotangent spread evenly over its window (the transpose of avg_pool2d)."""
    n_img, c, oh, ow = ct.shape
    h, wd = size
    (kh, kw), (ph, pw), (sh, sw) = kernel, padding, stride
    scale = 1.0 / (kh * kw)
    out[:] = 0
    for n in range(n_img):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    g = ct[n, ch, i, j] * scale
                    for a in range(max(0, ph - i * sh), min(kh, h + ph - i * sh)):
                        for b in range(max(0, pw - j * sw), min(kw, wd + pw - j * sw)):
                            out[n, ch, i * sh - ph + a, j * sw - pw + b] += g


def max_pool2d_index(x: Any, out: Any, kernel: Any, padding: Any, stride: Any) -> None:
    """out = the flat index into x of each window's maximum: the first of ties, the last
    NaN, the window's first place in the image when all are -inf (PyTorch's CPU rule)."""
    n_img, c, h, wd = x.shape
    oh, ow = out.shape[2], out.shape[3]
    (kh, kw), (ph, pw), (sh, sw) = kernel, padding, stride
    for n in range(n_img):
        for ch in range(c):
            base = (n * c + ch) * h
            for i in range(oh):
                h0, h1 = max(0, i * sh - ph), min(h, i * sh - ph + kh)
                for j in range(ow):
                    w0, w1 = max(0, j * sw - pw), min(wd, j * sw - pw + kw)
                    best = -np.inf
                    where = (base + h0) * wd + w0
                    for r in range(h0, h1):
                        for q in range(w0, w1):
                            v = x[n, ch, r, q]
                            if v > best or v != v:
                                best = v
                                where = (base + r) * wd + q
                    out[n, ch, i, j] = where


KERNELS = {"conv2d": conv2d, "conv2d_input_grad": conv2d_input_grad,
           "conv2d_weight_grad": conv2d_weight_grad, "avg_pool2d": avg_pool2d,
           "avg_pool2d_grad": avg_pool2d_grad, "max_pool2d_index": max_pool2d_index,
           **sort_kernels.KERNELS}
_registered = False


def register() -> None:
    """Make every function here callable from numba-compiled code (idempotent). numba is
    imported only here, so the plain-Python path does not need it."""
    global _registered
    if _registered:
        return
    from numba.extending import overload, register_jitable

    for fn, loops in ((_pad_image, _pad_image_loops), (_unpad_image, _unpad_image_loops),
                      (_im2col, _im2col_loops), (_col2im, _col2im_loops),
                      (_gather_block, _gather_block_loops),
                      (_scatter_block, _scatter_block_loops)):
        overload(fn, strict=False)(lambda *args, impl=loops: impl)
    winograd.register()
    for fn in (_images_per_block, _unroll, _winograd, *KERNELS.values()):
        register_jitable(fn)
    _registered = True
