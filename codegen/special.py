"""scipy.special's scalar functions for generated code: `sf.erf(v3)`, `sf.iv(v1, v2)`.

The elementwise primitives of `ir/prims/special_decls.py` print as calls into this module
(`from adjit.codegen import special as sf`). Run as plain Python (`ADJIT_NOJIT=1`), each
function here calls scipy's ufunc on the scalar. Under numba, `register()` gives each one
an implementation that calls scipy's own C kernel: `scipy.special.cython_special` exports
every scalar function through a Cython C-API table (`__pyx_capi__`, one capsule per
specialization of a fused function: `__pyx_fuse_1erf` is erf of a double, `__pyx_fuse_0erf`
of a complex); `numba.extending.get_cython_function_address` reads a function's address
from it. The address is registered with LLVM under a name of ours
(`llvmlite.binding.add_symbol("adjit_sf_erf", address)`) and an `@intrinsic` declares and
calls that external symbol, so the compiled code names the function and is linked to it
when loaded: numba's disk cache works across processes, where a ctypes pointer baked into
the code would not. The C functions take one trailing `int skip_dispatch` argument (a
Cython detail; 0). Float32 arguments are computed in float64 and rounded once.

`polygamma` has no C kernel in cython_special (scipy computes it in Python from psi, gamma
and the Hurwitz zeta function): it is written here, with cephes' Euler-Maclaurin zeta.
"""
from __future__ import annotations

import hashlib
import math
import pathlib
import re
from typing import Any

import numpy as np

TAG = hashlib.sha256(pathlib.Path(__file__).read_bytes()).hexdigest()[:12]

# primitive name -> (scipy.special ufunc name, number of float64 arguments)
FUNCTIONS: dict[str, tuple[str, int]] = {
    "logit": ("logit", 1), "erf": ("erf", 1), "erfc": ("erfc", 1), "erfcx": ("erfcx", 1),
    "erfinv": ("erfinv", 1), "erfcinv": ("erfcinv", 1), "gammaln": ("gammaln", 1),
    "gamma": ("gamma", 1), "rgamma": ("rgamma", 1), "gammasgn": ("gammasgn", 1),
    "digamma": ("psi", 1), "xlogy": ("xlogy", 2), "xlog1py": ("xlog1py", 2),
    "entr": ("entr", 1), "rel_entr": ("rel_entr", 2), "kl_div": ("kl_div", 2),
    "ndtr": ("ndtr", 1), "log_ndtr": ("log_ndtr", 1), "ndtri": ("ndtri", 1),
    "betaln": ("betaln", 2), "beta": ("beta", 2), "gammainc": ("gammainc", 2),
    "gammaincc": ("gammaincc", 2), "betainc": ("betainc", 3), "i0": ("i0", 1),
    "i1": ("i1", 1), "i0e": ("i0e", 1), "i1e": ("i1e", 1), "iv": ("iv", 2), "ive": ("ive", 2),
    "j0": ("j0", 1), "j1": ("j1", 1), "jv": ("jv", 2), "y0": ("y0", 1), "y1": ("y1", 1),
    "yv": ("yv", 2), "yn": ("yn", 2),
}

_ufuncs: dict[str, Any] = {}


def _ufunc(name: str) -> Any:
    fn = _ufuncs.get(name)
    if fn is None:
        import scipy.special

        fn = _ufuncs[name] = getattr(scipy.special, name)
    return fn


def _python(prim: str) -> Any:
    scipy_name, n = FUNCTIONS[prim]

    def call(*args: Any) -> Any:
        if any(isinstance(a, np.float32) for a in args):  # in float64, rounded once
            return np.float32(_ufunc(scipy_name)(*[np.float64(a) for a in args]))
        return _ufunc(scipy_name)(*args)

    call.__name__ = call.__qualname__ = prim
    call.__doc__ = f"scipy.special.{scipy_name} of {n} scalar(s)"
    return call


for _prim in FUNCTIONS:
    globals()[_prim] = _python(_prim)


def not_differentiable(x: Any) -> Any:
    raise RuntimeError("adjit bug: a not_differentiable cotangent reached generated code")


# ---- polygamma -------------------------------------------------------------------------------

_MACHEP = 1.11022302462515654042e-16
# Euler-Maclaurin coefficients (2k)! / B_2k of cephes' zeta.c
_ZETA_A = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9,
           7.47242496e10, -2.950130727918164224e12, 1.1646782814350067249e14,
           -4.5979787224074726105e15, 1.8152105401943546773e17, -7.1661652561756670113e18)


def hurwitz_zeta(x: float, q: float) -> float:
    """sum over k >= 0 of (k + q)^-x, for x > 1 (cephes' zeta(x, q))."""
    if x == 1.0:
        return math.inf
    if x < 1.0 or x != x or q != q:
        return math.nan
    if q <= 0.0:
        if q == math.floor(q):
            return math.inf
        if x != math.floor(x):
            return math.nan  # q^-x is not real
    if q > 1e8:  # asymptotic (cephes): the sum's terms underflow
        return (1.0 / (x - 1.0) + 1.0 / (2.0 * q)) * q ** (1.0 - x)
    s = q ** -x
    a = q
    i = 0
    b = 0.0
    while i < 9 or a <= 9.0:
        i += 1
        a += 1.0
        b = a ** -x
        s += b
        if abs(b / s) < _MACHEP:
            return s
    w = a
    s += b * w / (x - 1.0)
    s -= 0.5 * b
    fac = 1.0
    k = 0.0
    for j in range(12):
        fac *= x + k
        b /= w
        t = fac * b / _ZETA_A[j]
        s = s + t
        if abs(t / s) < _MACHEP:
            return s
        k += 1.0
        fac *= x + k
        b /= w
        k += 1.0
    return s


