"""The joint graphs the performance targets are measured on: golden structure of the generated
code, and numba and plain Python against the reference interpreter."""
from __future__ import annotations

import re

import numpy as np
import pytest
from adjit.codegen.cpu import emit_cpu
from adjit.codegen.scalar import literal
from adjit.passes.fuse import fuse
from codegen_graphs import TRICKY, mlp, random_args, rosenbrock, softmax_ce, sum_x2_exp, tanh_expr
from conftest import Compiler, check_against_evaluate


def _code(text: str) -> list[str]:
    """The generated lines without comments and blank lines."""
    return [ln.split("#")[0].rstrip() for ln in text.splitlines()
            if ln.strip() and not ln.strip().startswith("#")]


def _count(text: str, pattern: str) -> int:
    return sum(len(re.findall(pattern, ln)) for ln in _code(text))


@pytest.mark.parametrize("dtype", ["f64", "f32"])
def test_sum_x2_exp_is_one_loop(dtype: str, compiled: Compiler) -> None:
    c = compiled(("sum_x2_exp", dtype), lambda: sum_x2_exp(1000, dtype))
    assert len(c.plan.kernels) == 1 and c.plan.memory_passes == 1
    text = c.source.text
    assert _count(text, r"\bfor\b") == 1
    # no temporaries: the gradient output is the only array
    assert _count(text, r"np\.(empty|zeros|full)\b") == 1
    assert re.search(r"a\d+\[i0\] = v\d+", text)
    check_against_evaluate(c, random_args(c.graph), dtype)


def test_tanh_expr_is_one_loop(compiled: Compiler) -> None:
    c = compiled("tanh_expr", lambda: tanh_expr(500))
    assert len(c.plan.kernels) == 1 and c.plan.memory_passes == 1
    assert _count(c.source.text, r"\bfor\b") == 1
    assert _count(c.source.text, r"np\.(empty|zeros|full)\b") == 2  # the two gradients
    check_against_evaluate(c, random_args(c.graph))


@pytest.mark.parametrize("dtype", ["f64", "f32"])
def test_softmax_ce_row_kernel(dtype: str, compiled: Compiler) -> None:
    c = compiled(("softmax", dtype), lambda: softmax_ce(8, 10, dtype))
    (k,) = c.plan.kernels
    assert k.kind == "loop" and k.domain == (8, 10)
    # one loop over rows, inner loops for: max, sum of exp, the sums that need the log-sum,
    # and the gradient; exp is written once per row to a scratch row and read back after
    assert k.passes == 4 and "= np.empty((10,)" in c.source.text \
        and _count(c.source.text, r"\b(math|fm)\.exp\(") == 1
    assert _count(c.source.text, r"^    for i0\b") == 1
    check_against_evaluate(c, random_args(c.graph), dtype)


@pytest.mark.parametrize("dtype", ["f64", "f32"])
def test_mlp(dtype: str, compiled: Compiler) -> None:
    c = compiled(("mlp", dtype), lambda: mlp(dtype=dtype))
    kinds = [k.kind for k in c.plan.kernels]
    # forward: BLAS, bias+tanh, BLAS, loss and its cotangent; backward: 2 BLAS, the tanh
    # derivative with the bias gradient, BLAS
    assert kinds == ["matmul", "loop", "matmul", "loop", "matmul", "matmul", "loop", "matmul"]
    assert c.plan.memory_passes == 8
    assert _count(c.source.text, r"np\.dot\(") == 5
    # bias gradients accumulate into zeroed arrays inside the elementwise loops
    assert _count(c.source.text, r"np\.zeros\(") == 2
    args = [a * s for a, s in zip(random_args(c.graph), (1, 0.3, 1, 0.3, 1, 1), strict=True)]
    check_against_evaluate(c, [a.astype(c.graph.inputs[0].type.np_dtype) for a in args], dtype)


def test_rosenbrock_gradient_is_stored_once_per_element(compiled: Compiler) -> None:
    """The gradient's two unslices are summed in the forward loop: the contribution to
    g[i + 1] is carried to the next iteration in a register, and each g[i] is stored once
    into np.empty (tests/codegen/test_accumulate.py has the details)."""
    c = compiled("rosenbrock", lambda: rosenbrock(50))
    assert len(c.plan.kernels) == 1 and c.plan.memory_passes == 1
    text = c.source.text
    assert _count(text, r"\bfor\b") == 1 and _count(text, r"np\.zeros\(") == 0
    # the value's sum, vectorized (codegen/fastmath.py)
    assert _count(text, r"np\.empty\(") == 1 and _count(text, r"\bv\d+ = fm\.reassoc_add\(") == 1
    assert _count(text, r"\+= ") == 0
    assert _count(text, r"a\d+\[i0\] = c\d+_1 \+ v\d+$") == 1
    assert _count(text, r"a\d+\[49\] = c\d+_1$") == 1
    check_against_evaluate(c, random_args(c.graph))


def test_one_statement_per_equation_with_comments(compiled: Compiler) -> None:
    c = compiled("tanh_expr", lambda: tanh_expr(500))
    text = c.source.text
    for line in c.plan.eqn_text:
        assert f"# {line}" in text, line
    # names come from the IR: inputs keep theirs, %3 is v3
    assert re.search(r"def tanh_expr_kernel\(x, y\):", text)
    assert re.search(r"\n\s+# %0 = sin x : f64\[500\]\n\s+v0 = math\.sin\(x\[i0\]\)", text)


@pytest.mark.parametrize("name", list(TRICKY))
def test_awkward_graphs(name: str, compiled: Compiler) -> None:
    c = compiled(("tricky", name), TRICKY[name])
    check_against_evaluate(c, random_args(c.graph))


def test_scalar_outputs_and_literals(compiled: Compiler) -> None:
    c = compiled(("tricky", "scalars"), TRICKY["scalars"])
    out = c(*random_args(c.graph))
    assert np.ndim(out[0]) == 0 and np.ndim(out[6]) == 0
    assert np.asarray(out[5]).shape == (1, 1)
    assert out[4] is not None and np.asarray(out[3]).tolist() == [0.0, 1.0]


def test_source_runs_without_the_jit() -> None:
    """The text is plain Python: exec it with numpy alone."""
    g = sum_x2_exp(7)
    src = emit_cpu(g, fuse(g), "f")
    ns: dict = {}
    exec(compile(src.text, "<generated>", "exec"), ns)  # noqa: S102  (our own text)
    x = np.linspace(-1, 1, 7)
    s, grad = ns["f"](x)
    np.testing.assert_allclose(s, np.sum(x ** 2 * np.exp(x)), rtol=1e-12)
    np.testing.assert_allclose(grad, (2 * x + x ** 2) * np.exp(x), rtol=1e-12)


def test_literals() -> None:
    assert literal(2.0, "f64") == "2.0"
    assert literal(-2.0, "f64") == "(-2.0)"
    assert literal(1.5, "f32") == "np.float32(1.5)"
    assert literal(float("inf"), "f64") == "np.inf"
    assert literal(float("-inf"), "f32") == "np.float32((-np.inf))"
    assert literal(float("nan"), "f64") == "np.nan"
    assert literal(-3, "i64") == "(-3)" and literal(3, "i32") == "np.int32(3)"
    assert literal(1, "bool") == "True"
