"""Bounded specializations, and a warning when a function keeps compiling.

A `Transformed` keeps at most `config.max_specializations()` compiled versions (least
recently compiled first out). Each compilation's reason is worked out from how its key
differs from the previous one (`first call`, `argument 1: shape (3,) -> (4,)`, `a Python
int argument takes a new value`, `captured self.scale changed`), and when one function has
compiled more than `config.recompile_warning()` times, a single `adjit.RecompileWarning`
names it and the cause, so a training loop that recompiles every step is noticed.
"""
from __future__ import annotations

import warnings
from collections import Counter, OrderedDict
from typing import Any

from . import config


class RecompileWarning(UserWarning):
    """A transformed function keeps compiling new specializations."""


class RecompileWatch:
    def __init__(self, owner: Any) -> None:
        self.owner = owner
        self.last_key: Any = None
        self.causes: Counter[str] = Counter()
        self.count = 0
        self.warned = False

    def reason(self, key: Any) -> str:
        kind, detail = (("first call", "") if self.last_key is None else
                        _difference(self.last_key, key, self.owner))
        self.last_key = key
        self._count(kind)
        return f"{kind} ({detail})" if detail else kind

    def guard_failed(self) -> None:
        self._count("a guard failed (a traced value Python needed took a new value)")

    def _count(self, kind: str) -> None:
        self.count += 1
        self.causes[kind] += 1
        limit = config.recompile_warning()
        if self.count > limit and not self.warned:
            self.warned = True
            name = getattr(self.owner.fun, "__qualname__",
                           getattr(self.owner.fun, "__name__", "function"))
            cause, n = self.causes.most_common(1)[0]
            extra = ""
            from adjit.tracer.convert import why_unconverted

            unconverted = why_unconverted(self.owner.fun)
            if unconverted and "guard" in cause:
                extra = (f"; its source cannot be converted ({unconverted}), so Python "
                         f"control flow on traced values is specialized and guarded")
            from adjit.tracer.loc import user_loc

            loc = user_loc(1)
            warnings.warn_explicit(
                f"adjit.{self.owner.mode}({name}) has compiled {self.count} times; most often "
                f"because {cause} ({n} times){extra}. Pass values that change as float "
                f"arrays, keep shapes fixed, or mark arguments static deliberately",
                RecompileWarning, loc.file if loc else "adjit", loc.line if loc else 0)

    def evict(self, table: OrderedDict[Any, Any]) -> None:
        limit = config.max_specializations()
        while len(table) > limit:
            table.popitem(last=False)


def _difference(old: Any, new: Any, owner: Any) -> tuple[str, str]:
    """Why a compilation happened: a kind (counted) and its detail."""
    old_args, old_state = (old if _has_state(owner) and isinstance(old, tuple) and len(old) == 2
                           else (old, ()))
    new_args, new_state = (new if _has_state(owner) and isinstance(new, tuple) and len(new) == 2
                           else (new, ()))
    if len(old_args) != len(new_args):
        return "the number of arguments changes", f"{len(old_args)} -> {len(new_args)}"
    for i, (a, b) in enumerate(zip(old_args, new_args, strict=True)):
        if a == b:
            continue
        if isinstance(a, tuple) and a and a[0] in (int, bool):
            new_value = b[1] if isinstance(b, tuple) and len(b) > 1 else b
            return (f"the Python {a[0].__name__} argument {i} takes new values",
                    f"{a[1]} -> {new_value}")
        if isinstance(a, tuple) and a and a[0] == "static":
            return f"static argument {i} takes new values", ""
        return f"argument {i} changes shape or dtype", f"{_show(a)} -> {_show(b)}"
    probe = owner._probe
    for j, (a, b) in enumerate(zip(old_state, new_state, strict=False)):
        if a != b:
            name = probe.nodes[j].name if probe is not None and j < len(probe.nodes) else "?"
            return f"captured {name} changes", ""
    if len(old_state) != len(new_state):
        return "the captured state changes structure", ""
    return "a specialization was evicted and compiled again", ""


def _has_state(owner: Any) -> bool:
    return bool(owner._probe)


def _show(k: Any) -> str:
    if isinstance(k, tuple) and len(k) >= 2 and isinstance(k[0], tuple):
        return f"shape {k[0]} {k[1]}"
    return str(k)
