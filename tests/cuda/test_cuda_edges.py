"""target="cuda" at its edges: strided and foreign device arrays, schedules that must not race,
and what a user is told when something cannot run. Each result is checked against numpy or
the CPU back end. Small sizes: every kernel runs on numba's simulator in CI.
"""
from __future__ import annotations

import numpy as np
import pytest

import adjit
from adjit.codegen.cuda_runtime import is_device_array

pytestmark = pytest.mark.cuda
cuda = pytest.importorskip("numba.cuda")
if not cuda.is_available():
    pytest.skip("no CUDA GPU and NUMBA_ENABLE_CUDASIM is not set", allow_module_level=True)

RNG = np.random.default_rng(7)
M = RNG.normal(size=(4, 6))
N = RNG.normal(size=(6, 3))


def _host(a):
    return a.copy_to_host() if is_device_array(a) else np.asarray(a)


_identity = adjit.jit(lambda a: a, target="cuda")
_matmul = adjit.jit(lambda a, b: a @ b, target="cuda")
_sin_grad = adjit.grad(lambda a: np.sum(np.sin(a) * np.arange(a.shape[-1])), target="cuda")


@pytest.mark.parametrize("view", ["T", "step", "reversed"])
def test_strided_device_arguments_are_read_right_and_returned_as_copies(view):
    """A transposed, stepped or reversed device array: numba copies none of them between
    buffers (an identity's result is a copy) or with negative strides to the host."""
    d = cuda.to_device(M)
    dv, ref = {"T": (d.T, M.T), "step": (d[:, ::2], M[:, ::2]),
               "reversed": (d[::-1, ::-1], M[::-1, ::-1])}[view]
    out = _identity(dv)
    assert is_device_array(out) and np.array_equal(_host(out), ref)
    g = _sin_grad(dv)
    assert np.allclose(_host(g), np.cos(ref) * np.arange(ref.shape[-1]), rtol=1e-12)


def test_matrix_product_operands_reach_the_kernel_c_contiguous(monkeypatch):
    """numba reshapes an F-contiguous device array (a transpose) as if it were C-contiguous:
    the tiled kernel must only ever see C-contiguous operands (a GPU would read the
    transpose's memory in the wrong order; the simulator's numpy reshape hides it)."""
    from adjit.codegen import cuda_kernels

    seen = []
    real = cuda_kernels.launch_matmul
    monkeypatch.setattr(cuda_kernels, "launch_matmul",
                        lambda a, b, *r: (seen.append((a.is_c_contiguous(),
                                                       b.is_c_contiguous())), real(a, b, *r)))
    dn, dm = cuda.to_device(N), cuda.to_device(M)
    out = _matmul(dn.T, dm.T)
    assert np.allclose(_host(out), N.T @ M.T, rtol=1e-12)
    assert seen and all(a and b for a, b in seen)


def test_float32_math_recomputed_in_a_later_launch_equals_its_stored_copy():
    """The gradient of a min compares the (recomputed) argument with the stored min. Run as
    Python (the simulator), math.tanh of a float32 is a float64 unless rounded as numba
    rounds it on a GPU: nothing compared equal and the gradient was nan."""
    x = np.array([-0.9, 0.7, 0.3], np.float32)
    got = adjit.grad(lambda x: np.min(np.tanh(x * 1.3)) + np.sum(x), target="cuda")(x)
    t = np.tanh(np.float32(1.3) * x)
    ref = np.ones(3) + 1.3 * (1 - t ** 2) * (np.arange(3) == np.argmin(t))
    assert got.dtype == np.float32 and np.allclose(got, ref, rtol=1e-5)
    f = adjit.grad(lambda x: np.sum(np.tanh(x) / np.max(np.tanh(x), axis=0, keepdims=True)),
                   target="cuda")
    assert np.allclose(f(x), adjit.grad(lambda x: np.sum(np.tanh(x) / np.max(np.tanh(x))))(x),
                       rtol=1e-5)


