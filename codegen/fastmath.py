"""Scalar math for generated loops that LLVM can vectorize: `exp` and a reassociable add.

(Over 500 lines on purpose: every function generated code may call is in this one module,
whose hash (`TAG`) is in each generated module's import line, so that numba's cache sees an
edit to any of them.)

numba here has no SVML, so `math.exp` in a loop is a call to libm's scalar `exp`, and a loop
with a call in it is not vectorized. `exp(x)` below is straight-line arithmetic, two selects
and integer bit operations, which LLVM inlines and vectorizes (8 doubles per AVX-512 op). It is
slower than libm's `exp` as scalar code (the polynomial is longer than glibc's table-driven
one), so `codegen.cpu` uses it only in loops that it expects to vectorize, and `math.exp`
elsewhere. `reassoc_add(a, b)` is `a + b` that LLVM may reassociate: a float sum whose adds
carry that flag is vectorized (partial sums per lane, added at the end) instead of kept in
sequential order, which blocks vectorization of the whole loop.

Every function here is plain Python as written (so `ADJIT_NOJIT=1` runs the same generated
text), and `register(folder)` (called by `codegen.compile` before numba compiles anything)
gives numba an implementation of each: for exp, log, sin, cos, expm1, tanh, log1p and the
small trig forms, a call of the float64 implementation compiled once per process (loaded
from the cache folder when it is there) and marked `alwaysinline` for LLVM (`_compiled`);
two `@intrinsic`s (bit casts between int64 and float64, the flagged `fadd`). The generated
module imports this one by name (`from adjit.codegen import fastmath as fm`), so numba's disk
cache finds it in a new process. numba's cache does not notice edits to this file, so the
import line carries `TAG`, a hash of its text: an edit changes the generated source, hence
its file and cache entry (and the entries of the compiled implementations).

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

log, sin, cos, expm1, tanh, log1p (float64; float32 through float64 and rounded once, within 1 ulp).
Branch-free like exp (selects only). Max error measured against long double on ~1e6 points
of the whole domain (every binade, subnormals, up to DBL_MAX) and checked with mpmath; the
tests assert the bound in brackets. Special values are numpy's (NaN: some NaN).
- log [1 ulp]: 0.83 ulp. fdlibm's algorithm (m in [sqrt(1/2), sqrt(2)), s = f / (2 + f)),
  subnormals scaled by 2^54 first; log(+-0) = -inf, log(x < 0) = nan, log(inf) = inf.
- sin, cos [2 ulp]: 1.44 ulp. |x| < 2^20: Cody-Waite with 3-part pi/2 (fdlibm); larger:
  Payne-Hanek in int64 (28-bit windows of 2/pi from a 1400-bit table, exact column sums,
  the fraction as a double-double); both reductions computed and selected, musl's kernels.
  sin(-0.0) = -0.0, sin/cos(+-inf) = nan. They vectorize, but are no faster than libm's
  (8 table gathers a lane) and took 7-11 s to compile (once per machine now): generated code
  does not use them.
- sin_small, cos_small, tan_small [2, 2, 3 ulp below 2^20]: the Cody-Waite path alone
  (sin_small is sin bit for bit below 2^20; tan_small = sin_small / cos_small, 2.53 ulp),
  left to LLVM's inliner: a loop of them compiles in seconds and runs ~8x faster than libm.
  Wrong from 2^20 on, which `trig_big` marks: generated loops sum it, and the function is run
  again without them where the sum is not 0 (codegen/cpu_print.py, runtime/compiler.py).
- expm1 [2 ulp]: 1.63 ulp. exp's reduction, e**r - 1 kept apart from the 2^n scale.
- tanh [3 ulp]: 2.49 ulp (glibc: 1.19). -e / (e + 2) with e = expm1(-2|x|), sign copied.
- log1p [2 ulp]: 1.44 ulp. log(u) - ((u - 1) - x) / u with u = 1 + x; log1p(-1) = -inf,
  log1p(-0.0) = -0.0, log1p(x < -1) = nan, log1p(inf) = inf.
"""
from __future__ import annotations

import hashlib
import math
import pathlib
import struct
import types as pytypes
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
_INF, _NEG_INF, _NAN = math.inf, -math.inf, math.nan


def f64_from_bits(i: int) -> float:
    """The float64 whose bits are the low 64 bits of `i` (two's complement)."""
    return struct.unpack("<d", struct.pack("<Q", int(i) & 0xFFFFFFFFFFFFFFFF))[0]


