"""Scalar code shared by the code generators: literals of a dtype, reduction identities, and
the expression of an elementwise equation (its primitive's template, with the casts that keep
numba's arithmetic in the equation's dtype)."""
from __future__ import annotations

import math
import re
from typing import Any

from adjit.ir.loops import identity
from adjit.ir.primitive import PRIMS

NP_DTYPE = {"f32": "np.float32", "f64": "np.float64", "i32": "np.int32", "i64": "np.int64",
            "bool": "np.bool_", "c64": "np.complex64", "c128": "np.complex128"}
# numba's int32 arithmetic widens to int64, and float-only math returns floats: these keep
# an integer result's dtype without a cast.
INT_SAFE = {"neg", "add", "sub", "mul", "pow", "abs", "maximum", "minimum", "select", "convert",
            "stop_gradient", "remat"}
BOOL_SAFE = {"lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or", "logical_not",
             "select", "convert", "stop_gradient", "remat", "maximum", "minimum"}
# Where a primitive's scalar template is not what the generated code should use.
CODE_OVERRIDES = {"floor": "np.floor({x})"}  # math.floor returns an int
# Complex operands: `math.*` becomes `cmath.*`, except where cmath lacks the function.
COMPLEX_CODE = {"expm1": "(cmath.exp({x}) - 1.0)", "log1p": "cmath.log(1.0 + {x})",
                "log2": "(cmath.log({x}) / 0.6931471805599453)"}
_MATH = re.compile(r"(?<![\w.])math\.")
FLOAT_LITERAL = re.compile(r"(?<![\w.])(\d+\.\d*(?:[eE][-+]?\d+)?)")


def literal(value: Any, dtype: str) -> str:
    """A scalar constant as code of the right dtype."""
    if dtype == "bool":
        return "True" if value else "False"
    if dtype in ("i32", "i64"):
        v = int(value)
        text = f"({v})" if v < 0 else str(v)
        return f"np.int32({v})" if dtype == "i32" else text
    if dtype in ("c64", "c128"):
        z = complex(value)
        text = f"complex({literal(z.real, 'f64')}, {literal(z.imag, 'f64')})"
        return f"np.complex64({text})" if dtype == "c64" else text
    f = float(value)
    if math.isnan(f):
        text = "np.nan"
    elif math.isinf(f):
        text = "np.inf" if f > 0 else "(-np.inf)"
    else:
        text = repr(f)
        if f < 0:
            text = f"({text})"
    return f"np.float32({text})" if dtype == "f32" else text


def identity_literal(op: str, dtype: str) -> str:
    """The identity of reduction operator `op` on `dtype` values, as code."""
    return literal(identity(op, dtype), dtype)


def scalar_expr(e: Any, args: list[str]) -> tuple[str, bool]:
    """The scalar code of elementwise equation `e` applied to the code of its arguments, and
    whether it uses `cmath`. The templates are valid for numba's CPU and CUDA targets alike."""
    prim = PRIMS[e.prim]
    out = e.out.dtype
    uses_cmath = False
    template = CODE_OVERRIDES.get(e.prim, prim.code)
    assert template is not None
    if any(x.type.is_complex for x in e.inputs) and e.prim not in ("convert", "real", "imag"):
        template = _MATH.sub("cmath.", COMPLEX_CODE.get(e.prim, template))
        uses_cmath = "cmath." in template
    if any(x.dtype in ("f32", "c64") for x in e.inputs) or out in ("f32", "c64"):
        template = FLOAT_LITERAL.sub(r"np.float32(\1)", template)
    fmt = dict(zip(prim.args, args, strict=True))
    if e.prim == "convert":
        fmt["dtype"] = NP_DTYPE[e.p["dtype"]]
        if e.inputs[0].type.is_complex and e.p["dtype"] not in ("c64", "c128"):
            fmt["x"] = f"({args[0]}).real"  # numpy's astype drops the imaginary part
        if e.p["dtype"] == "bool":
            return f"({args[0]} != 0)", uses_cmath
    expr = template.format(**fmt)
    if out == "i32" and e.prim not in ("convert", "select", "stop_gradient"):
        expr = f"np.int32({expr})"
    elif out == "i64" and e.prim not in INT_SAFE:
        expr = f"np.int64({expr})"
    elif out == "bool" and e.prim not in BOOL_SAFE:
        expr = f"({expr} != 0)"
    return expr, uses_cmath


def strip_parens(expr: str) -> str:
    """Drop one pair of parentheses around a whole expression."""
    if not (expr.startswith("(") and expr.endswith(")")):
        return expr
    depth = 0
    for i, ch in enumerate(expr):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(expr) - 1:
            return expr
    return expr[1:-1]
