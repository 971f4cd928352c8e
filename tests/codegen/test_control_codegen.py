"""cond / while / while_grad compiled: the branch and the trip count are decided inside the
generated code (one numba compilation serves every input), and every output equals the
reference interpreter's, in numba and as plain Python (ADJIT_NOJIT), on inputs that take
each branch, run a loop zero times, a few times, and 10,000 times (the tape grows)."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from adjit.codegen.cpu import emit_cpu
from adjit.ir import ArrayType, Graph, Lit, Var, emit_multi, evaluate, ops
from adjit.ir.verify import verify
from adjit.passes.fuse import fuse
from adjit.passes.jvp import jvp
from adjit.passes.pipeline import differentiate
from adjit.passes.simplify import simplify
from conftest import Compiled, Compiler, assert_matches
from control_graphs import F, S, graph, tutorial_graph

I = ArrayType("i64", ())
M = ArrayType("f64", (3, 3))


_graph = graph


# ---- graphs ----------------------------------------------------------------------------------

tutorial = tutorial_graph


def euler() -> Graph:
    """t = t0; x = x0; while t < 1: t, x = t + dt, x + dt*sin(x)*w; sum(x*x). Scalar and
    array consts, scalar and array carried values; dt = 1e-4 runs 10,000 iterations."""
    cond = _graph("cond", [S, F, S, F], lambda dt, w, t, x: ops.ew("lt", t, 1.0))
    body = _graph("body", [S, F, S, F], lambda dt, w, t, x: [
        ops.add(t, dt), ops.add(x, ops.mul(dt, ops.mul(ops.ew("sin", x), w)))])

    def f(dt: Var, w: Var, t0: Var, x0: Var) -> Var:
        _, x = emit_multi("while", dt, w, t0, x0, cond=cond, body=body, n_consts=2)
        return ops.reduce_sum(ops.mul(x, x), (0,))

    return _graph("euler", [S, F, S, F], f, "dt w t0 x0")


def nested() -> Graph:
    """A counted loop (i64 counter, limit n) whose body does a matmul, adds an array
    constant and branches on the sign of a sum; a 2-d carried value."""
    big = Lit.make(np.array([0.1, -0.2, 0.3]))
    small = _graph("small", [F], lambda y: [ops.mul(y, -0.5)])
    large = _graph("large", [F], lambda y: [ops.add(ops.ew("tanh", y), big)])

    def body_fn(m: Var, n: Var, k: Var, x: Var, h: Var) -> list:
        y = ops.reshape(ops.matmul(m, ops.reshape(x, (3, 1))), (3,))
        pred = ops.ew("gt", ops.reduce_sum(y, (0,)), 0.0)
        (z,) = emit_multi("cond", pred, y, branches=(small, large))
        h2 = ops.add(ops.mul(h, 0.9), ops.broadcast_to(ops.reshape(z, (1, 3)), (2, 3)))
        return [ops.add(k, Lit.make(np.int64(1))), z, h2]

    types = [M, I, I, F, ArrayType("f64", (2, 3))]
    cond = _graph("cond", types, lambda m, n, k, x, h: ops.ew("lt", k, n))
    body = _graph("body", types, body_fn)

    def f(m: Var, n: Var, x: Var, h: Var) -> list:
        k, x2, h2 = emit_multi("while", m, n, Lit.make(np.int64(0)), x, h, cond=cond, body=body,
                               n_consts=2)
        return [ops.add(ops.reduce_sum(x2, (0,)), ops.reduce_sum(ops.mul(h2, h2), (0, 1))), k]

    return _graph("nested", [M, I, F, ArrayType("f64", (2, 3))], f, "m n x h")


def branches() -> Graph:
    """A cond with several outputs: an array, a 0-d float, a 0-d integer (a literal in one
    branch), with a reduction and an exp inside."""
    other = _graph("other", [S, F], lambda p, x: [ops.mul(x, p), ops.reduce_sum(x, (0,)),
                                                  ops.convert(p, "i64")])
    then = _graph("then", [S, F], lambda p, x: [ops.ew("exp", x), ops.mul(p, 2.0),
                                                Lit.make(np.int64(7))])

    def f(p: Var, x: Var) -> list:
        a, s, i = emit_multi("cond", ops.ew("gt", p, 0.0), p, x, branches=(other, then))
        return [ops.add(ops.reduce_sum(ops.mul(a, a), (0,)), ops.mul(s, s)), i]

    return _graph("branches", [S, F], f, "p x")


def halve32() -> Graph:
    """float32: while sum(x*x) > 1: x = x * 0.5 * s."""
    F32 = ArrayType("f32", (4,))
    S32 = ArrayType("f32", ())
    cond = _graph("cond", [S32, F32], lambda s, x: ops.ew("gt", ops.reduce_sum(
        ops.mul(x, x), (0,)), 1.0))
    body = _graph("body", [S32, F32], lambda s, x: [ops.mul(ops.mul(x, 0.5), s)])

    def f(s: Var, x: Var) -> Var:
        (y,) = emit_multi("while", s, x, cond=cond, body=body, n_consts=1)
        return ops.reduce_sum(ops.ew("sin", y), (0,))

    return _graph("halve32", [S32, F32], f, "s x")


def nested_loops() -> Graph:
    """A data-dependent inner `while` in the body of a counted outer loop: the body's adjoint
    holds the inner loop's `while_grad`, planned and emitted as nested functions."""
    icond = _graph("icond", [F], lambda x: ops.ew("lt", ops.reduce_sum(ops.mul(x, x), (0,)),
                                                  10.0))
    ibody = _graph("ibody", [F], lambda x: ops.mul(x, 1.5))

    def body_fn(w: Var, k: Var, x: Var) -> list:
        (y,) = emit_multi("while", x, cond=icond, body=ibody, n_consts=0)
        return [ops.add(k, Lit.make(np.int64(1))), ops.add(ops.mul(y, 0.5), w)]

    cond = _graph("cond", [F, I, F], lambda w, k, x: ops.ew("lt", k, Lit.make(np.int64(3))))
    body = _graph("body", [F, I, F], body_fn)

    def f(w: Var, x: Var) -> Var:
        _, y = emit_multi("while", w, Lit.make(np.int64(0)), x, cond=cond, body=body,
                          n_consts=1)
        return ops.reduce_sum(ops.ew("sin", y), (0,))

    return _graph("nested_loops", [F, F], f, "w x")


