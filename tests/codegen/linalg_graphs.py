"""Codegen cases of the solve and decomposition primitives (ir/prims/decomp.py), for
`codegen_graphs.PRIM_CASES`: each library kernel on a stack of matrices computed by a fused
loop and feeding one, compared by the codegen tests with the reference interpreter (numpy),
eigenvector and singular vector signs included; complex stacks (from two real inputs) in
the same cases."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from adjit.ir import Lit, Var, emit, emit_multi, ops

Mk = Callable[..., Var]


def _shifted(mk: Mk, dt: str, n: int = 4, b: int = 2) -> Var:
    """A well-conditioned (b, n, n) stack: normal entries plus 3 on the diagonal."""
    return ops.add(mk((b, n, n), dt), Lit.make(3 * np.eye(n), dt))


def _spd(mk: Mk, dt: str, n: int = 4) -> Var:
    a = mk((2, n, n), dt)
    return ops.add(ops.matmul(a, a, transpose_b=True), Lit.make(4 * np.eye(n), dt))


def _sym(mk: Mk, dt: str) -> Var:
    a = mk((3, 4, 4), dt)
    return ops.add(a, ops.transpose(a, (0, 2, 1)))


def _z(mk: Mk, dt: str, shape: tuple[int, ...]) -> Var:
    """A complex stack from two real inputs (complex64 in the float32 run)."""
    return ops.emit("complex", mk(shape, dt), mk(shape, dt))


def _solve(mk: Mk, dt: str) -> list:
    a, rhs = _shifted(mk, dt), mk((2, 4, 3), dt)
    za = ops.add(_z(mk, dt, (2, 4, 4)), Lit.make(3 * np.eye(4), dt))
    return [ops.exp(emit("solve", a, rhs, transpose_a=False)),
            emit("solve", a, ops.mul(rhs, 2.0), transpose_a=True),
            emit("solve", za, _z(mk, dt, (2, 4, 2)), transpose_a=True)]


def _triangular_solve(mk: Mk, dt: str) -> list:
    a, rhs = _shifted(mk, dt), mk((2, 4, 2), dt)
    return [emit("triangular_solve", a, rhs, lower=lo, transpose_a=t, unit_diagonal=u)
            for lo, t, u in ((True, False, False), (False, True, False), (True, True, True))]


def _slogdet(mk: Mk, dt: str) -> list:
    z = ops.add(_z(mk, dt, (2, 3, 3)), Lit.make(2 * np.eye(3), dt))
    return [*emit_multi("slogdet", _shifted(mk, dt, b=3)), *emit_multi("slogdet", z)]


def _cholesky(mk: Mk, dt: str) -> list:
    z = _z(mk, dt, (2, 3, 3))
    hpd = ops.add(ops.matmul(z, ops.conj(ops.transpose(z, (0, 2, 1)))),
                  Lit.make(4 * np.eye(3), dt))
    return [ops.mul(emit("cholesky", _spd(mk, dt)), 2.0), emit("cholesky", hpd)]


def _eigh(mk: Mk, dt: str) -> list:
    s = _sym(mk, dt)
    z = _z(mk, dt, (2, 4, 4))
    h = ops.add(z, ops.conj(ops.transpose(z, (0, 2, 1))))  # Hermitian
    return [*emit_multi("eigh", s, lower=True), *emit_multi("eigh", s, lower=False),
            *emit_multi("eigh", h, lower=True), *emit_multi("eigh", h, lower=False)]


def _svd(mk: Mk, dt: str) -> list:
    tall, wide = mk((2, 5, 3), dt), mk((2, 3, 5), dt)
    return [*emit_multi("svd", tall, full_matrices=False),
            *emit_multi("svd", ops.exp(wide), full_matrices=True),
            *emit_multi("svd", _z(mk, dt, (2, 3, 4)), full_matrices=False),
            *emit_multi("svd", _z(mk, dt, (2, 4, 3)), full_matrices=True)]


def _eig(mk: Mk, dt: str) -> list:
    """Real (conjugate pairs assembled by the kernel) and complex stacks."""
    return [*emit_multi("eig", mk((3, 4, 4), dt)), *emit_multi("eig", _z(mk, dt, (2, 3, 3)))]


def _qr(mk: Mk, dt: str) -> list:
    return [*emit_multi("qr", mk((2, 5, 3), dt)), *emit_multi("qr", mk((1, 3, 4), dt)),
            *emit_multi("qr", _z(mk, dt, (2, 4, 3)))]


def _expm(mk: Mk, dt: str) -> list:
    a = mk((2, 3, 3), dt)
    return [emit("expm", a), emit("expm", ops.mul(a, 8.0))]  # the second is scaled


def _sqrtm(mk: Mk, dt: str) -> list:
    return [emit("sqrtm", _spd(mk, dt, 3))]


LINALG_CASES = {"solve": _solve, "triangular_solve": _triangular_solve, "slogdet": _slogdet,
                "cholesky": _cholesky, "eigh": _eigh, "svd": _svd, "qr": _qr, "expm": _expm,
                "sqrtm": _sqrtm, "eig": _eig}
