"""Turning Python into `ir.Graph`: tracer values, numpy protocols, control-flow capture
(autograph.py rewrites a function's source, control.py emits `cond`/`while`), the recorded
Tensor tape and the explicit builder."""
from . import numpy_api  # noqa: F401  (installs the array methods on Tracer)
from . import pytree  # noqa: F401  (structured arguments)
from .trace import Traced, arg_type, trace, unflatten
from .values import Tracer
from . import tensor_methods  # noqa: F401,E402  (installs Tensor's methods)
from . import tensor_numpy_methods  # noqa: F401,E402  (and the numpy ones it lacks)
from . import scipy_api  # noqa: E402

scipy_api.install()  # hooks scipy's functions adjit implements (now, or when scipy is imported)

__all__ = ["Traced", "Tracer", "arg_type", "trace", "unflatten"]
