"""Golden IR text for seed F1 at every stage before codegen (locations stripped)."""
from __future__ import annotations

import numpy as np

from adjit.ir import parse
from adjit.passes.pipeline import differentiate
from adjit.tracer import trace


def f1(x):  # noqa: ANN001, ANN201
    return 2 * np.dot(x, x)


TRACED = """\
graph f1(x: f64[4]) -> f64[]:
  %0 = mul x, x : f64[4]
  %1 = reduce_sum[axes=(0,)] %0 : f64[]
  %2 = mul 2.0, %1 : f64[]
  return %2"""

SIMPLIFIED = """\
graph f1_vjp(x: f64[4]) -> (f64[], f64[4]):
  # adjoint wrt x
  %0 = mul x, x : f64[4]
  %1 = reduce_sum[axes=(0,)] %0 : f64[]
  %2 = mul 2.0, %1 : f64[]
  %3 = mul x, 4.0 : f64[4]
  return %2, %3"""


def test_f1_golden() -> None:
    st = differentiate(trace(f1, [np.arange(4.0)]).graph, [0])
    assert st.traced.format(locs=False) == TRACED
    assert st.simplified.format(locs=False) == SIMPLIFIED
    assert "vjp(mul)" in str(st.simplified) and "test_golden_f1.py:12" in str(st.traced)
    assert parse(str(st.simplified)).format(locs=False) == SIMPLIFIED
