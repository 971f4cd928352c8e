"""Each pass's docstring shows a before/after IR pair; it must stay true."""
from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["adjoint", "jvp", "simplify", "prune", "canonical"])
def test_pass_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"adjit.passes.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
