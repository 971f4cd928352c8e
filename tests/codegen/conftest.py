"""Shared compiled functions for the codegen tests: numba compiles are slow, so each graph is
fused, emitted and compiled once per session (into a session-private cache directory)."""
from __future__ import annotations

import pathlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from adjit.codegen.compile import compile_source
from adjit.codegen.cpu import Source, emit_cpu
from adjit.ir import Graph, evaluate
from adjit.passes.fuse import KernelPlan, fuse


@dataclass
class Compiled:
    graph: Graph
    plan: KernelPlan
    source: Source
    fn: Any  # the numba dispatcher
    py: Callable[..., Any]  # the same text as plain Python

    def __call__(self, *args: Any) -> tuple:
        return self.fn(*args, *self.source.consts)

    def run_py(self, *args: Any) -> tuple:
        return self.py(*args, *self.source.consts)


class Compiler:
    def __init__(self, cache_dir: pathlib.Path) -> None:
        self.cache_dir = cache_dir
        self.done: dict[Any, Compiled] = {}

    def __call__(self, key: Any, make: Callable[[], Graph]) -> Compiled:
        if key not in self.done:
            g = make()
            plan = fuse(g)
            src = emit_cpu(g, plan, f"{g.name}_kernel")
            self.done[key] = Compiled(g, plan, src, compile_source(src, self.cache_dir),
                                      compile_source(src, self.cache_dir, jit=False))
        return self.done[key]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("adjit_cache")


@pytest.fixture(scope="session")
def compiled(cache_dir: pathlib.Path) -> Compiler:
    return Compiler(cache_dir)


def tolerance(dtype: str) -> float:
    return 1e-5 if dtype == "f32" else 1e-10


def assert_matches(out: Any, ref: np.ndarray, rtol: float, what: str = "") -> None:
    """A generated result equals the reference interpreter's (0-d results may be scalars)."""
    got = np.asarray(out)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    if ref.dtype == np.bool_ or ref.dtype.kind in "iu":
        np.testing.assert_array_equal(got.astype(ref.dtype), ref, err_msg=what)
    else:
        wide = np.complex128 if ref.dtype.kind == "c" else np.float64
        np.testing.assert_allclose(got.astype(wide), ref.astype(wide), rtol=rtol,
                                   atol=rtol, equal_nan=True, err_msg=what)
    if ref.ndim:
        assert got.dtype == ref.dtype, f"{what}: dtype {got.dtype} != {ref.dtype}"


def check_against_evaluate(c: Compiled, args: list[np.ndarray], dtype: str = "f64",
                           plain: bool = True) -> None:
    ref = evaluate(c.graph, *args)
    rtol = tolerance(dtype)
    for i, (out, r) in enumerate(zip(c(*args), ref, strict=True)):
        assert_matches(out, r, rtol, f"{c.graph.name} output {i} (numba)")
    if plain:
        for i, (out, r) in enumerate(zip(c.run_py(*args), ref, strict=True)):
            assert_matches(out, r, rtol, f"{c.graph.name} output {i} (plain Python)")
