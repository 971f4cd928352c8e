"""Winograd F(2x2, 3x3) convolution (codegen/winograd.py), which codegen/conv_kernels.py runs
for 3x3 stride-1 convolutions with enough tiles: its numpy form (what ADJIT_NOJIT=1 runs)
against the reference impls of ir/prims/conv.py, its numba loops against its numpy form
transform by transform, and the compiled kernels' gradients as transposes of the forward.
(tests/prims/test_eager_kernels.py runs the compiled kernels on conv_cases' `wino-*` cases
against the reference; test_derivatives checks the reference against finite differences.)"""
from __future__ import annotations

import numpy as np
import pytest
from adjit.codegen import conv_kernels as ck
from adjit.codegen import winograd as wg
from adjit.ir import PRIMS
from adjit.runtime import eager

TOL = {"float32": 2e-5, "float64": 1e-12}
# (x shape, O, padding): odd sizes, paddings 0-2 (rows and columns apart), batch 1, several
# blocks of images with a short last one
SHAPES = [((4, 3, 9, 11), 4, (1, 1)), ((3, 2, 13, 12), 3, (0, 0)), ((1, 3, 17, 15), 2, (2, 2)),
          ((5, 2, 16, 15), 3, (1, 0)), ((2, 4, 7, 20), 5, (0, 2))]


def _data(shape: tuple, o: int, padding: tuple, dt: str) -> tuple:
    rng = np.random.default_rng(sum(shape) + o)
    x = rng.standard_normal(shape).astype(dt)
    w = rng.standard_normal((o, shape[1], 3, 3)).astype(dt)
    p = {"stride": (1, 1), "padding": padding}
    y = PRIMS["conv2d"].impl(x, w, **p)
    ct = rng.standard_normal(y.shape).astype(dt)
    return x, w, ct, p


def _close(got: np.ndarray, want: np.ndarray, dt: str) -> None:
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=TOL[dt], atol=TOL[dt])


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("shape,o,padding", SHAPES)
def test_numpy_form_matches_reference(shape: tuple, o: int, padding: tuple, dt: str) -> None:
    x, w, ct, p = _data(shape, o, padding, dt)
    ph, pw = padding
    out = np.empty(ct.shape, dt)
    wg.forward(x, w, out, ph, pw)
    _close(out, PRIMS["conv2d"].impl(x, w, **p), dt)
    gx = np.empty(x.shape, dt)
    wg.input_grad(ct, w, gx, ph, pw)
    _close(gx, PRIMS["conv2d_input_grad"].impl(ct, w, size=x.shape[2:], **p), dt)
    gw = np.empty(w.shape, dt)
    wg.weight_grad(x, ct, gw, ph, pw)
    _close(gw, PRIMS["conv2d_weight_grad"].impl(x, ct, size=(3, 3), **p), dt)


@pytest.mark.parametrize("shape,o,padding", SHAPES)
def test_kernels_choose_winograd(shape: tuple, o: int, padding: tuple) -> None:
    x, w, ct, p = _data(shape, o, padding, "float32")
    assert ck._winograd(shape[0], 3, 3, 1, 1, *ct.shape[2:])


def test_small_or_strided_convolutions_stay_im2col() -> None:
    assert not ck._winograd(32, 3, 3, 1, 1, 2, 2)  # one tile an image (resnet18's 2x2)
    assert not ck._winograd(1, 3, 3, 1, 1, 4, 4)  # 4 tiles in the batch
    assert not ck._winograd(32, 3, 3, 2, 2, 8, 8)  # stride 2
    assert not ck._winograd(32, 1, 1, 1, 1, 8, 8)  # 1x1


