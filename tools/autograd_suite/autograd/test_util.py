"""autograd's gradient checker, written again over adjit's vjp and jvp (same tolerances,
same directional tests: a random VJP against a central difference, JVPs likewise, and the
same checks of the derivative functions themselves for order 2)."""
from itertools import product

import numpy as np

from . import make_jvp, make_vjp
from .wrap_util import unary_to_nary

TOL = 1e-6
RTOL = 1e-6
EPS = 1e-6


def scalar_close(a, b):
    return abs(a - b) < TOL or abs(a - b) / abs(a + b) < RTOL


class VSpace:
    def __init__(self, x):
        if isinstance(x, (tuple, list)):
            self.kind, self.parts = type(x), [VSpace(v) for v in x]
        elif isinstance(x, dict):
            self.kind, self.parts = dict, {k: VSpace(v) for k, v in x.items()}
        else:
            a = np.asarray(x)
            if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.complexfloating)):
                raise TypeError(f"no vector space for {a.dtype}")
            self.kind, self.shape = "array", a.shape
            self.complex = np.iscomplexobj(a)
            self.dtype = np.complex128 if self.complex else np.float64

    def __eq__(self, other):
        if self.kind != other.kind:
            return False
        if self.kind == "array":
            return self.shape == other.shape and self.complex == other.complex
        return self.parts == other.parts

    def __repr__(self):
        if self.kind == "array":
            return f"VSpace({self.shape}, complex={self.complex})"
        return f"VSpace({self.kind.__name__}, {self.parts})"

    def _map(self, f, *xs):
        if self.kind == "array":
            return f(self, *xs)
        if self.kind is dict:
            return {k: p._map(f, *(x[k] for x in xs)) for k, p in self.parts.items()}
        return self.kind(p._map(f, *(x[i] for x in xs)) for i, p in enumerate(self.parts))

    def _sum(self, f, *xs):
        if self.kind == "array":
            return f(self, *xs)
        if self.kind is dict:
            return sum(p._sum(f, *(x[k] for x in xs)) for k, p in self.parts.items())
        return sum(p._sum(f, *(x[i] for x in xs)) for i, p in enumerate(self.parts))

    def randn(self):
        def one(s):
            r = np.asarray(np.random.randn(*s.shape))
            if s.complex:
                r = r + 1j * np.random.randn(*s.shape)
            return r
        return self._map(one)

    def add(self, x, y):
        return self._map(lambda s, a, b: np.asarray(a) + np.asarray(b), x, y)

    def scalar_mul(self, x, c):
        return self._map(lambda s, a: np.asarray(a) * c, x)

    def inner_prod(self, x, y):
        return self._sum(lambda s, a, b: np.real(np.vdot(np.ravel(a), np.ravel(b))), x, y)

    def covector(self, x):
        return self._map(lambda s, a: np.conj(a), x)


vspace = VSpace


def make_numerical_jvp(f, x):
    y = f(x)
    x_vs, y_vs = vspace(x), vspace(y)

    def jvp(v):
        f_plus = f(x_vs.add(x, x_vs.scalar_mul(v, EPS / 2)))
        f_minus = f(x_vs.add(x, x_vs.scalar_mul(v, -EPS / 2)))
        return y_vs.scalar_mul(y_vs.add(f_plus, y_vs.scalar_mul(f_minus, -1.0)), 1.0 / EPS)

    return jvp


def check_vjp(f, x):
    vjp, y = make_vjp(f)(x)
    jvp = make_numerical_jvp(f, x)
    x_vs, y_vs = vspace(x), vspace(y)
    x_v, y_v = x_vs.randn(), y_vs.randn()
    vjp_y = x_vs.covector(vjp(y_vs.covector(y_v)))
    assert vspace(vjp_y) == x_vs, (vspace(vjp_y), x_vs)
    exact = x_vs.inner_prod(x_v, vjp_y)
    numeric = y_vs.inner_prod(y_v, jvp(x_v))
    assert scalar_close(numeric, exact), f"VJP check failed: analytic {exact}, numeric {numeric}"


def check_jvp(f, x):
    jvp = make_jvp(f)(x)
    numeric = make_numerical_jvp(f, x)
    x_v = vspace(x).randn()
    check_equivalent(jvp(x_v)[1], numeric(x_v))


def check_equivalent(x, y):
    x_vs, y_vs = vspace(x), vspace(y)
    assert x_vs == y_vs, f"VSpace mismatch:\nx: {x_vs}\ny: {y_vs}"
    v = x_vs.randn()
    assert scalar_close(x_vs.inner_prod(x, v), x_vs.inner_prod(y, v)), f"Value mismatch:\nx: {x}\ny: {y}"


@unary_to_nary
def check_grads(f, x, modes=None, order=2):
    modes = ["fwd", "rev"] if modes is None else modes
    if "fwd" in modes:
        check_jvp(f, x)
        if order > 1:
            def grad_f(x, v):
                return make_jvp(f)(x)(v)[1]
            v = vspace(x).randn()
            check_grads(grad_f, (0, 1), modes, order=order - 1)(x, v)
    if "rev" in modes:
        check_vjp(f, x)
        if order > 1:
            def grad_f(x, v):
                return make_vjp(f)(x)[0](v)
            v = vspace(f(x)).randn()
            check_grads(grad_f, (0, 1), modes, order=order - 1)(x, v)


def combo_check(fun, *args, **kwargs):
    _check_grads = lambda f: check_grads(f, *args, **kwargs)

    def _combo_check(*args, **kwargs):
        kwarg_key_vals = [[(k, x) for x in xs] for k, xs in kwargs.items()]
        for _args in product(*args):
            for _kwargs in product(*kwarg_key_vals):
                _check_grads(fun)(*_args, **dict(_kwargs))

    return _combo_check
