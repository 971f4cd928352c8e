"""Every corpus function through trace -> adjoint -> prune -> simplify, run by the reference
interpreter: the traced graph equals numpy, the gradients equal finite differences, and each
pass preserves the values of the one before."""
from __future__ import annotations

import numpy as np
import pytest
from check import numeric_jacobian
from functions import CASES, Case

from adjit.ir import evaluate
from adjit.ir.verify import verify
from adjit.passes.pipeline import differentiate
from adjit.tracer import trace


def _static(args: tuple) -> tuple[int, ...]:
    """Python ints are static arguments, as adjit's runtime treats them."""
    return tuple(i for i, a in enumerate(args) if type(a) in (int, bool))


def _graph_args(case: Case, args: tuple) -> list:
    return [np.asarray(a) for i, a in enumerate(args) if i not in _static(args)]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_corpus_through_passes(case: Case) -> None:
    args = case.args()
    traced = trace(case.fn, args, _static(args))
    verify(traced.graph)
    (value,) = evaluate(traced.graph, *_graph_args(case, args))
    with np.errstate(all="ignore"):
        expected = case.fn(*args)
    np.testing.assert_allclose(value, expected, rtol=1e-5 if value.dtype == np.float32 else 1e-12)

    argnums = [i for i in case.argnums]
    st = differentiate(traced.graph, argnums)
    results = {}
    for name in ("joint", "pruned", "simplified"):
        g = getattr(st, name)
        verify(g)
        results[name] = evaluate(g, *_graph_args(case, args))
    for name in ("pruned", "simplified"):
        for a, b in zip(results["joint"], results[name], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    grads = results["simplified"][1:]
    for i, g in zip(argnums, grads, strict=True):
        assert g.shape == np.shape(args[i])
        assert g.dtype == np.asarray(args[i]).dtype
        fd = numeric_jacobian(case.fn, *args, argnum=i)
        tol = 2e-3 if g.dtype == np.float32 else 1e-5
        np.testing.assert_allclose(g, fd, rtol=tol, atol=tol)
