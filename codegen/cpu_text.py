"""The pieces of generated CPU source before it is printed: blocks, dual-form lines, and the
scopes statements are placed in."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Block:
    def __init__(self, header: str) -> None:
        self.header = header
        self.body: list[Any] = []


@dataclass(frozen=True)
class Line:
    """A statement written one way in a loop LLVM can vectorize (`fast`; None: this statement
    keeps its loop from vectorizing) and another elsewhere (`text`)."""

    text: str
    fast: str | None
    # expressions that are 0.0 where `fast` is exact (`ScalarCode.guard`): codegen/cpu_vector.py
    guard: tuple[str, ...] = ()


class Group:
    """Statements and blocks printed at the level of the list that holds the group (a
    vectorized loop with its guard's set-up and check, in the one place the loop was)."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items


@dataclass
class Scope:
    """The statements of one loop level (`items`), the values already computed there at an
    index (`memo`: (value, terms) -> (name, level)), and the loop open in it, before which new
    statements go."""

    items: list[Any]
    memo: dict[Any, tuple[str, int]] = field(default_factory=dict)
    open: Block | None = None
