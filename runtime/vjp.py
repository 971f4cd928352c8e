"""adjit.vjp: the function's value at some primals, and its vector-Jacobian product there.

`out, vjp_fn = adjit.vjp(f, *primals)`; `vjp_fn(ct)` takes one cotangent per output, in the
structure of `out` (an array, or a pytree of arrays: tuples, lists, dicts), and returns a
tuple of one gradient per primal, each in its primal's structure (JAX's convention: a
primal that is a tuple gets a tuple inside the returned 1-tuple). The primals are copied
when `vjp` is called, and so are the arrays `fun` captures (globals, closures, attributes),
so changing the caller's arrays afterwards does not change what `vjp_fn` computes.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from adjit.ir.errors import TraceError
from adjit.tracer import Tracer
from adjit.tracer.loc import user_loc

from adjit.tracer import pytree

from .api import Argnums, Transformed, check_target
from .arguments import is_device_array
from .transforms import JIT, VJP as VJP_TRANSFORM


def _on(t: Transformed, target: str) -> Transformed:
    t.target = target
    return t


class VJP(Transformed):
    """The joint forward+backward function `(*primals, *cotangents) -> gradients`."""

    def __init__(self, fun: Callable[..., Any], argnums: Argnums, n_cotangents: int) -> None:
        super().__init__(fun, VJP_TRANSFORM, argnums)
        self._n_ct = n_cotangents  # one cotangent argument per float output

    def _rebind(self, fun: Callable[..., Any]) -> Transformed:
        return _on(VJP(fun, self.argnums, self._n_ct), self.target)


def vjp(fun: Callable[..., Any], *primals: Any, argnums: Argnums | None = None,
        has_aux: bool = False, target: str = "cpu") -> Any:
    """`(out, vjp_fn)`: `vjp_fn(ct)` is the vector-Jacobian product of `fun` at `primals`.
    With `has_aux=True`, `fun` returns `(out, aux)` and the result is `(out, vjp_fn, aux)`.
    `target` as for `adjit.grad` (device arrays in, device arrays out)."""
    check_target(target)
    nums = tuple(range(len(primals))) if argnums is None else argnums
    primals = tuple(np.array(p, copy=True) if isinstance(p, np.ndarray) else p for p in primals)
    if has_aux:
        both = _on(Transformed(fun, JIT), target)(*primals)
        if not (isinstance(both, (tuple, list)) and len(both) == 2):
            raise TraceError(f"adjit.vjp(..., has_aux=True) needs "
                             f"{getattr(fun, '__name__', 'the function')} to return a pair "
                             "(output, aux)", loc=user_loc(2))
        main = functools.update_wrapper(lambda *a: fun(*a)[0], fun, updated=())
        out, vjp_fn = vjp(main, *primals, argnums=argnums, target=target)
        return out, vjp_fn, both[1]
    out = _on(Transformed(fun, JIT), target)(*primals)
    leaves, out_tree = pytree.flatten(out)
    outs = [o if isinstance(o, Tracer) or is_device_array(o) else np.asarray(o) for o in leaves]
    diff = [i for i, o in enumerate(outs) if o.dtype.kind in "fc"]
    back = _on(VJP(fun, nums, len(diff)), target)
    if not any(isinstance(x, Tracer) for x in leaves):
        back.freeze_captures()  # the arrays `fun` reads, as they are now (as JAX's residuals)
    structure = ("an array" if not pytree.is_container(out)
                 else f"a {type(out).__name__} of {len(outs)} arrays")

    def vjp_fn(ct: Any) -> tuple[Any, ...]:
        cts, ct_tree = pytree.flatten(ct)
        if ct_tree != out_tree:
            raise TraceError(f"vjp_fn expects one cotangent per output of "
                             f"{getattr(fun, '__name__', 'the function')}, in its structure "
                             f"({structure}), got {type(ct).__name__}"
                             + (f" of {len(cts)}" if pytree.is_container(ct) else ""),
                             loc=user_loc(2))
        given = []
        for i in diff:
            if isinstance(cts[i], Tracer):  # inside another transformation's trace
                given.append(cts[i])
                continue
            if is_device_array(cts[i]) and tuple(cts[i].shape) == outs[i].shape:
                given.append(cts[i])  # used where it is
                continue
            c = np.asarray(cts[i])
            if c.shape != outs[i].shape:
                raise TraceError(f"vjp_fn: cotangent {i} has shape {c.shape}, but the output "
                                 f"it pairs with has shape {outs[i].shape}", loc=user_loc(2),
                                 hint="pass a cotangent of exactly the output's shape")
            if c.dtype.kind not in "biuf" + ("c" if outs[i].dtype.kind == "c" else ""):
                raise TraceError(f"vjp_fn: cotangent {i} has dtype {c.dtype}; it must be "
                                 f"real ({outs[i].dtype}, like the output)", loc=user_loc(2))
            given.append(np.array(c, dtype=outs[i].dtype, copy=True))
        res = back(*primals, *given)
        return (res,) if back.single else res

    return out, vjp_fn
