"""Numpy programs as people write them (losses, normalizations, attention, small models,
loops over a constant range), compiled: the value against numpy's, the gradient against
central finite differences and, where jax is installed, against jax.grad running the
same source with `np` bound to jax.numpy (CI has no jax; the comparison is skipped).

Also: common numpy functions adjit does not support raise an adjit.TraceError that
names them, never a raw numpy or numba exception.
"""
from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from check import directional_derivative, numeric_jacobian

import adjit

try:  # pragma: no cover - depends on the environment
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
except ImportError:  # pragma: no cover
    jax = jnp = None


@dataclass(frozen=True)
class Prog:
    name: str
    fn: Callable[..., Any]
    make: Callable[[np.random.Generator], tuple[Any, ...]]
    argnums: tuple[int, ...] = (0,)
    jax: bool = True  # False where jax cannot run the source (a data-dependent shape)

    def __repr__(self) -> str:
        return self.name


def _n(r: np.random.Generator, *shape: int) -> np.ndarray:
    return r.normal(size=shape)


# ---- losses -------------------------------------------------------------------------------------

def huber(w, X, y, delta=1.0):
    r = X @ w - y
    a = np.abs(r)
    return np.mean(np.where(a <= delta, 0.5 * r ** 2, delta * (a - 0.5 * delta)))


def pseudo_huber(pred, y):
    d = pred - y
    return np.sum(np.sqrt(1.0 + d * d) - 1.0)


def logsumexp_rows(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.sum(m.squeeze(1) + np.log(np.sum(np.exp(x - m), axis=1)))


def xent_take_along_axis(logits, labels):
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return -np.mean(np.take_along_axis(logp, labels[:, None], axis=1))


def xent_fancy(logits, labels):
    n = logits.shape[0]
    z = logits - np.max(logits, axis=1)[:, np.newaxis]
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -logp[np.arange(n), labels].mean()


def xent_onehot_compare(logits, labels):
    k = logits.shape[1]
    onehot = labels[:, None] == np.arange(k)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return -np.sum(onehot * np.log(p)) / len(labels)


def hinge(w, X, y, lam=0.1):
    return np.mean(np.maximum(0, 1 - y * (X @ w))) + lam * np.sum(w ** 2)


def logistic_l2(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0, -y * z)) + 0.01 * w @ w


def poisson_nll(eta, y):
    return np.sum(np.exp(eta) - y * eta)


def gaussian_loglik(mu, log_sigma, x):
    sigma = np.exp(log_sigma)
    n = x.size
    return (-0.5 * np.sum(((x - mu) / sigma) ** 2) - n * np.log(sigma)
            - 0.5 * n * np.log(2 * np.pi))


def diag_gaussian_nll(x, mu, log_var):
    terms = log_var + (x - mu) ** 2 / np.exp(log_var) + np.log(2 * np.pi)
    return 0.5 * np.sum(terms, axis=-1).mean()


def entropy_softmax(x):
    p = np.exp(x - x.max())
    p /= p.sum()
    return -np.sum(p * np.log(p))


def kl_softmax(a, b):
    pa = np.exp(a) / np.sum(np.exp(a), axis=-1, keepdims=True)
    log_pa = np.log(pa)
    log_pb = b - np.log(np.sum(np.exp(b), axis=-1, keepdims=True))
    return np.sum(pa * (log_pa - log_pb))


def triplet(anchor, pos, neg, margin=0.5):
    d_ap = np.sum((anchor - pos) ** 2, axis=1)
    d_an = np.sum((anchor - neg) ** 2, axis=1)
    return np.mean(np.maximum(d_ap - d_an + margin, 0.0))


def info_nce(z1, z2, tau=0.5):
    z1 = z1 / np.linalg.norm(z1, axis=1, keepdims=True)
    z2 = z2 / np.linalg.norm(z2, axis=1, keepdims=True)
    logits = z1 @ z2.T / tau
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.mean(np.diag(logp))


def temperature_softmax(x, T):
    e = np.exp(x / T)
    p = e / np.sum(e)
    return np.sum(p * np.arange(len(x)))


# ---- normalization, attention --------------------------------------------------------------------

