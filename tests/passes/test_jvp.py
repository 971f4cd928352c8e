"""Forward mode on the corpus: J t from the jvp graph equals <grad, t> from the adjoint graph,
and both equal finite differences; simplify keeps the values."""
from __future__ import annotations

import numpy as np
import pytest
from check import directional_derivative
from functions import CASES, Case

from adjit.ir import evaluate
from adjit.ir.verify import verify
from adjit.passes.adjoint import adjoint
from adjit.passes.jvp import jvp
from adjit.passes.simplify import simplify
from adjit.tracer import trace

_SAMPLE = [c for c in CASES if c.name in {
    "poly", "trig", "exp_log", "where_clip", "sum_tuple_keepdims", "prod_with_zero", "max_min",
    "matmul_batched", "einsum_bij_bjk", "basic_slices", "fancy_2d", "take_along_axis",
    "softmax_xent", "mlp", "rosenbrock", "cumsum", "traced_bool_mask", "concatenate_stack",
    "float32", "tile_repeat", "roll_flip"}]


@pytest.mark.parametrize("case", _SAMPLE, ids=repr)
def test_jvp_matches_adjoint_and_finite_differences(case: Case) -> None:
    args = case.args()
    g = trace(case.fn, args).graph
    rng = np.random.default_rng(1)
    tans = [rng.normal(size=np.shape(args[i])).astype(np.asarray(args[i]).dtype)
            for i in case.argnums]
    fwd = jvp(g, case.argnums)
    verify(fwd)
    arrays = [np.asarray(a) for a in args]
    (_, jt) = evaluate(fwd, *arrays, *tans)
    (_, jt_s) = evaluate(simplify(fwd), *arrays, *tans)
    np.testing.assert_allclose(jt, jt_s, rtol=1e-12, atol=1e-12)
    grads = evaluate(adjoint(g, case.argnums), *arrays)[1:]
    dot = sum(float(np.sum(gr.astype(np.float64) * t)) for gr, t in zip(grads, tans, strict=True))
    tol = 2e-3 if jt.dtype == np.float32 else 1e-7
    np.testing.assert_allclose(jt, dot, rtol=tol, atol=tol)
    fd = directional_derivative(case.fn, *args, tangents=dict(zip(case.argnums, tans,
                                                                  strict=True)))
    np.testing.assert_allclose(jt, fd, rtol=max(tol, 1e-5), atol=max(tol, 1e-6))
