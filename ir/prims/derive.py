"""Derive elementwise rules from their sympy declarations and write `_derived.py`.

Run as `python -m adjit.ir.prims.derive` after changing `elementwise_decls.py` or
`special_decls.py` (the scipy.special primitives, written to `_derived_special.py`).
adjit also re-derives at import when the table is stale, so sympy is needed only
then: a normal import of adjit never imports sympy.

A partial derivative is stored as a tree of primitive applications over the
leaves "x", "y", "z", "out" and float constants, e.g. ("mul", "out", ("sub", 1.0, "out"));
a partial declared "nondiff" is the tree `NONDIFF`, which `elementwise.py` turns into a
refusal.
`elementwise.py` replays the tree with `ir.ops`, so derivatives are IR graphs.
"""
from __future__ import annotations

import hashlib
import pathlib
import pprint
from typing import Any

import sympy as sp

from .elementwise_decls import DECLS, Decl
from .special_decls import SPECIAL_DECLS

X, Y, Z, OUT = sp.symbols("x y z out", real=True)
SYMS = {"x": X, "y": Y, "z": Z, "out": OUT}
_LOCALS = {**SYMS, "Max": sp.Max, "Min": sp.Min, "Abs": sp.Abs, "Piecewise": sp.Piecewise,
           "Eq": sp.Eq, "Ne": sp.Ne}

DERIVED_PATH = pathlib.Path(__file__).with_name("_derived.py")
SPECIAL_PATH = pathlib.Path(__file__).with_name("_derived_special.py")

# A partial declared "nondiff" (the order of a Bessel function): asking for it is an error.
NONDIFF = ("not_differentiable",)


def parse(src: str) -> sp.Expr:
    return sp.sympify(src, locals=_LOCALS)


def decls_hash(decls: tuple[Decl, ...] = DECLS) -> str:
    return hashlib.sha256("\n".join(d.key() for d in decls).encode()).hexdigest()[:16]


_FUNCS = {sp.exp: "exp", sp.log: "log", sp.sin: "sin", sp.cos: "cos", sp.tan: "tan",
          sp.tanh: "tanh", sp.sinh: "sinh", sp.cosh: "cosh", sp.asin: "arcsin", sp.acos: "arccos",
          sp.atan: "arctan", sp.asinh: "arcsinh", sp.acosh: "arccosh", sp.atanh: "arctanh",
          sp.sign: "sign", sp.Abs: "abs", sp.atan2: "arctan2"}
_RELS = {sp.StrictGreaterThan: "gt", sp.GreaterThan: "ge", sp.StrictLessThan: "lt",
         sp.LessThan: "le", sp.Equality: "eq", sp.Unequality: "ne"}


_SPECIAL_NAMES = {d.name for d in SPECIAL_DECLS}
# sympy's special functions as the primitives of special_decls.py: (name, order) -> primitive
# of one argument, for the orders with a function of their own.
_BESSEL = {sp.besseli: ("iv", {0: "i0", 1: "i1"}), sp.besselj: ("jv", {0: "j0", 1: "j1"}),
           sp.bessely: ("yv", {0: "y0", 1: "y1"})}


def _special_tree(e: sp.Basic) -> Any:
    """The tree of a sympy special function (erf, loggamma, besseli(1, x), ...) or of an
    undefined function named after a special primitive (`i1e(x)`), else None."""
    if isinstance(e, sp.polygamma):
        n, a = e.args
        return ("digamma", to_tree(a)) if n == 0 else ("polygamma", to_tree(n), to_tree(a))
    if e.func in _BESSEL:
        general, fixed = _BESSEL[e.func]
        v, a = e.args
        if v.is_Integer and int(v) in fixed:
            return (fixed[int(v)], to_tree(a))
        return (general, to_tree(v), to_tree(a))
    named = {sp.erf: "erf", sp.erfc: "erfc", sp.erfinv: "erfinv", sp.erfcinv: "erfcinv",
             sp.gamma: "gamma", sp.loggamma: "gammaln"}
    if e.func in named:
        return (named[e.func], *[to_tree(a) for a in e.args])
    if isinstance(e, sp.core.function.AppliedUndef) and e.func.__name__ in _SPECIAL_NAMES:
        return (e.func.__name__, *[to_tree(a) for a in e.args])
    return None