def test_kernels_run_as_python_do_not_warn_where_numba_computes_inf_and_nan():
    """Under the simulator the kernels run as Python with numpy scalars, which warned (each
    simulated thread its own warning) and raised under `-W error`: a GPU, and the CPU back
    end, compute inf and nan silently."""
    import warnings

    x = np.array([0.0, 1.0, -1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = adjit.jit(lambda a: (1 / a, np.log(a), a // 0), target="cuda")(x)
    with np.errstate(all="ignore"):
        ref = (1 / x, np.log(x), x // 0)
    assert all(np.array_equal(g, r, equal_nan=True) for g, r in zip(got, ref, strict=True))


def test_a_while_that_never_ends_under_grad_stops_at_the_tape_limit(monkeypatch):
    """ADJIT_MAX_TAPE_MB bounds the device tape as it bounds the CPU's (it was fixed at 4 GB:
    a runaway loop filled the GPU's memory first). 4 kB here, where ADJIT_MAX_TAPE_MB counts
    whole megabytes: a megabyte of tape takes the simulator seconds to record."""
    from adjit.runtime import config

    monkeypatch.setattr(config, "max_tape_bytes", lambda: 4096)

    def runaway(x):
        y = x
        while y.sum() > -1.0:
            y = y * 1.0001 + 1.0
        return y.sum()

    with pytest.raises(RuntimeError, match="ADJIT_MAX_TAPE_MB"):
        adjit.grad(runaway, target="cuda")(np.ones(64))


def test_arguments_named_like_loop_indices_and_buffers_are_renamed():
    """A parameter called i0 was the kernel's loop index itself ('int' object is not
    subscriptable); r2_best, an argmax's best-value buffer."""
    def f(i0, i1, r2_best):
        return np.sum(np.sin(i0) * i1 * r2_best) + np.max(i0 * i1) + np.argmax(i0 * r2_best)

    args = (np.arange(1.0, 6.0), np.arange(5.0, 0.0, -1.0), np.linspace(0, 1, 5))
    got = adjit.value_and_grad(f, argnums=(0, 1, 2), target="cuda")(*args)
    ref = adjit.value_and_grad(f, argnums=(0, 1, 2))(*args)
    assert np.allclose(got[0], ref[0], rtol=1e-12)
    assert all(np.allclose(g, r, rtol=1e-12) for g, r in zip(got[1], ref[1], strict=True))


def test_two_block_sums_into_one_element_are_added_once_each():
    """Two sums over a parallel loop into the same element share one register and one atomic
    add per block (each got its own shared array under one name: 11160 for 1560)."""
    from adjit.codegen.cuda_runtime import compile_program
    from adjit.ir.loops import (Accumulate, Alloc, Buffer, Const, For, Idx, Load, LoopKernel,
                                Program)

    zero = (Const(0, "i64"),)
    body = [For(0, 40, [Accumulate("sum", "r", zero, Load("x", (Idx(0),))),
                        Accumulate("sum", "r", zero, Load("x", (Idx(0),))),
                        Accumulate("sum", "q", zero, Const(1.0, "f64"))])]
    program = Program("p", [Buffer("x", (40,), "f64")], [],
                      [Alloc("r", (1,), "f64", 0.0), Alloc("q", (1,), "f64", 0.0),
                       LoopKernel("k0", body)], ["r", "q"], [(), ()])
    x = np.arange(40.0)
    r, q = compile_program(program, "cuda")(x)
    assert "(atomic, block)" in str(program)
    assert r == 2 * x.sum() and q == 40.0


@pytest.mark.parametrize("target", ["python", "cuda"])
def test_a_let_after_a_level_0_store_runs_after_it(target):
    """A kernel's level-0 Lets were all computed at the top of the one-thread launch of its
    level-0 stores, before the stores: one reading a stored index read the allocation's
    value (99 here: IndexError under the simulator, an out-of-bounds read on a GPU)."""
    from adjit.codegen.cuda_runtime import compile_program
    from adjit.ir.loops import (Alloc, Buffer, Const, For, Idx, Let, Load, Local, LoopKernel,
                                Program, Store)

    zero = (Const(0, "i64"),)
    body = [Store("o", zero, Const(2, "i64")), Let("t", Load("o", zero)),
            Let("u", Load("x", (Local("t"),))), For(0, 4, [Store("y", (Idx(0),), Local("u"))])]
    program = Program("p", [Buffer("x", (4,), "f64")], [],
                      [Alloc("o", (1,), "i64", 99), Alloc("y", (4,), "f64"),
                       LoopKernel("k0", body)], ["y"], [(4,)])
    (y,) = compile_program(program, target)(np.arange(4.0) * 10)
    assert np.array_equal(y, [20.0] * 4)


def test_floor_and_fmod_use_device_functions_numba_cuda_has():
    """numba-cuda types no np.floor or np.fmod in a kernel: the CUDA kernels call
    codegen/cuda_math.py's (numpy's under the simulator), whose floor is exact."""
    import math

    from adjit.codegen.cuda_math import floor_by_fmod

    def f(x, y):
        return np.sum(np.floor(x * 3) * x + np.fmod(x, y) * y)

    x = np.array([-1.7, -0.0, 2.5, 3.0, 0.2])
    y = np.array([0.3, 1.0, 0.7, 2.0, -1.5])
    src = str(adjit.inspect(adjit.grad(f), x, y, target="cuda").source)
    assert "cm.floor(" in src and "cm.fmod(" in src and "np.floor(" not in src
    want = adjit.value_and_grad(f, argnums=(0, 1))(x, y)
    got = adjit.value_and_grad(f, argnums=(0, 1), target="cuda")(x, y)
    np.testing.assert_allclose(_host(got[0]), want[0], rtol=1e-14)
    for g, w in zip(got[1], want[1], strict=True):
        np.testing.assert_allclose(_host(g), w, rtol=1e-14)
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 10, 2000), rng.normal(0, 1e15, 200),
                             [-0.0, 0.5, -0.5, -1.0, 1e300, -1e300, 2.0**52 - 0.5,
                              -(2.0**52) + 0.5, 5e-324, -5e-324, np.nan]])
    for v in values:
        got_v, want_v = floor_by_fmod(float(v)), np.floor(v)
        assert (got_v == want_v and math.copysign(1, got_v) == math.copysign(1, want_v)) \
            or (math.isnan(got_v) and math.isnan(want_v)), v
