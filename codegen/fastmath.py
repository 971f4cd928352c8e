"""Scalar math for generated loops that LLVM can vectorize: `exp` and a reassociable add.

numba here has no SVML, so `math.exp` in a loop is a call to libm's scalar `exp`, and a loop
with a call in it is not vectorized. `exp(x)` below is straight-line arithmetic, two selects
and integer bit operations, which LLVM inlines and vectorizes (8 doubles per AVX-512 op). It is
slower than libm's `exp` as scalar code (the polynomial is longer than glibc's table-driven
one), so `codegen.cpu` uses it only in loops that it expects to vectorize, and `math.exp`
elsewhere. `reassoc_add(a, b)` is `a + b` that LLVM may reassociate: a float sum whose adds
carry that flag is vectorized (partial sums per lane, added at the end) instead of kept in
sequential order, which blocks vectorization of the whole loop.

Every function here is plain Python as written (so `ADJIT_NOJIT=1` runs the same generated
text), and `register()` (called by `codegen.compile` before numba compiles anything) gives
numba an implementation of each: the same Python code for `exp`, and two `@intrinsic`s (bit
casts between int64 and float64, the flagged `fadd`). The generated module imports this one
by name (`from adjit.codegen import fastmath as fm`), so numba's disk cache finds it in a new
process. numba's cache does not notice edits to this file, so the import line carries `TAG`,
a hash of its text: an edit changes the generated source, hence its file and cache entry.

exp(x), float64 (f32: computed in float64 and rounded once, which is within 1 ulp of float32):

- Range reduction: n = round(x / ln 2) by the 1.5 * 2^52 trick (`t = x * log2(e) + 1.5 * 2^52`
  holds n in its low mantissa bits; n = t - 1.5 * 2^52 as a float, and the bits of t minus
  those of 1.5 * 2^52 as an integer); r = x - n ln2 by Cody and Waite's two-constant split:
  `rh = x - n * LN2_HI` is exact (LN2_HI has 32 significant bits and |n| < 2^11, and
  rh is a multiple of ulp(x) below 0.35), `c = n * LN2_LO`, r = rh - c, |r| <= ln2/2 + 1e-13.
- exp(r) = 1 + r + r^2 P(r), P a degree-10 minimax polynomial (Remez, relative error 1e-19 on
  |r| <= ln2/2 + 2^-20), by Estrin's scheme (shorter dependency chains than Horner). The sum
  1 + rh is split exactly (Fast2Sum: hi = 1 + rh, lo = (1 - hi) + rh) and the small terms
  are added to lo first, so the result carries one rounding of its own plus the error of
  the small terms. Against mpmath on 2.3 million points: max error 0.70 ulp on normal
  results, 0.77 on subnormal ones (rounded twice), 98.4% correctly rounded (numpy's exp: 0.71
  ulp, 95.6%; glibc's: 0.51 ulp); the plain `1 + (r + r^2 P)` had 0.95 ulp.
- Scaling by 2^n without overflow in the scale itself: n is clamped to [-1076, 1024] by
  clamping x to [-746, 710] first (a NaN passes the clamps, as `a if a < b else b` keeps it),
  split into h = n >> 1 and n - h, each a normal power of two built from its exponent bits,
  and p * 2^h (exact) * 2^(n-h) rounds once: overflow to inf above 709.78, gradual underflow
  (subnormals) below -708.40, 0 below -745.13.
- Special values: exp(nan) = nan (the bits of n are garbage then, but nan times anything is
  nan), exp(inf) = inf, exp(-inf) = 0, exp(+-0) = 1. Bit-identical to the plain-Python run
  (no fused multiply-adds: numba compiles without fastmath, so LLVM contracts nothing).
"""
from __future__ import annotations

import hashlib
import pathlib
import struct
from typing import Any

import numpy as np

TAG = hashlib.sha256(pathlib.Path(__file__).read_bytes()).hexdigest()[:12]

_MAGIC = 6755399441055744.0  # 1.5 * 2^52: adding it rounds a float below 2^51 to an integer
_MAGIC_BITS = 0x4338000000000000  # its bits; those of MAGIC + n are these plus n
_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238  # 0x3FE62E42FEE00000: 32 significant bits, n * LN2_HI is exact
_LN2_LO = 1.9082149292705877e-10  # ln 2 - LN2_HI
_X_MAX = 710.0  # exp(710) overflows; clamping keeps n within [-1076, 1024]
_X_MIN = -746.0  # exp(-746) is below half the smallest subnormal


def f64_from_bits(i: int) -> float:
    """The float64 whose bits are the low 64 bits of `i` (two's complement)."""
    return struct.unpack("<d", struct.pack("<Q", int(i) & 0xFFFFFFFFFFFFFFFF))[0]


def bits_from_f64(x: float) -> int:
    """The bits of float64 `x` as a signed int64."""
    return struct.unpack("<q", struct.pack("<d", float(x)))[0]


