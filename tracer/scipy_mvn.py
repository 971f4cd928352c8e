"""scipy.stats.multivariate_normal (`pdf`, `logpdf`, `entropy`) over traced values.

With `allow_singular=True` the covariance may be singular, as scipy allows: its
eigendecomposition gives the pseudo-inverse and pseudo-determinant over the eigenvalues above
scipy's cutoff (1e6 float64 epsilons, 1e3 float32 ones, times the largest magnitude), the
dimension is that rank, and a point off the support (its deviation from the mean has a part
in the null space larger than the cutoff) has density 0, log density -inf. With a traced
covariance every one of these is computed while the function runs (the rank is a count, not
a Python int); its derivative in cov exists where the eigenvalues are distinct, as eigh's.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .scipy_impl import _arr, _weak


def _parts(x: Any, mean: Any, cov: Any, allow_singular: bool) -> tuple[Any, Any, Any, Any]:
    """(Mahalanobis distances, log (pseudo-)det of cov, dimension or rank, in-support mask
    or None), x's last axis the components."""
    x, mean, cov = _arr(x), _arr(mean), _arr(cov)
    cov_nd = np.ndim(cov)
    if mean is None:
        dim = np.shape(cov)[-1] if cov_nd else np.shape(x)[-1] if np.ndim(x) else 1
        mean = np.zeros(dim)
    dim = np.shape(mean)[-1] if np.ndim(mean) else 1
    if dim == 1 and np.ndim(x) and np.shape(x)[-1] != 1:
        x = np.expand_dims(x, -1)  # scipy: for dimension 1, x lists points
    dev = x - mean
    if np.ndim(dev) == 0:
        dev = np.reshape(dev, (1,))
    if cov_nd < 2 and not allow_singular:  # a scalar or a diagonal
        var = cov * np.ones(dim) if cov_nd == 0 else cov
        return np.sum(dev * dev / var, axis=-1), _weak(np.sum(np.log(var))), dim, None
    if not allow_singular:
        inv = np.linalg.inv(cov)
        maha = np.einsum("...i,ij,...j->...", dev, inv, dev)
        return maha, _weak(np.linalg.slogdet(cov)[1]), dim, None
    if cov_nd < 2:
        cov = np.diag(cov * np.ones(dim) if cov_nd == 0 else cov)
    s, u = np.linalg.eigh(cov)
    factor = 1e3 if np.dtype(s.dtype) == np.float32 else 1e6
    eps = factor * np.finfo(s.dtype).eps * np.max(np.abs(s))
    keep = s > eps
    safe = np.where(keep, s, 1.0)  # no log(0) or 1/0 in the branch np.where drops
    log_pdet = np.sum(np.where(keep, np.log(safe), 0.0))
    proj = dev @ u  # the deviation in the eigenbasis
    maha = np.sum(np.where(keep, proj * proj / safe, 0.0), axis=-1)
    off = np.sum(np.where(keep, 0.0, proj * proj), axis=-1)
    return maha, log_pdet, np.sum(keep), off <= eps * eps


def logpdf(x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False) -> Any:
    maha, logdet, dim, support = _parts(x, mean, cov, allow_singular)
    value = -0.5 * (dim * math.log(2 * math.pi) + logdet + maha)
    return value if support is None else np.where(support, value, -np.inf)


def pdf(x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False) -> Any:
    return np.exp(logpdf(x, mean, cov, allow_singular))


def entropy(mean: Any = None, cov: Any = 1) -> Any:
    if np.ndim(cov) < 2:
        dim = np.shape(mean)[-1] if mean is not None and np.ndim(mean) else \
            (np.shape(cov)[0] if np.ndim(cov) else 1)
        var = cov * np.ones(dim) if np.ndim(cov) == 0 else cov
        logdet = np.sum(np.log(var))
    else:
        dim = np.shape(cov)[-1]
        logdet = np.linalg.slogdet(cov)[1]
    return 0.5 * (dim * (1.0 + math.log(2 * math.pi)) + logdet)
