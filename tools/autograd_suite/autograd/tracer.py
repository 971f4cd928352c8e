"""autograd.tracer's `isbox`: whether a value is being traced (an adjit Tracer or Tensor)."""


def isbox(x):
    from adjit.tracer import Tracer
    from adjit.tracer.tensor import Tensor

    return isinstance(x, (Tracer, Tensor))
