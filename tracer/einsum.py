"""np.einsum for one or two operands, lowered to transposes, sums and one matmul.

For two operands each letter is a batch letter (in both inputs and the output), a
contracted letter (in both, not in the output) or free in one operand. The operands
are transposed to (batch, free, contracted) and (batch, contracted, free), reshaped
to 3-d and multiplied with one batched `matmul`, so BLAS does the work. Letters that
appear in only one operand and not in the output are summed first.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from adjit.ir import current_loc
from adjit.ir.errors import TraceError


def _parse(subscripts: str, n: int) -> tuple[list[str], str]:
    s = subscripts.replace(" ", "")
    if "." in s:
        raise TraceError("einsum with '...' is not supported", loc=current_loc())
    if "->" in s:
        lhs, out = s.split("->")
    else:
        lhs = s
        letters = lhs.replace(",", "")
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    ins = lhs.split(",")
    if len(ins) != n:
        raise TraceError(f"einsum: {len(ins)} operand specs for {n} operands", loc=current_loc())
    for spec in ins:
        if len(set(spec)) != len(spec):
            raise TraceError(f"einsum: repeated index in one operand ({spec!r}, a diagonal) is "
                             "not supported", loc=current_loc())
    return ins, out


def _reduce_to(x: Any, spec: str, keep: set[str]) -> tuple[Any, str]:
    from .numpy_api import sum_

    drop = [i for i, c in enumerate(spec) if c not in keep]
    if drop:
        x = sum_(x, axis=tuple(drop))
        spec = "".join(c for c in spec if c in keep)
    return x, spec


def einsum(subscripts: str, *operands: Any, optimize: Any = None, **kwargs: Any) -> Any:
    from .numpy_api import _t, matmul, reshape, transpose

    if kwargs:
        raise TraceError(f"einsum options {sorted(kwargs)} are not supported", loc=current_loc())
    xs = [_t(o) for o in operands]
    ins, out = _parse(subscripts, len(xs))
    for x, spec in zip(xs, ins, strict=True):
        if x.ndim != len(spec):
            raise TraceError(f"einsum: operand has {x.ndim} dims but spec {spec!r}",
                             loc=current_loc())
    if len(xs) == 1:
        x, spec = _reduce_to(xs[0], ins[0], set(out))
        return transpose(x, [spec.index(c) for c in out]) if spec != out else x
    if len(xs) != 2:
        raise TraceError("einsum with more than two operands is not supported",
                         loc=current_loc(), hint="split it into two-operand einsums")
    (a, sa), (b, sb) = (_reduce_to(xs[0], ins[0], set(out) | set(ins[1])),
                        _reduce_to(xs[1], ins[1], set(out) | set(ins[0])))
    dims = {c: d for x, s in ((a, sa), (b, sb)) for c, d in zip(s, x.shape, strict=True)}
    batch = [c for c in sa if c in sb and c in out]
    contract = [c for c in sa if c in sb and c not in out]
    free_a = [c for c in sa if c not in sb]
    free_b = [c for c in sb if c not in sa]

    def size(cs: list[str]) -> int:
        return int(np.prod([dims[c] for c in cs], dtype=np.int64))

    a3 = reshape(transpose(a, [sa.index(c) for c in batch + free_a + contract]),
                 (size(batch), size(free_a), size(contract)))
    b3 = reshape(transpose(b, [sb.index(c) for c in batch + contract + free_b]),
                 (size(batch), size(contract), size(free_b)))
    r = matmul(a3, b3)
    order = batch + free_a + free_b
    r = reshape(r, tuple(dims[c] for c in order))
    return transpose(r, [order.index(c) for c in out]) if order != list(out) else r
