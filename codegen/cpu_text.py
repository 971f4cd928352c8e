"""The pieces of generated CPU source before it is rendered as lines: statements (strings),
blocks (a header and an indented body) and groups."""
from __future__ import annotations

from typing import Any


class Block:
    def __init__(self, header: str) -> None:
        self.header = header
        self.body: list[Any] = []


class Group:
    """Statements and blocks printed at the level of the list that holds the group (a
    vectorized loop with its guard's set-up and check, in the one place the loop was)."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
