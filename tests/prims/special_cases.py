"""Test cases for the scipy.special primitives (ir/prims/special_decls.py), added to
`prim_cases.CASES`: one vector case in float64 and one matrix case in float32 per primitive,
inputs drawn inside each function's domain and away from its singularities. Arguments with
no derivative (a Bessel function's order, the parameters of the incomplete gamma and beta
functions) are literals (`const`), as a program differentiating in the other argument has
them; `not_differentiable` (the refusal those arguments get) has a case of its own."""
from __future__ import annotations

import numpy as np
from adjit.ir.prims.special_decls import SPECIAL_DECLS
from prim_cases import DEFAULT, Case, Sampler, _floats, away, uniform


def _whole(lo: int, hi: int) -> Sampler:
    return lambda rng, shape: np.asarray(rng.integers(lo, hi, shape).astype(np.float64))


POS = uniform(0.5, 3)
# primitive -> (one sampler per argument, the arguments passed as literals)
SPECIAL_RANGES: dict[str, tuple[tuple[Sampler, ...], tuple[int, ...]]] = {
    "logit": ((uniform(0.1, 0.9),), ()),
    "erf": ((DEFAULT,), ()), "erfc": ((DEFAULT,), ()), "erfcx": ((uniform(-1, 2),), ()),
    "erfinv": ((uniform(-0.9, 0.9),), ()), "erfcinv": ((uniform(0.1, 1.9),), ()),
    "gammaln": ((POS,), ()), "gamma": ((POS,), ()), "rgamma": ((POS,), ()),
    "gammasgn": ((POS,), ()), "digamma": ((POS,), ()),
    "polygamma": ((_whole(0, 3), POS), (0,)),
    "xlogy": ((DEFAULT, POS), ()), "xlog1py": ((DEFAULT, uniform(-0.5, 2)), ()),
    "entr": ((uniform(0.2, 3),), ()), "rel_entr": ((uniform(0.2, 3), uniform(0.2, 3)), ()),
    "kl_div": ((uniform(0.2, 3), uniform(0.2, 3)), ()),
    "ndtr": ((uniform(-3, 3),), ()), "log_ndtr": ((uniform(-3, 3),), ()),
    "ndtri": ((uniform(0.05, 0.95),), ()),
    "betaln": ((POS, POS), ()), "beta": ((POS, POS), ()),
    "gammainc": ((POS, uniform(0.2, 4)), (0,)), "gammaincc": ((POS, uniform(0.2, 4)), (0,)),
    "betainc": ((POS, POS, uniform(0.1, 0.9)), (0, 1)),
    "i0": ((uniform(-3, 3),), ()), "i1": ((uniform(-3, 3),), ()),
    "i0e": ((away(0.2, 3),), ()), "i1e": ((away(0.2, 3),), ()),
    "iv": ((uniform(0.5, 2.5), uniform(0.3, 3)), (0,)),
    "ive": ((uniform(0.5, 2.5), uniform(0.3, 3)), (0,)),
    "j0": ((uniform(0.2, 8),), ()), "j1": ((uniform(0.2, 8),), ()),
    "jv": ((uniform(0, 3), uniform(0.3, 6)), (0,)),
    "y0": ((uniform(0.5, 6),), ()), "y1": ((uniform(0.5, 6),), ()),
    "yv": ((uniform(0, 3), uniform(0.5, 6)), (0,)),
    "yn": ((_whole(0, 3), uniform(0.5, 6)), (0,)),
}


def special_cases() -> list[Case]:
    cases = []
    for decl in SPECIAL_DECLS:
        draws, const = SPECIAL_RANGES[decl.name]
        f64 = tuple(() if i in const else (5,) for i in range(len(draws)))
        f32 = tuple(() if i in const else (3, 4) for i in range(len(draws)))
        cases.append(Case(decl.name, "5", _floats(draws, f64), const=const, dtypes=("f64",)))
        cases.append(Case(decl.name, "3x4", _floats(draws, f32), const=const,
                          dtypes=("f32",)))
    cases.append(Case("not_differentiable", "refuses", _floats((DEFAULT,), ((3,),)),
                      {"what": "scipy.special.iv has no derivative with respect to its first "
                               "argument (of 2)"}, kind="nondiff"))
    return cases
