"""Each pass's docstring shows a before/after IR pair; it must stay true."""
from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["adjoint", "jvp", "simplify", "prune", "canonical", "feed"])
def test_pass_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"adjit.passes.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0


def test_loop_ir_docstring_examples() -> None:
    """ir/loops.py shows each construct as it prints."""
    module = importlib.import_module("adjit.ir.loops")
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted >= 6


def test_strength_reduction_of_small_integer_powers() -> None:
    """x**n (|n| <= 8), x**0.5 and x**-0.5 become multiplications, divides and sqrt, for
    values and derivatives alike, and agree with numpy's power to an ulp or two."""
    import numpy as np

    import adjit

    x = np.array([1.3, 0.7, 2.1, -1.5])
    for n in (2, 3, 4, 5, 7, 8, -1, -2, -3, 0.5, -0.5, 2.5, 9):
        xs = np.abs(x) if n != int(n) else x
        v, g = adjit.value_and_grad(lambda x, n=n: (x**n).sum())(xs)
        np.testing.assert_allclose(v, (xs**n).sum(), rtol=1e-14)
        np.testing.assert_allclose(g, n * xs ** (n - 1), rtol=1e-13)
        text = adjit.inspect(adjit.grad(lambda x, n=n: (x**n).sum()), xs).simplified
        uses_pow = " pow " in text.format(locs=False)
        assert uses_pow == (n in (2.5, 9, -0.5)), (n, text)  # -0.5: its derivative has x**-1.5
