"""`custom_vjp`: a computation whose reverse-mode derivative is a user's rule, not its own.

    %o, %r = custom_vjp[fwd=..., bwd=..., n_out=1, n_primal=1] x
      fwd: (primals..., closed-over...) -> (outputs..., residuals...)
      bwd: (residuals..., output cotangents..., closed-over...) -> one cotangent per primal

Its value is `fwd`'s. Its VJP inlines `bwd` on the residuals and the outputs' cotangents
(a graph, so it can be differentiated again); values `fwd` or `bwd` close over get no
gradient from it, as in JAX. Forward mode is refused (JAX refuses it too: the rule says
nothing about tangents). Code generators never see it: after differentiation
`passes/inline_custom.py` replaces it by `fwd`'s equations.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..builder import inline
from ..core import ArrayType, Graph, Value, Var
from ..errors import NotDifferentiable
from ..primitive import CONTROL, Primitive, SubgraphPasses, register
from .. import ops


def _shape(*operands: ArrayType, fwd: Graph, bwd: Graph, n_out: int, n_primal: int,
           n_fwd_free: int) -> tuple[ArrayType, ...]:
    if fwd.in_types != tuple(operands[:n_primal + n_fwd_free]):
        raise ValueError(f"custom_vjp fwd takes {fwd.in_types}, operands are {operands}")
    return fwd.out_types


def _impl(*operands: np.ndarray, fwd: Graph, bwd: Graph, n_out: int, n_primal: int,
          n_fwd_free: int) -> tuple[np.ndarray, ...]:
    from ..evaluate import evaluate

    return evaluate(fwd, *operands[:n_primal + n_fwd_free])


def _vjp(ct: Any, *operands: Value, out: Any, fwd: Graph, bwd: Graph, n_out: int,
         n_primal: int, n_fwd_free: int, passes: SubgraphPasses,
         residuals_are_primals: bool = False) -> tuple[Value | None, ...]:
    outs = out if isinstance(out, tuple) else (out,)
    cts = ct if isinstance(ct, tuple) else (ct,)
    residuals = list(outs[n_out:])
    out_cts = [c if c is not None else ops.zeros(o.type)
               for c, o in zip(cts[:n_out], outs[:n_out], strict=True) if o.type.is_float]
    bwd_free = list(operands[n_primal + n_fwd_free:])
    grads: list[Value | None] = list(inline(bwd, [*residuals, *out_cts, *bwd_free]))
    if any(c is not None for c in cts[n_out:]):
        # A derivative of a derivative (grad of grad) reaches the residuals, which the
        # inlined `bwd` of the first one reads: that part goes back through what computed
        # them, `fwd` (custom_jvp: the residuals are the primals themselves), as in JAX.
        back = (list(cts[n_out:]) if residuals_are_primals
                else _through_fwd(fwd, operands, outs, cts, n_out, n_primal, n_fwd_free,
                                  passes))
        grads = [g if b is None else ops.add(g, b) for g, b in zip(grads, back, strict=False)]
    result: list[Value | None] = []
    for i, v in enumerate(operands):
        if i < n_primal and isinstance(v, Var) and v.type.is_float:
            g = grads[i]
            result.append(ops.convert(g, v.dtype) if g.dtype != v.dtype else g)
        else:
            result.append(None)
    return tuple(result)


def _through_fwd(fwd: Graph, operands: tuple[Value, ...], outs: tuple[Value, ...],
                 cts: tuple[Any, ...], n_out: int, n_primal: int, n_fwd_free: int,
                 passes: SubgraphPasses) -> list[Value | None]:
    """The residuals' cotangents pulled back to the primals through `fwd`'s own equations
    (None for a primal that is not float)."""
    floats = [i for i in range(n_primal) if fwd.inputs[i].type.is_float]
    if not floats:
        return [None] * n_primal
    joint = passes.adjoint(fwd, floats, seed="inputs")
    seeds = [ops.zeros(o.type) if k < n_out or c is None else c
             for k, (o, c) in enumerate(zip(outs, cts, strict=True)) if o.type.is_float]
    got = inline(joint, [*operands[:n_primal + n_fwd_free], *seeds])[len(fwd.outputs):]
    back: list[Value | None] = [None] * n_primal
    for i, g in zip(floats, got, strict=True):
        back[i] = g
    return back


def _jvp(tangents: list[Value | None], *operands: Value, out: Any, **params: Any) -> Any:
    raise NotDifferentiable("a custom_vjp function cannot be differentiated in forward mode "
                            "(its rule gives only vector-Jacobian products)",
                            hint="use reverse mode (grad, vjp), or define the function with "
                                 "adjit.custom_jvp")


# (the rules are handed the passes: the VJP differentiates `fwd` for grad of grad)
register(Primitive("custom_vjp", CONTROL, shape=_shape, impl=_impl, jvp=_jvp, vjp=_vjp,
                   params=("fwd", "bwd", "n_out", "n_primal", "n_fwd_free"),
                   takes_passes=True, extra={"inlined_before_codegen": True}))


# `custom_jvp` (tracer/custom_jvp.py): the same equation with a forward-mode rule, `jvp`:
# (primals..., float primals' tangents..., closed-over...) -> the outputs' tangents. Its
# residuals are the primals, and its `bwd` is the rule's transpose, built when it is traced.
def _jvp_shape(*operands: ArrayType, jvp: Graph, **params: Any) -> tuple[ArrayType, ...]:
    return _shape(*operands, **params)


def _jvp_impl(*operands: np.ndarray, jvp: Graph, **params: Any) -> tuple[np.ndarray, ...]:
    return _impl(*operands, **params)


def _jvp_vjp(ct: Any, *operands: Value, out: Any, jvp: Graph, **params: Any) -> Any:
    return _vjp(ct, *operands, out=out, residuals_are_primals=True, **params)


def _custom_jvp_jvp(tangents: list[Value | None], *operands: Value, out: Any, jvp: Graph,
                    fwd: Graph, bwd: Graph, n_out: int, n_primal: int,
                    n_fwd_free: int, passes: SubgraphPasses) -> tuple[Value, ...]:
    primals = operands[:n_primal]
    floats = [ops.zeros(p.type) if t is None else t
              for p, t in zip(primals, tangents[:n_primal], strict=True) if p.type.is_float]
    t_outs = inline(jvp, [*primals, *floats, *operands[n_primal + n_fwd_free:]])
    # The residual outputs are the primals themselves: their tangents are the primals'.
    passthrough = [ops.zeros(p.type) if t is None else t
                   for p, t in zip(primals, tangents[:n_primal], strict=True)]
    return (*t_outs, *passthrough)


register(Primitive("custom_jvp", CONTROL, shape=_jvp_shape, impl=_jvp_impl, jvp=_custom_jvp_jvp,
                   vjp=_jvp_vjp, params=("fwd", "bwd", "jvp", "n_out", "n_primal",
                                         "n_fwd_free"),
                   takes_passes=True, extra={"inlined_before_codegen": True}))