def bits_from_f64(x: float) -> int:
    """The bits of float64 `x` as a signed int64."""
    return struct.unpack("<q", struct.pack("<d", float(x)))[0]


def _exp_reduce(x: float) -> tuple[float, float, float, float, float]:
    """exp's argument reduction and polynomial, shared with expm1: x (clamped; a NaN passes)
    = n ln2 + r, r = rh - c, and e**r = 1 + r + r^2 p. Returns (t, rh, c, r^2, p), t holding n
    in its low bits (t - _MAGIC = n)."""
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
    return t, rh, c, r2, p


def _exp_f64(x: float) -> float:
    """exp of a float64, as the module docstring says. Straight-line code: numba compiles it
    into a select-based, vectorizable body; Python runs it as is."""
    t, rh, c, r2, p = _exp_reduce(float(x))
    hi = 1.0 + rh
    lo = (1.0 - hi) + rh
    p = hi + (lo + (r2 * p - c))
    k = bits_from_f64(t) - _MAGIC_BITS
    h = k >> 1
    return p * f64_from_bits((h + 1023) << 52) * f64_from_bits((k - h + 1023) << 52)


# ---- log ------------------------------------------------------------------------------------
# fdlibm's e_log.c (as in musl before 2017): x = 2^k * m with m in [sqrt(1/2), sqrt(2)),
# f = m - 1, s = f / (2 + f), log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)).
_LG1, _LG2, _LG3 = 6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01
_LG4, _LG5, _LG6 = 2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_LN2_HI_LOG = 6.93147180369123816490e-01  # 0x3FE62E42FEE00000, the same split as exp's
_LN2_LO_LOG = 1.90821492927058770002e-10
_SQRT_HALF_HI = 0x3FE6A09E00000000  # the high word of sqrt(1/2): where m's range starts
_TINY = 2.2250738585072014e-308  # the smallest normal float64
_TWO54 = 18014398509481984.0


def _log_f64(x: float) -> float:
    """log of a float64 (see the module docstring)."""
    x = float(x)
    sub = x < _TINY  # subnormal (or zero, or negative: replaced below): scale into normals
    y = x * _TWO54 if sub else x
    ix = bits_from_f64(y) + (0x3FF0000000000000 - _SQRT_HALF_HI)
    k = (ix >> 52) - 1023 - (54 if sub else 0)
    f = f64_from_bits((ix & 0x000FFFFFFFFFFFFF) + _SQRT_HALF_HI) - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    dk = float(k)
    r = s * (hfsq + (t2 + t1)) + dk * _LN2_LO_LOG - hfsq + f + dk * _LN2_HI_LOG
    r = r if x < _INF else x  # log(inf) = inf, log(nan) = nan
    return r if x > 0.0 else (_NEG_INF if x == 0.0 else _NAN)  # log(-0.0) = -inf


# ---- sin, cos -------------------------------------------------------------------------------
# |x| < 2^20: Cody and Waite with pi/2 in three 33-bit parts and a tail (fdlibm's
# __rem_pio2, all three steps). Larger: Payne and Hanek with 2/pi's bits from a table.
_INVPIO2 = 6.36619772367581382433e-01
_PIO2_1, _PIO2_1T = 1.57079632673412561417e+00, 6.07710050650619224932e-11
_PIO2_2, _PIO2_2T = 6.07710050630396597660e-11, 2.02226624879595063154e-21
_PIO2_3, _PIO2_3T = 2.02226624871116645580e-21, 8.47842766036889956997e-32
_PIO2_H, _PIO2_L = 1.5707963267948966, 6.123233995736766e-17  # pi/2 as a double-double
_SPLIT = 134217729.0  # 2^27 + 1 (Dekker's split)
_PIO2_HH = _PIO2_H * _SPLIT - (_PIO2_H * _SPLIT - _PIO2_H)  # its upper 26 bits
_PIO2_HL = _PIO2_H - _PIO2_HH
_TRIG_BIG = 1048576.0  # 2^20: from here on, the table
_S1, _S2, _S3 = -1.66666666666666324348e-01, 8.33333333332248946124e-03, \
    -1.98412698298579493134e-04
_S4, _S5, _S6 = 2.75573137070700676789e-06, -2.50507602534068634195e-08, \
    1.58969099521155010221e-10
_C1, _C2, _C3 = 4.16666666666666019037e-02, -1.38888888888741095749e-03, \
    2.48015872894767294178e-05
