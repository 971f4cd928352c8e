"""target="cuda": the loop IR (ir/loops.py), its lowering (passes/lower.py), the CUDA printer
(codegen/cuda.py) and runtime (codegen/cuda_runtime.py).

CI has no GPU: tests/conftest.py sets NUMBA_ENABLE_CUDASIM=1 (unless set), so numba.cuda is
its simulator and every kernel runs as Python threads; with a GPU, NUMBA_ENABLE_CUDASIM=0
runs the same tests on it. Each lowered program is compared with the reference interpreter
on the same graph, and the transformations with target="cuda" with the CPU back end.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from functions import CASES

import adjit
from adjit.codegen.cuda_runtime import compile_program, is_device_array
from adjit.ir.errors import CodegenError
from adjit.ir.evaluate import evaluate
from adjit.ir.loops import Const, Idx, Load, LoopKernel, Program, Store, verify
from adjit.passes.lower import lower

pytestmark = pytest.mark.cuda
cuda = pytest.importorskip("numba.cuda")
if not cuda.is_available():
    pytest.skip("no CUDA GPU and NUMBA_ENABLE_CUDASIM is not set", allow_module_level=True)


def _close(got, ref, dtype) -> bool:
    tol = 2e-5 if np.dtype(dtype) == np.float32 else 1e-11
    got, ref = np.asarray(got), np.asarray(ref)
    return got.shape == ref.shape and np.allclose(got, ref, rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("case", CASES, ids=repr)
@pytest.mark.parametrize("target", ["python", "cuda"])
def test_every_corpus_gradient_lowers_and_runs_like_the_reference(case, target):
    """The joint value-and-gradient graph of each corpus function, lowered and run serially
    (the loop IR's interpreter) and as CUDA kernels, against the reference interpreter."""
    args = case.args()
    spec = adjit.value_and_grad(case.fn, argnums=case.argnums).specialize(args)
    program = lower(spec.final, spec.plan)
    verify(program)
    call = [a for a, dt in zip(args, spec.in_dtypes, strict=True) if dt is not None]
    got = compile_program(program, target)(*call)  # it holds its constants
    ref = evaluate(spec.final, *call)
    assert len(got) == len(ref)
    for g, r in zip(got, ref, strict=True):
        g = g.copy_to_host() if is_device_array(g) else g
        assert _close(g, r, r.dtype), (case.name, g, r)


def _loss(x, y):
    return np.sum(np.tanh(np.sin(x) * np.cos(y) + x * y) / (1 + np.exp(-x)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_grad_value_and_grad_jit_on_cuda_match_the_cpu(dtype):
    x = np.linspace(-1, 1, 37).astype(dtype)
    y = np.linspace(0, 2, 37).astype(dtype)
    ref = adjit.value_and_grad(_loss, argnums=(0, 1))(x, y)
    val, (gx, gy) = adjit.value_and_grad(_loss, argnums=(0, 1), target="cuda")(x, y)
    assert type(gx) is np.ndarray and gx.dtype == dtype  # numpy in, numpy out
    assert _close(val, ref[0], dtype) and _close(gx, ref[1][0], dtype)
    assert _close(gy, ref[1][1], dtype)
    assert _close(adjit.grad(_loss, target="cuda")(x, y), ref[1][0], dtype)
    j = adjit.jit(lambda a: np.cumsum(a) * np.max(a) + np.argmax(a), target="cuda")
    assert _close(j(x), np.cumsum(x) * np.max(x) + np.argmax(x), dtype)


def test_device_arrays_are_used_in_place_and_results_stay_on_the_device():
    x = np.linspace(-1, 1, 20)
    dx, dy = cuda.to_device(x), cuda.to_device(x[::-1].copy())
    val, g = adjit.value_and_grad(_loss, target="cuda")(dx, dy)
    assert is_device_array(val) and val.shape == () and is_device_array(g)
    ref_v, ref_g = adjit.value_and_grad(_loss)(x, x[::-1].copy())
    assert _close(val.copy_to_host(), ref_v, np.float64)
    assert _close(g.copy_to_host(), ref_g, np.float64)
    # a result equal to an argument is a copy, never the caller's own array
    same = adjit.jit(lambda a: a, target="cuda")(dx)
    assert same is not dx and np.array_equal(same.copy_to_host(), x)


def test_vjp_jvp_jacobians_hessian_vmap_take_the_target():
    x = np.linspace(-1, 1, 5)

    def s(v):
        return np.sum(np.sin(v) * v ** 2)

    assert _close(adjit.hessian(s, target="cuda")(x), adjit.hessian(s)(x), np.float64)
    assert _close(adjit.jacrev(np.tanh, target="cuda")(x), adjit.jacfwd(np.tanh)(x),
                  np.float64)
    assert _close(adjit.jacfwd(np.tanh, target="cuda")(x), adjit.jacfwd(np.tanh)(x),
                  np.float64)
    out, t = adjit.jvp(np.sin, (x,), (np.ones(5),), target="cuda")
    assert _close(out, np.sin(x), np.float64) and _close(t, np.cos(x), np.float64)
    out, back = adjit.vjp(lambda a: np.sin(a) * 2, x, target="cuda")
    assert _close(back(np.ones(5))[0], 2 * np.cos(x), np.float64)
    xs = np.linspace(-1, 1, 12).reshape(3, 4)
    assert _close(adjit.vmap(adjit.grad(s), target="cuda")(xs), adjit.vmap(adjit.grad(s))(xs),
                  np.float64)


def test_control_flow_and_matrix_products_run_with_device_kernels_around_them():
    def loop(x):
        while np.sum(x) < 10:
            x = x * 1.5 + 0.1
        return np.sum(x ** 2)

    def branch(x):
        return np.sum(np.exp(x)) if np.sum(x) > 0 else np.sum(x ** 3)

    def mlp(w, x):
        return np.sum(np.maximum(w @ x, 0) ** 2)

    w = np.linspace(-1, 1, 12).reshape(4, 3)
    for f, args in ((loop, (np.ones(3),)), (branch, (np.ones(3),)), (branch, (-np.ones(3),)),
                    (mlp, (w, np.array([0.5, -1.0, 2.0])))):
        assert _close(adjit.grad(f, target="cuda")(*args), adjit.grad(f)(*args), np.float64)


@pytest.mark.parametrize("target", ["python", "cuda"])
def test_loops_and_branches_run_their_bodies_as_programs_of_their_own(target):
    """cond/while/while_grad: the host decides, the sub-graphs' kernels run on the target;
    a while and its while_grad share one forward loop (the tape)."""
    from control_graphs import euler, newton_sqrt, tutorial

    def nested(x):
        s = 0.0
        while s < 5.0:
            s = s + np.sum(x ** 2) if np.sum(x) > 0 else s + 1.0
        return s * np.sum(np.sin(x))

    cases = [(tutorial, (np.array([0.5, -0.2, 0.3]),)), (tutorial, (-np.ones(3),)),
             (newton_sqrt, (2.0,)), (euler, (np.linspace(0, 1, 4), np.array(6), 0.1)),
             (nested, (np.array([0.3, 0.4]),))]
    for f, args in cases:
        spec = adjit.value_and_grad(f).specialize(args)
        call = [a for a, dt in zip(args, spec.in_dtypes, strict=True) if dt is not None]
        program = lower(spec.final, spec.plan)
        assert "control" in str(program)
        got = compile_program(program, target)(*call)
        for g, r in zip(got, evaluate(spec.final, *call), strict=True):
            g = g.copy_to_host() if is_device_array(g) else g
            assert _close(g, r, np.float64), (f.__name__, g, r)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matrix_products_run_on_the_device_tiled(dtype, monkeypatch):
    """Products (batched, transposed in the gradient) by the tiled shared-memory kernel (small
    ones: the simulator sends larger products to the host, its barriers being slow)."""
    from adjit.codegen import cuda_kernels

    launches = []
    real = cuda_kernels.launch_matmul
    monkeypatch.setattr(cuda_kernels, "launch_matmul",
                        lambda *a: (launches.append(a[2].shape), real(*a))[1])
    rng = np.random.default_rng(1)
    w1, w2, x = (rng.normal(size=s).astype(dtype) for s in ((7, 5), (3, 7), (5, 6)))

    def mlp(w1, w2, x):
        return np.sum(np.tanh(w2 @ np.tanh(w1 @ x)) ** 2)

    got = adjit.grad(mlp, argnums=(0, 1), target="cuda")(w1, w2, x)
    ref = adjit.grad(mlp, argnums=(0, 1))(w1, w2, x)
    assert all(_close(g, r, dtype) for g, r in zip(got, ref, strict=True))
    a, b = rng.normal(size=(2, 3, 4)).astype(dtype), rng.normal(size=(2, 4, 5)).astype(dtype)
    assert _close(adjit.jit(lambda p, q: p @ q, target="cuda")(a, b), a @ b, dtype)
    ins = adjit.inspect(adjit.jit(lambda p, q: p @ q, target="cuda"), a, b)
    assert "call a" in str(ins.loops)  # a step of its own, run by cuda_kernels.matmul
    assert len(launches) >= 5 and (2, 3, 5) in launches


def test_scatter_gradients_accumulate_atomically():
    """Repeated indices: every thread adds into shared elements (cuda.atomic.add)."""
    idx = np.array([0, 2, 2, 1, 0, 0])

    def f(x):
        return np.sum(x[idx] ** 2)

    x = np.array([1.0, 2.0, 3.0])
    assert _close(adjit.grad(f, target="cuda")(x), adjit.grad(f)(x), np.float64)


def test_the_kernels_are_grid_stride_loops_with_a_block_tree_sum_for_a_full_sum():
    ins = adjit.inspect(lambda x: np.sum(np.exp(x) * x), np.ones(64), target="cuda")
    assert "loops" in ins.names()
    assert "for parallel i0 in 0..64:" in str(ins.loops)  # the schedule, shown in the IR
    assert "(atomic, block)" in str(ins.loops)
    src = ins.source
    assert "@cuda.jit" in src and "range(cuda.grid(1), 64, cuda.gridsize(1))" in src
    assert src.count("cuda.atomic.add") == 1  # once per block, after the tree in shared memory
    assert "cuda.shared.array" in src and "cuda.syncthreads()" in src
    # one fused kernel: forward and backward in the same launch
    assert len(ins.spec.fn.module.launches) == 1
    # a max has no atomic form here: its launch is serial, and says so
    serial = adjit.inspect(lambda x: np.max(np.exp(x)), np.ones(8), target="cuda")
    launches = [ln for lns in serial.spec.fn.module.launches.values() for ln in lns]
    assert any(ln.serial for ln in launches)


def test_the_verifier_rejects_a_read_of_a_buffer_no_step_writes():
    k = LoopKernel("k0", [Store("y", (Const(0, "i64"),), Load("nowhere", (Idx(0),)))])
    with pytest.raises(CodegenError, match="nowhere"):
        verify(Program("p", [], [], [k], [], []))


def test_an_unknown_target_is_refused():
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        adjit.grad(_loss, target="tpu")


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "0",
                    reason="checks the machine without the simulator")
def test_without_a_gpu_or_the_simulator_the_error_says_what_to_do():
    script = textwrap.dedent("""
        import numpy as np, adjit
        from numba import cuda
        if cuda.is_available():
            print("HAS-GPU")
        else:
            try:
                adjit.grad(lambda x: np.sum(x * x), target="cuda")(np.ones(3))
            except adjit.AdjitError as e:
                print(type(e).__name__, e)
    """)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=120).stdout
    if "HAS-GPU" in out:
        pytest.skip("this machine has a GPU")
    assert "no CUDA GPU" in out and "NUMBA_ENABLE_CUDASIM=1" in out
    assert "<string>:8 in <module>" in out  # the user's call (line 8 of the script)


def test_guards_aux_pytrees_and_captured_arrays_with_device_arrays():
    x = np.linspace(-1, 1, 6)
    dx = cuda.to_device(x)

    def guarded(v):  # a Python int from a traced value: a guard, checked on the device
        n = int(np.argmax(v))
        return np.sum(v[:n + 1] ** 2)

    assert _close(adjit.grad(guarded, target="cuda")(dx).copy_to_host(),
                  adjit.grad(guarded)(x), np.float64)

    def with_aux(v):
        return np.sum(v ** 2), v * 2

    g, aux = adjit.grad(with_aux, has_aux=True, target="cuda")(dx)
    assert is_device_array(g) and _close(aux.copy_to_host(), 2 * x, np.float64)

    def tree(p, v):
        return np.sum(p["w"] * v + p["b"])

    grads = adjit.grad(tree, target="cuda")({"w": dx, "b": cuda.to_device(np.ones(6))}, x)
    assert _close(grads["w"].copy_to_host(), x, np.float64)

    c = np.arange(6.0)

    def captured(v):
        return np.sum(v * c)

    g = adjit.grad(captured, target="cuda")
    assert _close(g(x), np.arange(6.0), np.float64)
    c[:] = 1.0  # the captured array is read at every call, never stale
    assert _close(g(x), np.ones(6), np.float64)


def test_arguments_named_like_the_generated_code_are_renamed():
    """Parameters called `half`, `cuda`, `tid`, `math` would shadow the printed kernels'
    own names (the block sum's locals, modules)."""
    def f(half, cuda, tid, math):
        return np.sum(half * cuda) + np.sum(np.exp(half)) + np.sum(tid ** 2 * math)

    args = (np.ones(40), np.arange(40.0), np.linspace(0, 1, 40), 2.0)
    got = adjit.grad(f, argnums=(0, 1, 2), target="cuda")(*args)
    ref = adjit.grad(f, argnums=(0, 1, 2))(*args)
    assert all(_close(g, r, np.float64) for g, r in zip(got, ref, strict=True))


def test_a_cond_operand_no_branch_reads_is_passed_as_a_placeholder():
    """Forward mode through `if`: the branches of the JVP read only the tangent, so the
    primal operand stays fused in its loop nest and has no buffer; the lowering used to pass
    that buffer anyway ('cond: reads a0 before it exists')."""
    def f(a):
        b = a * 2
        c = b if b.sum() > 0 else 100 * b
        return c.sum()

    for a in (np.array([0.3, -0.2, 0.5]), -np.ones(3)):
        for t in (adjit.jacfwd, adjit.hessian):
            assert _close(t(f, target="cuda")(a), t(f)(a), np.float64)


def test_a_captured_device_array_is_read_at_every_call():
    """A device array in a closure was converted to a constant at the first trace (numpy
    read it through __array__), so a later change to it was silently ignored, on either
    target. It is an extra input now, read in place, like a captured float ndarray; numpy
    arguments still give numpy results."""
    c = cuda.to_device(np.arange(4.0))
    x = np.ones((3, 4))
    on_gpu = adjit.grad(lambda v: np.sum(v * c), target="cuda")
    on_cpu = adjit.grad(lambda v: np.sum(v * c))
    for g in (on_gpu, on_cpu):
        got = g(x)
        assert type(got) is np.ndarray and _close(got, np.tile(np.arange(4.0), (3, 1)), "f8")
    c.copy_to_device(np.full(4, 2.0))
    for g in (on_gpu, on_cpu):
        assert _close(g(x), np.full((3, 4), 2.0), np.float64)
    assert is_device_array(on_gpu(cuda.to_device(x)))
    k = cuda.to_device(np.array([0, 2, 1, 1]))  # integer: a constant, guarded by its contents
    h = adjit.grad(lambda v: np.sum(v * k * 2.0), target="cuda")
    assert _close(h(x), np.tile([0.0, 4.0, 2.0, 2.0], (3, 1)), np.float64)
    k.copy_to_device(np.array([1, 1, 1, 1]))
    assert _close(h(x), np.full((3, 4), 2.0), np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_and_inf_as_on_a_gpu_not_python_exceptions(dtype):
    """Under the simulator the kernels are Python: math.log(-3.0) and math.sqrt(-3.0)
    raised ValueError, math.exp(800.0) OverflowError, and 0.5 / math.sqrt(0.0) (the
    gradient of sqrt at 0) ZeroDivisionError, where a GPU and the CPU target give nan and
    inf: np.where(x > 0, np.log(x), x), which evaluates both sides, could not run."""
    x = np.array([1.0, -3.0, 0.0, 4.0, 800.0], dtype)
    cases = [(adjit.grad, lambda v: np.sum(np.where(v > 0, np.log(v), v))),
             (adjit.grad, lambda v: np.sum(np.sqrt(v * v))),
             (adjit.grad, lambda v: np.sum(np.logaddexp(v, 2 * v))),
             (adjit.jit, lambda v: np.exp(v) + np.arcsin(v) + v ** 0.5 + np.log1p(-v))]
    with np.errstate(all="ignore"):
        for t, f in cases:
            got, ref = t(f, target="cuda")(x), t(f)(x)
            assert got.dtype == ref.dtype and _close(got, ref, dtype), (got, ref)


@pytest.mark.parametrize("target", ["cpu", "cuda"])
def test_jacobians_of_one_array_with_pytree_outputs(target):
    """jacrev/jacfwd of a function of one array that returns a tuple or dict raised
    ('cannot use a dict as an array', numpy's 'inhomogeneous shape'): only a pytree
    argument took the path that ravels the outputs. JAX's structure: out leaf shape +
    in shape at each output leaf."""
    w = np.arange(6.0).reshape(3, 2) / 5

    def f(w):
        return {"a": w.sum(0), "b": (np.sin(w), w[0, 0] * 2.0)}

    want = {"a": np.tile(np.eye(2), (3, 1, 1)).transpose(1, 0, 2),
            "b": (np.diag(np.cos(w).ravel()).reshape(3, 2, 3, 2),
                  2.0 * np.eye(6)[0].reshape(3, 2))}
    for jac in (adjit.jacrev, adjit.jacfwd):
        got = jac(f, target=target)(w)
        assert _close(got["a"], want["a"], np.float64)
        assert _close(got["b"][0], want["b"][0], np.float64)
        assert _close(got["b"][1], want["b"][1], np.float64)
    s = adjit.jacfwd(lambda s: (s ** 2, s * np.ones(2)), target=target)(0.5)
    assert _close(s[0], 1.0, np.float64) and _close(s[1], np.ones(2), np.float64)


@pytest.mark.parametrize("target", ["cpu", "cuda"])
def test_complex_log_of_zero_is_minus_inf_not_a_python_error(target):
    """cmath.log(0j) and cmath.exp(800) raise in Python: the simulated kernels and the CPU
    target's first (plain-Python) calls raised ValueError / OverflowError where numba on
    either target gives -inf and inf."""
    z = np.array([1 + 2j, -0.5 + 0.3j, 0j])
    f = adjit.jit(lambda z: np.log(z * z) + np.exp(z * 400), target=target)
    with np.errstate(all="ignore"):
        want = np.log(z * z) + np.exp(z * 400)
        got = f(z)
    assert np.isneginf(got[2].real) and np.allclose(got[:2], want[:2])
