"""Every primitive compiles: the numba function and the same text as plain Python equal the
reference interpreter, in float64, float32 and (where it makes sense) integers.

Cases are grouped ten primitives to a graph, so that a few numba compiles cover them all.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from adjit.ir import PRIMS, ArrayType, Builder, Var, building, emit, evaluate, ops
from codegen_graphs import INT_CASES, PRIM_CASES, build_group
from conftest import Compiler, assert_matches, tolerance

GROUP = 10
NAMES = list(PRIM_CASES)


def _group_of(name: str, dtype: str) -> tuple[str, ...]:
    names = NAMES if dtype in ("f32", "f64") else [n for n in NAMES if n in INT_CASES]
    i = names.index(name) // GROUP * GROUP
    return tuple(names[i:i + GROUP])


def test_every_primitive_has_a_case() -> None:
    """A new primitive without a codegen case fails here (except those a pass replaces
    before code generation, e.g. custom_vjp by its forward graph)."""
    from adjit.ir.prims.special_decls import SPECIAL_DECLS

    lowered = {n for n, p in PRIMS.items() if not p.extra.get("inlined_before_codegen")}
    # scipy.special's kernels are compiled and checked against scipy, f64 and f32, in
    # tests/prims/test_special.py; `not_differentiable` never reaches code generation (the
    # pipeline refuses a graph that keeps it)
    special = {d.name for d in SPECIAL_DECLS} | {"not_differentiable"}
    assert set(PRIM_CASES) == lowered - special


# The two groups of library and control-flow primitives (linalg; cond, while, conv, pools)
# are the slowest numba compiles of the suite (~1 min each): float64 only here. Their float32
# code is compiled in tests/tracer/test_np_linalg.py (float32 stays float32),
# tests/prims/test_eager_kernels.py (conv, float32) and tests/runtime's control-flow tests.
HEAVY = set(_group_of("triangular_solve", "f64")) | set(_group_of("cond", "f64"))
PARAMS = [(n, dt) for dt in ("f64", "f32") for n in NAMES if dt == "f64" or n not in HEAVY] + \
         [(n, "i64") for n in NAMES if n in INT_CASES] + \
         [(n, "i32") for n in ("add", "mul", "reduce_sum", "cumsum", "argmax", "matmul")]


@pytest.mark.parametrize("name,dtype", PARAMS, ids=[f"{n}-{d}" for n, d in PARAMS])
def test_primitive(name: str, dtype: str, compiled: Compiler) -> None:
    names = _group_of(name, dtype) if dtype != "i32" else ("add", "mul", "reduce_sum", "cumsum",
                                                           "argmax", "matmul")
    # build_group is deterministic: the same arguments and tags every call
    c = compiled(("group", names, dtype), lambda: build_group(names, dtype)[0])
    _, args, tags = build_group(names, dtype)
    ref = evaluate(c.graph, *args)
    wanted = [i for i, t in enumerate(tags) if t == name]
    assert wanted
    got, got_py = c(*args), c.run_py(*args)
    for i in wanted:
        assert_matches(got[i], ref[i], tolerance(dtype), f"{name} output {i} (numba)")
        assert_matches(got_py[i], ref[i], tolerance(dtype), f"{name} output {i} (plain Python)")


def test_special_values(compiled: Compiler) -> None:
    """NaN, infinities, ties and signed zeros follow numpy (numba only: plain Python's math
    raises where numpy returns inf)."""
    vals = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 1.0, -2.0, 800.0, -800.0, 1e-300])
    x = Var(ArrayType("f64", vals.shape), "x")
    y = Var(ArrayType("f64", vals.shape), "y")

    def make():
        with building(Builder()) as b:
            outs = [ops.maximum(x, y), ops.minimum(x, y), ops.ew("sign", x), ops.abs(x),
                    ops.tanh(x), ops.exp(x), ops.ew("logistic", x), ops.ew("logaddexp", x, y),
                    emit("reduce_max", x, axes=(0,)), emit("reduce_min", y, axes=(0,)),
                    emit("argmax", x, axis=0), emit("argmin", y, axis=0),
                    emit("argmax", y, axis=0), ops.ew("floor", y), ops.div(x, y),
                    ops.ew("relu", x)]
            return b.graph("special", (x, y), tuple(outs))

    c = compiled("special", make)
    yv = np.roll(vals, 3)
    ref = evaluate(c.graph, vals, yv)
    for i, (out, r) in enumerate(zip(c(vals, yv), ref, strict=True)):
        assert_matches(out, r, 1e-15, f"output {i}")
        if i == 2:  # the IR's `sign` template gives -0.0 at -0.0 where numpy gives 0.0
            continue
        np.testing.assert_array_equal(np.signbit(np.asarray(out)[~np.isnan(r)]),
                                      np.signbit(r[~np.isnan(r)]), err_msg=f"sign of {i}")
    relu = ref[-1]  # PyTorch's: NaN kept, -0.0 kept, +0.0 for negatives (checked above)
    assert np.isnan(relu[0]) and np.signbit(relu[4]) and relu[7] == 0 and not np.signbit(relu[7])


def test_float32_stays_float32(compiled: Compiler) -> None:
    """Literals in float32 code are float32, so numba keeps float32 arithmetic in float32."""
    names = _group_of("tanh", "f32")
    c = compiled(("group", names, "f32"), lambda: build_group(names, "f32")[0])
    code = "\n".join(ln.split("#")[0] for ln in c.source.text.splitlines())
    bare = [m.group(0) for m in re.finditer(r"(?<![\w.(])\d+\.\d*(?:e[-+]?\d+)?(?!\d)", code)]
    assert not bare, f"float literals outside np.float32(...): {bare[:5]}"
    args = build_group(names, "f32")[1]
    c(*args)
    (cres,) = c.fn.overloads.values()
    scalars = {str(t) for name, t in cres.type_annotation.typemap.items()
               if re.fullmatch(r"v\d+(_\w+)?(\.\d+)?", name) and "array" not in str(t)}
    assert "float32" in scalars and "float64" not in scalars, scalars
