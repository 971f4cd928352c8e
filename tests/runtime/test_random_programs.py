"""Random numpy programs (tests/randprog.py): the compiled value and gradient against
numpy's value, central finite differences, and, where torch is installed, torch.autograd
running the same program.

CI runs a few fixed examples (derandomized). To hunt for bugs, run many random ones:

    ADJIT_FUZZ_EXAMPLES=500 python -m pytest tests/runtime/test_random_programs.py -x
    (ADJIT_FUZZ_SHRINK=1 to let hypothesis shrink a failure: slow, each try compiles;
    ADJIT_FUZZ_STEPS=20 for longer programs; ADJIT_FUZZ_IGNORE='regex' to fuzz past a known
    bug whose error message matches)

A failure prints the program as a script that reproduces it.
"""
from __future__ import annotations

import os
import re

import numpy as np
import pytest
import randprog
import torchref
from check import numeric_jacobian
from hypothesis import HealthCheck, Phase, given, reject, settings

import adjit

_FUZZ = os.environ.get("ADJIT_FUZZ_EXAMPLES")
EXAMPLES = int(_FUZZ) if _FUZZ else 50
STEPS = int(os.environ.get("ADJIT_FUZZ_STEPS", "8"))  # operations per program, at most
# Derandomized hypothesis starts from the smallest programs; CI's few should not be trivial.
MIN_STEPS = 1 if _FUZZ else 4
# Shrinking compiles every candidate: minutes. Fuzzing skips it unless ADJIT_FUZZ_SHRINK=1.
_PHASES = [ph for ph in Phase if ph != Phase.shrink or not _FUZZ
           or os.environ.get("ADJIT_FUZZ_SHRINK")]
_SETTINGS = {"deadline": None, "derandomize": not _FUZZ, "database": None, "phases": _PHASES,
             "suppress_health_check": list(HealthCheck), "print_blob": bool(_FUZZ)}


def _fd_close(got: np.ndarray, fd: np.ndarray, rtol: float, what: str) -> None:
    """Finite differences carry rounding error of about 1e-16 * |values| / eps; allow it
    relative to the largest entry, besides the usual relative error."""
    scale = 1.0 + float(np.max(np.abs(fd), initial=0.0))
    np.testing.assert_allclose(got, fd, rtol=rtol, atol=rtol * 0.1 * scale, err_msg=what)


# Fuzzing past a known bug: ADJIT_FUZZ_IGNORE='regex' skips programs whose adjit error
# message matches it.
_IGNORE = os.environ.get("ADJIT_FUZZ_IGNORE")


def check_program(p: randprog.Program) -> None:
    f = p.function()
    try:
        value, grads = adjit.value_and_grad(f, argnums=p.argnums)(*p.args)
    except adjit.AdjitError as e:
        if _IGNORE and re.search(_IGNORE, str(e)):
            reject()
        raise
    with np.errstate(all="ignore"):
        expected = f(*p.args)
    f32 = p.dtype == "float32"
    assert np.asarray(value).dtype == np.asarray(expected).dtype, \
        f"value dtype {np.asarray(value).dtype}, numpy gives {np.asarray(expected).dtype}"
    np.testing.assert_allclose(value, expected, rtol=1e-5 if f32 else 1e-10,
                               atol=1e-5 if f32 else 1e-10, err_msg="value")
    for i, g in zip(p.argnums, grads, strict=True):
        a = p.args[i]
        assert np.shape(g) == np.shape(a), f"gradient {i}: shape {np.shape(g)} != {np.shape(a)}"
        want_dtype = np.float64 if isinstance(a, float) else a.dtype
        assert np.asarray(g).dtype == want_dtype, f"gradient {i}: dtype {np.asarray(g).dtype}"
        fd = numeric_jacobian(f, *p.args, argnum=i)
        _fd_close(g, fd, 2e-3 if f32 else 1e-5, f"gradient wrt {p.params[i]} vs finite differences")
    if torchref.available() and not f32:
        import torch

        ns = {"np": torchref.TorchNumpy()}
        for name, src in p.consts:
            ns[name] = torch.as_tensor(eval(src, {"np": np}))
        t_value, t_grads = torchref.torch_grad(p.function(ns, torch=True), p.args, p.argnums)
        np.testing.assert_allclose(value, t_value, rtol=1e-10, atol=1e-10, err_msg="torch value")
        for i, g, tg in zip(p.argnums, grads, t_grads, strict=True):
            scale = 1.0 + float(np.max(np.abs(tg), initial=0.0))
            np.testing.assert_allclose(g, tg, rtol=1e-8, atol=1e-9 * scale,
                                       err_msg=f"gradient wrt {p.params[i]} vs torch")


@settings(max_examples=EXAMPLES, **_SETTINGS)
@given(randprog.programs("float64", max_steps=STEPS, min_steps=MIN_STEPS))
def test_random_program_float64(p: randprog.Program) -> None:
    check_program(p)


@settings(max_examples=max(EXAMPLES // 4, 4), **_SETTINGS)
@given(randprog.programs("float32", max_steps=max(STEPS - 3, 1), min_steps=MIN_STEPS - 1))
def test_random_program_float32(p: randprog.Program) -> None:
    check_program(p)


@pytest.mark.skipif(not torchref.available(), reason="torch is not installed")
def test_torch_reference_agrees_with_finite_differences() -> None:
    """The torch shim itself: a program with data movement, run on tensors."""
    import torch

    p = randprog.Program("float64", ["x0"], [np.arange(6.0).reshape(2, 3) / 7],
                         consts=[("C0", "np.arange(6.0)")])
    p.steps = [("v0", "np.concatenate([x0, np.flip(x0, 1)], axis=0)", None),
               ("v1", "x0[::-1, [0, 2, 2]]", "np.move(lambda _a: _a[::-1, [0, 2, 2]], x0)"),
               ("v2", "np.sum(v0 ** 3) + np.sum(np.tile(v1, 2) * C0)", None)]
    p.steps = [(n, a, a if b is None else b) for n, a, b in p.steps]
    p.result = ("v2", "v2")
    f = p.function()
    ns = {"np": torchref.TorchNumpy(), "C0": torch.arange(6.0, dtype=torch.float64)}
    _, (tg,) = torchref.torch_grad(p.function(ns, torch=True), p.args, (0,))
    np.testing.assert_allclose(tg, numeric_jacobian(f, *p.args), rtol=1e-6)
