"""Elementwise primitives: the sympy-declared ones (elementwise_decls.py, and scipy.special's
in special_decls.py), and the few with hand-written rules.

Every elementwise primitive broadcasts its inputs as numpy does; its inputs share one
dtype (the tracer inserts `convert`), except `select`'s boolean condition.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..core import REAL_OF, ArrayType, Lit, Value, Var
from ..errors import NotDifferentiable
from ..index import broadcast_terms
from ..primitive import (ELEMENTWISE, SCALAR, Lowering, Primitive, ScalarCode, register,
                         template_cost)
from .elementwise_decls import DECLS, Decl
from .special_decls import SPECIAL_DECLS


def _load_table(special: bool = False) -> dict[str, dict[str, Any]]:
    try:
        if special:
            from . import _derived_special as derived
        else:
            from . import _derived as derived

        if derived.DECLS_HASH == _current_hash(SPECIAL_DECLS if special else DECLS):
            return derived.TABLE
    except ImportError:
        pass
    from . import derive  # stale or missing: derive with sympy (slow, once)

    return derive.write(special)


def _current_hash(decls: tuple[Decl, ...]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(d.key() for d in decls).encode()).hexdigest()[:16]


def broadcast_rule(*types: ArrayType, out_dtype: str | None = None) -> ArrayType:
    shape = tuple(np.broadcast_shapes(*[t.shape for t in types]))
    dts = {t.dtype for t in types}
    if len(dts) > 1:
        raise TypeError(f"operands have different dtypes {sorted(dts)}")
    return ArrayType(out_dtype or types[0].dtype, shape)


def replay(tree: Any, env: dict[str, Value], dtype: str) -> Value:
    """Emit the IR for a derivative tree (see derive.py) with leaves bound by `env`."""
    if isinstance(tree, str):
        return env[tree]
    if isinstance(tree, float):
        return ops.lit(tree, dtype)
    name, *args = tree
    if name == "not_differentiable":
        raise NotDifferentiable("internal: a nondiff partial reached replay")
    vals = [replay(a, env, dtype) for a in args]
    if name == "select":
        return ops.select(*vals)
    return ops.ew(name, *vals)


def _partials(name: str, decl_args: tuple[str, ...], partials: dict[str, Any],
              inputs: tuple[Value, ...], out: Var, which: list[bool],
              forward: bool = False) -> list[Value | None]:
    env = dict(zip(decl_args, inputs, strict=True))
    env["out"] = out
    ds: list[Value | None] = []
    for i, (a, need) in enumerate(zip(decl_args, which, strict=True)):
        if not need:
            ds.append(None)
        elif partials[a] == ("not_differentiable",):
            what = _nondiff_message(name, i, len(decl_args))
            if forward:  # a tangent exists only for a value that depends on the inputs
                raise NotDifferentiable(what, hint=_NONDIFF_HINT)
            # Reverse mode builds every cotangent and prunes the ones no gradient needs:
            # the refusal is an equation that fails only if it survives pruning.
            ds.append(ops.emit("not_differentiable", inputs[i], what=what))
        else:
            ds.append(replay(partials[a], env, out.dtype))
    return ds


_NONDIFF_HINT = ("pass that argument as a constant (a Python number or numpy array, not an "
                 "argument being differentiated), or wrap it in adjit.stop_gradient")


def _nondiff_message(name: str, i: int, n: int) -> str:
    ordinal = ("first", "second", "third")[i]
    return (f"scipy.special.{name} has no derivative with respect to its {ordinal} argument "
            f"(of {n})")


def _scale(ct: Value, d: Value) -> Value:
    """ct * d, without the multiplication when d is the literal 1 or -1 (add, sub, neg)."""
    if isinstance(d, Lit) and d.is_scalar and d.scalar() in (1.0, -1.0):
        return ct if d.scalar() == 1.0 else ops.neg(ct)
    return ops.mul(ct, d)


def _needs(inputs: tuple[Value, ...]) -> list[bool]:
    return [isinstance(v, Var) and v.type.is_float for v in inputs]


def _resolve(np_fn: object) -> Any:
    """The numpy function of a declaration; a dotted name (scipy.special.erf) is imported."""
    if not isinstance(np_fn, str):
        return np_fn
    import importlib

    module, _, attr = np_fn.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _make(decl: Decl, derived: dict[str, Any]) -> Primitive:
    args = tuple(derived["args"])
    partials = derived["partials"]
    fn: list[Any] = []  # resolved on first use

    def impl(*xs: np.ndarray) -> np.ndarray:
        if not isinstance(decl.numpy, str):
            return np.asarray(decl.numpy(*xs))
        if not fn:
            fn.append(_resolve(decl.numpy))
        # scipy.special: float32 is computed in float64 and rounded once, as the compiled
        # code does (codegen/special.py), whatever scipy's own float32 loop would do
        dts = {np.asarray(x).dtype for x in xs}
        with np.errstate(all="ignore"):
            out = np.asarray(fn[0](*[np.asarray(x, np.float64) if np.asarray(x).dtype ==
                                     np.float32 else x for x in xs]))
        if len(dts) == 1 and out.dtype != next(iter(dts)):
            out = out.astype(next(iter(dts)))
        return out

    def jvp(tangents: list[Value | None], *inputs: Value, out: Var) -> Value | None:
        if decl.name in MASKED:
            return MASKED[decl.name][0](tangents, *inputs, out=out)
        if decl.name in NOT_HOLOMORPHIC and inputs[0].type.is_complex:
            return NOT_HOLOMORPHIC[decl.name][0](tangents, *inputs, out=out)
        ds = _partials(decl.name, args, partials, inputs, out, [t is not None for t in tangents],
                       forward=True)
        total = None
        for t, d in zip(tangents, ds, strict=True):
            if t is not None:
                total = ops.add_any(total, _scale(t, d))
        return None if total is None else ops.broadcast_to(total, out.shape)

    def vjp(ct: Value, *inputs: Value, out: Var) -> tuple[Value | None, ...]:
        if decl.name in MASKED:
            return MASKED[decl.name][1](ct, *inputs, out=out)
        if decl.name in NOT_HOLOMORPHIC and inputs[0].type.is_complex:
            return NOT_HOLOMORPHIC[decl.name][1](ct, *inputs, out=out)
        ds = _partials(decl.name, args, partials, inputs, out, _needs(inputs))
        return tuple(None if d is None else ops.unbroadcast(_scale(ct, d), x.shape)
                     for d, x in zip(ds, inputs, strict=True))

    linear = decl.name in ("neg", "add", "sub")
    shape = _abs_shape if decl.name == "abs" else broadcast_rule
    op = COMBINES.get(decl.name)
    lowering = Lowering(SCALAR, op=op, index=broadcast_terms, commutative=op is not None,
                        cost=template_cost(derived["code"]))
    return Primitive(decl.name, ELEMENTWISE, shape=shape, impl=impl, jvp=jvp, vjp=vjp,
                     code=derived["code"], args=args, expr=decl.expr, linear=linear,
                     lowering=lowering,
                     scalar=ScalarCode(vector=decl.vector, guard=decl.guard, lines=decl.lines,
                                       complex=decl.complex, int_closed=decl.int_closed,
                                       bool_result=decl.bool_closed),
                     extra={"float_only": decl.name not in ("neg", "add", "sub", "mul", "abs",
                                                            "sign", "maximum", "minimum", "pow"),
                            "domain": decl.domain,
                            # the ufunc `impl` calls, for callers that make its result an
                            # array themselves (tracer/runner.py: one call less per op)
                            "ufunc": decl.numpy if isinstance(decl.numpy, np.ufunc) else None})


# Binary elementwise primitives that are an associative, commutative operator (`Lowering.op`):
# fusion merges two sum-accumulations added together into one array.
COMBINES = {"add": "sum", "mul": "prod", "maximum": "max", "minimum": "min"}


def _abs_shape(x: ArrayType) -> ArrayType:
    """|z| of a complex z is real."""
    return x.with_dtype(REAL_OF.get(x.dtype, x.dtype))


def _abs_jvp(tangents: list[Value | None], x: Value, out: Var) -> Value | None:
    from .complex import abs_complex_jvp

    (t,) = tangents
    return None if t is None else abs_complex_jvp(t, x, out)


def _abs_vjp(ct: Value, x: Value, out: Var) -> tuple[Value | None]:
    from .complex import abs_complex_vjp

    return (abs_complex_vjp(ct, x, out) if isinstance(x, Var) else None,)


# Declared primitives whose derived (holomorphic) rules do not hold for complex operands: their
# complex (jvp, vjp). The tracer never emits the others (sign, maximum, floor, arctan2, ...)
# on complex values.
NOT_HOLOMORPHIC: dict[str, tuple[Any, Any]] = {"abs": (_abs_jvp, _abs_vjp)}


def _relu_mask(v: Value, out: Var) -> Value:
    """v where out > 0 (or NaN), else 0: PyTorch's threshold_backward(v, out, 0). Selecting
    instead of multiplying by the derivative keeps an inf or NaN `v` at x <= 0 from making a
    NaN, and reads `out`, not x, so a backward pass needs only relu's result."""
    return ops.select(ops.ew("le", out, ops.lit(0, out.dtype)), ops.lit(0, v.dtype), v)


