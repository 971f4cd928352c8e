"""adjit.vjp: the function's value at some primals, and its vector-Jacobian product there.

`out, vjp_fn = adjit.vjp(f, *primals)`; `vjp_fn(ct)` takes one cotangent per output (the
same structure as `out`: an array, or a tuple of arrays) and returns a tuple of one gradient
per primal. The primals are copied when `vjp` is called, so changing the caller's arrays
afterwards does not change what `vjp_fn` computes.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from adjit.ir.errors import TraceError
from adjit.tracer import Tracer
from adjit.tracer.loc import user_loc

from .api import Argnums, Transformed, _regroup, fresh_outputs


class VJP(Transformed):
    """The joint forward+backward function `(*primals, *cotangents) -> gradients`."""

    def __init__(self, fun: Callable[..., Any], argnums: Argnums, n_cotangents: int) -> None:
        super().__init__(fun, "vjp", argnums)
        self._n_ct = n_cotangents

    def _rebind(self, fun: Callable[..., Any]) -> Transformed:
        return VJP(fun, self.argnums, self._n_ct)

    def _check_output(self, traced: Any) -> str:
        return "inputs"  # one cotangent input per float output

    def _assemble(self, spec: Any, outs: list[Any], boxes: Any = None) -> Any:
        outs = fresh_outputs(spec, outs, boxes)
        grads = _regroup(getattr(spec, "grad_trees", None), outs[len(spec.traced.graph.outputs):])
        return grads[0] if self.single else tuple(grads)


def _leaves(x: Any) -> list[Any]:
    if isinstance(x, (tuple, list)):
        return [leaf for item in x for leaf in _leaves(item)]
    return [x]


def vjp(fun: Callable[..., Any], *primals: Any, argnums: Argnums | None = None) -> Any:
    """`(out, vjp_fn)`: `vjp_fn(ct)` is the vector-Jacobian product of `fun` at `primals`."""
    nums = tuple(range(len(primals))) if argnums is None else argnums
    primals = tuple(np.array(p, copy=True) if isinstance(p, np.ndarray) else p for p in primals)
    out = Transformed(fun, "jit")(*primals)
    outs = [o if isinstance(o, Tracer) else np.asarray(o) for o in _leaves(out)]
    diff = [i for i, o in enumerate(outs) if o.dtype.kind in "fc"]
    back = VJP(fun, nums, len(diff))
    structure = "a tuple" if isinstance(out, (tuple, list)) else "an array"

    def vjp_fn(ct: Any) -> tuple[Any, ...]:
        cts = _leaves(ct) if isinstance(out, (tuple, list)) else [ct]
        if isinstance(out, (tuple, list)) != isinstance(ct, (tuple, list)) or \
                len(cts) != len(outs):
            raise TraceError(f"vjp_fn expects one cotangent per output of "
                             f"{getattr(fun, '__name__', 'the function')} ({structure} of "
                             f"{len(outs)}), got {type(ct).__name__}"
                             + (f" of {len(cts)}" if isinstance(ct, (tuple, list)) else ""),
                             loc=user_loc(2))
        given = []
        for i in diff:
            if isinstance(cts[i], Tracer):  # inside another transformation's trace
                given.append(cts[i])
                continue
            c = np.asarray(cts[i])
            if c.shape != outs[i].shape:
                raise TraceError(f"vjp_fn: cotangent {i} has shape {c.shape}, but the output "
                                 f"it pairs with has shape {outs[i].shape}", loc=user_loc(2),
                                 hint="pass a cotangent of exactly the output's shape")
            if c.dtype.kind not in "biuf" and not (c.dtype.kind == "c"
                                                    and outs[i].dtype.kind == "c"):
                raise TraceError(f"vjp_fn: cotangent {i} has dtype {c.dtype}; it must be "
                                 f"real ({outs[i].dtype}, like the output)", loc=user_loc(2))
            given.append(np.array(c, dtype=outs[i].dtype, copy=True))
        res = back(*primals, *given)
        return res if isinstance(res, tuple) else (res,)

    return out, vjp_fn