def layer_norm(x, gamma, beta, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps) * gamma + beta
    return np.sum(y * np.cos(np.arange(y.size)).reshape(y.shape))


def batch_norm(x, gamma, beta):
    mean = np.mean(x, axis=0)
    std = np.std(x, axis=0)
    xhat = (x - mean) / (std + 1e-5)
    out = gamma * xhat + beta
    return np.sum(out ** 2 * np.linspace(0.1, 1.0, out.size).reshape(out.shape))


def attention(Q, K, V):
    d = Q.shape[-1]
    scores = Q @ K.T / np.sqrt(d)
    scores -= scores.max(axis=-1, keepdims=True)
    w = np.exp(scores)
    w /= w.sum(axis=-1, keepdims=True)
    out = w @ V
    return np.sum(out * np.arange(out.size).reshape(out.shape))


def multi_head(x, Wq, Wk, Wv, heads=2):
    T, D = x.shape
    dh = D // heads
    q = (x @ Wq).reshape(T, heads, dh).transpose(1, 0, 2)
    k = (x @ Wk).reshape(T, heads, dh).transpose(1, 0, 2)
    v = (x @ Wv).reshape(T, heads, dh).transpose(1, 0, 2)
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(dh)
    s = s - np.max(s, axis=-1, keepdims=True)
    a = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
    o = (a @ v).transpose(1, 0, 2).reshape(T, D)
    return np.sum(np.tanh(o) * np.linspace(-1, 1, T * D).reshape(T, D))


def causal_attention(x):
    T = x.shape[0]
    s = x @ x.T
    mask = np.tril(np.ones((T, T), dtype=bool))
    s = np.where(mask, s, -1e9)
    a = np.exp(s - s.max(axis=1, keepdims=True))
    a = a / a.sum(axis=1, keepdims=True)
    return np.sum((a @ x) ** 2)


def cosine_similarity(a, b):
    return np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))


def cosine_rows(A, B):
    num = np.sum(A * B, axis=1)
    den = np.linalg.norm(A, axis=1) * np.linalg.norm(B, axis=1)
    return np.sum(num / den * np.array([1.0, -2.0, 0.5, 3.0]))


def row_norms(W):
    return np.sum(np.linalg.norm(W, axis=1) * np.arange(1, W.shape[0] + 1))


def unit_rows(x):
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    return np.sum(u[:, 0] * 2 + u[:, -1] ** 2)


def gram_frobenius(X):
    G = X.T @ X
    return np.linalg.norm(G - np.eye(X.shape[1]))


# ---- regression, kernels, distances -------------------------------------------------------------

def poly_regression(w, x, y):
    feats = np.stack([x ** k for k in range(len(w))], axis=1)
    return np.mean((feats @ w - y) ** 2)


def poly_horner(c, x):
    acc = np.zeros_like(x)
    for k in range(len(c)):
        acc = acc * x + c[k]
    return np.sum(acc ** 2)


def feature_concat(w, x):
    phi = np.concatenate([x, x ** 2, np.sin(x)], axis=1)
    return np.sum((phi @ w) ** 2)


def pairwise_broadcast(X, Y):
    d2 = np.sum((X[:, None, :] - Y[None, :, :]) ** 2, axis=-1)
    return np.sum(np.sqrt(d2 + 1e-3))


def pairwise_expanded(X, Y):
    d2 = (X ** 2).sum(1)[:, None] + (Y ** 2).sum(1)[None, :] - 2 * X @ Y.T
    return np.sum(np.exp(-0.5 * d2))


def kernel_ridge(alpha, X, y, gamma=0.5, lam=0.1):
    sq = np.sum(X ** 2, axis=1)
    K = np.exp(-gamma * (sq[:, None] + sq[None, :] - 2.0 * np.dot(X, X.T)))
    r = K @ alpha - y
    return 0.5 * r @ r + 0.5 * lam * alpha @ K @ alpha


def matrix_factorization(U, V, R, M):
    E = M * (R - U @ V.T)
    return np.sum(E ** 2) + 0.1 * (np.sum(U ** 2) + np.sum(V ** 2))


