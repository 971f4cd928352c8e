"""Library kernels for the FFT primitives of ir/prims/fft.py, over numpy's pocketfft.

Generated code calls them as the conv kernels are called (codegen/conv_kernels.py): inputs,
then the output array it allocated, then the params as keywords (`fk.fft(x, a3,
axes=(0,), inverse=False, norm='backward')`); each fills its output. numba has no FFT in
nopython mode, so `register()` gives each an implementation that leaves compiled code for one
`numba.objmode` block calling numpy (the arrays are boxed, not copied; the cost is measured in
tests/complex/test_fft.py's docstring). Plain Python (`ADJIT_NOJIT=1`) runs them as written.
`TAG`, a hash of this file, goes into the generated source's comment so that an edit here
changes its cache key.
"""
from __future__ import annotations

import hashlib
import pathlib
from typing import Any

import numpy as np

TAG = hashlib.sha256(pathlib.Path(__file__).read_bytes()).hexdigest()[:12]


# numpy >= 2 writes the transform into `out` (no copy); `out` has the primitive's dtype, which
# is numpy's result dtype for these inputs. numpy 1.26 has no `out=`: copy.
_OUT = int(np.__version__.split(".")[0]) >= 2


def _into(f: Any, x: Any, out: Any, **kw: Any) -> None:
    if _OUT:
        f(x, out=out, **kw)
    else:
        out[...] = f(x, **kw)


# One axis: numpy's 1-d functions (their Python overhead is half fftn's).

def fft(x: Any, out: Any, axes: Any, inverse: Any, norm: Any) -> None:
    if len(axes) == 1:
        _into(np.fft.ifft if inverse else np.fft.fft, x, out, axis=axes[0], norm=norm)
    else:
        _into(np.fft.ifftn if inverse else np.fft.fftn, x, out, axes=axes, norm=norm)


def rfft(x: Any, out: Any, axes: Any, norm: Any) -> None:
    if len(axes) == 1:
        _into(np.fft.rfft, x, out, axis=axes[0], norm=norm)
    else:
        _into(np.fft.rfftn, x, out, axes=axes, norm=norm)


def irfft(x: Any, out: Any, axes: Any, n: Any, norm: Any) -> None:
    if len(axes) == 1:
        _into(np.fft.irfft, x, out, n=n, axis=axes[0], norm=norm)
    else:
        s = [x.shape[a] for a in axes[:-1]] + [n]
        _into(np.fft.irfftn, x, out, s=s, axes=axes, norm=norm)


KERNELS = {"fft": fft, "rfft": rfft, "irfft": irfft}
_registered = False


def register() -> None:
    """Make the kernels callable from numba-compiled code (idempotent): each becomes an
    object-mode call of itself. numba is imported only here."""
    global _registered
    if _registered:
        return
    import numba
    from numba.extending import overload

    py_fft, py_rfft, py_irfft = fft, rfft, irfft

    @overload(fft, strict=False)
    def _fft(x, out, axes, inverse, norm):  # noqa: ANN001, ANN202
        def impl(x, out, axes, inverse, norm):  # noqa: ANN001, ANN202
            with numba.objmode():
                py_fft(x, out, axes, inverse, norm)
        return impl

    @overload(rfft, strict=False)
    def _rfft(x, out, axes, norm):  # noqa: ANN001, ANN202
        def impl(x, out, axes, norm):  # noqa: ANN001, ANN202
            with numba.objmode():
                py_rfft(x, out, axes, norm)
        return impl

    @overload(irfft, strict=False)
    def _irfft(x, out, axes, n, norm):  # noqa: ANN001, ANN202
        def impl(x, out, axes, n, norm):  # noqa: ANN001, ANN202
            with numba.objmode():
                py_irfft(x, out, axes, n, norm)
        return impl

    _registered = True
