"""Structured control flow: `cond` and `while`, whose params hold sub-graphs, and
`while_grad`, the reverse-mode companion of `while`.

    cond[branches=(if_false, if_true)] pred, *operands -> outputs
        runs branches[pred] on the operands; both branches take the operands' types and
        return the same types.
    while[cond, body, n_consts] *consts, *init -> final
        c = init; while cond(*consts, *c): c = body(*consts, *c); returns c.
    while_grad[cond, body, body_vjp, n_consts] *consts, *init, *ct_final
        -> *final, *ct_consts, *ct_init
        runs the loop forward recording each iteration's carried values on a tape that
        grows as needed (no bound on the trip count), then walks the tape backwards
        through body_vjp. Only float values have cotangents.

Sub-graphs are closed: values from outside reach them as operands (consts). The VJP of
`cond` is a `cond` over the branches' adjoints, so only the branch that ran is
differentiated; the VJP of `while` is a `while_grad`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..builder import emit_multi
from ..core import ArrayType, Graph, Value, Var
from ..primitive import CONTROL, Primitive, SubgraphPasses, register


def _types(g: Graph, which: str) -> tuple[ArrayType, ...]:
    return g.in_types if which == "in" else g.out_types


def _float_idx(types: Any) -> list[int]:
    return [i for i, t in enumerate(types) if t.is_float]


def _outputs_only(g: Graph, keep: list[int], name: str, passes: SubgraphPasses) -> Graph:
    """g returning only outputs `keep`, without the work the others needed."""
    outputs = tuple(g.outputs[i] for i in keep)
    return passes.simplify(g.replace(name=name, outputs=outputs, notes=()))


# ---- cond ------------------------------------------------------------------------------------

def _cond_shape(pred: ArrayType, *operands: ArrayType,
                branches: tuple[Graph, Graph]) -> tuple[ArrayType, ...]:
    if pred.dtype != "bool" or pred.shape != ():
        raise ValueError(f"cond's predicate must be bool[], got {pred}")
    outs = None
    for br in branches:
        if br.in_types != tuple(operands):
            raise ValueError(f"cond branch {br.name} takes {br.in_types}, operands are "
                             f"{tuple(operands)}")
        if outs is not None and br.out_types != outs:
            raise ValueError(f"cond branches return different types: {outs} and {br.out_types}")
        outs = br.out_types
    return tuple(outs)


def _cond_impl(pred: np.ndarray, *operands: np.ndarray,
               branches: tuple[Graph, Graph]) -> tuple[np.ndarray, ...]:
    from ..evaluate import evaluate

    return evaluate(branches[int(bool(pred))], *operands)


def _cts(ct: Any, outs: tuple[Var, ...]) -> list[Value]:
    """Cotangents of the float outputs, zeros where symbolic."""
    cts = ct if isinstance(ct, tuple) else (ct,)
    return [c if c is not None else ops.zeros(o.type)
            for c, o in zip(cts, outs, strict=True) if o.type.is_float]


def _cond_vjp(ct: Any, pred: Value, *operands: Value, out: Any,
              branches: tuple[Graph, Graph], passes: SubgraphPasses
              ) -> tuple[Value | None, ...]:
    outs = out if isinstance(out, tuple) else (out,)
    wrt = [i for i, v in enumerate(operands) if isinstance(v, Var) and v.type.is_float]
    if not wrt:
        return (None,) * (1 + len(operands))
    n_out = len(branches[0].outputs)
    grads_at = list(range(n_out, n_out + len(wrt)))
    vjps = tuple(_outputs_only(passes.adjoint(br, wrt, seed="inputs"), grads_at,
                               f"{br.name}_vjp", passes) for br in branches)
    results = emit_multi("cond", pred, *operands, *_cts(ct, outs), branches=vjps)
    grads: list[Value | None] = [None] * len(operands)
    for i, g in zip(wrt, results, strict=True):
        grads[i] = g
    return (None, *grads)


def _cond_jvp(tangents: list[Value | None], pred: Value, *operands: Value, out: Any,
              branches: tuple[Graph, Graph], passes: SubgraphPasses) -> Any:
    outs = out if isinstance(out, tuple) else (out,)
    t_ops = tangents[1:]
    wrt = [i for i, t in enumerate(t_ops) if t is not None]
    n_out = len(outs)
    keep = list(range(n_out, 2 * n_out))
    jvps = tuple(_outputs_only(passes.jvp(br, wrt), keep, f"{br.name}_jvp", passes)
                 for br in branches)
    res = emit_multi("cond", pred, *operands, *[t_ops[i] for i in wrt], branches=jvps)
    res = tuple(r if o.type.is_float else None for r, o in zip(res, outs, strict=True))
    return res if isinstance(out, tuple) else res[0]


register(Primitive("cond", CONTROL, shape=_cond_shape, impl=_cond_impl, jvp=_cond_jvp,
                   vjp=_cond_vjp, params=("branches",), takes_passes=True))


# ---- while -----------------------------------------------------------------------------------

def _split(xs: tuple[Any, ...], n_consts: int) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    return xs[:n_consts], xs[n_consts:]


def _while_shape(*xs: ArrayType, cond: Graph, body: Graph, n_consts: int) -> tuple[ArrayType, ...]:
    consts, carried = _split(xs, n_consts)
    if cond.in_types != xs:
        raise ValueError(f"while cond takes {cond.in_types}, operands are {xs}")
    if cond.out_types != (ArrayType("bool", ()),):
        raise ValueError(f"while cond must return bool[], got {cond.out_types}")
    if body.in_types != xs or body.out_types != carried:
        raise ValueError(f"while body must map {xs} to {carried}, got {body.in_types} -> "
                         f"{body.out_types}")
    return tuple(carried)


def _run_while(consts: tuple[np.ndarray, ...], carried: tuple[np.ndarray, ...], cond: Graph,
               body: Graph, tape: list | None = None) -> tuple[np.ndarray, ...]:
    from ..evaluate import evaluate

    while bool(evaluate(cond, *consts, *carried)[0]):
        if tape is not None:
            tape.append(carried)
        carried = evaluate(body, *consts, *carried)
    return carried


def _while_impl(*xs: np.ndarray, cond: Graph, body: Graph, n_consts: int) -> tuple:
    consts, carried = _split(xs, n_consts)
    return tuple(_run_while(consts, carried, cond, body))


def _while_vjp(ct: Any, *xs: Value, out: Any, cond: Graph, body: Graph,
               n_consts: int, passes: SubgraphPasses) -> tuple[Value | None, ...]:
    outs = out if isinstance(out, tuple) else (out,)
    f_in = _float_idx(body.in_types)
    n_carried = len(outs)
    joint = passes.adjoint(body, f_in, seed="inputs")
    body_vjp = _outputs_only(joint, list(range(n_carried, n_carried + len(f_in))),
                             f"{body.name}_vjp", passes)
    res = emit_multi("while_grad", *xs, *_cts(ct, outs), cond=cond, body=body,
                     body_vjp=body_vjp, n_consts=n_consts)
    grads: list[Value | None] = [None] * len(xs)
    for i, g in zip(f_in, res[n_carried:], strict=True):
        grads[i] = g if isinstance(xs[i], Var) else None
    return tuple(grads)


def _while_jvp(tangents: list[Value | None], *xs: Value, out: Any, cond: Graph, body: Graph,
               n_consts: int, passes: SubgraphPasses) -> Any:
    outs = out if isinstance(out, tuple) else (out,)
    jvp = passes.jvp
    # Every float carried value gets a tangent (zeros where none came in): the body can move
    # tangent from one carried value to another.
    f_in = _float_idx(body.in_types)
    t_in = [tangents[i] if tangents[i] is not None else ops.zeros(xs[i].type) for i in f_in]
    body_j = jvp(body, f_in)  # inputs: xs, tangents of f_in; outputs: carried, tangents
    f_out = _float_idx(body.out_types)
    consts_t = [k for k, i in enumerate(f_in) if i < n_consts]
    carried_t = [k for k, i in enumerate(f_in) if i >= n_consts]
    # New loop: consts are (consts, const tangents); carried are (carried, carried tangents).
    order = (list(range(n_consts)) + [len(xs) + k for k in consts_t]
             + list(range(n_consts, len(xs))) + [len(xs) + k for k in carried_t])
    ins = body_j.inputs
    new_body = body_j.replace(inputs=tuple(ins[i] for i in order), name=f"{body.name}_jvp",
                              outputs=tuple(body_j.outputs[:len(outs)])
                              + tuple(body_j.outputs[len(outs) + k] for k in f_out), notes=())
    cond_vars = tuple(Var(ins[i].type) for i in order)
    new_cond = _rebind(cond, cond_vars, order, len(xs))
    t_vals = [t_in[k] for k in consts_t] + [t_in[k] for k in carried_t]
    n_c = n_consts + len(consts_t)
    args = list(xs[:n_consts]) + t_vals[:len(consts_t)] + list(xs[n_consts:]) \
        + t_vals[len(consts_t):]
    res = emit_multi("while", *args, cond=new_cond, body=new_body, n_consts=n_c)
    tangents_out: list[Value | None] = [None] * len(outs)
    for j, r in zip(f_out, res[len(outs):], strict=True):
        tangents_out[j] = r
    return tuple(tangents_out) if isinstance(out, tuple) else tangents_out[0]


def _rebind(cond: Graph, new_inputs: tuple[Var, ...], order: list[int], n_primal: int) -> Graph:
    """cond over the extended operand list: it reads only the primal positions."""
    primal_pos = [k for k, i in enumerate(order) if i < n_primal]
    mapping = {id(cond.inputs[order[k]]): new_inputs[k] for k in primal_pos}
    eqns = tuple(e.replace(inputs=tuple(mapping.get(id(v), v) if isinstance(v, Var) else v
                                        for v in e.inputs)) for e in cond.eqns)
    outs = tuple(mapping.get(id(v), v) if isinstance(v, Var) else v for v in cond.outputs)
    return Graph(cond.name, new_inputs, eqns, outs)


register(Primitive("while", CONTROL, shape=_while_shape, impl=_while_impl, jvp=_while_jvp,
                   vjp=_while_vjp, params=("cond", "body", "n_consts"), takes_passes=True))


# ---- while_grad ------------------------------------------------------------------------------

def _while_grad_shape(*xs: ArrayType, cond: Graph, body: Graph, body_vjp: Graph,
                      n_consts: int) -> tuple[ArrayType, ...]:
    n = len(body.in_types)
    primal = xs[:n]
    carried = _while_shape(*primal, cond=cond, body=body, n_consts=n_consts)
    float_out = [t for t in carried if t.is_float]
    if tuple(xs[n:]) != tuple(float_out):
        raise ValueError(f"while_grad takes one cotangent per float carried value "
                         f"{tuple(float_out)}, got {tuple(xs[n:])}")
    float_in = [t for t in primal if t.is_float]
    if body_vjp.in_types != tuple(primal) + tuple(float_out) or \
            body_vjp.out_types != tuple(float_in):
        raise ValueError("while_grad's body_vjp does not match the body")
    return tuple(carried) + tuple(float_in)


def _while_grad_impl(*xs: np.ndarray, cond: Graph, body: Graph, body_vjp: Graph,
                     n_consts: int) -> tuple:
    from ..evaluate import evaluate

    n = len(body.inputs)
    consts, init = _split(xs[:n], n_consts)
    ct_carried = list(xs[n:])
    tape: list = []
    final = _run_while(consts, init, cond, body, tape)
    f_in = _float_idx(body.in_types)
    f_carried = [i - n_consts for i in f_in if i >= n_consts]
    ct_consts = {i: np.zeros(body.inputs[i].shape, body.inputs[i].type.np_dtype)
                 for i in f_in if i < n_consts}
    for carried in reversed(tape):
        grads = evaluate(body_vjp, *consts, *carried, *ct_carried)
        for i, g in zip(f_in, grads, strict=True):
            if i < n_consts:
                ct_consts[i] = ct_consts[i] + g
        ct_carried = [grads[f_in.index(n_consts + j)] for j in f_carried]
    return tuple(final) + tuple(ct_consts[i] if i < n_consts
                                else ct_carried[f_carried.index(i - n_consts)] for i in f_in)


def _while_grad_jvp(tangents: list[Value | None], *xs: Value, out: Any, cond: Graph,
                    body: Graph, body_vjp: Graph, n_consts: int, passes: SubgraphPasses
                    ) -> tuple[Value | None, ...]:
    """Forward mode through a reverse sweep (Hessian-vector products of loops): one
    `while_grad` over the loop with tangents carried (the JVP of `while`'s body, as in
    `_while_jvp`) whose backward step is the JVP of `body_vjp`: it walks (cotangent, its
    tangent) back through the tape of (carried value, its tangent)."""
    jvp = passes.jvp
    n = len(body.inputs)
    n_carried = n - n_consts
    f_in = _float_idx(body.in_types)
    f_out = _float_idx(body.out_types)
    t_in = [tangents[i] if tangents[i] is not None else ops.zeros(xs[i].type) for i in f_in]
    t_ct = [tangents[n + k] if tangents[n + k] is not None else ops.zeros(xs[n + k].type)
            for k in range(len(f_out))]
    body_j = jvp(body, f_in)
    consts_t = [k for k, i in enumerate(f_in) if i < n_consts]
    carried_t = [k for k, i in enumerate(f_in) if i >= n_consts]
    order = (list(range(n_consts)) + [n + k for k in consts_t]
             + list(range(n_consts, n)) + [n + k for k in carried_t])
    ins = body_j.inputs
    new_body = body_j.replace(inputs=tuple(ins[i] for i in order), name=f"{body.name}_jvp",
                              outputs=tuple(body_j.outputs[:n_carried])
                              + tuple(body_j.outputs[n_carried + k] for k in f_out), notes=())
    new_cond = _rebind(cond, tuple(Var(ins[i].type) for i in order), order, n)
    # The backward step: (consts, const tangents, carried, carried tangents, cotangents,
    # their tangents) -> (cotangents, their tangents) of the float inputs, in new_body's order.
    vjp_floats = _float_idx(body_vjp.in_types)
    vjp_j = jvp(body_vjp, vjp_floats)
    v_consts = [Var(v.type) for v in body.inputs[:n_consts]]
    v_tc = [Var(body.inputs[f_in[k]].type) for k in consts_t]
    v_carried = [Var(v.type) for v in body.inputs[n_consts:]]
    v_tcar = [Var(body.inputs[f_in[k]].type) for k in carried_t]
    v_ct = [Var(t) for t in body_vjp.in_types[n:]]
    v_tct = [Var(t) for t in body_vjp.in_types[n:]]
    from ..builder import Builder, building, inline

    t_of = {f_in[k]: v for k, v in zip(consts_t + carried_t, v_tc + v_tcar, strict=True)}
    t_of.update({n + k: v for k, v in enumerate(v_tct)})
    b = Builder()
    with building(b):
        res = inline(vjp_j, [*v_consts, *v_carried, *v_ct, *[t_of[i] for i in vjp_floats]])
    g, tg = res[:len(f_in)], res[len(f_in):]
    outs_v = ([g[k] for k in consts_t] + [tg[k] for k in consts_t]
              + [g[k] for k in carried_t] + [tg[k] for k in carried_t])
    new_vjp = Graph(f"{body_vjp.name}_jvp", tuple(v_consts + v_tc + v_carried + v_tcar
                                                   + v_ct + v_tct), tuple(b.eqns),
                    tuple(outs_v))
    args = (list(xs[:n_consts]) + [t_in[k] for k in consts_t] + list(xs[n_consts:n])
            + [t_in[k] for k in carried_t] + list(xs[n:]) + t_ct)
    r = emit_multi("while_grad", *args, cond=new_cond, body=new_body, body_vjp=new_vjp,
                   n_consts=n_consts + len(consts_t))
    # r: carried, carried tangents (f_out), then the cotangents of new_body's float inputs:
    # float consts, their tangents, float carried, their tangents.
    t_final: list[Value | None] = [None] * n_carried
    for j, v in zip(f_out, r[n_carried:n_carried + len(f_out)], strict=True):
        t_final[j] = v
    cts = r[n_carried + len(f_out):]
    nc, ncar = len(consts_t), len(carried_t)
    t_grads = list(cts[nc:2 * nc]) + list(cts[2 * nc + ncar:])
    return tuple(t_final) + tuple(t_grads)


def _no_second_reverse(*args: Any, **kwargs: Any) -> Any:
    from ..errors import NotDifferentiable

    raise NotDifferentiable("reverse mode over the reverse sweep of a while loop is not "
                            "supported", hint="for second derivatives use forward over "
                                              "reverse: adjit.hessian, adjit.hvp, or "
                                              "adjit.jvp of adjit.grad")


register(Primitive("while_grad", CONTROL, shape=_while_grad_shape, impl=_while_grad_impl,
                   jvp=_while_grad_jvp, vjp=_no_second_reverse,
                   params=("body", "body_vjp", "cond", "n_consts"), takes_passes=True))
