"""Vectorizing the innermost loops of generated CPU source, statement by statement.

numba has no vector math library here, so a loop calling libm's `math.exp` stays scalar, and
so does one accumulating a float sum in sequential order. The emitter writes each statement
twice (`Line`): as libm and sequential sums have it, and in a form the vectorizer can take,
where a primitive declares one (`ScalarCode.vector`: `fm.exp`, codegen/fastmath.py's inline
polynomial exp within 1 ulp; `v3 += v2` as `v3 = fm.reassoc_add(v3, v2)`, an add LLVM may
reassociate into per-lane partial sums). An innermost loop whose every statement has the
second form and passes `vector_text` (no other libm calls, no `**`, no array
read-modify-write, no subscripts by computed values, no max/prod/bool reductions, no scans)
gets it; other loops keep `math.exp` (faster than the inline one as scalar code) and `+=`.
The module then imports `fastmath as fm`, with a hash of its text (`fastmath.TAG`) in the
comment so that an edit to it changes the source's cache key.
"""
from __future__ import annotations

import re
from typing import Any

from adjit.codegen.cpu_text import Block, Group, Line

# Calls that numba lowers to vectorizable LLVM code; every `fm.` function is one by its contract
# (a primitive's `ScalarCode.vector` template names them).
_VECTOR_CALLS = {"abs", "math.copysign", "math.fabs", "math.sqrt", "np.floor", "np.float32",
                 "np.float64", "np.int32", "np.int64", "np.bool_"}
_CALL = re.compile(r"([A-Za-z_][\w.]*)\s*\(")
_NAME = re.compile(r"[A-Za-z_]\w*")
_LOOP_INDEX = re.compile(r"i\d+")


def vector_text(stmt: str) -> str | None:
    """`stmt` (its form for a vectorized loop: `Line.fast`) if LLVM can vectorize a loop of
    it, or None if it keeps the loop scalar."""
    if stmt.startswith("#") or not stmt:
        return stmt
    if any(op in stmt for op in ("**", "//", "%", "+=", "-=", "*=", "/=")):
        return None
    if any(f not in _VECTOR_CALLS and not f.startswith("fm.") for f in _CALL.findall(stmt)):
        return None
    depth, start = 0, 0
    for i, ch in enumerate(stmt):  # subscripts: loop indices and constants only
        if ch == "[":
            if depth == 0:
                start = i + 1
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0 and any(not _LOOP_INDEX.fullmatch(n)
                                  for n in _NAME.findall(stmt[start:i])):
                return None
    return stmt


def vectorize(items: list[Any], guards: list[str]) -> bool:
    """Write the innermost loops in `items` (recursively) for LLVM's loop vectorizer where
    they qualify (see above), and resolve every `Line`. True if `fm` is used.

    A loop whose statements carry guards (`Line.guard`: sin's vector form is exact only below
    2^20) sums them in a local, `g0 = fm.reassoc_add(g0, fm.trig_big(v3))`, and sets
    `guard[0]` after the loop if the sum is not 0; the names made are appended to `guards`
    (the function then allocates `guard` and returns it: codegen/cpu.py)."""
    used = False
    for k, it in enumerate(items):
        if isinstance(it, Block):
            body = it.body
            fast = None
            if it.header.startswith("for ") and not any(isinstance(b, Block) for b in body):
                fast = [(None if b.fast is None else vector_text(b.fast))
                        if isinstance(b, Line) else vector_text(b) for b in body]
            if fast is not None and None not in fast:
                checks = list(dict.fromkeys(g for b in body if isinstance(b, Line)
                                            for g in b.guard))
                it.body[:] = fast
                used = used or any("fm." in b for b in fast)
                if checks:
                    name = f"g{len(guards)}"
                    guards.append(name)
                    it.body += [f"{name} = fm.reassoc_add({name}, {g})" for g in checks]
                    flush = Block(f"if {name} != 0.0:")
                    flush.body.append("guard[0] = 1.0")
                    items[k] = Group([f"{name} = 0.0", it, flush])
            else:
                used = vectorize(body, guards) or used
        elif isinstance(it, Line):
            items[k] = it.text
    return used