def _loops_inputs(dt: str) -> dict:
    rng = np.random.default_rng(3)
    n, c, o, h, w, ph, pw = 3, 2, 3, 5, 6, 1, 2
    oh, ow = h + 2 * ph - 2, w + 2 * pw - 2
    th, tw = wg.tiles(oh, ow)
    return {"x": rng.standard_normal((n, c, h, w)).astype(dt),
            "w": rng.standard_normal((o, c, 3, 3)).astype(dt),
            "ct": rng.standard_normal((n, o, oh, ow)).astype(dt),
            "m": rng.standard_normal((16, o * (n - 1) * th * tw + wg.PAD)).astype(dt),
            "du": rng.standard_normal((16, o * c + wg.PAD)).astype(dt),
            "dims": (n, c, o, ph, pw, oh, ow, th, tw)}


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_loops_match_numpy_form(dt: str) -> None:
    """Each transform's numba loops (run here as plain Python) fill what its numpy form does,
    on a block that is not the first (n0 = 1) and partial tiles; PAD columns are unused."""
    a = _loops_inputs(dt)
    n, c, o, ph, pw, oh, ow, th, tw = a["dims"]
    t = (n - 1) * th * tw

    def planes(rows: int, cols: int) -> np.ndarray:
        return np.full((16, rows * cols + wg.PAD), np.nan, dt)

    got, want = planes(o, c), planes(o, c)
    wg._filter_loops(a["w"], got)
    wg._filter(a["w"], want)
    np.testing.assert_allclose(got[:, :o * c], want[:, :o * c], rtol=TOL[dt], atol=TOL[dt])
    got, want = np.full((o, c, 3, 3), np.nan, dt), np.full((o, c, 3, 3), np.nan, dt)
    wg._filter_t_loops(a["du"], got)
    wg._filter_t(a["du"], want)
    np.testing.assert_allclose(got, want, rtol=TOL[dt], atol=TOL[dt])
    xp = np.zeros((2 * th + 2, 2 * tw + 2), dt)
    got, want = planes(c, t), planes(c, t)
    wg._input_loops(a["x"], 1, n - 1, ph, pw, xp, got)
    wg._input(a["x"], 1, n - 1, ph, pw, xp, want)
    np.testing.assert_allclose(got[:, :c * t], want[:, :c * t], rtol=TOL[dt], atol=TOL[dt])
    got, want = np.full((n, o, oh, ow), np.nan, dt), np.full((n, o, oh, ow), np.nan, dt)
    wg._output_loops(a["m"], got, 1, n - 1, th, tw)
    wg._output(a["m"], want, 1, n - 1, th, tw)
    np.testing.assert_allclose(got[1:], want[1:], rtol=TOL[dt], atol=TOL[dt])
    got, want = planes(o, t), planes(o, t)
    wg._output_t_loops(a["ct"], 1, n - 1, th, tw, got)
    wg._output_t(a["ct"], 1, n - 1, th, tw, want)
    np.testing.assert_allclose(got[:, :o * t], want[:, :o * t], rtol=TOL[dt], atol=TOL[dt])


def _kernel(name: str, *arrays: np.ndarray, out_shape: tuple, **params: object) -> np.ndarray:
    out = np.empty(out_shape, arrays[0].dtype)
    k = eager.kernel(name) or ck.KERNELS[name]  # compiled; plain numpy under ADJIT_NOJIT=1
    k(*arrays, out, **params)
    return out


@pytest.mark.parametrize("shape,o,padding", SHAPES)
def test_compiled_gradients_are_transposes(shape: tuple, o: int, padding: tuple) -> None:
    """<input_grad(ct, w), g> = <ct, conv2d(g, w)> and <weight_grad(x, ct), h> =
    <ct, conv2d(x, h)>, float64, all three the kernels' (so Winograd's)."""
    x, w, ct, p = _data(shape, o, padding, "float64")
    rng = np.random.default_rng(5)
    g, h = rng.standard_normal(x.shape), rng.standard_normal(w.shape)
    gx = _kernel("conv2d_input_grad", ct, w, out_shape=x.shape, size=x.shape[2:], **p)
    gw = _kernel("conv2d_weight_grad", x, ct, out_shape=w.shape, size=(3, 3), **p)
    cg = _kernel("conv2d", g, w, out_shape=ct.shape, **p)
    ch = _kernel("conv2d", x, h, out_shape=ct.shape, **p)
    np.testing.assert_allclose(np.vdot(gx, g), np.vdot(ct, cg), rtol=1e-12)
    np.testing.assert_allclose(np.vdot(gw, h), np.vdot(ct, ch), rtol=1e-12)
