"""adjit: a JIT-compiled, static-graph differentiation compiler for numpy-style Python.

    @adjit.grad
    def f(x):
        return 2 * np.dot(x, x)

    f(np.arange(4.0))   # array([ 0.,  4.,  8., 12.])
"""
import os as _os

# The stage folders (ir/, tracer/, passes/, codegen/, runtime/) sit beside this folder in a
# source checkout and become adjit.ir, adjit.tracer, ... only when installed (pyproject's
# package-dir). Python puts the current folder first on sys.path, so in the root of a checkout
# `import adjit` finds this folder, not the installed package, and `adjit.ir` would then be
# missing whenever the install is not an editable one (`pip install . && python -m adjit demo`
# run from the root). So when this package is the checkout's own adjit/ folder (its parent
# holds pyproject.toml and ir/, and no ir/ is inside it, as in an installed package), its
# parent joins the package's search path: adjit.ir is then the checkout's ir/, the same files
# an editable install maps it to. An installed copy never has this layout and is untouched.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if (_os.path.isfile(_os.path.join(_root, "pyproject.toml"))
        and _os.path.isfile(_os.path.join(_root, "ir", "__init__.py"))
        and not _os.path.isdir(_os.path.join(_os.path.dirname(_os.path.abspath(__file__)),
                                             "ir"))
        and _root not in __path__):
    __path__.append(_root)
del _root, _os

from adjit.runtime.gcpause import gc_paused as _gc_paused  # noqa: E402

# The collector waits until the imports are done: they make only long-lived objects, and a
# full collection in the middle of them walks all of numpy's and numba's (runtime/gcpause.py).
with _gc_paused():
    import numpy as _np  # noqa: E402

    from adjit.ir.errors import (  # noqa: E402  (after the search path is complete)
        AdjitError,
        CodegenError,
        IRError,
        ImmutableError,
        OutputTypeError,
        NotDifferentiable,
        ShapeError,
        TraceError,
    )
    from adjit.runtime import explicit  # noqa: E402
    from adjit.runtime.api import grad, jit, stop_gradient, value_and_grad  # noqa: E402
    from adjit.runtime.vjp import vjp  # noqa: E402
    from adjit.runtime.forward import (  # noqa: E402
        checkpoint,
        hessian,
        hvp,
        jacfwd,
        jacobian,
        jacrev,
        jvp,
        linearize,
    )
    from adjit.runtime.batching import vmap  # noqa: E402
    from adjit.runtime.compare import Comparison, compare  # noqa: E402
    from adjit.runtime.inspect import Inspection, inspect  # noqa: E402
    from adjit.runtime.recompile import RecompileWarning  # noqa: E402
    from adjit.tracer.factories import (  # noqa: E402  (the recorded, PyTorch-style front end)
        arange,
        empty,
        full,
        manual_seed,
        ones,
        ones_like,
        rand,
        rand_like,
        randn,
        randn_like,
        tensor,
        zeros,
        zeros_like,
    )
    from adjit.tracer.tensor import (  # noqa: E402
        Tensor,
        enable_grad,
        get_default_dtype,
        is_grad_enabled,
        no_grad,
        set_default_dtype,
        set_grad_enabled,
    )
    from adjit.tracer.torch_functions import *  # noqa: E402,F403  (torch.exp(x), torch.dot, ...)
    from adjit.tracer import torch_functions as _torch_functions  # noqa: E402
    from adjit import autograd  # noqa: E402
    from adjit.runtime import eager as _eager  # noqa: E402

    _eager.install()  # eager convolution and pooling run the compiled kernels (runtime/eager.py)
    from adjit import nn, optim  # noqa: E402  (PyTorch's layers and optimizers)
    from adjit import models  # noqa: E402
    from adjit.tracer.custom_rules import custom_vjp  # noqa: E402
    from adjit.tracer.custom_jvp import custom_jvp  # noqa: E402

# dtype names for tensors, as torch spells them (adjit.arange(..., dtype=adjit.float32))
float32 = _np.dtype("float32")
float64 = _np.dtype("float64")
int32 = _np.dtype("int32")
int64 = _np.dtype("int64")
del _np

__version__ = "0.1.0"
__all__ = ["AdjitError", "CodegenError", "ImmutableError", "Comparison", "IRError", "Inspection",
           "NotDifferentiable", "OutputTypeError", "RecompileWarning", "compare", "explicit",
           "ShapeError", "TraceError", "grad", "inspect", "jit", "models", "nn", "optim",
           "stop_gradient", "value_and_grad", "vjp", "vmap", "Tensor", "checkpoint", "custom_jvp",
           "custom_vjp", "hessian", "hvp",
           "jacfwd", "jacobian", "jacrev", "jvp", "linearize", "arange", "autograd", "empty",
           "enable_grad",
           "full", "get_default_dtype", "is_grad_enabled", "manual_seed", "no_grad", "ones",
           "ones_like", "rand", "rand_like", "randn", "randn_like", "set_default_dtype",
           "set_grad_enabled", "tensor", "zeros", "zeros_like", "float32", "float64", "int32",
           "int64", *_torch_functions.__all__]
