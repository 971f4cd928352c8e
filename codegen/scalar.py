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
_MATH = re.compile(r"(?<![\w.])math\.")
_LIBRARY_CALL = re.compile(r"(?<![\w.])(c?math|sf|fm|cm)\.")
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


def scalar_expr(e: Any, args: list[str], *, vector: bool = False, device: bool = False
                ) -> tuple[str, bool]:
    """The scalar code of elementwise equation `e` applied to the code of its arguments, and
    whether it uses `cmath`. The templates are valid for numba's CPU and CUDA targets alike,
    but where a primitive has a `device` one (`device`: the code is for numba.cuda);
    `vector`: the primitive's inline version for loops LLVM vectorizes, where it has one
    (`ScalarCode.vector`). numba's int32 arithmetic widens to int64, and float-only math
    returns floats, so a result is cast to its dtype unless the primitive keeps it."""
    prim = PRIMS[e.prim]
    sc = prim.scalar
    out = e.out.dtype
    if sc.custom is not None:
        return sc.custom(e, args, NP_DTYPE), False
    uses_cmath = False
    template = sc.vector if vector and sc.vector is not None else prim.code
    if device and sc.device is not None:
        template = sc.device
    assert template is not None
    if any(x.type.is_complex for x in e.inputs):
        template = _MATH.sub("cmath.", sc.complex or prim.code)
        uses_cmath = "cmath." in template
    if any(x.dtype in ("f32", "c64") for x in e.inputs) or out in ("f32", "c64"):
        template = FLOAT_LITERAL.sub(r"np.float32(\1)", template)
    expr = template.format(**dict(zip(prim.args, args, strict=True)))
    if sc.passes_through:
        return expr, uses_cmath
    if out in ("f32", "c64") and _LIBRARY_CALL.search(expr):
        # numba types math.tanh(float32) as float32; run as Python (ADJIT_NOJIT, the CUDA
        # simulator) it is a float64, and a value recomputed at another place (a max's
        # argument, compared with the max stored in float32 for its gradient) would not
        # equal its float32 copy: rounded here as numba does (a no-op under numba)
        return f"{NP_DTYPE[out]}({expr})", uses_cmath
    if out == "i32" or (out == "i64" and not sc.int_closed):
        expr = f"{NP_DTYPE[out]}({expr})"
    elif out == "bool" and not sc.bool_result:
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
