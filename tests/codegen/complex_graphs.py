"""Codegen cases for the complex and FFT primitives (merged into codegen_graphs.PRIM_CASES):
complex values are built from two real inputs of the case's float dtype, so the float32 run
covers complex64."""
from __future__ import annotations

from typing import Any, Callable

from adjit.ir import ops


def _z(mk: Any, dt: str, shape: tuple[int, ...]) -> Any:
    return ops.emit("complex", mk(shape, dt), mk(shape, dt))


def _parts(mk: Any, dt: str) -> list:
    z = _z(mk, dt, (3, 4))
    w = ops.mul(z, ops.conj(z))  # fused: complex arithmetic in one loop
    return [z, ops.real(w), ops.imag(ops.exp(z)), ops.conj(ops.mul(z, 1.5)), ops.abs(z),
            ops.reduce_sum(ops.ew("sqrt", z), (1,)), ops.convert(z, "f64" if dt == "f64"
                                                                 else "f32")]


def _fft(mk: Any, dt: str) -> list:
    z = _z(mk, dt, (4, 6))
    f = ops.emit("fft", ops.mul(z, 2.0), axes=(1,), inverse=False, norm="backward")
    g = ops.emit("fft", z, axes=(0, 1), inverse=True, norm="ortho")
    return [ops.add(f, 1.0), g]


def _rfft(mk: Any, dt: str) -> list:
    x = mk((4, 6), dt)
    r = ops.emit("rfft", ops.mul(x, x), axes=(1,), norm="backward")
    return [r, ops.emit("rfft", x, axes=(1, 0), norm="forward")]


def _irfft(mk: Any, dt: str) -> list:
    z = _z(mk, dt, (3, 4))
    return [ops.emit("irfft", z, axes=(1,), norm="backward", n=6),
            ops.emit("irfft", z, axes=(0, 1), norm="ortho", n=7)]


COMPLEX_CASES: dict[str, Callable[..., list]] = {
    "complex": _parts, "real": _parts, "imag": _parts, "conj": _parts,
    "fft": _fft, "rfft": _rfft, "irfft": _irfft,
}
