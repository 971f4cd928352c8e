"""The table of primitive test cases: every primitive in `adjit.ir.PRIMS` has at least one.

`test_derivatives.py` runs each case; `test_registry.py` fails when a registered primitive
has none. A case's `kind` says what is checked:

- "grad": the VJP and JVP rules against finite differences (float64, and float32 where
  `dtypes` lists it, with loose tolerances and the result dtype checked);
- "zero": the rules return symbolic zeros (stop_gradient);
- "nondiff": the primitive has no rules; only its shape rule is checked against `impl`.

Elementwise inputs are drawn from hand-picked ranges (`RANGES`) inside each declaration's
`domain` and away from singularities and kinks, so central differences are accurate;
`test_derivatives` asserts that the points satisfy the domain.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from adjit.ir.prims.elementwise_decls import DECLS

Sampler = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]
Maker = Callable[[np.random.Generator, str], list[np.ndarray]]


def uniform(lo: float, hi: float) -> Sampler:
    return lambda rng, shape: np.asarray(rng.uniform(lo, hi, shape))


def away(lo: float, hi: float) -> Sampler:
    """Magnitude in [lo, hi] with a random sign: keeps clear of a singularity or kink at 0."""
    return lambda rng, shape: np.asarray(rng.uniform(lo, hi, shape)
                                          * rng.choice([-1.0, 1.0], shape))


DEFAULT = uniform(-2, 2)
RANGES: dict[str, tuple[Sampler, ...]] = {
    "div": (DEFAULT, away(0.5, 2)),
    "pow": (uniform(0.5, 2), DEFAULT),
    "log": (uniform(0.2, 3),),
    "log2": (uniform(0.2, 3),),
    "log10": (uniform(0.2, 3),),
    "log1p": (uniform(-0.8, 2),),
    "sqrt": (uniform(0.2, 3),),
    "tan": (uniform(-1.3, 1.3),),
    "arcsin": (uniform(-0.9, 0.9),),
    "arccos": (uniform(-0.9, 0.9),),
    "arccosh": (uniform(1.2, 3),),
    "arctanh": (uniform(-0.9, 0.9),),
    "arctan2": (away(0.3, 2), away(0.3, 2)),
    "abs": (away(0.1, 2),),
    "sign": (away(0.1, 2),),
    "relu": (away(0.1, 2),),
}


def samplers(name: str, nargs: int) -> tuple[Sampler, ...]:
    return RANGES.get(name, (DEFAULT,) * nargs)


@dataclass(frozen=True, eq=False)
class Case:
    prim: str
    desc: str
    make: Maker  # (rng, float dtype name) -> inputs
    params: dict[str, Any] = field(default_factory=dict)
    const: tuple[int, ...] = ()  # inputs passed to the rule as literals
    kind: str = "grad"  # "grad", "zero" or "nondiff"
    dtypes: tuple[str, ...] = ("f64", "f32")
    rtol: float | None = None
    atol: float | None = None
    eps: float = 1e-6

    @property
    def id(self) -> str:
        return f"{self.prim}-{self.desc}"


def _fmt(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def _floats(draw: tuple[Sampler, ...], shapes: tuple[tuple[int, ...], ...]) -> Maker:
    return lambda rng, dt: [s(rng, shp).astype(dt) for s, shp in zip(draw, shapes, strict=True)]


def _with(draw: Maker, *extra: Any) -> Maker:
    """Random float inputs followed by fixed non-float ones (indices)."""
    return lambda rng, dt: draw(rng, dt) + [np.asarray(e) for e in extra]


# ---- elementwise ----------------------------------------------------------------------------

UNARY_SHAPES = [(), (5,), (3, 4)]
BINARY_SHAPES = [((), ()), ((5,), (5,)), ((3, 4), (3, 4)), ((3, 1), (4,)), ((), (3, 4)),
                 ((2, 1, 3), (4, 1))]
F32_SHAPES = {(3, 4), ((3, 1), (4,))}  # the float32 smoke run uses these


def _elementwise_cases() -> list[Case]:
    cases = []
    for decl in DECLS:
        draw = samplers(decl.name, len(decl.args))
        if len(decl.args) == 1:
            for shape in UNARY_SHAPES:
                cases.append(Case(decl.name, _fmt(shape), _floats(draw, (shape,)),
                                  dtypes=("f64", "f32") if shape in F32_SHAPES else ("f64",)))
            continue
        for sx, sy in BINARY_SHAPES:
            cases.append(Case(decl.name, f"{_fmt(sx)}&{_fmt(sy)}", _floats(draw, (sx, sy)),
                              dtypes=("f64", "f32") if (sx, sy) in F32_SHAPES else ("f64",)))
        # One operand a literal: its cotangent must be None, the other's still right.
        cases.append(Case(decl.name, "3x4&lit", _floats(draw, ((3, 4), ())), const=(1,)))
        cases.append(Case(decl.name, "lit4&3x4", _floats(draw, ((4,), (3, 4))), const=(0,)))
    return cases


def _select_cases() -> list[Case]:
    def make(cshape: tuple[int, ...], xshape: tuple[int, ...], yshape: tuple[int, ...]) -> Maker:
        return lambda rng, dt: [rng.random(cshape) < 0.5, DEFAULT(rng, xshape).astype(dt),
                                DEFAULT(rng, yshape).astype(dt)]
    return [Case("select", "3x4", make((3, 4), (3, 4), (3, 4))),
            Case("select", "bcast-c4-x3x1-yscalar", make((4,), (3, 1), ())),
            Case("select", "bcast-c3x1-x4", make((3, 1), (4,), (3, 4))),
            Case("select", "y-lit", make((3, 4), (3, 4), ()), const=(2,))]


def _division_cases() -> list[Case]:
    """floor_divide, mod and fmod: piecewise, so finite differences hold away from the jumps (a
    random point lands within eps of one with probability ~1e-6)."""
    def make(sx: tuple[int, ...], sy: tuple[int, ...]) -> Maker:
        return _floats((uniform(-5, 5), away(0.5, 2)), (sx, sy))
    return [Case(name, f"{_fmt(sx)}&{_fmt(sy)}", make(sx, sy),
                 kind="zero" if name == "floor_divide" else "grad",
                 dtypes=("f64", "f32") if (sx, sy) in F32_SHAPES else ("f64",))
            for name in ("floor_divide", "mod", "fmod")
            for sx, sy in (((3, 4), (3, 4)), ((3, 1), (4,)), ((), (3, 4)))
            # (the zero-derivative check feeds a cotangent of the first input's shape)
            if name != "floor_divide" or sx == sy]


def _convert_cases() -> list[Case]:
    # convert is linear, so a large step is exact; it keeps float32 rounding out of the
    # finite differences of an f64 -> f32 cast.
    def draw(dt: str) -> Maker:
        return lambda rng, _: [DEFAULT(rng, (3, 4)).astype(dt)]
    return [Case("convert", "f64-to-f32", draw("float64"), {"dtype": "f32"}, dtypes=("f64",),
                 eps=1e-2, rtol=1e-4, atol=1e-5),
            Case("convert", "f32-to-f64", draw("float32"), {"dtype": "f64"}, dtypes=("f32",)),
            Case("convert", "f64-to-f64", draw("float64"), {"dtype": "f64"}, dtypes=("f64",))]


def _nondiff_cases() -> list[Case]:
    cases = []
    binary = _floats((DEFAULT, DEFAULT), ((3, 4), (4,)))
    for name in ("lt", "le", "gt", "ge", "eq", "ne"):
        cases.append(Case(name, "3x4&4", binary, kind="nondiff"))
    masks = lambda rng, dt: [rng.random((3, 4)) < 0.5, rng.random((4,)) < 0.5]  # noqa: E731
    cases += [Case("logical_and", "3x4&4", masks, kind="nondiff"),
              Case("logical_or", "3x4&4", masks, kind="nondiff"),
              Case("logical_not", "3x4", lambda rng, dt: [rng.random((3, 4)) < 0.5],
                   kind="nondiff"),
              Case("floor", "3x4", _floats((uniform(-3, 3),), ((3, 4),)), kind="nondiff")]
    for name in ("argmax", "argmin"):
        for axis in (0, 1):
            cases.append(Case(name, f"3x4-axis{axis}", _floats((DEFAULT,), ((3, 4),)),
                              {"axis": axis}, kind="nondiff"))
    ties = lambda rng, dt: [rng.integers(0, 3, (3, 5)).astype(dt)]  # noqa: E731
    cases += [Case("argsort", "3x5", _floats((DEFAULT,), ((3, 5),)), kind="nondiff"),
              Case("argsort", "3x5-ties", ties, kind="nondiff"),
              Case("argsort", "7", _floats((DEFAULT,), ((7,),)), kind="nondiff")]
    return cases


# ---- reductions -------------------------------------------------------------------------------

def _reduce_cases() -> list[Case]:
    cases = []
    shaped = [((3, 4), (0,)), ((3, 4), (1,)), ((3, 4), (0, 1)), ((5,), (0,)), ((2, 3, 4), (0, 2)),
              ((3, 4), ())]
    for name in ("reduce_sum", "reduce_max", "reduce_min", "reduce_prod"):
        # reduce_prod's inputs stay away from 0 here (zeros have cases of their own) and near 1.
        draw = away(0.5, 1.5) if name == "reduce_prod" else DEFAULT
        for shape, axes in shaped:
            cases.append(Case(name, f"{_fmt(shape)}-axes{''.join(map(str, axes))}",
                              _floats((draw,), (shape,)), {"axes": axes}))

    def prod_with_zeros(*where: tuple[int, int]) -> Maker:
        def make(rng: np.random.Generator, dt: str) -> list[np.ndarray]:
            x = away(0.5, 1.5)(rng, (3, 4))
            for ij in where:
                x[ij] = 0.0
            return [x.astype(dt)]
        return make

    # The derivative wrt x_i is the product of the others: with one zero in the slice it is
    # non-zero only at the zero; with two or more it is zero everywhere.
    for desc, where in (("one-zero", [(1, 2)]), ("two-zeros", [(1, 0), (1, 2)]),
                        ("all-zeros", [(2, j) for j in range(4)])):
        for axes in ((1,), (0, 1)):
            cases.append(Case("reduce_prod", f"{desc}-axes{''.join(map(str, axes))}",
                              prod_with_zeros(*where), {"axes": axes}))

    # Ties split the derivative evenly among the tied places, as JAX and PyTorch do. Central
    # differences agree with that for two-way ties: (max(a+e, a) - max(a-e, a)) / 2e = 1/2.
    def tied(value: float) -> Maker:
        def make(rng: np.random.Generator, dt: str) -> list[np.ndarray]:
            x = DEFAULT(rng, (3, 4))
            x[0, 1] = x[0, 3] = value
            return [x.astype(dt)]
        return make

    for name, value in (("reduce_max", 3.0), ("reduce_min", -3.0)):
        for axes in ((1,), (0, 1)):
            cases.append(Case(name, f"tie-axes{''.join(map(str, axes))}", tied(value),
                              {"axes": axes}))

    for shape, axis in (((5,), 0), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), 1)):
        cases.append(Case("cumsum", f"{_fmt(shape)}-axis{axis}", _floats((DEFAULT,), (shape,)),
                          {"axis": axis}))
        # running products and linear recurrences: coefficients near 1 keep them moderate
        cases.append(Case("cumprod", f"{_fmt(shape)}-axis{axis}",
                          _floats((away(0.5, 1.5),), (shape,)), {"axis": axis}))
        cases.append(Case("linrec", f"{_fmt(shape)}-axis{axis}",
                          _floats((away(0.5, 1.5), DEFAULT), (shape, shape)), {"axis": axis}))

    def scan_with_zeros(*where: tuple[int, ...], linear: bool = False) -> Maker:
        def make(rng: np.random.Generator, dt: str) -> list[np.ndarray]:
            x = rng.uniform(0.5, 1.5, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
            for ij in where:
                x[ij] = 0.0
            return [x.astype(dt)] + ([rng.normal(size=(3, 4)).astype(dt)] if linear else [])
        return make

    # zeros: the rules are smooth (recurrences, no division), exact there to any order
    for desc, where in (("one-zero", [(1, 2)]), ("two-zeros", [(1, 0), (1, 2)]),
                        ("leading-zero", [(0, 0), (2, 0)])):
        for axis in (0, 1):
            cases.append(Case("cumprod", f"{desc}-axis{axis}", scan_with_zeros(*where),
                              {"axis": axis}))
            cases.append(Case("linrec", f"{desc}-axis{axis}",
                              scan_with_zeros(*where, linear=True), {"axis": axis}))
    return cases


# ---- shapes -----------------------------------------------------------------------------------

def _one(shape: tuple[int, ...]) -> Maker:
    return _floats((DEFAULT,), (shape,))


def _shape_cases() -> list[Case]:
    cases = []
    for src, dst in (((3, 4), (2, 6)), ((12,), (3, 4)), ((), (1, 1)), ((2, 3, 4), (4, 6)),
                     ((1, 1), ())):
        cases.append(Case("reshape", f"{_fmt(src)}-to-{_fmt(dst)}", _one(src), {"shape": dst}))
    for src, perm in (((3, 4), (1, 0)), ((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (0, 2, 1))):
        cases.append(Case("transpose", f"{_fmt(src)}-{''.join(map(str, perm))}", _one(src),
                          {"perm": perm}))
    for src, dst in (((3, 1), (2, 3, 4)), ((), (3,)), ((4,), (3, 4)), ((1, 4), (3, 4))):
        cases.append(Case("broadcast_to", f"{_fmt(src)}-to-{_fmt(dst)}", _one(src),
                          {"shape": dst}))
    # slice: out[i] = x[start + i * step] per axis; positive and negative steps.
    slices = [("step2", (5,), (1,), (2,), (2,)),
              ("reverse", (5,), (4,), (-1,), (5,)),
              ("neg-step2", (7,), (6,), (-2,), (4,)),
              ("mixed-2d", (4, 6), (3, 1), (-2, 2), (2, 3)),
              ("block-2d", (4, 6), (1, 0), (1, 1), (2, 6)),
              ("3d", (2, 3, 4), (1, 2, 0), (1, -1, 3), (1, 3, 2)),
              ("empty", (5,), (0,), (1,), (0,))]
    for desc, full, starts, steps, out in slices:
        p = {"starts": starts, "steps": steps}
        cases.append(Case("slice", desc, _one(full), {**p, "shape": out}))
        cases.append(Case("unslice", desc, _one(out), {**p, "shape": full}))
    concat = [("axis0", [(2, 3), (4, 3)], 0), ("axis1-three", [(3, 2), (3, 1), (3, 4)], 1),
              ("1d", [(2,), (3,)], 0), ("3d-axis2", [(2, 3, 1), (2, 3, 2)], 2)]
    for desc, shapes, axis in concat:
        draw = _floats((DEFAULT,) * len(shapes), tuple(shapes))
        cases.append(Case("concatenate", desc, draw, {"axis": axis}))
    cases.append(Case("concatenate", "lit-middle", _floats((DEFAULT,) * 3, ((3, 2), (3, 1),
                                                                            (3, 4))),
                      {"axis": 1}, const=(1,)))
    return cases


# ---- indexing and linear algebra --------------------------------------------------------------

def _index_cases() -> list[Case]:
    cases = []
    gathers = [("1d-repeats", (5,), [0, 3, 3, 1], 0),
               ("2d-idx-axis1", (3, 4), [[0, 3], [2, 2]], 1),
               ("3d-axis2", (2, 3, 4), [2, 0], 2),
               ("axis0-i32", (4, 3), np.array([3, 0, 3], np.int32), 0),
               ("scalar-idx", (3, 4), 2, 0)]
    for desc, shape, idx, axis in gathers:
        idx = idx if isinstance(idx, np.ndarray) else np.asarray(idx, np.int64)
        cases.append(Case("gather", desc, _with(_one(shape), idx), {"axis": axis}))
    # scatter_add sums repeated indices: x holds idx.shape at `axis`.
    scatters = [("1d-repeats", (4,), [0, 2, 2, 1], 0, 3),
                ("2d-axis1", (3, 4), [1, 1, 0, 3], 1, 5),
                ("2d-idx", (3, 2, 2), [[0, 3], [3, 1]], 1, 4),
                ("all-same", (5,), [1, 1, 1, 1, 1], 0, 2)]
    for desc, shape, idx, axis, size in scatters:
        cases.append(Case("scatter_add", desc, _with(_one(shape), np.asarray(idx, np.int64)),
                          {"axis": axis, "size": size}))
    return cases


def _matmul_cases() -> list[Case]:
    cases = []
    m, k, n = 3, 4, 2
    for batch, ta, tb in itertools.product(((), (2,)), (False, True), (False, True)):
        a = batch + ((k, m) if ta else (m, k))
        b = batch + ((n, k) if tb else (k, n))
        desc = f"{'batch-' if batch else ''}{'T' if ta else 'N'}{'T' if tb else 'N'}"
        cases.append(Case("matmul", desc, _floats((DEFAULT, DEFAULT), (a, b)),
                          {"transpose_a": ta, "transpose_b": tb}))
    for ta, tb in ((False, False), (True, True)):
        cases.append(Case("matmul", f"lit-b-{'T' if ta else 'N'}{'T' if tb else 'N'}",
                          _floats((DEFAULT, DEFAULT), ((k, m) if ta else (m, k),
                                                       (n, k) if tb else (k, n))),
                          {"transpose_a": ta, "transpose_b": tb}, const=(1,)))
    return cases


def _linalg_cases() -> list[Case]:
    from linalg_cases import linalg_cases  # imports this module's Case: after it exists

    return linalg_cases()


def _complex_cases() -> list[Case]:
    from complex_cases import complex_cases

    return complex_cases()


def _conv_cases() -> list[Case]:
    from conv_cases import conv_cases  # imports this module's helpers: after they exist

    return conv_cases()


def _special_cases() -> list[Case]:
    from special_cases import special_cases  # as for conv_cases

    return special_cases()


CASES: list[Case] = (_elementwise_cases() + _select_cases() + _division_cases() + _convert_cases()
                     + _nondiff_cases() + _reduce_cases() + _shape_cases() + _index_cases()
                     + _matmul_cases() + _conv_cases() + _linalg_cases()
                     + _special_cases()
                     + _complex_cases()
                     + [Case("stop_gradient", "3x4", _one((3, 4)), kind="zero"),
                        Case("remat", "3x4", _one((3, 4))), Case("remat", "0d", _one(()))])