_C4, _C5, _C6 = -2.75573143513906633035e-07, 2.08757232129817482790e-09, \
    -1.13596475577881948265e-11
# 2/pi to 1400 bits (mpmath), and windows of its bits: _TWO_BY_PI_WORDS[i] holds bits
# 32 i ... 32 i + 63 of (63 zeros, then the bits of 2/pi after the binary point).
_TWO_BY_PI_HEX = (
    "a2f9836e4e441529fc2757d1f534ddc0db6295993c439041fe5163abdebbc561b7246e3a424dd2e006492eea"
    "09d1921cfe1deb1cb129a73ee88235f52ebb4484e99c7026b45f7e413991d639835339f49c845f8bbdf9283b"
    "1ff897ffde05980fef2f118b5a0a6d1f6d367ecf27cb09b74f463f669e5fea2d7527bac7ebe5f17b3d0739f7"
    "8a5292ea6bfb5fb11f8d5d0856033046fc7b6babf0cfbc209af4361da9e391615ee61b086599855f14a068"
)


def _two_by_pi_words() -> np.ndarray:
    bits = "0" * 63 + format(int(_TWO_BY_PI_HEX, 16), "01400b")
    return np.array([int(bits[32 * i:32 * i + 64], 2) - (1 << 64) * (bits[32 * i] == "1")
                     for i in range(40)], dtype=np.int64)


_TWO_BY_PI_WORDS = _two_by_pi_words()
_M28 = (1 << 28) - 1


def _limb(o: int) -> int:
    """Bits o ... o + 27 of the padded 2/pi (bit 63 is the first after the point)."""
    return (int(_TWO_BY_PI_WORDS[o >> 5]) >> (36 - (o & 31))) & _M28


def _big_pio2(x: float) -> tuple[float, float, int]:
    """|x| = (4 j + q) pi/2 + (rh + rl) with |rh + rl| <= pi/4, for 2^20 <= |x| < inf
    (Payne and Hanek, exact in integers): |x| = M 2^E with M < 2^53 an integer, and
    |x| 2/pi mod 4 = sum over 28-bit windows L_j of 2/pi's bits (from bit E - 1 on: the
    earlier ones give multiples of 4) of M L_j 2^(-26 - 28 j), summed exactly with carries."""
    b = bits_from_f64(x)
    e = (b >> 52) & 0x7FF
    e = 1042 if e < 1042 else e  # 2^20 and above; smaller x are not used, any row will do
    e = 2046 if e > 2046 else e
    m = (b & 0x000FFFFFFFFFFFFF) | 0x0010000000000000
    mh = m >> 28
    ml = m & _M28
    o = e - 1075 - 1 + 62  # bit E - 1 of 2/pi (E = e - 1075) is bit 62 + E - 1 here
    l0, l1, l2, l3 = _limb(o), _limb(o + 28), _limb(o + 56), _limb(o + 84)
    l4, l5, l6, l7 = _limb(o + 112), _limb(o + 140), _limb(o + 168), _limb(o + 196)
    t = ml * l6 + mh * l7  # columns of weight 2^(-26 - 28 c); column -1 is 0 mod 4
    t = ml * l5 + mh * l6 + (t >> 28)
    t = ml * l4 + mh * l5 + (t >> 28)
    d4 = t & _M28
    t = ml * l3 + mh * l4 + (t >> 28)
    d3 = t & _M28
    t = ml * l2 + mh * l3 + (t >> 28)
    d2 = t & _M28
    t = ml * l1 + mh * l2 + (t >> 28)
    d1 = t & _M28
    t = ml * l0 + mh * l1 + (t >> 28)
    top = t & 0x3FFFFFF  # the fraction's first 26 bits; above them, the quadrant
    g = top >> 25  # fraction >= 1/2: round up to the next quadrant
    q = ((t >> 26) + g) & 3
    s = float(top - (g << 26)) * 1.4901161193847656e-08 + float(d1) * 5.551115123125783e-17
    hi = s + float(d2) * 2.0679515313825692e-25  # s is exact (53 bits), the rest in two_sum
    bb = hi - s
    lo = (s - (hi - bb)) + (float(d2) * 2.0679515313825692e-25 - bb)
    lo = lo + (float(d3) * 7.703719777548943e-34 + float(d4) * 2.869859254937225e-42)
    fh = hi + lo
    fl = lo - (fh - hi)
    # (fh + fl) pi/2, a double-double product (Dekker)
    c = fh * _SPLIT
    ah = c - (c - fh)
    al = fh - ah
    ph = fh * _PIO2_H
    pl = ((ah * _PIO2_HH - ph) + ah * _PIO2_HL + al * _PIO2_HH) + al * _PIO2_HL
    pl = pl + (fh * _PIO2_L + fl * _PIO2_H)
    rh = ph + pl
    return rh, pl - (rh - ph), q


