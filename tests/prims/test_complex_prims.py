"""The complex and FFT primitives' rules against finite differences (complex oracle), their
shape rules against impl, and the complex branch of abs and convert."""
from __future__ import annotations

import sys
import pathlib

import numpy as np
import pytest
from adjit.ir import PRIMS, ArrayType

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))
from complex_check import check_prim  # noqa: E402
from prim_cases import CASES  # noqa: E402

COMPLEX = [pytest.param(c, id=c.id) for c in CASES if c.kind == "complex"]


@pytest.mark.parametrize("case", COMPLEX)
def test_rules(case) -> None:  # noqa: ANN001
    inputs = case.make(np.random.default_rng(0), "f64")
    check_prim(case.prim, inputs, case.params)


@pytest.mark.parametrize("case", COMPLEX)
def test_shape_rule_matches_impl(case) -> None:  # noqa: ANN001
    inputs = case.make(np.random.default_rng(1), "f64")
    t = PRIMS[case.prim].out_types(tuple(ArrayType.of(a) for a in inputs), case.params)[0]
    out = PRIMS[case.prim].impl(*inputs, **case.params)
    assert (out.shape, out.dtype) == (t.shape, t.np_dtype)


def test_abs_of_complex() -> None:
    z = np.array([3 + 4j, -1 + 0.5j, 0.2 - 2j])
    check_prim("abs", [z])


@pytest.mark.parametrize("src,dst", [("f64", "c128"), ("c128", "f64")])
def test_convert(src: str, dst: str) -> None:
    """real -> complex has a real cotangent (the real part); complex -> real drops the
    imaginary part, as numpy's astype."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal(5) + (1j * rng.standard_normal(5) if src[0] == "c" else 0)
    check_prim("convert", [x], {"dtype": dst})


@pytest.mark.parametrize("name,lo", [("exp", None), ("log", None), ("sqrt", None),
                                     ("sin", None), ("cos", None), ("tan", None),
                                     ("tanh", None), ("sinh", None), ("cosh", None),
                                     ("arcsin", None), ("arccos", None), ("arctan", None),
                                     ("expm1", None), ("log1p", None), ("log2", None),
                                     ("log10", None), ("exp2", None), ("logistic", None),
                                     ("mul", None), ("div", None), ("pow", None),
                                     ("add", None), ("sub", None), ("neg", None)])
def test_holomorphic_elementwise(name: str, lo: None) -> None:
    """The sympy-derived rules hold for complex operands unchanged (the VJP of a holomorphic
    f is ct * f'(z) under the pairing Re(c t))."""
    rng = np.random.default_rng(3)
    n = len(PRIMS[name].args)
    zs = [0.3 + 0.6 * rng.random(4) + 1j * (0.2 + 0.5 * rng.random(4)) for _ in range(n)]
    check_prim(name, zs)