def linreg_normal(w, X, y):
    r = y - X @ w
    return r @ r / len(y)


def weighted_average(x, w):
    return np.sum(np.average(x, axis=0, weights=w) ** 2)


# ---- networks, loops -----------------------------------------------------------------------------

def mlp_relu(W1, b1, W2, b2, X, y):
    h = np.maximum(0, X @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - y) ** 2)


def mlp_sigmoid_glu(W, X):
    h = X @ W
    a, b = h[:, :3], h[:, 3:]
    return np.sum(a * (1 / (1 + np.exp(-b))))


def rnn(Wh, Wx, xs):
    h = np.zeros(Wh.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(Wh @ h + Wx @ xs[t])
    return np.sum(h ** 2)


def gru_like(Wz, Wh, xs):
    h = np.zeros(Wz.shape[0])
    for t in range(len(xs)):
        zin = np.concatenate([h, xs[t]])
        z = 1.0 / (1.0 + np.exp(-(Wz @ zin)))
        hh = np.tanh(Wh @ zin)
        h = (1 - z) * h + z * hh
    return h.sum()


def conv1d_loop(w, x):
    K = len(w)
    n = len(x) - K + 1
    out = np.zeros(n)
    for k in range(K):
        out = out + w[k] * x[k:k + n]
    return np.sum(np.tanh(out) * np.arange(n))


def conv2d_loop(kernel, img):
    kh, kw = kernel.shape
    H, W = img.shape
    out = 0.0
    for i in range(kh):
        for j in range(kw):
            out = out + kernel[i, j] * img[i:H - kh + 1 + i, j:W - kw + 1 + j]
    return np.sum(out ** 2)


def running_mean(x, w=3):
    c = np.cumsum(np.concatenate([[0.0], x]))
    rm = (c[w:] - c[:-w]) / w
    return np.sum(rm ** 2 * np.arange(len(rm)))


def masked_mean(x):
    mask = x > 0.2
    return np.sum(x * mask) / np.sum(mask)


def masked_select_mean(x):
    return np.mean(x[x > 0.2] ** 2) + np.sum(np.where(x < 0, x ** 3, 0.0))


def laplacian_energy(u):
    lap = u[:-2] - 2 * u[1:-1] + u[2:]
    return 0.5 * np.sum(lap ** 2) + np.sum(np.diff(u) ** 2)


def tv_isotropic(img):
    dx = img[1:, :-1] - img[:-1, :-1]
    dy = img[:-1, 1:] - img[:-1, :-1]
    return np.sum(np.sqrt(dx ** 2 + dy ** 2 + 1e-6))


def sinkhorn(C, a, b, eps=0.5, iters=5):
    K = np.exp(-C / eps)
    v = np.ones_like(b)
    for _ in range(iters):
        u = a / (K @ v)
        v = b / (K.T @ u)
    P = u[:, None] * K * v[None, :]
    return np.sum(P * C)


def chebyshev(c, x):
    t0, t1 = np.ones_like(x), x
    acc = c[0] * t0 + c[1] * t1
    for k in range(2, len(c)):
        t0, t1 = t1, 2 * x * t1 - t0
        acc = acc + c[k] * t1
    return np.sum(acc ** 2)


def stable_sigmoid_bce(z, y):
    p = np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z)))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def mixture_loglik(x, means, log_w):
    lw = log_w - np.log(np.sum(np.exp(log_w)))
    ll = -0.5 * (x[:, None] - means[None, :]) ** 2 + lw
    m = ll.max(axis=1, keepdims=True)
    return np.sum(np.log(np.sum(np.exp(ll - m), axis=1)) + m[:, 0])


def softmax_axis0_flip(x):
    e = np.exp(x - x.max(0))
    s = e / e.sum(0)
    return np.sum(s[::-1] * np.arange(x.size).reshape(x.shape))


def einsum_bilinear(x, A):
    return np.sum(np.einsum("bi,ij->bj", x, A) * x)


def outer_product_trace(a, b):
    M = np.outer(a, b)
    return np.trace(M @ M.T) + np.sum(np.diag(M) * np.arange(3.0))


