"""The pieces of generated CPU source before it is printed: blocks and dual-form lines."""
from __future__ import annotations

from dataclasses import dataclass
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
