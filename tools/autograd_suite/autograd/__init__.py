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


@unary_to_nary
def deriv(fun, x):
    import numpy as np
    return adjit.jvp(fun, (x,), (np.ones_like(x),))[1]


@unary_to_nary
def grad_and_aux(fun, x):
    return adjit.grad(fun, has_aux=True)(x)


def checkpoint(fun):
    return adjit.checkpoint(fun)


@unary_to_nary
def hessian_tensor_product(fun, x):
    return lambda v: adjit.hvp(fun, x, v)


hessian_vector_product = hessian_tensor_product


@unary_to_nary
def tensor_jacobian_product(fun, x):
    y, pullback = adjit.vjp(fun, x)
    return lambda v: pullback(v)[0]


vector_jacobian_product = tensor_jacobian_product


def make_ggnvp(f, g=None, f_argnum=0):
    """autograd's Gauss-Newton product J^T H_g J v, built from adjit's vjp, jvp and hvp."""
    import numpy as np

    if g is None:
        def g(y):
            return 0.5 * np.sum(y ** 2, axis=-1)

    def ggnvp_maker(*args):
        def f_x(x):
            full = list(args)
            full[f_argnum] = x
            return f(*full)

        x = args[f_argnum]
        y, f_vjp = adjit.vjp(f_x, x)

        def ggnvp(v):
            jv = adjit.jvp(f_x, (x,), (v,))[1]
            return f_vjp(adjit.hvp(g, y, jv))[0]

        return ggnvp

    return ggnvp_maker
