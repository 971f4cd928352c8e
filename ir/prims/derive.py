"""Derive elementwise rules from their sympy declarations and write `_derived.py`.

Run as `python -m adjit.ir.prims.derive` after changing `elementwise_decls.py`.
adjit also re-derives at import when the table is stale, so sympy is needed only
then: a normal import of adjit never imports sympy.

A partial derivative is stored as a tree of primitive applications over the
leaves "x", "y", "out" and float constants, e.g. ("mul", "out", ("sub", 1.0, "out")).
`elementwise.py` replays the tree with `ir.ops`, so derivatives are IR graphs.
"""
from __future__ import annotations

import hashlib
import pathlib
import pprint
from typing import Any

import sympy as sp

from .elementwise_decls import DECLS, Decl

X, Y, OUT = sp.symbols("x y out", real=True)
SYMS = {"x": X, "y": Y, "out": OUT}
_LOCALS = {**SYMS, "Max": sp.Max, "Min": sp.Min, "Abs": sp.Abs, "Piecewise": sp.Piecewise,
           "Eq": sp.Eq, "Ne": sp.Ne}

DERIVED_PATH = pathlib.Path(__file__).with_name("_derived.py")


def parse(src: str) -> sp.Expr:
    return sp.sympify(src, locals=_LOCALS)


def decls_hash() -> str:
    return hashlib.sha256("\n".join(d.key() for d in DECLS).encode()).hexdigest()[:16]


_FUNCS = {sp.exp: "exp", sp.log: "log", sp.sin: "sin", sp.cos: "cos", sp.tan: "tan",
          sp.tanh: "tanh", sp.sinh: "sinh", sp.cosh: "cosh", sp.asin: "arcsin", sp.acos: "arccos",
          sp.atan: "arctan", sp.asinh: "arcsinh", sp.acosh: "arccosh", sp.atanh: "arctanh",
          sp.sign: "sign", sp.Abs: "abs", sp.atan2: "arctan2"}
_RELS = {sp.StrictGreaterThan: "gt", sp.GreaterThan: "ge", sp.StrictLessThan: "lt",
         sp.LessThan: "le", sp.Equality: "eq", sp.Unequality: "ne"}


def to_tree(e: sp.Basic) -> Any:
    """A sympy expression as a tree of adjit primitives."""
    if isinstance(e, sp.Symbol):
        return e.name
    if e.is_Number or e.is_NumberSymbol:
        return float(e)
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


def derive_all() -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for decl in DECLS:
        table[decl.name] = {
            "args": decl.args,
            "code": scalar_code(decl),
            "partials": {a: to_tree(partial(decl, a)) for a in decl.args},
        }
    return table


def render(table: dict[str, dict[str, Any]]) -> str:
    return ('"""Generated by `python -m adjit.ir.prims.derive` from elementwise_decls.py: '
            'do not edit."""\n'
            f"DECLS_HASH = {decls_hash()!r}\n\n"
            f"TABLE = {pprint.pformat(table, width=100, sort_dicts=True)}\n")


def write() -> dict[str, dict[str, Any]]:
    table = derive_all()
    text = render(table)
    tmp = DERIVED_PATH.with_suffix(".tmp")
    try:
        tmp.write_text(text)
        tmp.replace(DERIVED_PATH)
    except OSError:
        pass  # a read-only install still works: the table is used from memory
    return table


if __name__ == "__main__":
    write()
    print(f"wrote {DERIVED_PATH}")