# ---- Python control flow on traced values (converted: cond / while) ------------------------------

def piecewise(x):
    if np.sum(x) > 0:
        y = np.sum(x ** 2)
    else:
        y = np.sum(np.sin(x))
    return y


def halve_until_small(x):
    y = x
    n = 0
    while np.sum(y ** 2) > 1.0:
        y = y * 0.5
        n = n + 1
    return np.sum(y) + n


def tanh_until(x):
    y = x
    for _ in range(10):
        y = np.tanh(y) * 1.5
        if np.sum(y) > 3:
            break
    return np.sum(y)


def gd_steps(w, X, y):
    for _ in range(3):
        g = X.T @ (X @ w - y) / len(y)
        w = w - 0.1 * g
    return np.sum((X @ w - y) ** 2)


def _labels(r: np.random.Generator, n: int, k: int) -> np.ndarray:
    return r.integers(0, k, size=n)


PROGS: list[Prog] = [
    Prog("huber", huber, lambda r: (_n(r, 3), _n(r, 8, 3), _n(r, 8) * 2), (0,)),
    Prog("pseudo_huber", pseudo_huber, lambda r: (_n(r, 6), _n(r, 6)), (0, 1)),
    Prog("logsumexp_rows", logsumexp_rows, lambda r: (_n(r, 3, 5),)),
    Prog("xent_take_along_axis", xent_take_along_axis,
         lambda r: (_n(r, 4, 5), _labels(r, 4, 5))),
    Prog("xent_fancy", xent_fancy, lambda r: (_n(r, 4, 3), _labels(r, 4, 3))),
    Prog("xent_onehot_compare", xent_onehot_compare, lambda r: (_n(r, 5, 3), _labels(r, 5, 3))),
    Prog("hinge", hinge, lambda r: (_n(r, 3), _n(r, 7, 3), np.sign(_n(r, 7)))),
    Prog("logistic_l2", logistic_l2, lambda r: (_n(r, 3), 0.3, _n(r, 6, 3), np.sign(_n(r, 6))),
         (0, 1)),
    Prog("poisson_nll", poisson_nll, lambda r: (_n(r, 5) * 0.5, r.poisson(2.0, 5).astype(float))),
    Prog("gaussian_loglik", gaussian_loglik, lambda r: (0.3, -0.2, _n(r, 7)), (0, 1)),
    Prog("diag_gaussian_nll", diag_gaussian_nll,
         lambda r: (_n(r, 4, 3), _n(r, 3), _n(r, 4, 3) * 0.3), (1, 2)),
    Prog("entropy_softmax", entropy_softmax, lambda r: (_n(r, 6),)),
    Prog("kl_softmax", kl_softmax, lambda r: (_n(r, 2, 4), _n(r, 2, 4)), (0, 1)),
    Prog("triplet", triplet, lambda r: (_n(r, 5, 3), _n(r, 5, 3), _n(r, 5, 3)), (0, 1, 2)),
    Prog("info_nce", info_nce, lambda r: (_n(r, 4, 3), _n(r, 4, 3)), (0, 1)),
    Prog("temperature_softmax", temperature_softmax, lambda r: (_n(r, 5), 0.7), (0, 1)),
    Prog("layer_norm", layer_norm, lambda r: (_n(r, 3, 4), 1 + 0.1 * _n(r, 4), 0.1 * _n(r, 4)),
         (0, 1, 2)),
    Prog("batch_norm", batch_norm, lambda r: (_n(r, 5, 3), 1 + 0.1 * _n(r, 3), _n(r, 3)),
         (0, 1, 2)),
    Prog("attention", attention, lambda r: (_n(r, 3, 4), _n(r, 5, 4), _n(r, 5, 2)), (0, 1, 2)),
    Prog("multi_head", multi_head, lambda r: (_n(r, 3, 4), _n(r, 4, 4) * 0.5, _n(r, 4, 4) * 0.5,
                                              _n(r, 4, 4) * 0.5), (0, 1, 2, 3)),
    Prog("causal_attention", causal_attention, lambda r: (_n(r, 4, 3) * 0.5,)),
    Prog("cosine_similarity", cosine_similarity, lambda r: (_n(r, 5), _n(r, 5)), (0, 1)),
    Prog("cosine_rows", cosine_rows, lambda r: (_n(r, 4, 3), _n(r, 4, 3)), (0, 1)),
    Prog("row_norms", row_norms, lambda r: (_n(r, 4, 3),)),
    Prog("unit_rows", unit_rows, lambda r: (_n(r, 3, 4),)),
    Prog("gram_frobenius", gram_frobenius, lambda r: (_n(r, 5, 3) * 0.5,)),
    Prog("poly_regression", poly_regression, lambda r: (_n(r, 4), _n(r, 6), _n(r, 6)), (0, 1)),
    Prog("poly_horner", poly_horner, lambda r: (_n(r, 4), _n(r, 5)), (0, 1)),
    Prog("feature_concat", feature_concat, lambda r: (_n(r, 6), _n(r, 4, 2)), (0, 1)),
    Prog("pairwise_broadcast", pairwise_broadcast, lambda r: (_n(r, 3, 2), _n(r, 4, 2)), (0, 1)),
    Prog("pairwise_expanded", pairwise_expanded, lambda r: (_n(r, 3, 2), _n(r, 4, 2)), (0, 1)),
    Prog("kernel_ridge", kernel_ridge, lambda r: (_n(r, 5), _n(r, 5, 2), _n(r, 5)), (0, 1)),
    Prog("matrix_factorization", matrix_factorization,
         lambda r: (_n(r, 4, 2), _n(r, 3, 2), _n(r, 4, 3), (r.uniform(size=(4, 3)) > 0.3) * 1.0),
         (0, 1)),
    Prog("linreg_normal", linreg_normal, lambda r: (_n(r, 3), _n(r, 6, 3), _n(r, 6))),
    Prog("weighted_average", weighted_average, lambda r: (_n(r, 4, 3), r.uniform(0.5, 1, 4)),
         (0, 1)),
    Prog("mlp_relu", mlp_relu, lambda r: (_n(r, 3, 5) * 0.5, _n(r, 5) * 0.1, _n(r, 5, 2) * 0.5,
                                          _n(r, 2) * 0.1, _n(r, 6, 3), _n(r, 6, 2)), (0, 1, 2, 3)),
    Prog("mlp_sigmoid_glu", mlp_sigmoid_glu, lambda r: (_n(r, 4, 6) * 0.5, _n(r, 3, 4))),
    Prog("rnn", rnn, lambda r: (_n(r, 3, 3) * 0.5, _n(r, 3, 2) * 0.5, _n(r, 4, 2)), (0, 1, 2)),
    Prog("gru_like", gru_like, lambda r: (_n(r, 3, 5) * 0.5, _n(r, 3, 5) * 0.5, _n(r, 4, 2)),
         (0, 1, 2)),
    Prog("conv1d_loop", conv1d_loop, lambda r: (_n(r, 3), _n(r, 8)), (0, 1)),
    Prog("conv2d_loop", conv2d_loop, lambda r: (_n(r, 2, 3), _n(r, 5, 6)), (0, 1)),
    Prog("running_mean", running_mean, lambda r: (_n(r, 8),), jax=False),  # jnp wants no list
    Prog("masked_mean", masked_mean, lambda r: (_n(r, 9),)),
    Prog("masked_select_mean", masked_select_mean, lambda r: (_n(r, 9),), jax=False),
    Prog("laplacian_energy", laplacian_energy, lambda r: (_n(r, 7),)),
    Prog("tv_isotropic", tv_isotropic, lambda r: (_n(r, 4, 5),)),
    Prog("sinkhorn", sinkhorn, lambda r: (r.uniform(0, 1, (3, 4)), np.full(3, 1 / 3),
                                          np.full(4, 0.25)), (0, 1, 2)),
    Prog("chebyshev", chebyshev, lambda r: (_n(r, 5), r.uniform(-1, 1, 4)), (0, 1)),
    Prog("stable_sigmoid_bce", stable_sigmoid_bce,
         lambda r: (_n(r, 6) * 2, (r.uniform(size=6) > 0.5) * 1.0)),
    Prog("mixture_loglik", mixture_loglik, lambda r: (_n(r, 5), _n(r, 3), _n(r, 3)), (0, 1, 2)),
    Prog("softmax_axis0_flip", softmax_axis0_flip, lambda r: (_n(r, 3, 2),)),
    Prog("outer_product_trace", outer_product_trace, lambda r: (_n(r, 3), _n(r, 3)), (0, 1)),
    Prog("einsum_bilinear", einsum_bilinear, lambda r: (_n(r, 3, 2), _n(r, 2, 2)), (0, 1)),
    Prog("piecewise_pos", piecewise, lambda r: (np.abs(_n(r, 4)),), jax=False),
    Prog("piecewise_neg", piecewise, lambda r: (-np.abs(_n(r, 4)),), jax=False),
    Prog("halve_until_small", halve_until_small, lambda r: (3 * _n(r, 4),), jax=False),
    Prog("tanh_until", tanh_until, lambda r: (np.abs(_n(r, 3)) + 0.5,), jax=False),
    Prog("gd_steps", gd_steps, lambda r: (_n(r, 3), _n(r, 5, 3), _n(r, 5)), (0, 1, 2)),
    # float32 versions of a few
    Prog("f32_mlp_relu", mlp_relu, lambda r: tuple(a.astype(np.float32) for a in (
        _n(r, 3, 5) * 0.5, _n(r, 5) * 0.1, _n(r, 5, 2) * 0.5, _n(r, 2) * 0.1, _n(r, 6, 3),
        _n(r, 6, 2))), (0, 1, 2, 3)),
    Prog("f32_layer_norm", layer_norm, lambda r: tuple(a.astype(np.float32) for a in (
        _n(r, 3, 4), 1 + 0.1 * _n(r, 4), 0.1 * _n(r, 4))), (0, 1, 2)),
    Prog("f32_attention", attention, lambda r: tuple(a.astype(np.float32) for a in (
        _n(r, 3, 4), _n(r, 5, 4), _n(r, 5, 2))), (0, 1, 2)),
    Prog("f32_xent_take_along_axis", xent_take_along_axis,
         lambda r: (_n(r, 4, 5).astype(np.float32), _labels(r, 4, 5))),
]