def _relu_jvp(tangents: list[Value | None], x: Value, out: Var) -> Value | None:
    (t,) = tangents
    return None if t is None else ops.broadcast_to(_relu_mask(t, out), out.shape)


def _relu_vjp(ct: Value, x: Value, out: Var) -> tuple[Value | None]:
    return (_relu_mask(ct, out) if _needs((x,))[0] else None,)


# Declared primitives whose derivative is a mask, applied by selecting (see `_relu_mask`):
# their (jvp, vjp). The declaration's `d` is the same derivative, for the sympy checks.
MASKED: dict[str, tuple[Any, Any]] = {"relu": (_relu_jvp, _relu_vjp)}

TABLE = _load_table()
for _decl in DECLS:
    register(_make(_decl, TABLE[_decl.name]))
SPECIAL_TABLE = _load_table(special=True)
for _decl in SPECIAL_DECLS:
    register(_make(_decl, SPECIAL_TABLE[_decl.name]))


def _refuse(x: Any, what: str) -> np.ndarray:
    raise NotDifferentiable(what, hint=_NONDIFF_HINT)


# The cotangent of an argument that has no derivative (see `_partials`). It has no rules
# (nothing differentiates through it) and no code: `passes.pipeline` raises its message
# when one is left after pruning, and the interpreter raises it if it ever runs.
register(Primitive("not_differentiable", ELEMENTWISE, shape=lambda x, what: x, impl=_refuse,
                   jvp=None, vjp=None, params=("what",), code="sf.not_differentiable({x})",
                   args=("x",), nondiff=True))


