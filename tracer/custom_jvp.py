"""`adjit.custom_jvp`: a function with a forward-mode rule of its own (JAX's convention).

    @adjit.custom_jvp
    def safe_log1pexp(x):
        return np.logaddexp(x, 0.0)

    @safe_log1pexp.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        return safe_log1pexp(x), t / (1 + np.exp(-x))

On numpy values the function simply runs. On traced values one `custom_jvp` equation is
emitted (ir/prims/custom.py): its value is the function's, forward mode inlines the rule, and
reverse mode uses the rule's transpose. The rule's tangent output is linear in the tangents,
so its vector-Jacobian product is the adjoint pass run on the traced rule with respect to
the tangent inputs, at zero tangents: built here, once per call site, as the equation's
`bwd` graph, exactly what a `custom_vjp` carries. So grad, vjp, jvp, hessian and every
composition use the rule, and the result can be differentiated again.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from adjit.ir import Builder, Graph, Var, building, ops
from adjit.ir.builder import emit_multi, inline
from adjit.ir.errors import TraceError

from . import pytree
from .convert import user_converted
from .custom_rules import RULE_DEPTH, split_nondiff
from .loc import user_loc
from .subgraph import as_value, free_vars, make_graph
from .values import Tracer


class custom_jvp:  # noqa: N801  (JAX's name)
    """A function with a forward-mode rule of its own (see the module docstring)."""

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: tuple[int, ...] = ()) -> None:
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.rule: Callable[..., Any] | None = None
        self._depth = 0  # rules being traced (see RULE_DEPTH)
        functools.update_wrapper(self, fun, updated=())

    def defjvp(self, rule: Callable[..., Any]) -> Callable[..., Any]:
        """`rule(*nondiff_args, primals, tangents) -> (primal_out, tangent_out)`; returns the
        rule, so it can be used as a decorator."""
        self.rule = rule
        return rule

    def __call__(self, *args: Any) -> Any:
        if not any(isinstance(x, Tracer) for x in pytree.flatten(args)[0]):
            return self.fun(*args)
        # traced: the user's `if`/`while` on traced values compile, as in any function the
        # traced code calls (tracer/convert.py)
        if self._depth >= RULE_DEPTH:
            return user_converted(self.fun)(*args)
        if self.rule is None:
            raise TraceError(f"custom_jvp function {getattr(self.fun, '__name__', '')} has no "
                             "rule yet", loc=user_loc(2), hint="decorate the rule with "
                                                               "@f.defjvp first")
        fun, rule = user_converted(self.fun), user_converted(self.rule)
        nondiff, diff, merged = split_nondiff(self.nondiff_argnums, args, "custom_jvp")
        if nondiff:
            fun0, rule0 = fun, rule
            fun = lambda *d: fun0(*merged(d))  # noqa: E731
            rule = lambda primals, tangents: rule0(*nondiff, primals, tangents)  # noqa: E731
        self._depth += 1
        try:
            return _emit(fun, rule, diff)
        finally:
            self._depth -= 1


def _emit(fun: Callable[..., Any], rule: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    from adjit.passes.adjoint import adjoint

    leaves, tree = pytree.flatten(args)
    primal = [i for i, x in enumerate(leaves) if isinstance(x, Tracer)]
    # The function itself, on fresh inputs: fwd = (primals, free) -> (outputs, primals).
    p_vars = [Var(leaves[i].val.type) for i in primal]
    b = Builder()
    with building(b):
        out = fun(*_substitute(tree, leaves, primal, p_vars))
        out_leaves, out_tree = pytree.flatten(out)
        outs = [as_value(x)[0] for x in out_leaves]
    fwd_free = [v for v in free_vars(b, tuple(p_vars), outs + p_vars)
                if all(v is not p for p in p_vars)]
    fwd = make_graph("fun", b, fwd_free, tuple(p_vars), outs + list(p_vars))
    fwd = fwd.replace(inputs=fwd.inputs[len(fwd_free):] + fwd.inputs[:len(fwd_free)])

    # The rule: (primals, tangents, free) -> tangent outputs.
    r_primals = [Var(v.type) for v in p_vars]
    r_tangents = [Var(v.type) for v in p_vars if v.type.is_float]
    b2 = Builder()
    with building(b2):
        t_it = iter(r_tangents)
        tangent_leaves = [Tracer(next(t_it)) if v.type.is_float else
                          ops.zeros(v.type) for v in r_primals]
        result = rule(tuple(_substitute(tree, leaves, primal, r_primals)),
                      tuple(_substitute(tree, leaves, primal, tangent_leaves)))
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TraceError("a custom_jvp rule must return (primal_out, tangent_out)",
                             loc=user_loc(3))
        t_out_leaves, t_tree = pytree.flatten(result[1])
        if t_tree != out_tree:
            raise TraceError("a custom_jvp rule's tangent output does not have the structure "
                             "of the function's output", loc=user_loc(3))
        t_outs = [ops.convert(ops.broadcast_to(as_value(t)[0], o.shape), o.dtype)
                  for t, o in zip(t_out_leaves, outs, strict=True)]
    r_inputs = tuple(r_primals + r_tangents)
    jvp_free = [v for v in free_vars(b2, r_inputs, t_outs) if all(v is not i for i in r_inputs)]
    rule_graph = make_graph("jvp", b2, jvp_free, r_inputs, t_outs)
    n = len(jvp_free)
    rule_graph = rule_graph.replace(inputs=rule_graph.inputs[n:] + rule_graph.inputs[:n])

    # Its transpose: (primals, output cotangents, free) -> one cotangent per primal.
    n_p, n_t = len(r_primals), len(r_tangents)
    joint = adjoint(rule_graph, list(range(n_p, n_p + n_t)), seed="inputs")
    bw_primals = [Var(v.type) for v in r_primals]
    bw_cts = [Var(o.type) for o in outs if o.type.is_float]
    bw_free = [Var(v.type) for v in jvp_free]
    b3 = Builder()
    with building(b3):
        zeros = [ops.zeros(v.type) for v in r_tangents]
        got = inline(joint, [*bw_primals, *zeros, *bw_free, *bw_cts])
        t_grads = iter(got[len(t_outs):])
        grads = [next(t_grads) if v.type.is_float else ops.zeros(v.type) for v in r_primals]
    bwd = Graph("bwd", tuple(bw_primals + bw_cts + bw_free), tuple(b3.eqns), tuple(grads))
    results = emit_multi("custom_jvp", *[leaves[i].val for i in primal], *fwd_free, *jvp_free,
                         fwd=fwd, bwd=bwd, jvp=rule_graph, n_out=len(outs),
                         n_primal=len(primal), n_fwd_free=len(fwd_free))
    return pytree.unflatten(out_tree, [Tracer(o) for o in results[:len(outs)]])


def _substitute(tree: Any, leaves: list[Any], primal: list[int], values: list[Any]) -> Any:
    call = list(leaves)
    for i, v in zip(primal, values, strict=True):
        call[i] = v if isinstance(v, Tracer) else Tracer(v, leaves[i].weak)
    return pytree.unflatten(tree, call)