def _with_np(fn: Callable[..., Any], module: Any) -> Callable[..., Any]:
    """`fn` with the name `np` bound to `module`, in it and in the functions of this file
    it calls."""
    g = dict(fn.__globals__)
    g["np"] = module
    for name, val in list(g.items()):
        if isinstance(val, types.FunctionType) and val.__globals__ is fn.__globals__:
            g[name] = types.FunctionType(val.__code__, g, val.__name__, val.__defaults__,
                                         val.__closure__)
    return g[fn.__name__] if fn.__name__ in g else types.FunctionType(
        fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)


@pytest.mark.parametrize("prog", PROGS, ids=repr)
def test_numpy_program(prog: Prog) -> None:
    args = prog.make(np.random.default_rng(0))
    f32 = any(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in args)
    value, grads = adjit.value_and_grad(prog.fn, argnums=prog.argnums)(*args)
    with np.errstate(all="ignore"):
        expected = prog.fn(*args)
    assert np.asarray(value).dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(value, expected, rtol=1e-5 if f32 else 1e-10, atol=1e-12)
    for i, g in zip(prog.argnums, grads, strict=True):
        a = args[i]
        assert np.shape(g) == np.shape(a)
        assert np.asarray(g).dtype == (np.float64 if isinstance(a, float) else a.dtype)
        fd = numeric_jacobian(prog.fn, *args, argnum=i)
        tol = 2e-3 if f32 else 1e-5
        scale = 1.0 + float(np.max(np.abs(fd), initial=0.0))
        np.testing.assert_allclose(g, fd, rtol=tol, atol=tol * 0.1 * scale,
                                   err_msg=f"{prog.name}: gradient wrt argument {i}")
    if jax is not None and prog.jax and not f32:
        jfn = _with_np(prog.fn, jnp)
        jargs = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        jgrads = jax.grad(jfn, argnums=prog.argnums)(*jargs)
        for i, g, jg in zip(prog.argnums, grads, jgrads, strict=True):
            scale = 1.0 + float(np.max(np.abs(np.asarray(jg)), initial=0.0))
            np.testing.assert_allclose(g, np.asarray(jg), rtol=1e-9, atol=1e-10 * scale,
                                       err_msg=f"{prog.name}: gradient wrt argument {i} vs jax")


