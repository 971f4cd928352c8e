"""Fixtures for the IR tests. Puts tests/ir on sys.path so tests can `import ir_samples`
whatever pytest's import mode, and registers the throwaway sub-graph primitives on demand,
removing them after each test so the registry-completeness tests never see them.
"""
from __future__ import annotations

import pathlib
import sys
from typing import Iterator

import pytest

_HERE = str(pathlib.Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from ir_samples import TEST_PRIMS  # noqa: E402

from adjit.ir import PRIMS  # noqa: E402
from adjit.ir.primitive import register  # noqa: E402


@pytest.fixture
def subgraph_prims() -> Iterator[None]:
    for p in TEST_PRIMS:
        register(p)
    try:
        yield
    finally:
        for p in TEST_PRIMS:
            PRIMS.pop(p.name, None)
