"""Cases for the complex and FFT primitives (kind "complex": their derivatives are checked by
tests/prims/test_complex_prims.py with the complex oracle, tests/complex_check.py)."""
from __future__ import annotations

import numpy as np
from prim_cases import Case


def _c(*shapes: tuple[int, ...]):  # noqa: ANN202
    def make(rng: np.random.Generator, dt: str) -> list[np.ndarray]:
        return [rng.standard_normal(s) + 1j * rng.standard_normal(s) for s in shapes]

    return make


def _r(*shapes: tuple[int, ...]):  # noqa: ANN202
    return lambda rng, dt: [rng.standard_normal(s) for s in shapes]


B = "backward"


def complex_cases() -> list[Case]:
    k = dict(kind="complex", dtypes=("c128",))
    return [
        Case("real", "3x4", _c((3, 4)), **k),
        Case("imag", "3x4", _c((3, 4)), **k),
        Case("conj", "3x4", _c((3, 4)), **k),
        Case("complex", "3x4&4", _r((3, 4), (4,)), **k),
        Case("fft", "8-fwd", _c((8,)), {"axes": (0,), "inverse": False, "norm": B}, **k),
        Case("fft", "3x4-inv-ortho", _c((3, 4)), {"axes": (0, 1), "inverse": True,
                                                    "norm": "ortho"}, **k),
        Case("fft", "2x3x4-axis2-forward", _c((2, 3, 4)), {"axes": (2,), "inverse": False,
                                                            "norm": "forward"}, **k),
        Case("rfft", "8", _r((8,)), {"axes": (0,), "norm": B}, **k),
        Case("rfft", "7", _r((7,)), {"axes": (0,), "norm": "ortho"}, **k),
        Case("rfft", "4x6-axes10", _r((4, 6)), {"axes": (1, 0), "norm": B}, **k),
        Case("irfft", "5-n8", _c((5,)), {"axes": (0,), "norm": B, "n": 8}, **k),
        Case("irfft", "4-n7", _c((4,)), {"axes": (0,), "norm": "forward", "n": 7}, **k),
        Case("irfft", "3x4-n6", _c((3, 4)), {"axes": (0, 1), "norm": "ortho", "n": 6}, **k),
    ]