def _exp_f64(x: float) -> float:
    """exp of a float64, as the module docstring says. Straight-line code: numba compiles it
    into a select-based, vectorizable body; Python runs it as is."""
    x = float(x)
    # not min/max: a NaN must pass (a comparison with it is False)
    x = _X_MAX if x > _X_MAX else x  # noqa: FURB136
    x = _X_MIN if x < _X_MIN else x  # noqa: FURB136
    t = x * _LOG2E + _MAGIC
    n = t - _MAGIC
    rh = x - n * _LN2_HI
    c = n * _LN2_LO
    r = rh - c
    r2 = r * r
    r4 = r2 * r2
    p = ((0.5 + 0.16666666666666666 * r)
         + (0.04166666666666667 + 0.008333333333331288 * r) * r2
         + ((0.001388888888888325 + 0.0001984126985809856 * r)
            + (2.4801587328190255e-05 + 2.7557274964584137e-06 * r) * r2) * r4
         + ((2.755726986759938e-07 + 2.5097701481435804e-08 * r)
            + 2.091630757534129e-09 * r2) * (r4 * r4))
    hi = 1.0 + rh
    lo = (1.0 - hi) + rh
    p = hi + (lo + (r2 * p - c))
    k = bits_from_f64(t) - _MAGIC_BITS
    h = k >> 1
    return p * f64_from_bits((h + 1023) << 52) * f64_from_bits((k - h + 1023) << 52)


def exp(x: Any) -> Any:
    """e**x: a float32 for a float32 `x`, else a float64 (see the module docstring)."""
    if isinstance(x, np.float32):
        with np.errstate(over="ignore"):
            return np.float32(_exp_f64(float(x)))
    return _exp_f64(float(x))


def reassoc_add(a: Any, b: Any) -> Any:
    """a + b, an add LLVM may reassociate: a float sum accumulated with it vectorizes. The
    order of the additions then depends on the vector width (numba compiles for the host)."""
    return a + b


def nonneg(i: int) -> int:
    """i, which the caller knows is not negative: LLVM is told so (`llvm.assume`). A loop
    over a chunk of an array (codegen/parallel.py) starts at a computed index, and numba's
    negative-index wraparound on its subscripts would otherwise keep it from vectorizing."""
    return i


_registered = False


def register() -> None:
    """Give numba implementations of the functions above (idempotent). numba is imported
    only here, so the plain-Python path does not need it."""
    global _registered
    if _registered:
        return
    from numba.core import types
    from numba.extending import intrinsic, overload, register_jitable

    @intrinsic
    def _i64_as_f64(typingctx: Any, i: Any) -> Any:
        if not isinstance(i, types.Integer):
            return None

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            v = context.cast(builder, args[0], sig.args[0], types.int64)
            return builder.bitcast(v, context.get_value_type(types.float64))

        return types.float64(i), codegen

    @intrinsic
    def _f64_as_i64(typingctx: Any, x: Any) -> Any:
        if not isinstance(x, (types.Float, types.Integer)):
            return None

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            v = context.cast(builder, args[0], sig.args[0], types.float64)
            return builder.bitcast(v, context.get_value_type(types.int64))

        return types.int64(x), codegen

    @intrinsic
    def _fadd_reassoc(typingctx: Any, a: Any, b: Any) -> Any:
        if not all(isinstance(t, (types.Float, types.Integer)) for t in (a, b)):
            return None
        out = typingctx.unify_types(a, b)
        if not isinstance(out, types.Float):
            out = types.float64

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            x, y = (context.cast(builder, v, t, out) for v, t in zip(args, sig.args,
                                                                    strict=True))
            return builder.fadd(x, y, flags=("reassoc",))

        return out(a, b), codegen

    # (the typing functions of @overload take no annotations: numba compares their
    # signature with the implementation's, annotations included)
    @overload(f64_from_bits)
    def _f64_from_bits(i):
        if isinstance(i, types.Integer):
            return lambda i: _i64_as_f64(i)
        return None

    @overload(bits_from_f64)
    def _bits_from_f64(x):
        if isinstance(x, (types.Float, types.Integer)):
            return lambda x: _f64_as_i64(x)
        return None

    exp_f64 = register_jitable(_exp_f64)

    @overload(exp)
    def _exp(x):
        if isinstance(x, types.Float) and x.bitwidth == 32:
            return lambda x: np.float32(exp_f64(np.float64(x)))
        if isinstance(x, (types.Float, types.Integer, types.Boolean)):
            return lambda x: exp_f64(np.float64(x))
        return None

    @intrinsic
    def _assume_nonneg(typingctx: Any, i: Any) -> Any:
        if not isinstance(i, types.Integer):
            return None

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            (v,) = args
            assume = builder.module.declare_intrinsic("llvm.assume")
            builder.call(assume, [builder.icmp_signed(">=", v, v.type(0))])
            return v

        return i(i), codegen

    @overload(nonneg, inline="always")
    def _nonneg(i):
        if isinstance(i, types.Integer):
            return lambda i: _assume_nonneg(i)
        return None

    @overload(reassoc_add)
    def _reassoc_add(a, b):
        if isinstance(a, types.Float) or isinstance(b, types.Float):
            return lambda a, b: _fadd_reassoc(a, b)
        return lambda a, b: a + b

    _registered = True