# ---- hand-written elementwise primitives ------------------------------------------------------

def _nondiff(name: str, code: str, np_fn: Any, out_dtype: str | None, n: int,
             device: str | None = None) -> None:
    def shape(*types: ArrayType) -> ArrayType:
        return broadcast_rule(*types, out_dtype=out_dtype)

    register(Primitive(name, ELEMENTWISE, shape=shape, impl=lambda *xs: np.asarray(np_fn(*xs)),
                       jvp=None, vjp=None, code=code, args=("x", "y")[:n], nondiff=True,
                       scalar=ScalarCode(bool_result=out_dtype == "bool", device=device)))


for _name, _op, _fn in (("lt", "<", np.less), ("le", "<=", np.less_equal), ("gt", ">", np.greater),
                        ("ge", ">=", np.greater_equal), ("eq", "==", np.equal),
                        ("ne", "!=", np.not_equal)):
    _nondiff(_name, "({x} %s {y})" % _op, _fn, "bool", 2)
_nondiff("logical_and", "({x} and {y})", np.logical_and, "bool", 2)
_nondiff("logical_or", "({x} or {y})", np.logical_or, "bool", 2)
_nondiff("logical_not", "(not {x})", np.logical_not, "bool", 1)
_nondiff("floor", "np.floor({x})", np.floor, None, 1,  # (math.floor returns an int)
         device="cm.floor({x})")


# numpy's floor_divide and remainder, as Python's // and % compute them (numba's error model
# "numpy" gives 0 for an integer division by zero, inf/NaN for a float one, as numpy does).
# Not floor(x / y): that rounds the quotient first (1.0 // 0.1 is 9.0, floor(1.0 / 0.1) is 10)
# and goes through float64 for int64 (wrong above 2**53). floor_divide is piecewise constant:
# no derivative (0, as JAX). x % y = x - y * (x // y): d/dx = 1, d/dy = -(x // y), as JAX.
# fmod likewise with the quotient truncated.

