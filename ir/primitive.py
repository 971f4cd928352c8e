"""The `Primitive` record and the `PRIMS` registry.

A primitive is declared once, in one file under `ir/prims/`, with every rule it
needs: the shape/dtype rule, the numpy implementation used by the reference
interpreter, the JVP and VJP rules (IR builders written with `ir.ops`, so
derivatives are graphs and can be differentiated again), and how it is lowered
to code. `tests/prims/test_registry.py` fails when a rule is missing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .core import ArrayType

# Kinds that decide how passes and code generators treat a primitive.
ELEMENTWISE = "elementwise"  # scalar function, numpy broadcasting between inputs
REDUCE = "reduce"  # reduces `axes` of its single input
SHAPE = "shape"  # moves data without arithmetic (reshape, transpose, slice, ...)
INDEX = "index"  # data-dependent addressing (gather, scatter_add)
LINALG = "linalg"  # matrix products: BLAS
LIBRARY = "library"  # a kernel of its own: codegen calls the library function of its name
CONTROL = "control"  # structured control flow with sub-graphs


@dataclass(frozen=True)
class Primitive:
    """Every rule of one primitive.

    shape(*in_types, **params) -> ArrayType | tuple[ArrayType, ...]
    impl(*arrays, **params) -> array | tuple of arrays (numpy)
    jvp(tangents, *inputs, out=..., **params) -> tangent of the output, or None for zero
    vjp(ct, *inputs, out=..., **params) -> one cotangent per input, None for a zero
    batch(eqn, vals, batched_flags, size) -> outputs with a leading batch axis (ir/batching.py)
    """

    name: str
    kind: str
    shape: Callable[..., Any]
    impl: Callable[..., Any]
    jvp: Callable[..., Any] | None
    vjp: Callable[..., Any] | None
    params: tuple[str, ...] = ()
    # Elementwise only: the scalar code template, e.g. "math.exp({x})", valid for njit and cuda.jit.
    code: str | None = None
    # Elementwise only: argument names in order ("x", "y", ...), and the sympy source.
    args: tuple[str, ...] = ()
    expr: str | None = None
    # True when the output carries no derivative at all (comparisons, argmax, casts to int).
    nondiff: bool = False
    # True when the primitive is linear in its differentiable inputs (its JVP is itself).
    linear: bool = False
    # True when the JVP and VJP rules transform sub-graphs: they are called with `passes=`,
    # a `SubgraphPasses`.
    takes_passes: bool = False
    # How it runs over a leading batch axis (adjit.vmap): ir/batching.py. None: its kind's
    # default there (elementwise, axes shifted, or one copy per example).
    batch: Callable[..., Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def batching_rule(self) -> Callable[..., Any]:
        """`batch`, or the default rule of this primitive's kind."""
        if self.batch is not None:
            return self.batch
        from .batching import default_for

        return default_for(self.kind)

    def out_types(self, in_types: tuple[ArrayType, ...],
                  params: dict[str, Any]) -> tuple[ArrayType, ...]:
        t = self.shape(*in_types, **params)
        return t if isinstance(t, tuple) else (t,)


PRIMS: dict[str, Primitive] = {}


def register(prim: Primitive) -> Primitive:
    if prim.name in PRIMS:
        raise ValueError(f"primitive {prim.name!r} is declared twice")
    PRIMS[prim.name] = prim
    return prim


def get(name: str) -> Primitive:
    try:
        return PRIMS[name]
    except KeyError:
        raise KeyError(f"unknown primitive {name!r}") from None


@dataclass(frozen=True)
class SubgraphPasses:
    """The graph transformations that the rules of a primitive with sub-graphs apply to them
    (the VJP of `cond` is a `cond` of its branches' adjoints). The pass that calls such a rule
    hands them in as `passes=` (primitives declared with `takes_passes=True`), as JAX's rules
    receive what they need for their sub-jaxprs, so `ir` never imports `passes`.

    adjoint(g, wrt, seed=...) -> Graph; jvp(g, wrt) -> Graph; simplify(g) -> Graph"""

    adjoint: Callable[..., Any]
    jvp: Callable[..., Any]
    simplify: Callable[..., Any]