def constants() -> Graph:
    """Array constants: a loop's initial value, a branch's result (read-only arrays that
    numba must unify with the arrays the functions allocate)."""
    c = Lit.make(np.array([1.0, 2.0, 3.0]))
    cond = _graph("cond", [S, F], lambda s, x: ops.ew("lt", ops.reduce_sum(x, (0,)), s))
    body = _graph("body", [S, F], lambda s, x: [ops.mul(x, 2.0)])
    then = _graph("then", [F], lambda x: [c])
    other = _graph("other", [F], lambda x: [ops.add(x, c)])

    def f(s: Var, p: Var) -> list:
        (x,) = emit_multi("while", s, c, cond=cond, body=body, n_consts=1)
        (y,) = emit_multi("cond", ops.ew("gt", p, 0.0), x, branches=(other, then))
        return [y, x]

    return _graph("constants", [S, S], f, "s p")


def grad_only() -> Graph:
    """The gradient of sum(while(x)) alone: no forward `while` to share, so the
    `while_grad` runs the loop and records its own tape."""
    cond = _graph("cond", [F], lambda x: ops.ew("lt", ops.reduce_sum(x, (0,)), 100.0))
    body = _graph("body", [F], lambda x: ops.mul(ops.ew("exp", ops.mul(x, 0.1)), x))
    g = _graph("grow", [F], lambda x: ops.reduce_sum(emit_multi(
        "while", x, cond=cond, body=body, n_consts=0)[0], (0,)), "x")
    joint = differentiate(g, [0]).simplified
    return simplify(joint.replace(name="grow_grad", outputs=joint.outputs[1:]))


def joint(make) -> Graph:
    g = make()
    wrt = [i for i, v in enumerate(g.inputs) if v.type.is_float]
    return differentiate(g, wrt, checks=True).simplified


GRAPHS = {
    "tutorial": tutorial, "tutorial_vjp": lambda: joint(tutorial),
    "euler": euler, "euler_vjp": lambda: joint(euler),
    "euler_jvp": lambda: jvp(euler(), [3]),
    "nested_vjp": lambda: joint(nested),
    "branches_vjp": lambda: joint(branches),
    "halve32_vjp": lambda: joint(halve32),
    "grad_only": grad_only,
    "nested_loops_vjp": lambda: joint(nested_loops),
    "constants": constants,
}

R = np.random.default_rng(0)
ARGS = {
    "tutorial": [[R.normal(size=3)] for _ in range(4)] + [[np.array([-1.0, 0.5, 0.2])],
                                                          [np.array([600.0, 0, 0])]],
    # dt: a few steps, one step, 10,000 steps; t0 >= 1: no step
    "euler": [[np.array(dt), np.array([0.5, 1.0, -0.3]), np.array(t0), np.array([0.2, -1.0, 2.0])]
              for dt, t0 in ((0.07, 0.0), (2.0, 0.0), (1e-4, 0.0), (0.1, 1.5))],
    "nested": [[R.normal(size=(3, 3)) * 0.8, np.array(n), R.normal(size=3),
                R.normal(size=(2, 3))] for n in (0, 1, 3, 40)],
    "branches": [[np.array(p), R.normal(size=3)] for p in (-0.5, 0.0, 0.7)],
    "halve32": [[np.array(s, np.float32), (R.normal(size=4) * k).astype(np.float32)]
                for s, k in ((0.9, 0.1), (1.0, 3.0), (0.5, 100.0))],
    "grow": [[np.array([0.5, 1.0, 2.0])], [np.array([50.0, 60.0, 1.0])],
             [np.array([0.01, 0.02, 0.01])]],
}
ARGS["tutorial_vjp"] = ARGS["tutorial"]
ARGS["euler_vjp"] = ARGS["euler"]
ARGS["euler_jvp"] = [a + [np.array([0.3, -0.2, 0.9])] for a in ARGS["euler"]]
ARGS["nested_vjp"] = ARGS["nested"]
ARGS["branches_vjp"] = ARGS["branches"]
ARGS["halve32_vjp"] = ARGS["halve32"]
ARGS["grad_only"] = ARGS["grow"]
ARGS["nested_loops_vjp"] = [[R.normal(size=3) * 0.3, R.normal(size=3) * k] for k in (0.1, 1, 5)]
ARGS["constants"] = [[np.array(s), np.array(p)] for s, p in ((0.0, 1.0), (100.0, -1.0))]


