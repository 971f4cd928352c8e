"""Complex numbers end to end: tracing, promotion, values against numpy, derivatives (JAX's
convention) against finite differences in reverse and forward mode, second order, complex64,
the recorded Tensor API, the text IR, and clear errors for what adjit does not define.

Few distinct compiled graphs: each test compiles one or two functions covering many ops.
"""
from __future__ import annotations

import adjit
import numpy as np
import pytest
from adjit import ir
from adjit.ir.errors import TraceError
from complex_check import check_function

RNG = np.random.default_rng(0)
Z = np.array([0.7 + 0.4j, -0.3 + 1.1j, 1.2 - 0.5j, 0.5 + 0.2j])
X = np.array([0.4, -1.3, 0.8, 2.0])


def _ops(z, x):  # noqa: ANN001, ANN202
    """Many complex ops in one function (values are compared with numpy's)."""
    return (np.exp(z), np.log(z), np.sin(z), np.cos(z), np.tan(z), np.tanh(z), np.sinh(z),
            np.cosh(z), np.sqrt(z), np.arcsin(z), np.arctan(z), np.expm1(z), np.log1p(z),
            np.log2(z), np.log10(z), np.exp2(z), z ** 2.5, z ** z, np.abs(z), np.angle(z),
            np.real(z), np.imag(z), np.conj(z), z.conjugate(), z.real, z.imag, 1j * x,
            x + z, z / (x + 2j), np.square(z), np.reciprocal(z), np.sign(z), -z,
            np.sum(z), np.mean(z), np.prod(z), np.var(z), np.std(z), np.cumsum(z),
            np.where(x > 0, z, 2j), np.dot(z, z), np.vdot(z, x), np.outer(z, x) @ z,
            np.einsum("i,i->", z, z), np.linalg.norm(z), z.astype(np.complex64),
            x.astype(complex), z == z.conj(), np.iscomplex(z), np.isreal(x),
            z * np.iscomplexobj(z) + np.isrealobj(x) - np.iscomplexobj(x),
            np.stack([np.outer(z, x), np.outer(x, z)]) @ np.outer(z, z).T,
            np.einsum("ij,jk->ik", np.outer(z, x), np.outer(x, z)))


def test_values_against_numpy() -> None:
    got = adjit.jit(_ops)(Z, X)
    want = _ops(Z, X)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        w = np.asarray(w)
        assert np.asarray(g).dtype == w.dtype, (i, np.asarray(g).dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=1e-6 if w.dtype == np.complex64 else 1e-12,
                                   atol=1e-14, err_msg=f"output {i}")


def _real_loss(z, x):  # noqa: ANN001, ANN202
    w = np.exp(1j * x) * z + np.conj(z) * np.sin(z) / (x + 2j)
    m = np.outer(z, x) + 0.1j
    return (np.sum(np.abs(w) ** 2) + np.real(np.vdot(w, m @ x)) + np.mean(np.angle(z + 2))
            + np.imag(np.prod(z)) + np.var(w) + np.sum(np.real(np.tanh(z)) * x))


def test_grad_of_real_loss() -> None:
    """adjit.vjp and adjit.jvp against central differences, a complex and a real input."""
    check_function(adjit, _real_loss, [Z, X])


def test_grad_convention_is_jax() -> None:
    """grad of |z|^2 is 2 conj(z) (JAX's and autograd's documented convention); of a
    holomorphic function, with holomorphic=True, df/dz."""
    g = adjit.grad(lambda z: np.sum(np.abs(z) ** 2 + np.real(z) * np.imag(z)))(Z)
    np.testing.assert_allclose(g, 2 * np.conj(Z) + (Z.imag - 1j * Z.real), rtol=1e-12)
    h = adjit.grad(lambda z: np.sum(np.exp(z) * z ** 2), holomorphic=True)(Z)
    np.testing.assert_allclose(h, np.exp(Z) * (Z ** 2 + 2 * Z), rtol=1e-12)
    assert adjit.grad(lambda x: np.real(np.sum(np.exp(1j * x))))(X).dtype == np.float64


def test_complex_output_needs_holomorphic() -> None:
    with pytest.raises(TraceError, match="holomorphic=True"):
        adjit.grad(lambda z: np.sum(z * z))(Z)


def test_second_order() -> None:
    """The Hessian of a real function computed through complex values, and the derivative of
    a complex gradient (grad of grad through the vjp)."""
    f = lambda x: np.sum(np.abs(np.exp(1j * x) * (x + 1j) ** 2) ** 2)  # noqa: E731
    hess = adjit.hessian(f)(X)
    g = adjit.grad(f)
    eps = 1e-5
    num = np.stack([(g(X + eps * e) - g(X - eps * e)) / (2 * eps) for e in np.eye(4)])
    np.testing.assert_allclose(hess, num, rtol=1e-5, atol=1e-6)