LARGE = [  # past the fusion pass's scratch-buffer limit (1 << 15 elements)
    Prog("logsumexp_rows", logsumexp_rows, lambda r: (_n(r, 300, 200),)),
    Prog("attention", attention, lambda r: (_n(r, 150, 16), _n(r, 300, 16), _n(r, 300, 8)),
         (0, 1, 2)),
    Prog("softmax_axis0_flip", softmax_axis0_flip, lambda r: (_n(r, 250, 160),)),
]


@pytest.mark.parametrize("prog", LARGE, ids=repr)
def test_large_numpy_program(prog: Prog) -> None:
    """Big arrays, checked along random directions: <grad, v> against finite differences
    of f along v (and in full against jax where it is installed)."""
    r = np.random.default_rng(0)
    args = prog.make(r)
    value, grads = adjit.value_and_grad(prog.fn, argnums=prog.argnums)(*args)
    np.testing.assert_allclose(value, prog.fn(*args), rtol=1e-10)
    for i, g in zip(prog.argnums, grads, strict=True):
        v = r.normal(size=np.shape(args[i]))
        fd = float(directional_derivative(prog.fn, *args, tangents={i: v}))
        assert abs(float(np.vdot(g, v)) - fd) <= 1e-6 * (abs(fd) + np.linalg.norm(g)), prog.name
    if jax is not None and prog.jax:
        jgrads = jax.grad(_with_np(prog.fn, jnp), argnums=prog.argnums)(
            *[jnp.asarray(a) for a in args])
        for g, jg in zip(grads, jgrads, strict=True):
            np.testing.assert_allclose(g, np.asarray(jg), rtol=1e-8,
                                       atol=1e-12 * float(np.max(np.abs(np.asarray(jg)))))


