"""Transformations as values: what `grad`, `value_and_grad`, `jit` and `vjp` each are.

A `Transformation` says how its graph is built from the traced one (a pipeline of
passes/pipeline.py, and how the function's outputs seed the adjoint) and how a call's result
is assembled from the compiled function's outputs. `runtime/api.py`'s `Transformed` does the
rest (tracing, specialization, caching, inlining inside another trace) the same way for all
of them, so a new transformation is a new value here, not a mode tested across the runtime.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adjit.passes.pipeline import DIFFERENTIATE, OPTIMIZE, Stage


_NO_AUX = object()


@dataclass(frozen=True)
class Transformation:
    """`name` (how errors and logs call it: "adjit.grad"), `pipeline` (the passes from the
    traced graph), `seed` ("ones": the function must return one float scalar, whose
    cotangent is 1; "inputs": one cotangent argument per float output, as vjp's), and
    `returns`: "value", "grad" or "value_and_grad"."""

    name: str
    pipeline: tuple[Stage, ...]
    returns: str
    seed: str = "ones"

    @property
    def differentiates(self) -> bool:
        """Whether the compiled graph computes gradients (its outputs: the function's, then
        one gradient per differentiated input)."""
        return self.returns != "value"

    def assemble(self, value: Any, grads: Sequence[Any], single: bool,
                 aux: Any = _NO_AUX) -> Any:
        """The call's result from the function's value and the gradients, one per
        differentiated argument (`single`: argnums was an int, so one gradient, not a
        tuple), with `aux` where the function returned `(value, aux)` (has_aux=True:
        `(gradient, aux)` and `((value, aux), gradient)`, as JAX's)."""
        if self.returns == "value":
            return value
        g = grads[0] if single else tuple(grads)
        if aux is not _NO_AUX:
            value = (value, aux)
            if self.returns == "grad":
                return g, aux
        return (value, g) if self.returns == "value_and_grad" else g


GRAD = Transformation("grad", DIFFERENTIATE, "grad")
VALUE_AND_GRAD = Transformation("value_and_grad", DIFFERENTIATE, "value_and_grad")
JIT = Transformation("jit", OPTIMIZE, "value")
VJP = Transformation("vjp", DIFFERENTIATE, "grad", seed="inputs")
# The recorded API's compiled backward (runtime/autograd.py): inspect names it so.
BACKWARD = Transformation("backward", DIFFERENTIATE, "grad", seed="inputs")

BY_NAME = {t.name: t for t in (GRAD, VALUE_AND_GRAD, JIT, VJP, BACKWARD)}


def named(t: Transformation | str) -> Transformation:
    return BY_NAME[t] if isinstance(t, str) else t