def _floor_divide_vjp(ct: Value, x: Value, y: Value, out: Var) -> tuple[None, None]:
    return (None, None)


def _mod_jvp(tangents: list[Value | None], x: Value, y: Value, out: Var) -> Value | None:
    tx, ty = tangents
    total = None if tx is None else tx
    if ty is not None:
        total = ops.add_any(total, ops.neg(ops.mul(ty, ops.ew("floor_divide", x, y))))
    return None if total is None else ops.broadcast_to(total, out.shape)


def _mod_vjp(ct: Value, x: Value, y: Value, out: Var) -> tuple[Value | None, Value | None]:
    nx, ny = _needs((x, y))
    return (ops.unbroadcast(ct, x.shape) if nx else None,
            ops.unbroadcast(ops.neg(ops.mul(ct, ops.ew("floor_divide", x, y))), y.shape)
            if ny else None)


def _fmod_vjp(ct: Value, x: Value, y: Value, out: Var) -> tuple[Value | None, Value | None]:
    """fmod(x, y) = x - n y with n = trunc(x / y), recovered exactly as the integer
    (x - out) / y rounds to: d/dx = 1, d/dy = -n."""
    nx, ny = _needs((x, y))
    n = ops.ew("div", ops.ew("sub", x, out), y) if ny else None
    return (ops.unbroadcast(ct, x.shape) if nx else None,
            ops.unbroadcast(ops.neg(ops.mul(ct, n)), y.shape) if ny else None)


def _fmod_jvp(tangents: list[Value | None], x: Value, y: Value, out: Var) -> Value | None:
    tx, ty = tangents
    total = None if tx is None else tx
    if ty is not None:
        n = ops.ew("div", ops.ew("sub", x, out), y)
        total = ops.add_any(total, ops.neg(ops.mul(ty, n)))
    return None if total is None else ops.broadcast_to(total, out.shape)


