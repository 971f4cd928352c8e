"""A stand-in for the `autograd` package whose operators are adjit's, so autograd's own test
suite (run unchanged) measures adjit. Not part of adjit: see tools/autograd_suite/README.md."""
import builtins

import adjit

from .wrap_util import unary_to_nary

dict = builtins.dict
list = builtins.list
tuple = builtins.tuple
isinstance = builtins.isinstance
type = builtins.type


@unary_to_nary
def grad(fun, x):
    return adjit.grad(fun)(x)


@unary_to_nary
def value_and_grad(fun, x):
    return adjit.value_and_grad(fun)(x)


@unary_to_nary
def make_vjp(fun, x):
    y, pullback = adjit.vjp(fun, x)
    return (lambda g: pullback(g)[0]), y


@unary_to_nary
def make_jvp(fun, x):
    return lambda v: adjit.jvp(fun, (x,), (v,))


@unary_to_nary
def jacobian(fun, x):
    return adjit.jacobian(fun)(x)


@unary_to_nary
def hessian(fun, x):
    return adjit.hessian(fun)(x)


@unary_to_nary
def elementwise_grad(fun, x):
    y, pullback = adjit.vjp(fun, x)
    import numpy as np
    return pullback(np.ones_like(y))[0]


@unary_to_nary
def holomorphic_grad(fun, x):
    return adjit.grad(fun, holomorphic=True)(x)


@unary_to_nary
def make_hvp(fun, x):
    return lambda v: (adjit.hvp(fun, x, v), fun(x))
