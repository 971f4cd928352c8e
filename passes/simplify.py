"""simplify: constant folding, algebraic identities and common subexpressions.

Local rewrites are the `RULES` table of (primitive, rule) pairs. A rule sees one
equation with its inputs already substituted and returns a replacement value, a new
equation, or None. One engine drives the table to a fixed point and counts which
rules fired (`SimplifyStats`). Rewrites never change an output's type, and keep the
equation's location and role.

>>> from adjit.ir import parse
>>> g = parse('''graph f(x: f64[4]) -> f64[4]:
...   %0 = mul x, 1.0 : f64[4]
...   %1 = add %0, 0.0 : f64[4]
...   %2 = exp %1 : f64[4]
...   %3 = exp x : f64[4]
...   %4 = add %2, %3 : f64[4]
...   return %4''')
>>> stats = SimplifyStats()
>>> print(simplify(g, stats=stats).format(locs=False))
graph f(x: f64[4]) -> f64[4]:
  %0 = exp x : f64[4]
  %1 = mul %0, 2.0 : f64[4]
  return %1
>>> print(stats)
add: 2, cse: 1, mul: 1
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
from adjit.ir import Eqn, Graph, Lit, Value, Var
from adjit.ir.core import make_params
from adjit.ir.primitive import PRIMS

from .dce import dce

Rule = Callable[[Eqn], "Value | Eqn | list[Eqn] | None"]
FOLD_MAX_SIZE = 16  # fold constants only while they stay small


def _lit_is(v: Value, x: float, producers: dict[int, Eqn] | None = None) -> bool:
    """Whether v is the constant x everywhere: a literal, or a broadcast of one."""
    if isinstance(v, Var) and producers is not None:
        src = producers.get(id(v))
        if src is not None and src.prim == "broadcast_to":
            v = src.inputs[0]
    return isinstance(v, Lit) and v.value.size > 0 and bool(np.all(v.value == x))


def _same_type(eqn: Eqn, v: Value) -> Value | None:
    return v if v.type == eqn.out.type else None


def _fold(eqn: Eqn, producers: dict[int, Eqn]) -> Value | Eqn | None:
    """An equation of constants computed now. A uniform result with axes is a broadcast of its
    scalar, as an explicit broadcast of a constant stays: codegen needs no array for it (a
    size-1 array constant would also keep the call off its fastest path). An elementwise
    equation of scalars broadcast by `broadcast_to` is computed on the scalars."""
    prim = PRIMS[eqn.prim]
    if prim.kind == "control" or len(eqn.outputs) != 1 or eqn.prim == "stop_gradient":
        return None
    if eqn.prim == "broadcast_to" and eqn.out.type.ndim > 0:
        return None  # a broadcast constant stays a scalar: codegen needs no array for it
    inputs = list(eqn.inputs)
    if prim.kind == "elementwise" and eqn.out.type.ndim > 0:
        for i, v in enumerate(inputs):
            src = producers.get(id(v)) if isinstance(v, Var) else None
            if src is not None and src.prim == "broadcast_to" \
                    and isinstance(src.inputs[0], Lit) and src.inputs[0].is_scalar:
                inputs[i] = src.inputs[0]
    if not all(isinstance(v, Lit) for v in inputs):
        return None
    scalars = prim.kind == "elementwise" and all(v.is_scalar for v in inputs)
    if eqn.out.type.size > FOLD_MAX_SIZE and not scalars:
        return None
    with np.errstate(all="ignore"):
        value = prim.impl(*[v.value for v in inputs], **dict(eqn.params))
    value = np.asarray(value).astype(eqn.out.type.np_dtype)
    if prim.kind == "elementwise":  # (an operand may be a broadcast's scalar: see above)
        value = np.broadcast_to(value, eqn.out.shape)
    value = value.reshape(eqn.out.shape)
    if eqn.out.type.ndim and value.size and \
            value.tobytes() == np.full_like(value, value.flat[0]).tobytes():  # (bits: -0.0, NaN)
        return Eqn("broadcast_to", (Lit.make(value.flat[0], eqn.out.dtype),), eqn.outputs,
                   make_params({"shape": eqn.out.shape}), eqn.loc, eqn.role)
    if eqn.out.type.size > FOLD_MAX_SIZE:
        return None
    return Lit.make(value, eqn.out.dtype)


def _add(eqn: Eqn, producers: dict[int, Eqn]) -> Value | Eqn | None:
    x, y = eqn.inputs
    if _lit_is(y, 0, producers):
        return _same_type(eqn, x)
    if _lit_is(x, 0, producers):
        return _same_type(eqn, y)
    return _add_self(eqn)


def _sub(eqn: Eqn) -> Value | Eqn | None:
    x, y = eqn.inputs
    if _lit_is(y, 0):
        return _same_type(eqn, x)
    if _lit_is(x, 0) and y.type == eqn.out.type:
        return eqn.replace(prim="neg", inputs=(y,))
    return None


def _mul(eqn: Eqn, producers: dict[int, Eqn]) -> Value | Eqn | None:
    x, y = eqn.inputs
    for a, b in ((x, y), (y, x)):
        if _lit_is(b, 1, producers):
            return _same_type(eqn, a)
        if _lit_is(b, -1, producers) and a.type == eqn.out.type:
            return eqn.replace(prim="neg", inputs=(a,))
    return _scale_twice(eqn, producers)


def _is_pow2(c: float) -> bool:
    m, _ = np.frexp(c)
    return bool(np.isfinite(c)) and c != 0 and abs(m) == 0.5


def _scale_twice(eqn: Eqn, producers: dict[int, Eqn]) -> Eqn | None:
    """c1 * (c2 * x) -> (c1*c2) * x, when c1 or c2 is a power of two: scaling by a power of
    two is exact, so the result is bitwise the same (short of overflow) and one multiply
    less."""
    for lit, other in (eqn.inputs, eqn.inputs[::-1]):
        if not (isinstance(lit, Lit) and lit.is_scalar and isinstance(other, Var)):
            continue
        src = producers.get(id(other))
        if src is None or src.prim != "mul" or src.out.type != eqn.out.type:
            continue
        for inner, x in (src.inputs, src.inputs[::-1]):
            if isinstance(inner, Lit) and inner.is_scalar and x.type == eqn.out.type:
                c1, c2 = lit.scalar(), inner.scalar()
                if isinstance(c1, complex) or isinstance(c2, complex):
                    return None  # a complex scale is exact only in special cases: leave it
                if _is_pow2(c1) or _is_pow2(c2):
                    return eqn.replace(inputs=(x, Lit.make(c1 * c2, lit.dtype)))
    return None


def _div(eqn: Eqn) -> Value | None:
    x, y = eqn.inputs
    return _same_type(eqn, x) if _lit_is(y, 1) else None


def _pow(eqn: Eqn) -> Value | Eqn | None:
    x, y = eqn.inputs
    if _lit_is(y, 0) and isinstance(y, Lit) and y.is_scalar:  # x**0 is 1, for x = 0 or NaN too
        return _broadcast_of(eqn, Lit.make(1, eqn.out.dtype))
    if _lit_is(y, 1):
        return _same_type(eqn, x)
    if x.type != eqn.out.type or not (isinstance(y, Lit) and y.is_scalar):
        return None
    n = y.value.item()
    if isinstance(n, complex):  # z ** (2+0j) is z * z too; a complex exponent stays pow
        if n.imag != 0:
            return None
        n = n.real
    return _power_by_multiplication(eqn, x, float(n))


MAX_POWER = 8  # x**n for |n| <= MAX_POWER becomes multiplications (a chain of squarings)


def _power_by_multiplication(eqn: Eqn, x: Value, n: float) -> Value | Eqn | list[Eqn] | None:
    """Strength reduction: x**n for a small integer n (negative too) as multiplications (a
    divide for n < 0), x**0.5 as sqrt and x**-0.5 as 1/sqrt. pow is a libm call that also
    keeps a loop from vectorizing; a product differs from it by at most an ulp or two."""
    if n in (0.5, -0.5):
        root = eqn.replace(prim="sqrt", inputs=(x,))
        if n > 0:
            return root
        root = root.replace(outputs=(Var(x.type),))
        return [root, eqn.replace(prim="div", inputs=(Lit.make(1, x.dtype), root.out))]
    if n != int(n) or not 1 <= abs(n) <= MAX_POWER or n == 1:
        return None
    k = int(abs(n))
    eqns: list[Eqn] = []

    def mul(a: Value, b: Value) -> Value:
        e = eqn.replace(prim="mul", inputs=(a, b), outputs=(Var(x.type),))
        eqns.append(e)
        return e.out

    result: Value | None = None
    square = x
    while k:  # binary exponentiation
        if k & 1:
            result = square if result is None else mul(result, square)
        k >>= 1
        if k:
            square = mul(square, square)
    assert result is not None
    if n < 0:
        eqns.append(eqn.replace(prim="div", inputs=(Lit.make(1, x.dtype), result)))
    else:
        last = eqns.pop()
        eqns.append(last.replace(outputs=eqn.outputs))
    return eqns


def _neg(eqn: Eqn, producers: dict[int, Eqn]) -> Value | None:
    (x,) = eqn.inputs
    src = producers.get(id(x))
    if src is not None and src.prim == "neg":
        return _same_type(eqn, src.inputs[0])
    return None


def _noop_shape(eqn: Eqn) -> Value | None:
    (x,) = eqn.inputs[:1]
    return x if x.type == eqn.out.type else None


def _broadcast(eqn: Eqn) -> Value | Eqn | None:
    (x,) = eqn.inputs
    if x.type == eqn.out.type:
        return x
    uniform = isinstance(x, Lit) and x.value.size and np.all(x.value == x.value.flat[0])
    if uniform and not x.is_scalar:
        # A uniform constant broadcasts from its scalar: codegen then needs no array for it.
        return eqn.replace(inputs=(Lit.make(x.value.flat[0], x.dtype),))
    return None


def _reshape(eqn: Eqn, producers: dict[int, Eqn]) -> Value | Eqn | None:
    (x,) = eqn.inputs
    if x.type == eqn.out.type:
        return x
    src = producers.get(id(x))
    if src is not None and src.prim == "reshape":
        return eqn.replace(inputs=(src.inputs[0],))
    return None


def _transpose(eqn: Eqn, producers: dict[int, Eqn], uses: dict[int, int]) -> Value | Eqn | None:
    (x,) = eqn.inputs
    perm = eqn.p["perm"]
    if perm == tuple(range(len(perm))):
        return x
    src = producers.get(id(x))
    if src is not None and src.prim == "matmul" and uses.get(id(x), 0) == 1:
        return _transpose_of_matmul(eqn, src)
    if src is not None and src.prim == "transpose":
        inner = src.p["perm"]
        combined = tuple(inner[p] for p in perm)
        if combined == tuple(range(len(combined))):
            return _same_type(eqn, src.inputs[0])
        return eqn.replace(inputs=(src.inputs[0],), params=(("perm", combined),))
    return None


def _swaps_last_two(eqn: Eqn) -> bool:
    """Whether eqn is a transpose that swaps the last two axes and nothing else."""
    if eqn.prim != "transpose":
        return False
    perm = eqn.p["perm"]
    n = len(perm)
    return n >= 2 and perm == tuple(range(n - 2)) + (n - 1, n - 2)


def _transpose_of_matmul(eqn: Eqn, src: Eqn) -> Eqn | None:
    """(op(a) @ op(b)).T = op(b).T @ op(a).T: one matmul with the operands and flags
    swapped, instead of a matmul and a copy (the adjoint of `x @ w.T` transposes the
    weight's cotangent)."""
    if not _swaps_last_two(eqn) or src.prim != "matmul":
        return None
    a, b = src.inputs
    flags = (("transpose_a", not src.p["transpose_b"]), ("transpose_b", not src.p["transpose_a"]))
    return eqn.replace(prim="matmul", inputs=(b, a), params=flags)


def _matmul(eqn: Eqn, producers: dict[int, Eqn]) -> Eqn | None:
    """A matmul operand that is a transpose of its last two axes is read in place through
    the operand's transpose flag (BLAS's transposed forms) instead of being copied."""
    inputs = list(eqn.inputs)
    flags = {"transpose_a": eqn.p["transpose_a"], "transpose_b": eqn.p["transpose_b"]}
    changed = False
    for i, flag in enumerate(("transpose_a", "transpose_b")):
        src = producers.get(id(inputs[i])) if isinstance(inputs[i], Var) else None
        if src is not None and _swaps_last_two(src):
            inputs[i] = src.inputs[0]
            flags[flag] = not flags[flag]
            changed = True
    if not changed:
        return None
    return eqn.replace(inputs=tuple(inputs), params=tuple(sorted(flags.items())))


def _select(eqn: Eqn) -> Value | Eqn | None:
    c, x, y = eqn.inputs
    if x is y or (isinstance(x, Lit) and x == y):
        return _broadcast_of(eqn, x)
    if isinstance(c, Lit) and c.is_scalar:
        return _broadcast_of(eqn, x if c.scalar() else y)
    return None


def _broadcast_of(eqn: Eqn, v: Value) -> Value | Eqn | None:
    """`v` in place of eqn's output, broadcast to its shape if need be (a rule's
    `select(y == 0, 0.0, ...)` with a literal y leaves a scalar 0.0 for an array)."""
    if v.type == eqn.out.type:
        return v
    if v.dtype != eqn.out.dtype:
        return None
    return eqn.replace(prim="broadcast_to", inputs=(v,), params=(("shape", eqn.out.shape),))


def _absorb_broadcast(eqn: Eqn, producers: dict[int, Eqn]) -> Eqn | None:
    """An elementwise operand that is an explicit broadcast can read the broadcast's source
    when the equation's own (implicit) broadcasting already gives the same output shape."""
    new = list(eqn.inputs)
    changed = False
    for i, v in enumerate(eqn.inputs):
        src = producers.get(id(v)) if isinstance(v, Var) else None
        if src is None or src.prim not in ("broadcast_to", "reshape"):
            continue
        inner = src.inputs[0]
        if src.prim == "reshape" and not _only_unit_dims(inner.shape, v.shape):
            continue
        trial = new[:i] + [inner] + new[i + 1:]
        try:
            shape = np.broadcast_shapes(*[t.shape for t in trial])
        except ValueError:
            continue
        if tuple(shape) == eqn.out.shape and inner.type.ndim <= eqn.out.type.ndim:
            new[i] = inner
            changed = True
    return eqn.replace(inputs=tuple(new)) if changed else None


def _only_unit_dims(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Whether reshaping a to b only adds leading size-1 axes (which broadcasting implies)."""
    lead = len(b) - len(a)
    return lead >= 0 and b[lead:] == a and all(d == 1 for d in b[:lead])


def _add_self(eqn: Eqn) -> Eqn | None:
    x, y = eqn.inputs
    if x is y and x.type == eqn.out.type:
        return eqn.replace(prim="mul", inputs=(x, Lit.make(2, x.dtype)))
    return None


RULES: dict[str, Callable[..., Any]] = {
    "add": _add, "sub": _sub, "mul": _mul, "div": _div, "pow": _pow, "neg": _neg,
    "reshape": _reshape, "transpose": _transpose, "broadcast_to": _broadcast,
    "convert": _noop_shape, "select": _select, "matmul": _matmul,
}
_NEEDS_PRODUCERS = {"neg", "reshape", "add", "mul", "matmul"}
_NEEDS_USES = {"transpose"}  # rules that must know a value has no other reader


class SimplifyStats(Counter):
    def __str__(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.items())) or "no rewrites"


def simplify(g: Graph, *, stats: SimplifyStats | None = None) -> Graph:
    stats = stats if stats is not None else SimplifyStats()
    for _ in range(20):
        g2, changed = _sweep(g, stats)
        g = dce(g2)
        if not changed:
            break
    return g


def _key(v: Value) -> Any:
    return v if isinstance(v, Lit) else id(v)


def _sweep(g: Graph, stats: Counter) -> tuple[Graph, bool]:
    subst: dict[int, Value] = {}
    producers: dict[int, Eqn] = {}
    seen: dict[Any, Eqn] = {}
    out: list[Eqn] = []
    changed = False
    uses = Counter(id(v) for e in g.eqns for v in e.inputs if isinstance(v, Var))
    uses.update(id(v) for v in g.outputs if isinstance(v, Var))

    def read(v: Value) -> Value:
        return subst.get(id(v), v) if isinstance(v, Var) else v

    for eqn in g.eqns:
        inputs = tuple(read(v) for v in eqn.inputs)
        if inputs != eqn.inputs:
            eqn = eqn.replace(inputs=inputs)
        result: Value | Eqn | None = None
        if len(eqn.outputs) == 1:
            result = _fold(eqn, producers)
            name = "fold"
            if result is None and PRIMS[eqn.prim].kind == "elementwise":
                result = _absorb_broadcast(eqn, producers)
                name = "absorb_broadcast"
            if result is None and eqn.prim in RULES:
                rule = RULES[eqn.prim]
                if eqn.prim in _NEEDS_USES:
                    result = rule(eqn, producers, uses)
                elif eqn.prim in _NEEDS_PRODUCERS:
                    result = rule(eqn, producers)
                else:
                    result = rule(eqn)
                name = eqn.prim
        if isinstance(result, (Var, Lit)):
            subst[id(eqn.out)] = result
            stats[name] += 1
            changed = True
            continue
        if isinstance(result, list):  # several equations; the last defines the output
            for e in result[:-1]:
                for o in e.outputs:
                    producers[id(o)] = e
                out.append(e)
            result = result[-1]
        if isinstance(result, Eqn):
            stats[name] += 1
            changed = True
            eqn = result
        key = (eqn.prim, tuple(_key(v) for v in eqn.inputs), eqn.params)
        if PRIMS[eqn.prim].kind != "control" and key in seen:
            for a, b in zip(eqn.outputs, seen[key].outputs, strict=True):
                subst[id(a)] = b
            stats["cse"] += 1
            changed = True
            continue
        seen[key] = eqn
        for o in eqn.outputs:
            producers[id(o)] = eqn
        out.append(eqn)
    outputs = tuple(read(v) for v in g.outputs)
    return g.replace(eqns=tuple(out), outputs=outputs), changed