# ---- unsupported functions say so --------------------------------------------------------------

# (numpy.linalg, np.tril and np.triu trace now: tests/tracer/test_np_linalg.py)
UNSUPPORTED: list[tuple[str, Callable[..., Any]]] = [
    ("cov", lambda x: np.sum(np.cov(x))),
    ("corrcoef", lambda x: np.sum(np.corrcoef(x))),
    ("logaddexp.reduce", lambda x: np.logaddexp.reduce(x, axis=0).sum()),
    ("unique", lambda x: np.sum(np.unique(x))),
    ("count_nonzero", lambda x: np.sum(x) / np.count_nonzero(x > 0)),
    ("all", lambda x: np.sum(x) * np.all(x > -10)),
]


@pytest.mark.parametrize("name,fn", UNSUPPORTED, ids=[n for n, _ in UNSUPPORTED])
def test_unsupported_numpy_raises_trace_error(name: str, fn: Callable[..., Any]) -> None:
    x = np.random.default_rng(0).normal(size=(3, 3))
    with pytest.raises(adjit.TraceError) as info:
        adjit.grad(fn)(x)
    assert name.split(".")[0] in str(info.value), str(info.value)


def _onehot_eye(logits, labels):
    return np.sum(np.eye(3)[labels] * logits)


def _take_from_constant(logits, labels):
    return np.sum(np.take(np.linspace(0, 1, 3), labels) * logits)


@pytest.mark.parametrize("fn", [_onehot_eye, _take_from_constant], ids=lambda f: f.__name__)
def test_numpy_array_indexed_by_traced_index_says_so(fn: Callable[..., Any]) -> None:
    """numpy itself indexes its array here, so it needs the index values: a TraceError at
    the user's line, not numpy's IndexError or TypeError about object arrays."""
    with pytest.raises(adjit.TraceError) as info:
        adjit.grad(fn)(np.ones((2, 3)), np.array([0, 2]))
    msg = str(info.value)
    assert "traced array" in msg and "test_numpy_programs.py" in msg, msg
