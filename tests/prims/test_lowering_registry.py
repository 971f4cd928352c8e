"""Every primitive declares how it lowers (ir/primitive.py `Lowering`) and lowers on every
target: one graph per primitive (its first case in prim_cases.py), fused, lowered to the loop
IR and run by the loop IR's serial interpreter and by the CUDA back end (numba's simulator in
CI), and rendered by the CPU back end (run as plain Python), each against the primitive's own
reference implementation."""
from __future__ import annotations

import ast
import builtins
import pathlib

import numpy as np
import pytest
from adjit.codegen.compile import compile_source
from adjit.codegen.cpu import emit_cpu
from adjit.codegen.cuda_runtime import compile_program, is_device_array
from adjit.ir import PRIMS, ArrayType, Builder, Lit, Var, building, emit_multi
from adjit.ir.primitive import SCALAR, Lowering
from adjit.passes.fuse import fuse
from adjit.passes.lower import lower
from prim_cases import CASES

FIRST = {}
for _c in CASES:
    FIRST.setdefault(_c.prim, _c)
# (not_differentiable only marks an error the adjoint pass raises: it never reaches code)
LOOPS = sorted(n for n in FIRST if PRIMS[n].lowers.how != "control"
               and n != "not_differentiable")


def test_every_primitive_declares_its_lowering() -> None:
    for name, prim in PRIMS.items():
        low = prim.lowers
        assert isinstance(low, Lowering), name
        if low.how in (SCALAR, "remap"):
            assert low.index is not None, f"{name} is read at an index: it needs `index`"
        if low.how in ("reduce", "scan", "accumulate"):
            assert low.op, f"{name} combines elements: it needs `op`"
        if low.how == "accumulate":
            assert low.target is not None, f"{name} accumulates: it needs `target`"


def _string_constants(path: pathlib.Path) -> list[str]:
    """The string constants of a module's code (docstrings and comments are not code)."""
    tree = ast.parse(path.read_text())
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)
            and isinstance(n.value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docs]


def test_the_back_end_does_not_switch_on_primitive_names() -> None:
    """Fusion, lowering, scheduling and the CPU and CUDA printers name no primitive but control
    flow, and those in a handful of places: what they do with a primitive comes from its
    declarations (`Lowering`, `ScalarCode`). Python's builtins (`abs`) are not primitives."""
    root = pathlib.Path(__file__).parents[2]
    files = [root / "passes" / f for f in ("fuse.py", "plan.py", "lower.py", "lower_calls.py",
                                           "schedule_cuda.py")]
    files += sorted((root / "codegen").glob("cpu*.py"))
    files += sorted((root / "codegen").glob("cuda*.py"))
    files += [root / "codegen" / f for f in ("scalar.py", "parallel.py", "split.py",
                                             "loop_expr.py")]
    control = {"cond", "while", "while_grad"}
    names = set(PRIMS) - {"argmax", "argmin"} - set(dir(builtins))  # (also operator names)
    found = [(f.name, lit) for f in files for lit in _string_constants(f) if lit in names]
    assert [x for x in found if x[1] not in control] == []
    assert len(found) <= 15, found


@pytest.mark.parametrize("name", LOOPS)
@pytest.mark.parametrize("target", ["python", "cuda", "cpu"])
def test_every_primitive_lowers_on_every_target(name: str, target: str, tmp_path) -> None:
    if target == "cuda":
        from numba import cuda

        if not cuda.is_available():
            pytest.skip("no CUDA GPU and NUMBA_ENABLE_CUDASIM is not set")
    case = FIRST[name]
    inputs = case.make(np.random.default_rng(0), "float64")
    ins = [Var(ArrayType.of(a), f"x{i}")
           for i, a in enumerate(inputs) if i not in case.const]
    with building(Builder()) as b:
        it = iter(ins)
        args = [Lit.make(a, ArrayType.of(a).dtype) if i in case.const else next(it)
                for i, a in enumerate(inputs)]
        outs = emit_multi(name, *args, **case.params)
        graph = b.graph(name, tuple(ins), tuple(outs))
    live = [a for i, a in enumerate(inputs) if i not in case.const]
    ref = PRIMS[name].impl(*inputs, **case.params)
    ref = ref if isinstance(ref, tuple) else (ref,)
    plan = fuse(graph)
    if target == "cpu":
        fn = compile_source(emit_cpu(graph, plan, "k"), tmp_path, jit=False)
        src_consts = emit_cpu(graph, plan, "k").consts
        got = fn(*live, *src_consts)
    else:
        got = compile_program(lower(graph, plan), target)(*live)
    for g, r in zip(got, ref, strict=True):
        g = g.copy_to_host() if is_device_array(g) else g
        assert np.allclose(np.asarray(g), r, rtol=1e-10, atol=1e-12, equal_nan=True), (name, g, r)
