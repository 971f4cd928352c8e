"""`adjit.autograd`: PyTorch's functional autograd names for recorded tensors."""
from adjit.runtime.autograd import backward, cache_info, compilations, grad
from adjit.runtime.custom import Function, FunctionCtx
from adjit.tracer.tensor import enable_grad, no_grad, set_grad_enabled

__all__ = ["Function", "FunctionCtx", "backward", "cache_info", "compilations", "enable_grad",
           "grad", "no_grad", "set_grad_enabled"]
