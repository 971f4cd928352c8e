"""numpy's elementwise functions that are compositions of adjit's primitives: angle
conversions, hypot, logaddexp2, cbrt, copysign, heaviside, signbit, the rounding family
(rint, round, trunc, fix), fmod, sinc, isnan/isinf/isfinite, logical_xor.

Derivatives follow JAX's conventions, and come from the compositions: rounding (floor,
ceil, rint, round, trunc, fix) has zero gradient, since `floor` has none; `fmod(x, y) =
x - trunc(x/y) y` and `mod` have d/dx = 1 and d/dy = -trunc(x/y) (resp. -floor(x/y));
`copysign(x, y)` has d/dx = ±sign(x) and none for y; `heaviside(x1, x2)` passes a
gradient to x2 where x1 == 0 only.

`signbit` has no primitive of its own: atan2(0, y) is pi exactly where y's sign bit is set
(y < 0, or y = -0.0) and 0 otherwise, so signbit(y) = atan2(0, y) > 0 (NaN: False, as
numpy has it for the usual positive NaN).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from adjit.ir import current_loc
from adjit.ir.errors import TraceError

from .values import Tracer


def _api() -> Any:
    from . import numpy_api

    return numpy_api


def _e(name: str, *xs: Any) -> Tracer:
    return _api().elementwise(name, *xs)


def _scaled(c: float) -> Callable[[Any], Tracer]:
    def fn(x: Any) -> Tracer:
        return _e("mul", _float(x), c)

    return fn


def _float(x: Any) -> Any:
    t = _api()._t(x) if not isinstance(x, Tracer) else x
    return t if t.val.dtype in ("f32", "f64") else _api().astype(t, "f64")


def hypot(x: Any, y: Any) -> Tracer:
    x, y = _float(x), _float(y)
    return _e("sqrt", _e("add", _e("mul", x, x), _e("mul", y, y)))


_LN2 = float(np.log(2.0))


def logaddexp2(x: Any, y: Any) -> Tracer:
    x, y = _float(x), _float(y)
    return _e("div", _e("logaddexp", _e("mul", x, _LN2), _e("mul", y, _LN2)), _LN2)


def cbrt(x: Any) -> Tracer:
    x = _float(x)
    return _e("mul", _e("sign", x), _e("pow", _e("abs", x), 1.0 / 3.0))


def signbit(x: Any) -> Tracer:
    return _e("gt", _e("arctan2", 0.0, _float(x)), 0.0)


def copysign(x: Any, y: Any) -> Tracer:
    a = _e("abs", _float(x))
    return _api().where(signbit(y), _e("neg", a), a)


def heaviside(x1: Any, x2: Any) -> Tracer:
    x1 = _float(x1)
    w = _api().where
    return w(isnan(x1), x1, w(_e("lt", x1, 0.0), 0.0, w(_e("gt", x1, 0.0), 1.0, x2)))


def isnan(x: Any) -> Tracer:
    return _e("ne", x, x)


def isinf(x: Any) -> Tracer:
    return _e("eq", _e("abs", x), np.inf) if _is_float(x) else _e("ne", x, x)


def isfinite(x: Any) -> Tracer:
    return _e("eq", _e("sub", x, x), 0) if _is_float(x) else _e("eq", x, x)


def _is_float(x: Any) -> bool:
    return np.asarray(x).dtype.kind == "f" if not isinstance(x, Tracer) else \
        x.val.dtype in ("f32", "f64")


def floor(x: Any) -> Tracer:
    return _e("floor", x) if _is_float(x) else x


def ceil(x: Any) -> Tracer:
    return _api()._ceil(x) if _is_float(x) else x


def trunc(x: Any) -> Tracer:
    if not _is_float(x):
        return x
    return _api().where(_e("lt", x, 0), ceil(x), floor(x))


def rint(x: Any) -> Tracer:
    """Round half to even: floor, plus one above the half, or at the half when odd."""
    if not _is_float(x):
        return _api().astype(_api()._t(x), "f64")  # numpy's rint of integers is float64
    f = floor(x)
    d = _e("sub", x, f)
    odd = _e("eq", _e("sub", f, _e("mul", floor(_e("mul", f, 0.5)), 2.0)), 1.0)
    up = _e("logical_or", _e("gt", d, 0.5), _e("logical_and", _e("eq", d, 0.5), odd))
    return _api().where(up, _e("add", f, 1.0), f)


def around(a: Any, decimals: int = 0, out: Any = None) -> Tracer:
    _api()._no_out(out, "round")
    if isinstance(decimals, Tracer):
        raise TraceError("np.round with traced decimals is not supported", loc=current_loc())
    x = _api()._t(a)
    if not _is_float(x):
        if decimals >= 0:
            return x
        raise TraceError("np.round of integers to negative decimals is not supported",
                         loc=current_loc(), hint="convert to float first")
    if decimals == 0:
        return rint(x)
    if decimals > 0:
        s = 10.0 ** decimals
        return _e("div", rint(_e("mul", x, s)), s)
    s = 10.0 ** -decimals
    return _e("mul", rint(_e("div", x, s)), s)


def fix(x: Any, out: Any = None) -> Tracer:
    _api()._no_out(out, "fix")
    return trunc(_api()._t(x))


def fmod(x: Any, y: Any) -> Tracer:
    if not (_is_float(x) or _is_float(y)):
        raise TraceError("np.fmod of integers is not supported by adjit", loc=current_loc(),
                         hint="use x % y (its sign follows y), or convert to float")
    return _e("fmod", x, y)


def divmod_(x: Any, y: Any) -> tuple[Tracer, Tracer]:
    return _e("floor_divide", x, y), _e("mod", x, y)


def sinc(x: Any) -> Tracer:
    """sin(pi x) / (pi x), 1 at 0 (the division never sees 0: its gradient there is 0)."""
    x = _float(x)
    zero = _e("eq", x, 0.0)
    safe = _api().where(zero, 1.0, x)
    px = _e("mul", safe, float(np.pi))
    return _api().where(zero, 1.0, _e("div", _e("sin", px), px))


def logical_xor(x: Any, y: Any) -> Tracer:
    b = _api().astype
    return _e("ne", b(_api()._t(x), "bool"), b(_api()._t(y), "bool"))


UFUNCS: dict[str, Callable[..., Any]] = {
    "deg2rad": _scaled(float(np.pi / 180)), "radians": _scaled(float(np.pi / 180)),
    "rad2deg": _scaled(float(180 / np.pi)), "degrees": _scaled(float(180 / np.pi)),
    "hypot": hypot, "logaddexp2": logaddexp2, "cbrt": cbrt, "signbit": signbit,
    "copysign": copysign, "heaviside": heaviside, "isnan": isnan, "isinf": isinf,
    "isfinite": isfinite, "floor": floor, "ceil": ceil, "trunc": trunc, "rint": rint,
    "fmod": fmod, "divmod": divmod_, "logical_xor": logical_xor,
    **{n: (lambda x, n=n: _e(n, x)) for n in ("arcsinh", "arccosh", "arctanh")},
}

FUNCTIONS: dict[Any, Callable[..., Any]] = {
    np.around: around, np.round: around, np.fix: fix, np.sinc: sinc,
}

METHODS: dict[str, Callable[..., Any]] = {"round": around}
