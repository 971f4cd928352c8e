"""The CPU back end prints the loop IR (codegen/cpu.py `cpu_program`): the constructs the CPU's
layout adds (ir/loops.py `Set`, `Fill`, temps, `Convert`, chunk loops), the verifier on them,
and the CPU's passes over the IR (codegen/cpu_passes.py): which loops go on threads, which
take vector forms."""
from __future__ import annotations

import re

import numpy as np
import pytest

import adjit
from adjit.codegen import parallel
from adjit.codegen.cpu import cpu_program
from adjit.codegen.cpu_passes import choose_vector, parallelize_kernel
from adjit.ir.errors import CodegenError
from adjit.ir.loops import (
    Accumulate,
    Alloc,
    ArgAccumulate,
    Buffer,
    Const,
    Convert,
    Fill,
    For,
    Idx,
    Init,
    Let,
    Load,
    Local,
    LoopKernel,
    Program,
    Set,
    Span,
    Store,
    verify,
)
from adjit.passes.fuse import fuse
from adjit.passes.schedule_cuda import statements


def _program(steps, inputs=(("x", (8,), "f64"),), outputs=(), **kw) -> Program:
    return Program("p", [Buffer(*b) for b in inputs], [], list(steps), list(outputs),
                   [()] * len(outputs), **kw)


def _loop_program(f, *args):
    t = adjit.value_and_grad(f)
    spec = t.specialize(args)
    return cpu_program(spec.final, fuse(spec.final), "k")


# ---- the IR and its verifier ----------------------------------------------------------------


def test_text_of_the_cpu_constructs() -> None:
    body = [Set("c1", Const(0.0, "f64")),
            For(0, 8, [Store("a", (Idx(0),), Local("c1")), Set("c1", Load("x", (Idx(0),)))]),
            Fill("a", (Span(2, None),), Const(0.0, "f64"))]
    k = LoopKernel("k0", body, temps=[Alloc("s0", (4,), "f64")])
    text = str(_program([Alloc("a", (8,), "f64", reused=True), k, Convert("b", "a", "f32")]))
    for want in ("alloc a: f64[8] (reused)", "alloc s0: f64[4]", "c1 := 0.0",
                 "a[i0] = c1", "a[2:] = 0.0", "b = convert a to f32"):
        assert want in text, (want, text)


def test_verifier_rejects_what_the_cpu_constructs_can_get_wrong() -> None:
    ok = _program([Alloc("a", (8,), "f64"),
                   LoopKernel("k", [Init("v", "sum", "f64", "f64"),
                                    For(0, 4, [Accumulate("sum", "v", None, Const(1.0, "f64"))],
                                        parallel=True, var="ch")])])
    verify(ok)
    with pytest.raises(CodegenError, match="part of a chunk loop"):
        verify(_program([Alloc("a", (8,), "f64"),
                         LoopKernel("k", [For(0, 8, [Store("a", (Idx(0),), Const(1.0, "f64"))],
                                              parts=4)])]))
    with pytest.raises(CodegenError, match="reads ch0 outside"):
        verify(_program([Alloc("a", (8,), "f64"),
                         LoopKernel("k", [Store("a", (Idx(0, "ch"),), Const(1.0, "f64"))])]))
    with pytest.raises(CodegenError, match="writes buffer b"):
        verify(_program([LoopKernel("k", [Fill("b", (Span(None, 2),), Const(0.0, "f64"))])]))
    with pytest.raises(CodegenError, match="convert: reads"):
        verify(_program([Convert("b", "nowhere", "f32")]))
    # a kernel's top-level locals are read by later steps only where locals live (the CPU's)
    steps = [LoopKernel("k0", [Let("v", Const(1.0, "f64"))]), Alloc("o", (1,), "f64"),
             LoopKernel("k1", [Store("o", (Const(0, "i64"),), Local("v"))])]
    verify(_program(steps, locals_live=True))
    with pytest.raises(CodegenError, match="reads local v"):
        verify(_program(steps))


# ---- the CPU's passes -----------------------------------------------------------------------


def _kernel(body, work=1 << 20):
    return LoopKernel("k", body, work=work)


@pytest.mark.skipif(not parallel.available(), reason="ADJIT_PARALLEL=0")
def test_independent_loops_are_chunked_with_partials_combined_in_order() -> None:
    n = 1 << 20
    k = _kernel([Init("v", "max", "f64", "f64"),
                 For(0, n, [Let("t", Load("x", (Idx(0),))), Store("a", (Idx(0),), Local("t")),
                            Accumulate("max", "v", None, Local("t"))])])
    parallelize_kernel(k)
    outer, init, combine = k.body
    assert outer.parallel and outer.var == "ch" and outer.extent == parallel.CHUNKS
    assert isinstance(outer.body[0], Init) and outer.body[1].parts == parallel.CHUNKS
    assert isinstance(init, Init) and not combine.parallel and combine.var == "ch"
    assert [t.buf for t in k.temps] == ["v_p"]