def _quiet(fn: Any) -> Any:
    def impl(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(fn(x, y))
    return impl


def _floor_divide_code(e: Any, args: list[str], np_dtype: dict[str, str]) -> str:
    """Integers: numpy's INT_MIN // -1 is INT_MIN (two's complement wraps), where numba's
    (and LLVM's) division is 0 or undefined: -x, which wraps the same way."""
    x, y = args
    if e.out.dtype not in ("i32", "i64"):
        return f"({x} // {y})"
    expr = f"({x} // {y} if {y} != -1 else -{x})"
    return f"{np_dtype['i32']}({expr})" if e.out.dtype == "i32" else expr


for _name, _code, _fn, _jvp, _vjp in (
        ("floor_divide", "({x} // {y})", np.floor_divide, lambda ts, x, y, out: None,
         _floor_divide_vjp),
        ("mod", "({x} % {y})", np.remainder, _mod_jvp, _mod_vjp),
        # C's fmod (the sign of x), floats only. np.fmod, not math.fmod: numba's CPU target
        # has no math.fmod, and Python's raises at y = 0 where numpy gives NaN
        ("fmod", "np.fmod({x}, {y})", np.fmod, _fmod_jvp, _fmod_vjp)):
    register(Primitive(_name, ELEMENTWISE, shape=broadcast_rule, impl=_quiet(_fn), jvp=_jvp,
                       vjp=_vjp, code=_code, args=("x", "y"),
                       scalar=ScalarCode(int_closed=_name != "fmod", custom=(
                           _floor_divide_code if _name == "floor_divide" else None),
                           device="cm.fmod({x}, {y})" if _name == "fmod" else None),
                       extra={"float_only": _name == "fmod"}))


def _select_shape(c: ArrayType, x: ArrayType, y: ArrayType) -> ArrayType:
    if c.dtype != "bool":
        raise TypeError("select's condition must be boolean")
    out = broadcast_rule(x, y)
    return out.with_shape(tuple(np.broadcast_shapes(c.shape, out.shape)))


def _select_vjp(ct: Value, c: Value, x: Value, y: Value, out: Var) -> tuple[Value | None, ...]:
    zero = ops.lit(0, ct.dtype)
    nx, ny = _needs((x, y))
    return (None,
            ops.unbroadcast(ops.select(c, ct, zero), x.shape) if nx else None,
            ops.unbroadcast(ops.select(c, zero, ct), y.shape) if ny else None)


def _select_jvp(tangents: list[Value | None], c: Value, x: Value, y: Value,
                out: Var) -> Value | None:
    _, tx, ty = tangents
    if tx is None and ty is None:
        return None
    zero = ops.lit(0, out.dtype)
    return ops.broadcast_to(ops.select(c, zero if tx is None else tx, zero if ty is None else ty),
                            out.shape)


register(Primitive("select", ELEMENTWISE, shape=_select_shape,
                   impl=lambda c, x, y: np.asarray(np.where(c, x, y)), jvp=_select_jvp,
                   vjp=_select_vjp, code="({x} if {c} else {y})", args=("c", "x", "y"),
                   linear=True, scalar=ScalarCode(passes_through=True)))


def _astype(x: np.ndarray, dt: np.dtype) -> np.ndarray:
    if x.dtype.kind == "c" and dt.kind != "c":  # numpy warns that it drops the imaginary part
        x = x.real
    return x.astype(dt)


def _convert_shape(x: ArrayType, *, dtype: str) -> ArrayType:
    return ArrayType(dtype, x.shape)


def _convert_vjp(ct: Value, x: Value, out: Var, dtype: str) -> tuple[Value | None]:
    # real -> complex: the cotangent of a real value is real (Re(c t) = Re(c) t for real t);
    # complex -> real drops the imaginary part, whose transpose embeds the real cotangent.
    if not (x.type.is_float and out.type.is_float):
        return (None,)
    if out.type.is_complex and not x.type.is_complex:
        ct = ops.real(ct)
    return (ops.convert(ct, x.dtype),)


def _convert_jvp(tangents: list[Value | None], x: Value, out: Var, dtype: str) -> Value | None:
    (t,) = tangents
    if t is None or not out.type.is_float:
        return None
    if t.type.is_complex and not out.type.is_complex:
        t = ops.real(t)
    return ops.convert(t, dtype)


def _convert_code(e: Any, args: list[str], np_dtype: dict[str, str]) -> str:
    """numpy's astype: complex to real drops the imaginary part, to bool tests for zero."""
    (x,) = args
    if e.p["dtype"] == "bool":
        return f"({x} != 0)"
    if e.inputs[0].type.is_complex and e.p["dtype"] not in ("c64", "c128"):
        x = f"({x}).real"
    return f"{np_dtype[e.p['dtype']]}({x})"


register(Primitive("convert", ELEMENTWISE, shape=_convert_shape,
                   impl=lambda x, dtype: _astype(np.asarray(x), ops.DTYPES[dtype]),
                   jvp=_convert_jvp, vjp=_convert_vjp, params=("dtype",), code="{dtype}({x})",
                   args=("x",), linear=True,
                   scalar=ScalarCode(custom=_convert_code, passes_through=True)))

# remat is the identity that passes do not see through: adjit.checkpoint's recomputation reads
# its inputs through it, so common-subexpression elimination cannot merge the recomputed
# values with the forward pass's (which would keep those alive until the backward pass), and
# fusion lowers it as a view of its input (passes/fuse.py), so it copies nothing.
register(Primitive("remat", ELEMENTWISE, shape=lambda x: x, impl=lambda x: np.asarray(x),
                   jvp=lambda tangents, x, out: tangents[0], vjp=lambda ct, x, out: (ct,),
                   code="{x}", args=("x",), linear=True, scalar=ScalarCode(passes_through=True),
                   lowering=Lowering(SCALAR, index=broadcast_terms, cost=10,
                                     inline_if=lambda e: e.out.type.ndim == 0)))

# stop_gradient is the identity whose derivative is zero: the adjoint sweep stops here.
register(Primitive("stop_gradient", ELEMENTWISE, shape=lambda x: x, impl=lambda x: np.asarray(x),
                   jvp=lambda tangents, x, out: None, vjp=lambda ct, x, out: (None,),
                   code="{x}", args=("x",), scalar=ScalarCode(passes_through=True)))
