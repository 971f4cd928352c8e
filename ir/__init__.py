"""adjit's intermediate representation: typed SSA graphs of primitives.

Importing `adjit.ir` registers every primitive. It never imports numba or another stage.
"""
from . import ops, prims  # noqa: F401  (registers primitives)
from .builder import Builder, building, context, current_loc, emit, emit_multi
from .core import DTYPES, ArrayType, Eqn, Graph, Lit, Loc, Value, Var, dtype_name
from .errors import AdjitError, CodegenError, IRError, NotDifferentiable, ShapeError, TraceError
from .evaluate import evaluate
from .parse import parse
from .primitive import PRIMS, Primitive
from .verify import verify

__all__ = ["ArrayType", "Builder", "DTYPES", "Eqn", "Graph", "Lit", "Loc", "PRIMS", "Primitive",
           "Value", "Var", "AdjitError", "CodegenError", "IRError", "NotDifferentiable",
           "ShapeError", "TraceError", "building", "context", "current_loc", "dtype_name", "emit",
           "emit_multi",
           "evaluate", "parse", "verify"]