def _sin_cos_core(x: float, xl: float, q0: int) -> float:
    """sin(x + xl + q0 pi/2) for |x| < 2^20 (|xl| tiny): Cody and Waite's reduction of x (pi/2
    in three 33-bit parts and a tail: fdlibm's __rem_pio2, all three steps), then musl's
    __sin and __cos on [-pi/4, pi/4] with the tail, both computed and one selected by the
    quadrant. One flat function: numba inlines it into loops, and nested inlined helpers made
    a loop of it compile six times slower."""
    t = x * _INVPIO2 + _MAGIC
    fn = t - _MAGIC
    r = x - fn * _PIO2_1  # exact for |fn| < 2^20 (33-bit part)
    w = fn * _PIO2_2
    r2 = r - w
    w = fn * _PIO2_2T - ((r - r2) - w)
    w3 = fn * _PIO2_3
    r3 = r2 - w3
    w = fn * _PIO2_3T - ((r2 - r3) - w3)
    yh = r3 - w
    yl = ((r3 - yh) - w) + xl
    q = bits_from_f64(t) - _MAGIC_BITS + q0
    z = yh * yh
    w = z * z
    v = z * yh
    rs = _S2 + z * (_S3 + z * _S4) + z * w * (_S5 + z * _S6)
    sn = yh - ((z * (0.5 * yl - v * rs) - yl) - v * _S1)
    rc = z * (_C1 + z * (_C2 + z * _C3)) + w * w * (_C4 + z * (_C5 + z * _C6))
    hz = 0.5 * z
    w = 1.0 - hz
    cs = w + (((1.0 - w) - hz) + (z * rc - yh * yl))
    out = cs if q & 1 else sn
    out = -out if q & 2 else out
    a = -x if x < 0.0 else x
    return out if a < _INF else x - x  # sin(+-inf) = nan


def _sin_cos_f64(x: float, shift: int) -> float:
    """sin (shift 0) or cos (shift 1) of a float64: both reductions are computed and one
    selected, so the code has no branch. Beyond 2^20, Payne and Hanek's |x| = (4 j + bq)
    pi/2 + bh + bl, with |bh| <= pi/4 passed on whole (Cody and Waite leave it as it is)."""
    x = float(x)
    a = -x if x < 0.0 else x
    bh, bl, bq = _big_pio2(a)
    neg = x < 0.0
    big = a >= _TRIG_BIG
    out = _sin_cos_core((-bh if neg else bh) if big else x, (-bl if neg else bl) if big else 0.0,
                        ((-bq if neg else bq) if big else 0) + shift)
    return out if a < _INF else x - x  # sin(+-inf) = nan


def _sin_small_f64(x: float) -> float:
    """sin as `_sin_f64` for |x| < 2^20 (and inf, nan), with Cody and Waite's reduction only:
    loops of it compile in a second (the Payne-Hanek path took 7-11 s) and run 8 lanes at a
    time. Wrong beyond: a loop using it also sums `trig_big` of its arguments, and the
    generated function runs again with libm's sin where that sum is not 0 (codegen/cpu.py)."""
    return _sin_cos_core(float(x), 0.0, 0)


def _cos_small_f64(x: float) -> float:
    return _sin_cos_core(float(x), 0.0, 1)


def _tan_small_f64(x: float) -> float:
    """tan as sin_small / cos_small (so guarded as they are): tan(-0.0) = -0.0, tan(inf) = nan."""
    return _sin_cos_core(float(x), 0.0, 0) / _sin_cos_core(float(x), 0.0, 1)


def trig_big(x: Any) -> float:
    """1.0 where `sin_small`/`cos_small` of x would be wrong (2^20 <= |x| < inf), else 0.0."""
    a = abs(float(x))
    return 1.0 if a >= _TRIG_BIG and a < _INF else 0.0


def _sin_f64(x: float) -> float:
    return _sin_cos_f64(x, 0)


def _cos_f64(x: float) -> float:
    return _sin_cos_f64(x, 1)


