"""A corpus of numpy functions written the way people write numpy, with example arguments.

Each `Case` names a function, how to make its arguments (float64 unless the case is
about dtypes), and which arguments to differentiate. The pass tests run every case
through the reference interpreter, the compiled tests through numba; both compare
with central finite differences of the plain numpy function.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Case:
    name: str
    fn: Callable[..., Any]
    make: Callable[[np.random.Generator], tuple[Any, ...]]
    argnums: tuple[int, ...] = (0,)

    def args(self, seed: int = 0) -> tuple[Any, ...]:
        return self.make(np.random.default_rng(seed))

    def __repr__(self) -> str:
        return self.name


def n(*shape: int) -> Callable[[np.random.Generator], tuple[Any, ...]]:
    return lambda r: (r.normal(size=shape),)


def pos(*shape: int) -> Callable[[np.random.Generator], tuple[Any, ...]]:
    return lambda r: (r.uniform(0.5, 2.0, size=shape),)


def unit(*shape: int) -> Callable[[np.random.Generator], tuple[Any, ...]]:
    return lambda r: (r.uniform(-0.9, 0.9, size=shape),)


def _softmax_xent(logits: np.ndarray, labels: np.ndarray) -> Any:
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.mean(np.sum(labels * logp, axis=1))


def _mlp(w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, x: np.ndarray, y: np.ndarray) -> Any:
    h = np.tanh(x @ w1 + b1)
    out = h @ w2
    return 0.5 * np.mean((out - y) ** 2)


def _onehot(r: np.random.Generator, b: int, k: int) -> np.ndarray:
    return np.eye(k)[r.integers(0, k, size=b)]


CASES: list[Case] = [
    # arithmetic, operators, reflected and unary forms
    Case("poly", lambda x: np.sum(3 * x**3 - 2 * x**2 + x - 1), n(5)),
    Case("reflected", lambda x: np.sum(2.0 - x + 3.0 / (1.5 + x**2) + 2 ** x), n(4)),
    Case("unary", lambda x: np.sum(-x * +x + abs(x)), n(6)),
    Case("pow_array", lambda x, y: np.sum(x**y), lambda r: (r.uniform(0.5, 2, 5),
                                                             r.uniform(-1, 2, 5)), (0, 1)),
    Case("div_both", lambda x, y: np.sum(x / y), lambda r: (r.normal(size=4),
                                                             r.uniform(1, 2, 4)), (0, 1)),
    # ufuncs
    Case("exp_log", lambda x: np.sum(np.log(np.exp(x) + 1.0) * np.log1p(x**2)), n(5)),
    Case("expm1_sqrt", lambda x: np.sum(np.expm1(x) * np.sqrt(x)), pos(5)),
    Case("trig", lambda x: np.sum(np.sin(x) * np.cos(2 * x) + np.tan(x / 2)), unit(6)),
    Case("hyperbolic", lambda x: np.sum(np.tanh(x) + np.sinh(x) * np.cosh(x)), n(5)),
    Case("inverse_trig", lambda x: np.sum(np.arcsin(x) + np.arccos(x) * np.arctan(x)), unit(5)),
    Case("abs_sign", lambda x: np.sum(np.abs(x) * np.sign(x) + np.square(x)), n(5)),
    Case("reciprocal_negative", lambda x: np.sum(np.reciprocal(x) + np.negative(x)), pos(4)),
    Case("max_min_elementwise", lambda x, y: np.sum(np.maximum(x, y) * np.minimum(x, 0.3)),
         lambda r: (r.normal(size=6), r.normal(size=6)), (0, 1)),
    Case("power_ufunc", lambda x: np.sum(np.power(x, 3) + np.power(2.0, x)), pos(4)),
    Case("logaddexp", lambda x, y: np.sum(np.logaddexp(x, y)),
         lambda r: (r.normal(size=5), r.normal(size=5)), (0, 1)),
    Case("arctan2", lambda y, x: np.sum(np.arctan2(y, x)),
         lambda r: (r.normal(size=5), r.uniform(0.5, 2, 5)), (0, 1)),
    Case("log2_log10_exp2", lambda x: np.sum(np.log2(x) + np.log10(x) * np.exp2(x)), pos(5)),
    Case("where_clip", lambda x: np.sum(np.where(x > 0, x**2, -x) + np.clip(x, -0.5, 0.5)), n(8)),
    Case("comparison_mask", lambda x: np.sum(x * (x > 0.1)), n(7)),
    # reductions
    Case("sum_axis", lambda x: np.sum(np.sum(x, axis=0) ** 2) + np.sum(x.sum(axis=-1) ** 3),
         n(3, 4)),
    Case("sum_tuple_keepdims", lambda x: np.sum(x / x.sum(axis=(0, 2), keepdims=True)),
         pos(2, 3, 4)),
    Case("mean", lambda x: np.mean(x**2) + np.sum(x.mean(axis=1) ** 2), n(3, 4)),
    Case("prod", lambda x: np.prod(x) + np.sum(np.prod(x, axis=0)), pos(3, 3)),
    Case("prod_with_zero", lambda x: np.prod(x * np.array([1.0, 0.0, 1.0, 1.0])), n(4)),
    Case("max_min", lambda x: np.max(x) - np.min(x) + np.sum(x.max(axis=1)), n(3, 5)),
    Case("var_std", lambda x: np.var(x) + np.sum(np.std(x, axis=0)) + np.var(x, ddof=1), n(4, 3)),
    Case("cumsum", lambda x: np.sum(np.cumsum(x) ** 2) + np.sum(np.cumsum(x, axis=0)), n(3, 2)),
    # broadcasting
    Case("broadcast_row_col", lambda x, y: np.sum(np.tanh(x + y) * x),
         lambda r: (r.normal(size=(3, 1)), r.normal(size=(4,))), (0, 1)),
    Case("broadcast_scalar_arg", lambda x, s: np.sum(x * s + s**2),
         lambda r: (r.normal(size=(2, 3)), float(r.normal())), (0, 1)),
    Case("broadcast_3d", lambda x, y: np.sum((x - y) ** 2),
         lambda r: (r.normal(size=(2, 1, 4)), r.normal(size=(3, 1))), (0, 1)),
    # linear algebra
    Case("dot_1d", lambda x, y: np.dot(x, y) * 2, lambda r: (r.normal(size=5),
                                                              r.normal(size=5)), (0, 1)),
    Case("matvec", lambda a, x: np.sum(np.dot(a, x) ** 2),
         lambda r: (r.normal(size=(3, 4)), r.normal(size=4)), (0, 1)),
    Case("vecmat", lambda x, a: np.sum((x @ a) ** 2),
         lambda r: (r.normal(size=3), r.normal(size=(3, 4))), (0, 1)),
    Case("matmul_2d", lambda a, b: np.sum(np.sin(a @ b)),
         lambda r: (r.normal(size=(3, 4)), r.normal(size=(4, 2))), (0, 1)),
    Case("matmul_batched", lambda a, b: np.sum((a @ b) ** 2),
         lambda r: (r.normal(size=(2, 3, 4)), r.normal(size=(4, 5))), (0, 1)),
    Case("outer", lambda x, y: np.sum(np.outer(x, y) ** 2),
         lambda r: (r.normal(size=3), r.normal(size=4)), (0, 1)),
    Case("einsum_ij_jk", lambda a, b: np.sum(np.einsum("ij,jk->ik", a, b) ** 2),
         lambda r: (r.normal(size=(3, 4)), r.normal(size=(4, 2))), (0, 1)),
    Case("einsum_bij_bjk", lambda a, b: np.sum(np.einsum("bij,bjk->bik", a, b) ** 2),
         lambda r: (r.normal(size=(2, 3, 4)), r.normal(size=(2, 4, 2))), (0, 1)),
    Case("einsum_dot_trace",
         lambda a, b: np.einsum("i,i->", a, b) + np.einsum("ij->", a[:, None] * b),
         lambda r: (r.normal(size=4), r.normal(size=4)), (0, 1)),
    Case("einsum_outer_transpose", lambda a, b: np.sum(np.einsum("i,j->ji", a, b) ** 2),
         lambda r: (r.normal(size=3), r.normal(size=2)), (0, 1)),
    Case("norm", lambda x: np.linalg.norm(x) + np.linalg.norm(2 * x, ord=1), n(6)),
    # shapes
    Case("reshape_transpose", lambda x: np.sum(x.reshape(2, 6).T @ np.ones((2, 3))
                                               * np.arange(18.0).reshape(6, 3)), n(3, 4)),
    Case("swap_move_expand_squeeze",
         lambda x: np.sum(np.swapaxes(x, 0, 1) * np.moveaxis(x, 1, 0)[None].squeeze(0)
                          + np.expand_dims(x.sum(axis=0), 0).squeeze()[None, None, :, :].sum()),
         n(2, 3, 2)),
    Case("ravel_broadcast_to", lambda x: np.sum(np.broadcast_to(x.ravel(), (3, 6)) ** 2), n(2, 3)),
    Case("concatenate_stack", lambda x, y: np.sum(np.concatenate([x, y * 2]) ** 2)
         + np.sum(np.stack([x, y], axis=1) * np.array([1.0, 3.0])),
         lambda r: (r.normal(size=4), r.normal(size=4)), (0, 1)),
    Case("vstack_hstack", lambda x, y: np.sum(np.vstack([x, y]) ** 3) + np.sum(np.hstack([x, y])),
         lambda r: (r.normal(size=3), r.normal(size=3)), (0, 1)),
    Case("tile_repeat", lambda x: np.sum(np.tile(x, (2, 3)) ** 2 * np.arange(36.0).reshape(4, 9))
         + np.sum(np.repeat(x, 2, axis=1) ** 3) + np.sum(np.repeat(x.ravel(), [1, 0, 2, 1, 1, 3])),
         n(2, 3)),
    Case("roll_flip", lambda x: np.sum(np.roll(x, 2) * np.arange(5.0) + np.flip(x) ** 2 * x), n(5)),
    Case("roll_axis_2d", lambda x: np.sum(np.roll(x, -1, axis=1) * x[::-1]), n(3, 4)),
    # indexing
    Case("basic_slices", lambda x: np.sum(x[1:] * x[:-1]) + np.sum(x[::2] ** 2)
         + np.sum(x[::-1] * np.arange(7.0)) + x[-1] * x[0], n(7)),
    Case("slices_2d", lambda x: np.sum(x[1:, ::2] ** 2) + np.sum(x[:, None, 1] * x[..., -1])
         + np.sum(x[::-2, 1:3]), n(4, 5)),
    Case("int_index_rows", lambda x: np.sum(x[1] ** 2) + np.sum(x[:, 2] * x[:, 0]), n(3, 4)),
    Case("list_and_array_index", lambda x: np.sum(x[[0, 2, 2]] ** 2)
         + np.sum(x[np.array([1, -1])] * 3), n(5)),
    Case("fancy_2d", lambda x: np.sum(x[[0, 2], [1, 3]] ** 2) + np.sum(x[[1, 0]][:, 1:]), n(3, 4)),
    Case("argmax_index", lambda x: x[np.argmax(x)] * 2 + x[np.argmin(x)], n(6)),
    Case("take", lambda x: np.sum(np.take(x, [0, 3, 3]) ** 2) + np.sum(np.take(x, [1], axis=1)),
         n(2, 4)),
    Case("take_along_axis", lambda x: np.sum(np.take_along_axis(
        x, np.array([[0, 2], [1, 1], [3, 0]]), axis=1) ** 2), n(3, 4)),
    Case("const_bool_mask", lambda x: np.sum(x[np.array([True, False, True, True])] ** 2), n(4)),
    Case("traced_bool_mask", lambda x: np.sum(x[x > 0] ** 2) + np.mean(x[x < 0.5] * 3)
         + np.max(x[np.abs(x) < 1.0]), n(9)),
    # models
    Case("softmax_xent", _softmax_xent, lambda r: (r.normal(size=(4, 5)), _onehot(r, 4, 5))),
    Case("mlp", _mlp, lambda r: (r.normal(size=(6, 5)) * 0.5, r.normal(size=5) * 0.1,
                                 r.normal(size=(5, 2)) * 0.5, r.normal(size=(4, 6)),
                                 r.normal(size=(4, 2))), (0, 1, 2)),
    Case("rosenbrock", lambda x: np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2),
         n(6)),
    Case("logistic_regression", lambda w, x, y: np.mean(np.log1p(np.exp(-y * (x @ w)))),
         lambda r: (r.normal(size=3), r.normal(size=(8, 3)), np.sign(r.normal(size=8)))),
    Case("unrolled_loop", lambda x: sum(np.sum(np.sin(x) * k) for k in range(3)) + _loop(x), n(4)),
    Case("float32", lambda x: np.sum(np.tanh(x) ** 2 * 0.5),
         lambda r: (r.normal(size=5).astype(np.float32),)),
    Case("int_arg_not_differentiated", lambda x, k: np.sum(x ** 2 * k) + np.sum(x[k:]),
         lambda r: (r.normal(size=5), 2)),
    Case("scalar_0d_input", lambda x: np.sin(x) * x**2, lambda r: (np.array(0.7),)),
    Case("asarray_third_party", lambda x: _rosen_like(x), n(5)),
]


def _loop(x: np.ndarray) -> Any:
    acc = 0.0
    for i in range(3):
        acc = acc + np.sum(x * x) * (i + 1)
    return acc


def _rosen_like(x: Any) -> Any:
    x = np.asarray(x)
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2.0) ** 2.0 + (1 - x[:-1]) ** 2.0, axis=0)


BY_NAME = {c.name: c for c in CASES}
