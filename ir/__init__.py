"""adjit's intermediate representation: typed SSA graphs of primitives.

Importing `adjit.ir` registers every primitive. It never imports numba or another stage.
"""
from . import prims  # noqa: F401  (registers primitives)
from .builder import Builder, building, context, emit, emit_multi
from .core import DTYPES, ArrayType, Eqn, Graph, Lit, Loc, Value, Var, dtype_name
from .errors import AdjitError, CodegenError, IRError, NotDifferentiable, ShapeError, TraceError
from .evaluate import evaluate
from .primitive import PRIMS, Primitive

__all__ = ["ArrayType", "Builder", "DTYPES", "Eqn", "Graph", "Lit", "Loc", "PRIMS", "Primitive",
           "Value", "Var", "AdjitError", "CodegenError", "IRError", "NotDifferentiable",
           "ShapeError", "TraceError", "building", "context", "dtype_name", "emit", "emit_multi",
           "evaluate"]