def to_tree(e: sp.Basic) -> Any:
    """A sympy expression as a tree of adjit primitives."""
    if isinstance(e, sp.Symbol):
        return e.name
    if e.is_Number or e.is_NumberSymbol:
        return float(e)
    special = _special_tree(e)
    if special is not None:
        return special
    if isinstance(e, sp.Add):
        pos = [a for a in e.args if not _is_negated(a)]
        neg = [(-a) for a in e.args if _is_negated(a)]
        tree = _fold("add", [to_tree(a) for a in pos]) if pos else None
        for a in neg:
            tree = ("sub", tree, to_tree(a)) if tree is not None else ("neg", to_tree(a))
        return tree
    if isinstance(e, sp.Mul):
        coeff, rest = e.as_coeff_Mul()
        if coeff == -1:
            return ("neg", to_tree(rest))
        num, den = [], []
        for f in sp.Mul.make_args(e):
            if isinstance(f, sp.Pow) and f.exp.is_negative:
                den.append(f.base ** (-f.exp))
            elif isinstance(f, sp.Rational) and f.q != 1:
                if f.p != 1:
                    num.append(sp.Integer(f.p))
                den.append(sp.Integer(f.q))
            else:
                num.append(f)
        top = _fold("mul", [to_tree(a) for a in num]) if num else 1.0
        return ("div", top, _fold("mul", [to_tree(a) for a in den])) if den else top
    if isinstance(e, sp.Pow):
        b, p = e.base, e.exp
        if p == sp.Rational(1, 2):
            return ("sqrt", to_tree(b))
        if p == -1:
            return ("div", 1.0, to_tree(b))
        if p.is_negative:
            return ("div", 1.0, to_tree(b ** (-p)))
        if p == 2:
            t = to_tree(b)
            return ("mul", t, t)
        if b == sp.E:
            return ("exp", to_tree(p))
        return ("pow", to_tree(b), to_tree(p))
    if isinstance(e, sp.Heaviside):
        z = to_tree(e.args[0])
        return ("select", ("gt", z, 0.0), 1.0, ("select", ("eq", z, 0.0), 0.5, 0.0))
    if isinstance(e, sp.Piecewise):
        (val, cond), *rest = e.args
        if cond == sp.true:
            return to_tree(val)
        return ("select", to_tree(cond), to_tree(val), to_tree(sp.Piecewise(*rest)))
    if type(e) in _RELS:
        return (_RELS[type(e)], to_tree(e.lhs), to_tree(e.rhs))
    if isinstance(e, (sp.And, sp.Or)):
        return _fold("logical_and" if isinstance(e, sp.And) else "logical_or",
                     [to_tree(a) for a in e.args])
    if e.func in _FUNCS:
        return (_FUNCS[e.func], *[to_tree(a) for a in e.args])
    raise NotImplementedError(f"no adjit primitive for sympy {e.func.__name__}: {e}")


def _is_negated(a: sp.Basic) -> bool:
    return a.could_extract_minus_sign()


def _fold(op: str, items: list[Any]) -> Any:
    tree = items[0]
    for t in items[1:]:
        tree = (op, tree, t)
    return tree


def partial(decl: Decl, arg: str) -> sp.Expr:
    """∂f/∂arg, in terms of x, y and out: the override if given, else sympy's."""
    if decl.d.get(arg) == "nondiff":
        return None
    if arg in decl.d:
        return parse(decl.d[arg])
    f = parse(decl.expr)
    d = sp.simplify(sp.diff(f, SYMS[arg]))
    if not f.is_Symbol and not isinstance(f, (sp.Add, sp.Mul)):
        d = d.subs(f, OUT)
    return d


def scalar_code(decl: Decl) -> str:
    if decl.code is not None:
        return decl.code
    from sympy.printing.pycode import PythonCodePrinter

    text = PythonCodePrinter({"standard": "python3"}).doprint(parse(decl.expr))
    for a in decl.args:
        text = _replace_symbol(text, a, "{" + a + "}")
    return text


def _replace_symbol(text: str, name: str, repl: str) -> str:
    import re

    return re.sub(rf"\b{name}\b", repl, text)


def _tree(decl: Decl, arg: str) -> Any:
    d = partial(decl, arg)
    return NONDIFF if d is None else to_tree(d)


def derive_all(decls: tuple[Decl, ...] = DECLS) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for decl in decls:
        table[decl.name] = {
            "args": decl.args,
            "code": scalar_code(decl),
            "partials": {a: _tree(decl, a) for a in decl.args},
        }
    return table


def render(table: dict[str, dict[str, Any]], decls: tuple[Decl, ...] = DECLS,
           source: str = "elementwise_decls.py") -> str:
    return (f'"""Generated by `python -m adjit.ir.prims.derive` from {source}: '
            'do not edit."""\n'
            f"DECLS_HASH = {decls_hash(decls)!r}\n\n"
            f"TABLE = {pprint.pformat(table, width=100, sort_dicts=True)}\n")


def write(special: bool = False) -> dict[str, dict[str, Any]]:
    """Derive and write `_derived.py` (or, with `special`, `_derived_special.py`)."""
    decls, path = (SPECIAL_DECLS, SPECIAL_PATH) if special else (DECLS, DERIVED_PATH)
    table = derive_all(decls)
    text = render(table, decls, "special_decls.py" if special else "elementwise_decls.py")
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    except OSError:
        pass  # a read-only install still works: the table is used from memory
    return table


if __name__ == "__main__":
    write()
    write(special=True)
    print(f"wrote {DERIVED_PATH} and {SPECIAL_PATH}")
