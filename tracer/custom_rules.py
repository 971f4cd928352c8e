"""User-written derivative rules in traced code: `adjit.custom_vjp`, JAX's calling convention.

    @adjit.custom_vjp
    def log1pexp(x):
        return np.log1p(np.exp(x))

    def fwd(x):
        return log1pexp(x), x                  # (output, residuals)

    def bwd(x, g):
        return (g / (1 + np.exp(-x)),)         # one cotangent per argument

    log1pexp.defvjp(fwd, bwd)

On numpy values the function simply runs. On traced values `fwd` and `bwd` are traced into
closed graphs and one `custom_vjp` equation is emitted (ir/prims/custom.py): its value is
`fwd`'s, and the adjoint pass uses `bwd` instead of differentiating the body.
`emit(fwd, bwd, args)` is the mechanism, shared with the recorded API's
`adjit.autograd.Function` used in traced code.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from adjit.ir import Builder, Graph, Var, building, ops
from adjit.ir.builder import emit_multi
from adjit.ir.errors import TraceError

from . import pytree
from .convert import user_converted
from .loc import user_loc
from .subgraph import as_value, free_vars, make_graph
from .values import Tracer

# A rule that calls its own function (fwd's `y = f(x)`, a custom_jvp rule returning `f(x)`)
# emits that call as a custom equation too, with its rules traced in turn, so that
# differentiating the rule (a second derivative: grad of grad, a Hessian) uses the rule again,
# as in JAX. Rules are traced eagerly, so the nesting stops at RULE_DEPTH levels, where the
# call is the plain function: derivatives up to that order use the rules.
RULE_DEPTH = 4


class custom_vjp:  # noqa: N801  (JAX's name)
    """A function with a reverse-mode rule of its own (see the module docstring)."""

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: tuple[int, ...] = ()) -> None:
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        self._depth = 0  # rules being traced (see RULE_DEPTH)
        functools.update_wrapper(self, fun, updated=())

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> None:
        """`fwd(*args) -> (output, residuals)`; `bwd(*nondiff_args, residuals, cotangent)` ->
        one cotangent per differentiable argument (JAX's conventions)."""
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any) -> Any:
        if not any(isinstance(x, Tracer) for x in pytree.flatten(args)[0]):
            return self.fun(*args)
        # traced: the user's `if`/`while` on traced values compile, as in any function the
        # traced code calls (tracer/convert.py). Inside its own fwd (which usually calls the
        # function), the call is a custom_vjp equation again, down to RULE_DEPTH levels
        if self._depth >= RULE_DEPTH:
            return user_converted(self.fun)(*args)
        if self.fwd is None or self.bwd is None:
            raise TraceError(f"custom_vjp function {getattr(self.fun, '__name__', '')} has no "
                             f"rule yet", loc=user_loc(2), hint="call f.defvjp(fwd, bwd) first")
        fwd, bwd = user_converted(self.fwd), user_converted(self.bwd)
        nondiff, diff, merged = split_nondiff(self.nondiff_argnums, args, "custom_vjp")
        if nondiff:
            fwd0, bwd0 = fwd, bwd
            fwd = lambda *d: fwd0(*merged(d))  # noqa: E731
            bwd = lambda res, ct: bwd0(*nondiff, res, ct)  # noqa: E731
        self._depth += 1
        try:
            return emit(fwd, bwd, diff)
        finally:
            self._depth -= 1


def split_nondiff(nums: tuple[int, ...], args: tuple[Any, ...], what: str
                  ) -> tuple[list[Any], tuple[Any, ...], Callable[[Any], list[Any]]]:
    """JAX's `nondiff_argnums`: (the values at those positions, the other arguments, and a
    function putting values for the others back among them). Those values are constants of
    the rule, so they may not be traced."""
    if not nums:
        return [], args, list
    n = len(args)
    pos = sorted({i % n for i in nums if -n <= i < n})
    for i in pos:
        if any(isinstance(x, Tracer) for x in pytree.flatten(args[i])[0]):
            raise TraceError(f"{what}: argument {i} is in nondiff_argnums but is a traced "
                             "value", loc=user_loc(3),
                             hint="nondiff_argnums are for constants (ints, functions, "
                                  "settings); pass traced arrays as ordinary arguments")
    others = [i for i in range(n) if i not in pos]

    def merged(values: Any) -> list[Any]:
        full = list(args)
        for i, v in zip(others, values, strict=True):
            full[i] = v
        return full

    return [args[i] for i in pos], tuple(args[i] for i in others), merged


