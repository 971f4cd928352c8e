"""adjit: a JIT-compiled, static-graph differentiation compiler for numpy-style Python.

    @adjit.grad
    def f(x):
        return 2 * np.dot(x, x)

    f(np.arange(4.0))   # array([ 0.,  4.,  8., 12.])
"""
from adjit.ir.errors import (
                             AdjitError,
                             CodegenError,
                             IRError,
                             NotDifferentiable,
                             ShapeError,
                             TraceError,
)
from adjit.runtime import explicit
from adjit.runtime.api import grad, jit, stop_gradient, value_and_grad
from adjit.runtime.vjp import vjp
from adjit.runtime.compare import Comparison, compare
from adjit.runtime.inspect import Inspection, inspect
from adjit.runtime.recompile import RecompileWarning

__version__ = "0.1.0"
__all__ = ["AdjitError", "CodegenError", "Comparison", "IRError", "Inspection",
           "NotDifferentiable", "RecompileWarning", "compare", "explicit",
           "ShapeError", "TraceError", "grad", "inspect", "jit", "stop_gradient",
           "value_and_grad", "vjp"]