# ---- log1p ----------------------------------------------------------------------------------
# log1p(x) = log(u) - ((u - 1) - x) / u with u = 1 + x rounded: the second term is the first
# order correction for the rounding of u (Goldberg's trick with a correction instead of a
# ratio), so log1p keeps log's accuracy where 1 + x loses x's low bits.

def _log1p_f64(x: float) -> float:
    x = float(x)
    u = 1.0 + x
    r = _log_f64(u) - ((u - 1.0) - x) / (u if u != 0.0 else 1.0)  # (plain Python: no 1/0)
    r = x if u == 1.0 else r  # |x| below half an ulp of 1 (and -0.0): log1p(x) = x
    r = u if u == _INF else r  # log1p(inf) = inf
    return _NEG_INF if u == 0.0 else r  # log1p(-1) = -inf; x < -1 and nan: log's nan


# ---- expm1, tanh ----------------------------------------------------------------------------

def _expm1_f64(x: float) -> float:
    """e**x - 1 of a float64: exp's reduction, q = e**r - 1 kept apart from 2^n."""
    x0 = float(x)
    t, rh, c, r2, p = _exp_reduce(x0)
    q = rh + (r2 * p - c)  # e**r - 1, |q| < 0.42
    k = bits_from_f64(t) - _MAGIC_BITS
    # k <= 0: 2^k q + (2^k - 1), exact but for the last add (2^k clamped: -1 wins below)
    kd = -60 if k < -60 else k
    two_k = f64_from_bits((kd + 1023) << 52)
    low = two_k * q + (two_k - 1.0)
    # k >= 1: (q + (1 - 2^-k)) 2^k, the scale split in two as in exp (2^1024 overflows)
    ku = 60 if k > 60 else k
    h = k >> 1
    high = (q + (1.0 - f64_from_bits((1023 - ku) << 52))) * f64_from_bits((h + 1023) << 52) \
        * f64_from_bits((k - h + 1023) << 52)
    out = high if k > 0 else low
    ax = -x0 if x0 < 0.0 else x0
    # below 2^-54, e**x - 1 rounds to x: exactly, for +-0 and subnormals too
    return x0 if ax < 5.551115123125783e-17 else out


def _tanh_f64(x: float) -> float:
    """tanh of a float64: with e = expm1(-2|x|), tanh|x| = -e / (e + 2)."""
    x = float(x)
    a = -x if x < 0.0 else x
    e = _expm1_f64(-2.0 * a)
    return math.copysign(-e / (e + 2.0), x)


def exp(x: Any) -> Any:
    """e**x: a float32 for a float32 `x`, else a float64 (see the module docstring)."""
    if isinstance(x, np.float32):
        with np.errstate(over="ignore"):
            return np.float32(_exp_f64(float(x)))
    return _exp_f64(float(x))


def _float32_or_64(f64: Any, name: str) -> Any:
    def f(x: Any) -> Any:
        if isinstance(x, np.float32):
            with np.errstate(over="ignore"):
                return np.float32(f64(float(x)))
        return f64(float(x))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"{name}(x): a float32 for a float32 `x`, else a float64 (module docstring)."
    return f


log = _float32_or_64(_log_f64, "log")
sin = _float32_or_64(_sin_f64, "sin")
cos = _float32_or_64(_cos_f64, "cos")
sin_small = _float32_or_64(_sin_small_f64, "sin_small")
cos_small = _float32_or_64(_cos_small_f64, "cos_small")
tan_small = _float32_or_64(_tan_small_f64, "tan_small")
log1p = _float32_or_64(_log1p_f64, "log1p")
expm1 = _float32_or_64(_expm1_f64, "expm1")
tanh = _float32_or_64(_tanh_f64, "tanh")
# (the public name of each, and the float64 implementation numba inlines)
_UNARY = ((log, _log_f64), (sin, _sin_f64), (cos, _cos_f64), (expm1, _expm1_f64),
          (tanh, _tanh_f64), (log1p, _log1p_f64))


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


def _plain(fn: Any) -> Any:
    """`fn` without annotations: numba compares the typing function's signature with the
    implementation's, annotations included."""
    return pytypes.FunctionType(fn.__code__, fn.__globals__, fn.__name__)


def _overload_inline(fn: Any) -> None:
    """Calls to `fn` in jitted code are inlined at numba's level (LLVM's inliner gives up on
    functions this long, and a call keeps a loop scalar), compiled with numpy's error model
    (python's checks divisions for zero: a branch)."""
    from numba.extending import overload

    plain = _plain(fn)
    overload(fn, inline="always", jit_options={"error_model": "numpy"}, strict=False)(
        lambda *args: plain)