def emit(fwd: Callable[..., Any], bwd: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """One `custom_vjp` equation: `fwd(*args) -> (out, residuals)`, `bwd(residuals,
    out_cotangent) -> one cotangent per argument`."""
    leaves, tree = pytree.flatten(args)
    primal = [i for i, x in enumerate(leaves) if isinstance(x, Tracer)]
    fresh = [Var(leaves[i].val.type) for i in primal]
    call = list(leaves)
    for i, v in zip(primal, fresh, strict=True):
        call[i] = Tracer(v, leaves[i].weak)
    b = Builder()
    with building(b):
        result = fwd(*pytree.unflatten(tree, call))
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TraceError("a custom_vjp fwd must return (output, residuals)", loc=user_loc(3))
    out, res = result
    out_leaves, out_tree = pytree.flatten(out)
    res_leaves, res_tree = pytree.flatten(res)
    with building(b):
        fwd_outs = [as_value(x)[0] for x in out_leaves + res_leaves]
    fwd_graph, fwd_free = _closed("fwd", b, fresh, fwd_outs)

    res_vars = [Var(v.type) for v in fwd_outs[len(out_leaves):]]
    ct_vars = [Var(v.type) for v in fwd_outs[:len(out_leaves)] if v.type.is_float]
    cts_it = iter(ct_vars)
    ct_leaves = [Tracer(next(cts_it)) if v.type.is_float else np.zeros(v.shape, v.type.np_dtype)
                 for v in fwd_outs[:len(out_leaves)]]
    b2 = Builder()
    with building(b2):
        grads = bwd(pytree.unflatten(res_tree, [Tracer(v) for v in res_vars]),
                    pytree.unflatten(out_tree, ct_leaves))
        grads = grads if isinstance(grads, tuple) else (grads,)
        if len(grads) != len(args):
            raise TraceError(f"a custom_vjp bwd returned {len(grads)} cotangents for "
                             f"{len(args)} arguments", loc=user_loc(3),
                             hint="return a tuple with one cotangent (or None) per argument")
        per_leaf = _align(grads, args)
        bwd_outs = []
        for i in primal:
            g, x = per_leaf[i], leaves[i]
            if g is None:
                bwd_outs.append(ops.zeros(x.val.type))
            else:
                v = as_value(g)[0]
                v = ops.broadcast_to(ops.convert(v, x.val.dtype), x.shape)
                bwd_outs.append(v)
    bwd_graph, bwd_free = _closed("bwd", b2, res_vars + ct_vars, bwd_outs)
    outs = emit_multi("custom_vjp", *[leaves[i].val for i in primal], *fwd_free, *bwd_free,
                      fwd=fwd_graph, bwd=bwd_graph, n_out=len(out_leaves),
                      n_primal=len(primal), n_fwd_free=len(fwd_free))
    return pytree.unflatten(out_tree, [Tracer(o) for o in outs[:len(out_leaves)]])


def _closed(name: str, b: Builder, inputs: list[Var], outputs: list[Any]
            ) -> tuple[Graph, list[Var]]:
    """The graph `(*inputs, *closed-over) -> outputs`, and the closed-over outer values."""
    free = [v for v in free_vars(b, tuple(inputs), outputs) if all(v is not i for i in inputs)]
    g = make_graph(name, b, free, tuple(inputs), outputs)
    n = len(free)
    return g.replace(inputs=g.inputs[n:] + g.inputs[:n]), free


def _align(grads: tuple[Any, ...], args: tuple[Any, ...]) -> list[Any]:
    """One cotangent per leaf of `args`, from one (pytree or None) per argument."""
    out: list[Any] = []
    for g, a in zip(grads, args, strict=True):
        n = len(pytree.flatten(a)[0])
        if g is None:
            out.extend([None] * n)
            continue
        leaves = pytree.flatten(g)[0]
        if len(leaves) != n:
            raise TraceError("a custom_vjp bwd cotangent does not have its argument's "
                             "structure", loc=user_loc(4))
        out.extend(leaves)
    return out
