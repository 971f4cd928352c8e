"""Between sympy and adjit: `from_sympy` turns a sympy expression into declared IR, and
`to_sympy` turns a scalar elementwise graph back into sympy, so a derivative adjit computed
can be compared with `sympy.diff` symbolically. Both reuse the elementwise declarations:
the tree form of `ir.prims.derive` one way, each primitive's sympy formula the other."""
from __future__ import annotations

from typing import Any

from adjit.ir import Graph, Lit, Var, building, context
from adjit.ir.errors import TraceError
from adjit.ir.primitive import PRIMS

from .explicit import Sym, _owner
from .loc import user_loc


def from_sympy(expr: Any, mapping: dict[Any, Sym]) -> Sym:
    """The declared value of a sympy expression, with its symbols bound by `mapping`
    (elementwise functions, sums, products and powers)."""
    import sympy as sp

    from adjit.ir.prims.derive import to_tree
    from adjit.ir.prims.elementwise import replay

    expr = sp.sympify(expr)
    names = {}
    for sym, value in mapping.items():
        if not isinstance(value, Sym):
            raise TraceError(f"from_sympy: {sym} must map to a declared value", loc=user_loc(2))
        names[str(sym)] = value
    free = {str(s) for s in expr.free_symbols}
    if free - names.keys():
        raise TraceError(f"from_sympy: no value given for {sorted(free - names.keys())}",
                         loc=user_loc(2))
    owner = _owner(list(names.values()))
    try:
        tree = to_tree(expr)
    except NotImplementedError as e:
        raise TraceError(f"from_sympy: {e}", loc=user_loc(2)) from None
    dtype = next(iter(names.values())).val.dtype if names else "f64"
    with building(owner.builder), context(loc=user_loc(2)):
        env = {k: v.val for k, v in names.items()}
        out = replay(_rename_leaves(tree, names), env, dtype)
    return Sym(out, owner)


def _rename_leaves(tree: Any, names: dict[str, Sym]) -> Any:
    if isinstance(tree, str) or isinstance(tree, float):
        return tree
    return (tree[0], *[_rename_leaves(t, names) for t in tree[1:]])


def to_sympy(g: Graph | Sym, symbols: dict[str, Any] | None = None) -> Any:
    """The sympy expression a scalar elementwise graph computes, over symbols named after
    its inputs (or `symbols`)."""
    import sympy as sp

    from adjit.ir.prims.derive import parse

    if isinstance(g, Sym):
        g = g.graph
    if len(g.outputs) != 1:
        raise TraceError("to_sympy needs a graph with one output")
    env: dict[int, Any] = {}
    for v in g.inputs:
        env[id(v)] = (symbols or {}).get(v.name) or sp.Symbol(v.name, real=True)

    def read(v: Any) -> Any:
        if isinstance(v, Lit):
            if not v.is_scalar:
                raise TraceError("to_sympy: array constants have no scalar expression")
            return sp.nsimplify(v.scalar()) if v.type.is_float else sp.Integer(v.scalar())
        return env[id(v)]

    rels = {"lt": sp.Lt, "le": sp.Le, "gt": sp.Gt, "ge": sp.Ge, "eq": sp.Eq, "ne": sp.Ne}
    for eqn in g.eqns:
        args = [read(v) for v in eqn.inputs]
        prim = PRIMS[eqn.prim]
        if prim.expr is not None:
            f = parse(prim.expr)
            out = f.subs({sp.Symbol(a, real=True): x for a, x in zip(prim.args, args,
                                                                      strict=True)},
                         simultaneous=True)
        elif eqn.prim in rels:
            out = rels[eqn.prim](*args)
        elif eqn.prim == "select":
            out = sp.Piecewise((args[1], args[0]), (args[2], True))
        elif eqn.prim in ("convert", "stop_gradient") or (
                eqn.prim in ("reshape", "broadcast_to", "reduce_sum")
                and eqn.inputs[0].type.size == 1):
            out = args[0]
        else:
            raise TraceError(f"to_sympy: `{eqn.prim}` is not a scalar elementwise operation",
                             loc=eqn.loc)
        env[id(eqn.out)] = out
    (o,) = g.outputs
    return read(o) if isinstance(o, (Var, Lit)) else o