_COMPILED: dict[str, Any] = {}  # f64 implementation's name -> its numba dispatcher
_folder: Any = None  # the cache folder (codegen/cache.py) of the last `register(folder)`


def _compiled(f64: Any) -> Any:
    """`f64` compiled by numba for float64, once per process: loaded from the disk cache
    where it is there (a `KernelCache` entry named by TAG and the function), and marked
    `alwaysinline`, so that LLVM inlines it into every loop that calls it (the loop then
    vectorizes) although it is far over LLVM's inlining threshold. Inlined at numba's level
    instead, each kernel re-typed the whole body: a loop of tanh, sin_small, cos_small, exp,
    log1p and expm1 took 9.7 s to compile in a new process and 3.6 s as a second kernel;
    now 0.6 and 0.3 s, with the same machine code."""
    disp = _COMPILED.get(f64.__name__)
    if disp is None:
        import numba
        from numba.core import types

        disp = numba.njit(error_model="numpy")(_plain(f64))
        if _folder is not None:
            from .kernelcache import KernelCache

            disp._cache = KernelCache(_folder, f"adjit.codegen.fastmath {TAG} {f64.__name__}\n",
                                      f"fm_{f64.__name__}")
        disp.compile((types.float64,))
        cres = disp.overloads[(types.float64,)]
        try:  # (numba's internals: should they move, the math stays right, only slower)
            module = cres.library._get_module_for_linking()  # what callers' modules link in
            module.get_function(cres.fndesc.llvm_func_name).add_function_attribute(
                "alwaysinline")
        except (AttributeError, NameError, ValueError) as e:
            import logging

            logging.getLogger("adjit").warning(
                "fastmath: %s cannot be marked for inlining (%s): loops calling it will not "
                "vectorize", f64.__name__, e)
        _COMPILED[f64.__name__] = disp
    return disp


def _overload_compiled(public: Any, f64: Any) -> None:
    """numba's implementation of `public`: a call of `_compiled(f64)`, in float64 (a float32
    is widened and the result rounded once). The wrapper is inlined at numba's level (it is
    one call), the call by LLVM."""
    from numba.core import types
    from numba.extending import overload

    @overload(public, inline="always", jit_options={"error_model": "numpy"})
    def _impl(x):
        if not isinstance(x, (types.Float, types.Integer, types.Boolean)):
            return None
        fn = _compiled(f64)
        if isinstance(x, types.Float) and x.bitwidth == 32:
            return lambda x: np.float32(fn(np.float64(x)))
        return lambda x: fn(np.float64(x))


def register(folder: Any = None) -> None:
    """Give numba implementations of the functions above (idempotent). numba is imported
    only here, so the plain-Python path does not need it. `folder` (a `cache.Folder`): where
    the compiled implementations are cached (`_compiled`); none: compiled in each process."""
    global _registered, _folder
    if folder is not None:
        _folder = folder
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

    _overload_inline(_exp_reduce)
    # numba's default error model ('python') checks divisions for zero, a branch that keeps
    # LLVM from vectorizing. Inside a compiled implementation (`_compiled`) the helpers and
    # the implementations one calls (tanh calls expm1) are inlined at numba's level.
    for helper in (_limb, _big_pio2, _sin_cos_f64, *(f64 for _, f64 in _UNARY)):
        _overload_inline(helper)
    for public, f64 in _UNARY:
        _overload_compiled(public, f64)
    _overload_compiled(exp, _exp_f64)

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

    # (inlined at numba's level, a loop of four sin_small/cos_small took 30 s to compile)
    register_jitable(_sin_cos_core)
    _overload_compiled(sin_small, _sin_small_f64)
    _overload_compiled(cos_small, _cos_small_f64)
    _overload_compiled(tan_small, _tan_small_f64)

    # (small enough for LLVM's inliner; inlined at numba's level, its select tripped one of
    # numba's pedantic SSA checks, a warning)
    @overload(trig_big)
    def _trig_big(x):
        if isinstance(x, (types.Float, types.Integer)):
            def impl(x):
                a = abs(np.float64(x))
                return 1.0 * ((a >= _TRIG_BIG) & (a < _INF))
            return impl
        return None

    @overload(reassoc_add)
    def _reassoc_add(a, b):
        if isinstance(a, types.Float) or isinstance(b, types.Float):
            return lambda a, b: _fadd_reassoc(a, b)
        return lambda a, b: a + b

    _registered = True
