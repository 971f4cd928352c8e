"""The `Primitive` record and the `PRIMS` registry.

A primitive is declared once, in one file under `ir/prims/`, with every rule it
needs: the shape/dtype rule, the numpy implementation used by the reference
interpreter, the JVP and VJP rules (IR builders written with `ir.ops`, so
derivatives are graphs and can be differentiated again), and how it is lowered
to code. `tests/prims/test_registry.py` fails when a rule is missing.
"""
from __future__ import annotations

import functools
import re
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


# How a primitive lowers to loops (`Lowering.how`): passes/fuse.py plans with it,
# passes/lower.py and the code generators print it; none of them switches on primitive names.
SCALAR = "scalar"  # a scalar expression per element: its `code` template
REMAP = "remap"  # only moves data: its input read at another index (`index`)
REDUCTION = "reduce"  # combines the elements along `axes` with `op` (sum, max, argmax, ...)
SCAN = "scan"  # a running `op` along `axis` (cumsum, cumprod)
ACCUMULATE = "accumulate"  # adds its input into a zeroed array at `target` (unslice, scatter)
MATMUL = "matmul"  # a matrix product: BLAS on the CPU, a tiled kernel on CUDA
CALL = "call"  # one call of a library kernel of its name (convolution, solves, FFT, sort)
CONCAT = "concatenate"  # copies its inputs into one array
VIEW = "view"  # the same data under another shape or name: a kernel of its own, no work
CONTROL_FLOW = "control"  # sub-graphs run by the host (cond, while, while_grad)


@dataclass(frozen=True)
class Lowering:
    """How one primitive lowers (see the constants above).

    `op`: the combining operator of a reduction, scan or accumulation. `index(eqn, j,
    terms)`: the index input j is read at for output index `terms` (scalar and remap
    primitives; ir/index.py). `target(eqn, terms)`: the index an accumulation writes for
    input index `terms`. `inline_if(eqn)`: lowered as `how` only where it holds, as a `VIEW`
    elsewhere (a reshape that is not only size-1 dims; `remat` of an array). `cost`: work per
    element in adds; fusion recomputes values of cost <= 1 in later kernels instead of
    storing them. `commutative`: the operator's arguments may be swapped."""

    how: str
    op: str | None = None
    index: Callable[..., Any] | None = None
    target: Callable[..., Any] | None = None
    inline_if: Callable[..., bool] | None = None
    cost: int = 1
    commutative: bool = False


@dataclass(frozen=True)
class ScalarCode:
    """What the code generators need of an elementwise primitive beyond its `code` template
    (which is valid for numba's CPU and CUDA targets alike).

    `vector`: a template calling the inline, branch-free versions of codegen/fastmath.py
    (`fm.exp`), for loops LLVM vectorizes (as scalar code they are slower than libm's, so
    only there). `guard`: where the vector form is exact only on part of the domain (sin's
    reduction), a template that is 0.0 where it is exact: a loop using the form sums it,
    and the function is run again with the plain template if the sum is not 0 (codegen/cpu.py).
    `lines(x, name, exp)`: statements that set `name` from the code `x`, faster
    than the one-line template (tanh, from `exp`: the name of the exp function the loop
    calls). `complex`: the template for complex operands where `cmath` lacks the function
    (elsewhere `math.` becomes `cmath.`). `custom(eqn, args, np_dtype)`: the expression, for a
    primitive whose code depends on its params (convert). `int_closed`: int64 operands give an
    int64 in numba (no cast printed); `bool_result`: bool operands give a bool (comparisons
    always do); `passes_through`: the result is one of the operands, in its dtype.
    `device`: the template for numba.cuda where `code` calls a numpy function numba-cuda does
    not provide on the device (np.floor, np.fmod): codegen/cuda_math.py's (`cm.`)."""

    vector: str | None = None
    guard: str | None = None
    lines: Callable[[str, str, str], list[str]] | None = None
    complex: str | None = None
    custom: Callable[..., str] | None = None
    int_closed: bool = False
    bool_result: bool = False
    passes_through: bool = False
    device: str | None = None


_CHEAP_CALLS = {"abs", "np.floor", "math.floor", "math.copysign", "np.float32", "np.float64",
                "np.int32", "np.int64", "bool"}
_CALL = re.compile(r"([A-Za-z_][\w.]*)\s*\(")


def template_calls(code: str) -> list[str]:
    """The functions a scalar template (or code made from one) calls, by their dotted
    names: what decides its cost here and, in codegen/cpu_passes.py, whether it vectorizes."""
    return _CALL.findall(code)


def template_cost(code: str | None) -> int:
    """An elementwise template's cost: 1 for operators, comparisons and selects; 10 for
    anything that calls a math library (or `**`, libm's pow)."""
    if code is None or "**" in code or any(f not in _CHEAP_CALLS for f in template_calls(code)):
        return 10
    return 1


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
    # How it lowers to loops (`Lowering`); None: its kind's default (`lowers`).
    lowering: Lowering | None = None
    # Elementwise only: the code variants and dtype behaviour of its template (`ScalarCode`).
    scalar: ScalarCode = ScalarCode()
    extra: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def lowers(self) -> Lowering:
        """`lowering`, or its kind's default: elementwise primitives are scalar expressions
        read with numpy broadcasting, library primitives calls, control flow the host's."""
        if self.lowering is not None:
            return self.lowering
        if self.kind == ELEMENTWISE:
            from .index import broadcast_terms

            return Lowering(SCALAR, index=broadcast_terms, cost=template_cost(self.code))
        if self.kind == LIBRARY:
            return Lowering(CALL)
        if self.kind == CONTROL:
            return Lowering(CONTROL_FLOW)
        raise AssertionError(f"primitive {self.name} ({self.kind}) declares no lowering")

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