@pytest.fixture(scope="module")
def build(compiled: Compiler):
    def get(name: str) -> Compiled:
        return compiled(("control", name), GRAPHS[name])
    return get


@pytest.mark.parametrize("name", list(GRAPHS))
def test_matches_evaluate(name: str, build) -> None:
    c = build(name)
    verify(c.graph)
    rtol = 1e-5 if "32" in name else 1e-9
    for args in ARGS[name]:
        ref = evaluate(c.graph, *args)
        for mode, out in (("numba", c(*args)), ("plain", c.run_py(*args))):
            assert len(out) == len(ref)
            for i, (o, r) in enumerate(zip(out, ref, strict=True)):
                assert_matches(o, r, rtol, f"{name} output {i} ({mode})")
    # one compilation served every branch and trip count
    assert len(c.fn.signatures) == 1


def euler_trips(dt: np.ndarray, w: np.ndarray, t: np.ndarray, x: np.ndarray) -> int:
    n = 0
    while t < 1.0:
        t, n = t + dt, n + 1
    return n


def test_the_loops_run_0_to_10000_times() -> None:
    assert [euler_trips(*a) for a in ARGS["euler"]] == [15, 1, 10_001, 0]


def test_plan_and_source_show_the_control_flow(build) -> None:
    c = build("tutorial_vjp")
    text = str(c.plan)
    assert "k1 while" in text and "while k1_cond: k1_body" in text
    assert "if %8: k3_then else k3_else" in text
    assert "def k1_body(v0: f64[3]) -> f64[3]:" in text  # the sub-function's own plan
    src = c.source.text
    assert "    while tutorial_vjp_kernel_k1_cond(a1)[0]:" in src
    assert "    if v8:" in src and "for it6 in range(n1 - 1, -1, -1):" in src
    assert set(c.source.callees) == {f"tutorial_vjp_kernel_{n}" for n in (
        "k1_cond", "k1_body", "k3_then", "k3_else", "k5_then", "k5_else", "k6_body_vjp")}


def test_the_gradient_reuses_the_forward_loop(build) -> None:
    """The joint graph has `while` and `while_grad` on the same operands: the loop runs once,
    the `while` records the tape, the `while_grad` only walks it backwards."""
    c = build("euler_vjp")
    fwd, back = (k for k in c.plan.kernels if k.kind in ("while", "while_grad"))
    assert fwd.partner == back.index and back.partner == fwd.index
    # body_vjp reads dt, w and x (not t): only x is on the tape
    assert back.taped == (1,) and back.tape_row_bytes == 24
    assert c.source.text.count(f"while {c.source.name}_k{fwd.index}_cond(") == 1
    assert "forward shared with" in c.plan.format_kernel(back)
    # grad_only has no forward loop to share: its while_grad runs its own
    (k,) = [k for k in build("grad_only").plan.kernels if k.kind == "while_grad"]
    assert k.partner is None


def test_tape_bytes_debug_output(compiled: Compiler, cache_dir: pathlib.Path) -> None:
    from adjit.codegen.compile import compile_source

    g = joint(euler)
    src = emit_cpu(g, fuse(g), "euler_tape", tape_bytes=True)
    fn = compile_source(src, cache_dir, jit=False)
    for args in ARGS["euler"]:
        out = fn(*args)
        assert len(out) == len(g.outputs) + 1
        assert out[-1] == 24 * euler_trips(*args)  # the x of every iteration, 3 x 8 bytes


def test_a_second_process_loads_from_numba_cache(build, cache_dir: pathlib.Path) -> None:
    """The caller and its callees come from numba's disk cache: nothing is compiled."""
    c = build("tutorial_vjp")
    c(np.array([1.0, 2.0, 3.0]))  # compiled (and cached) in this process
    script = textwrap.dedent(f"""
        import pathlib, numpy as np
        from adjit.codegen.compile import compile_source
        from adjit.codegen.cpu import Source
        text = pathlib.Path({c.fn.__source_path__!r}).read_text()
        fn = compile_source(Source(text, {c.source.name!r}, (), {c.source.callees!r}),
                            pathlib.Path({str(cache_dir)!r}))
        fn(np.array([1.0, 2.0, 3.0]))
        print(sum(fn.stats.cache_hits.values()), sum(fn.stats.cache_misses.values()))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, env={**os.environ, "NUMBA_DISABLE_JIT": "0"})
    assert out.stdout.split() == ["1", "0"], out.stdout + out.stderr