def polygamma(n: Any, x: Any) -> Any:
    """scipy.special.polygamma of scalars (n a whole number >= 0)."""
    import scipy.special

    if isinstance(x, np.float32) or isinstance(n, np.float32):
        return np.float32(scipy.special.polygamma(np.float64(n), np.float64(x)))
    return scipy.special.polygamma(n, x)


# ---- numba -----------------------------------------------------------------------------------

_registered = False


def capi_name(scipy_name: str, nargs: int) -> str:
    """The name in `cython_special.__pyx_capi__` of `scipy_name` of `nargs` doubles."""
    import scipy.special.cython_special as cs

    want = "double (" + ", ".join(["double"] * nargs) + ", int __pyx_skip_dispatch)"
    for key, capsule in cs.__pyx_capi__.items():
        if re.fullmatch(rf"(__pyx_fuse_\d+)?{scipy_name}", key) and f'"{want}"' in repr(capsule):
            return key
    raise LookupError(f"scipy.special.cython_special has no {want} {scipy_name}")


def register() -> None:
    """Give numba an implementation of every function above (idempotent): see the module
    docstring. numba and scipy are imported only here."""
    global _registered
    if _registered:
        return
    import llvmlite.binding as ll
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import get_cython_function_address, intrinsic, overload, \
        register_jitable

    def external(symbol: str, nargs: int) -> Any:
        def typer(typingctx: Any, *args: Any) -> Any:
            def codegen(context: Any, builder: Any, sig: Any, llargs: Any) -> Any:
                fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType()] * nargs
                                       + [ir.IntType(32)])
                fn = cgutils.get_or_insert_function(builder.module, fnty, symbol)
                return builder.call(fn, [*llargs, ir.Constant(ir.IntType(32), 0)])

            return types.float64(*([types.float64] * nargs)), codegen

        # intrinsic needs a fixed argument list
        if nargs == 1:
            return intrinsic(lambda typingctx, a: typer(typingctx, a))
        if nargs == 2:
            return intrinsic(lambda typingctx, a, b: typer(typingctx, a, b))
        return intrinsic(lambda typingctx, a, b, c: typer(typingctx, a, b, c))

    def floats(*args: Any) -> bool | None:
        """None unless every argument is a real number; else whether one is float32."""
        if not all(isinstance(a, (types.Float, types.Integer, types.Boolean)) for a in args):
            return None
        return any(isinstance(a, types.Float) and a.bitwidth == 32 for a in args)

    _OPTIONS = {"error_model": "numpy"}  # noqa: N806

    def implement(py_fn: Any, f64: Any, nargs: int) -> None:
        # numba matches the typing function's signature with the implementation's: one per
        # arity. Integers and float32 are widened to float64; a float32 result is rounded.
        if nargs == 1:
            def typing1(a):  # noqa: ANN001, ANN202  (numba compares signatures)
                f32 = floats(a)
                if f32 is None:
                    return None
                if f32:
                    return lambda a: np.float32(f64(np.float64(a)))
                return lambda a: f64(np.float64(a))

            overload(py_fn, jit_options=_OPTIONS)(typing1)
        elif nargs == 2:
            def typing2(a, b):  # noqa: ANN001, ANN202
                f32 = floats(a, b)
                if f32 is None:
                    return None
                if f32:
                    return lambda a, b: np.float32(f64(np.float64(a), np.float64(b)))
                return lambda a, b: f64(np.float64(a), np.float64(b))

            overload(py_fn, jit_options=_OPTIONS)(typing2)
        else:
            def typing3(a, b, c):  # noqa: ANN001, ANN202
                f32 = floats(a, b, c)
                if f32 is None:
                    return None
                if f32:
                    return lambda a, b, c: np.float32(f64(np.float64(a), np.float64(b),
                                                          np.float64(c)))
                return lambda a, b, c: f64(np.float64(a), np.float64(b), np.float64(c))

            overload(py_fn, jit_options=_OPTIONS)(typing3)

    module = globals()
    for prim, (scipy_name, nargs) in FUNCTIONS.items():
        cname = capi_name(scipy_name, nargs)
        symbol = f"adjit_sf_{prim}"
        ll.add_symbol(symbol, get_cython_function_address("scipy.special.cython_special",
                                                          cname))
        raw = external(symbol, nargs)
        module[f"_{prim}_f64"] = raw
        implement(module[prim], raw, nargs)
    digamma_f64 = module["_digamma_f64"]
    # IEEE division (x / 0 is inf or NaN), as the generated code is compiled
    zeta = register_jitable(error_model="numpy")(hurwitz_zeta)

    def polygamma_f64(n: float, x: float) -> float:
        if n == 0.0:
            return digamma_f64(x)
        sign = 1.0 if (n + 1.0) % 2.0 == 0.0 else -1.0
        return sign * math.gamma(n + 1.0) * zeta(n + 1.0, x)

    implement(polygamma, register_jitable(error_model="numpy")(polygamma_f64), 2)
    _registered = True
