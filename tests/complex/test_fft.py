"""np.fft end to end: values against numpy for every function and argument form, reverse and
forward derivatives against central differences (odd and even lengths, n smaller and
larger, axes, every norm), second order, float32 -> complex64, the recorded Tensor API.

Lowering cost (numba; one object-mode call of numpy's pocketfft per transform, measured on
the shared 2-core development machine, best of repeats): a jitted np.fft.fft took 9.7 us at
n = 16 against numpy's 3.7 us, of which 4.4 us is adjit's call itself (a jitted x * 2 costs
that) and about 1.5 us the object-mode switch; 16.4 us against 10.3 us at n = 1024; at
n = 65536 the same as numpy (4.2 ms against 4.4 ms; rfft 0.90 ms against 0.96 ms): the
kernels write into the output with numpy 2's out=, no copy.
"""
from __future__ import annotations

import adjit
import numpy as np
import pytest
from adjit.ir.errors import AdjitError
from complex_check import check_function

RNG = np.random.default_rng(1)
X = RNG.standard_normal((4, 6))
Z = RNG.standard_normal((4, 6)) + 1j * RNG.standard_normal((4, 6))
F = np.fft


def _all(x, z):  # noqa: ANN001, ANN202
    return (F.fft(z), F.ifft(z), F.fft(x, n=4), F.fft(x, n=9, axis=0, norm="ortho"),
            F.ifft(z, n=3, norm="forward"), F.rfft(x), F.rfft(x, n=5, axis=0),
            F.irfft(z), F.irfft(z, n=7, norm="ortho"), F.fft2(z), F.ifft2(x, s=(3, 8)),
            F.fftn(z, axes=(0,)), F.ifftn(z, s=(5, 5), axes=(0, 1)), F.rfft2(x),
            F.irfft2(z, s=(4, 5)),
            F.rfftn(x, axes=(1, 0)), F.irfftn(z, axes=(0,)), F.fftshift(z),
            F.ifftshift(x, axes=1), F.fftshift(x, axes=(0,)))


def test_values_against_numpy() -> None:
    got = adjit.jit(_all)(X, Z)
    want = _all(X, Z)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.dtype == w.dtype and g.shape == w.shape, (i, g.dtype, w.dtype, g.shape)
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, err_msg=f"output {i}")


def _c2c(x, z):  # noqa: ANN001, ANN202
    a = F.fft(z, n=8, norm="ortho") * F.ifft(x, n=8, axis=-1)
    b = F.fftn(z * x, s=(3, 7), axes=(1, 0), norm="forward")
    return np.sum(np.abs(a) ** 2) + np.real(np.sum(b * np.conj(b))) + np.sum(
        np.imag(F.fftshift(F.ifft2(z))) * x)


def _real(x, z):  # noqa: ANN001, ANN202
    r = F.rfft(x, n=5) * F.rfft(x, n=9, axis=-1)[..., :3]
    s = F.irfft(z, n=7, norm="ortho") + F.irfft(z * x, axis=0)[:4, :1] + F.irfftn(z)[:, :1]
    return np.sum(np.abs(r)) + np.sum(s ** 2) + np.sum(np.real(F.rfft2(x, s=(3, 4))) ** 2)


def test_derivatives() -> None:
    """adjit.vjp and adjit.jvp against central differences (a real and a complex input); one
    function for both kinds of transform, to compile few graphs."""
    check_function(adjit, lambda x, z: _c2c(x, z) + _real(x, z), [X, Z])


def test_complex_output_vjp() -> None:
    """A complex-valued output with a complex cotangent (fft's VJP is fft)."""
    check_function(adjit, lambda z: F.ifft(F.fft(z, axis=0) * np.arange(1, 5)[:, None]), [Z])


def test_second_order() -> None:
    f = lambda x: np.sum(np.abs(F.rfft(np.tanh(x))) ** 3)  # noqa: E731
    x = X[0]
    hess = adjit.hessian(f)(x)
    g = adjit.grad(f)
    eps = 1e-5
    num = np.stack([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(6)])
    np.testing.assert_allclose(hess, num, rtol=1e-5, atol=1e-6)


def test_float32() -> None:
    x = X.astype(np.float32)
    out = adjit.jit(lambda x: (F.rfft(x), F.fft(x), F.irfft(F.rfft(x))))(x)
    assert [o.dtype for o in out] == [np.complex64, np.complex64, np.float32]
    np.testing.assert_allclose(out[0], F.rfft(X), rtol=1e-5, atol=1e-5)
    g = adjit.grad(lambda x: np.sum(np.abs(F.rfft(x)) ** 2))(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, adjit.grad(lambda x: np.sum(np.abs(F.rfft(x)) ** 2))(X),
                               rtol=1e-4, atol=1e-4)


def test_recorded_tensors() -> None:
    x = adjit.tensor(X, requires_grad=True)
    z = adjit.tensor(Z, requires_grad=True)
    loss = _real(x, z)
    loss.backward()
    want = adjit.grad(_real, argnums=(0, 1))(X, Z)
    np.testing.assert_allclose(x.grad.numpy(), want[0], rtol=1e-10)
    np.testing.assert_allclose(z.grad.numpy(), want[1], rtol=1e-10)


@pytest.mark.parametrize("fn", [lambda x: F.fftn(x, axes=(0, 0)), lambda x: F.hfft(x),
                                lambda x: F.fft(x, norm="bad"), lambda x: F.fft(x, n=0)],
                         ids=["repeated-axes", "hfft", "norm", "n0"])
def test_unsupported_raise(fn) -> None:  # noqa: ANN001
    with pytest.raises(AdjitError):
        adjit.jit(fn)(Z)