@pytest.mark.parametrize("body", [
    # a walk's lagged stores: iterations i and i+1 write one element
    [Store("a", (Idx(0),), Const(1.0, "f64")),
     Accumulate("sum", "a", (Idx(0),), Const(1.0, "f64")),
     Store("a", (Load("x", (Idx(0),)),), Const(1.0, "f64"))],
    # a register carried from one iteration to the next
    [Set("c", Load("x", (Idx(0),)))],
    # argmax over the loop
    [ArgAccumulate("argmax", "v", "v_best", None, Load("x", (Idx(0),)), Idx(0))],
    # an array accumulation every iteration shares
    [Accumulate("sum", "a", (Const(0, "i64"),), Load("x", (Idx(0),)))],
])
def test_dependent_loops_stay_serial(body) -> None:
    k = _kernel([Init("v", "argmax", "i64", "f64"), Set("c", Const(0.0, "f64")),
                 For(0, 1 << 20, body)])
    parallelize_kernel(k)
    assert not any(isinstance(s, For) and s.var == "ch" for s in k.body)


def test_small_kernels_stay_serial() -> None:
    k = _kernel([For(0, 8, [Store("a", (Idx(0),), Const(1.0, "f64"))])], work=8)
    parallelize_kernel(k)
    assert k.body[0].var == "i" and not k.body[0].parallel


def test_vector_forms_are_chosen_on_the_ir() -> None:
    def f(x, i):
        return np.sum(np.exp(x) * x) + np.sum(np.max(x.reshape(4, 4), axis=1)) \
            + np.sum(x[i])

    prog = choose_vector(_loop_program(f, np.linspace(0.0, 1.0, 16), np.arange(3)), False)
    loops = [s for k in prog.kernels() for s in statements(k.body)
             if isinstance(s, For) and not any(isinstance(b, For) for b in s.body)]
    assert any(lp.vector for lp in loops)  # exp and a sum
    kept = 0
    for lp in loops:
        body = statements(lp.body)
        if any(isinstance(s, Accumulate) and s.op == "max" for s in body) or any(
                isinstance(s, Let) and isinstance(s.expr, Load)
                and not isinstance(s.expr.index[0], (Idx, Const)) for s in body):
            assert not lp.vector  # a NaN-aware max, a gather: the loop stays scalar
            kept += 1
    assert kept >= 2


def test_cpu_program_is_what_inspect_shows() -> None:
    def rosen(x):
        return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    text = str(adjit.inspect(rosen, np.linspace(0.0, 1.0, 8)).loops)
    assert "loop IR (lowered for target='cpu')" in str(adjit.inspect(rosen, np.ones(8)))
    assert ":= " in text  # the carried partial sum of the walked gradient


@pytest.mark.skipif(not parallel.available(), reason="ADJIT_PARALLEL=0")
def test_a_parallel_kernel_reading_an_array_constant(monkeypatch) -> None:
    """The chunk loop's index was `c0`, the name of the first array constant: a parallel
    kernel reading that constant subscripted the chunk number (plain Python failed; numba
    happened to keep the two apart)."""
    n = parallel.MIN_WORK

    def f(x):
        c = np.arange(n) * 0.5
        return np.sum(x * c * np.sin(x))

    x = np.linspace(0.0, 1.0, n)
    c = np.arange(n) * 0.5
    src = adjit.inspect(f, x).source
    assert "prange" in str(src) and "for c0 in" not in str(src)
    for nojit in ("0", "1"):
        monkeypatch.setenv("ADJIT_NOJIT", nojit)
        v, g = adjit.value_and_grad(f)(x)
        np.testing.assert_allclose(v, np.sum(x * c * np.sin(x)), rtol=1e-12)
        np.testing.assert_allclose(g, c * np.sin(x) + x * c * np.cos(x), rtol=1e-12)


def _grows(x):
    while np.sum(x) < 10.0:
        x = np.sin(x) + x * 1.5
    return np.sum(x)


def test_inspect_prints_the_programs_of_control_flow_functions() -> None:
    text = str(adjit.inspect(_grows, np.ones(4)).loops)
    assert "control " in text and "while" in text
    names = [ln.split("(")[0] for ln in text.splitlines() if ln.startswith("program ")]
    assert len(names) >= 3 and len(set(names)) == len(names)  # the loop's cond, body, ...


@pytest.mark.skipif(not parallel.available(), reason="ADJIT_PARALLEL=0")
def test_a_float32_sum_on_threads_keeps_float64_partials() -> None:
    """A float32 sum over a loop on threads: each chunk's register and the partials are
    float64 (the chunk rewrite keeps the register's dtype), rounded once at the end."""
    n = parallel.MIN_WORK

    def f(x):
        return np.sum(x * x)

    x = np.random.default_rng(3).normal(size=n).astype(np.float32)
    src = str(adjit.inspect(f, x).source)
    assert "prange" in src and re.search(r"v\d+_w_p = np\.empty\(\(\d+,\), np\.float64\)", src)
    vg = adjit.value_and_grad(f)
    vg(x)
    v, g = vg(x)  # (a later call: the kernel's result, whatever computed the first)
    exact = float(np.sum(x.astype(np.float64) ** 2))
    assert np.asarray(v).dtype == np.float32 and abs(float(v) - exact) <= 1e-7 * exact
    np.testing.assert_array_equal(g, 2 * x)