def test_complex64() -> None:
    z = Z.astype(np.complex64)
    x = X.astype(np.float32)
    f = lambda z, x: np.sum(np.abs(np.exp(z) * x) ** 2)  # noqa: E731
    out = adjit.jit(lambda z, x: (np.exp(z) * x, 1j * x, x + 1j))(z, x)
    assert [o.dtype for o in out] == [np.complex64] * 3  # NEP 50: 1j * float32 is complex64
    g = adjit.grad(f, argnums=(0, 1))(z, x)
    assert g[0].dtype == np.complex64 and g[1].dtype == np.float32
    want = adjit.grad(f, argnums=(0, 1))(Z, X)
    np.testing.assert_allclose(g[0], want[0], rtol=1e-4)
    np.testing.assert_allclose(g[1], want[1], rtol=1e-4)


def test_python_complex_scalar_argument() -> None:
    g = adjit.grad(lambda z: np.abs(z) ** 2)(3 + 4j)
    assert np.isclose(g, 6 - 8j, rtol=1e-14)


@pytest.mark.parametrize("fn", [lambda z: np.max(z, initial=0), lambda z: np.maximum(z, 1.0),
                                lambda z: z < 1.0, lambda z: np.argmax(z),
                                lambda z: np.clip(z, 0, 1), lambda z: np.arctan2(z, z),
                                lambda z: z // 2, lambda z: np.real_if_close(z),
                                lambda z: np.fft.rfft(z), lambda z: np.fmod(z, 1.5)],
                         ids=["max_initial", "maximum", "lt", "argmax", "clip", "arctan2",
                              "floordiv", "real_if_close", "rfft", "fmod"])
def test_unsupported_complex_ops_raise(fn) -> None:  # noqa: ANN001
    with pytest.raises(TraceError):
        adjit.jit(fn)(Z)


def test_max_and_min_order_lexicographically() -> None:
    """numpy's order of complex numbers: real part first, then imaginary. The derivative goes
    to the elements equal to the result, split between ties (autograd's convention)."""
    z = np.array([[1 + 2j, 3 - 1j, 3 + 0.5j], [0.5 + 1j, -2j, 0.5 + 3j]])
    f = adjit.jit(lambda z: [g(z, axis=ax) for g in (np.max, np.min)
                             for ax in (None, 0, 1, (0, 1))])
    for got, want in zip(f(z), [g(z, axis=ax) for g in (np.max, np.min)
                                for ax in (None, 0, 1, (0, 1))], strict=True):
        np.testing.assert_array_equal(got, want)
    # |max z|^2 at 3 + 0.5j: all of it to that element (its real part ties with 3 - 1j)
    g = adjit.grad(lambda z: np.abs(np.max(z)) ** 2)(z)
    np.testing.assert_allclose(g, np.where(z == 3 + 0.5j, 6 - 1j, 0))
    w = RNG.standard_normal((3, 4)) + 1j * RNG.standard_normal((3, 4))
    check_function(adjit, lambda w: np.max(w, axis=1) * np.min(w, axis=0).sum(), [w])


def test_recorded_tensors() -> None:
    z = adjit.tensor(Z, requires_grad=True)
    x = adjit.tensor(X, requires_grad=True)
    loss = _real_loss(z, x)
    loss.backward()
    want = adjit.grad(_real_loss, argnums=(0, 1))(Z, X)
    assert z.grad.dtype == np.complex128 and x.grad.dtype == np.float64
    np.testing.assert_allclose(z.grad.numpy(), want[0], rtol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), want[1], rtol=1e-10)
    w = adjit.tensor(Z, requires_grad=True)
    (w.real * w.imag + np.abs(w.conj())).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), Z.imag - 1j * Z.real + np.conj(Z) / np.abs(Z))


def test_recorded_complex_loss_needs_a_gradient() -> None:
    z = adjit.tensor(Z, requires_grad=True)
    with pytest.raises(RuntimeError, match="real scalar"):
        (z * z).sum().backward()
    (z * z).sum().backward(np.array(1 + 0j))  # holomorphic: dz^2/dz
    np.testing.assert_allclose(z.grad.numpy(), 2 * Z)


def test_text_ir_round_trip() -> None:
    g = ir.parse("graph f(z: c128[2], x: f32[2]) -> c64[2]:\n"
                 "  %0 = mul z, (1.5-2.0j) : c128[2]\n"
                 "  %1 = add %0, array<c128[2]>[(1.0+2.0j), (nan+infj)] : c128[2]\n"
                 "  %2 = convert[dtype='c64'] %1 : c64[2]\n"
                 "  %3 = convert[dtype='c64'] x : c64[2]\n"
                 "  %4 = mul %2, %3 : c64[2]\n"
                 "  return %4\n")
    ir.verify(g)
    assert str(ir.parse(str(g))) == str(g)
    out = ir.evaluate(g, np.array([1j, 2.0]), np.ones(2, np.float32))[0]
    assert out.dtype == np.complex64
    np.testing.assert_allclose(out[0], (1.5 - 2j) * 1j + 1 + 2j)
