"""codegen/source_cache.py: a warm start finds the generated text by its graph, and only the
text of that same graph, with this graph's constants; a damaged entry is refused."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from control_graphs import euler, tutorial
from functions import CASES

from adjit.codegen import cache, source_cache
from adjit.codegen.cpu import emit_cpu
from adjit.ir.core import Eqn, Lit
from adjit.passes.fuse import fuse
from adjit.passes.pipeline import differentiate
from adjit.tracer import trace

OPTIONS = {"tape_limit": 1 << 30, "split_lines": 0, "reuse_bytes": 1 << 20, "guards": True}


def _final(fn, args):
    static = tuple(i for i, a in enumerate(args) if type(a) in (int, bool))
    return differentiate(trace(fn, args, static).graph, [0]).simplified


def _roundtrip(folder, g, options=OPTIONS):
    found = source_cache.key(g, f"{g.name}_kernel", options)
    assert found is not None
    made = emit_cpu(g, fuse(g), f"{g.name}_kernel", **options)
    source_cache.save(folder, found, made)
    again = source_cache.key(g, f"{g.name}_kernel", options)
    return made, source_cache.load(folder, again)


def _same(made, got):
    assert got is not None
    assert (got.text, got.name, got.callees, got.parts, got.guarded, got.parallel, got.reused,
            got.copied) == (made.text, made.name, made.callees, made.parts, made.guarded,
                            made.parallel, made.reused, made.copied)
    assert len(got.consts) == len(made.consts)
    for a, b in zip(got.consts, made.consts, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture
def folder(tmp_path):
    return cache.open_folder(tmp_path / "c")


@pytest.mark.parametrize("case", CASES[::3], ids=repr)
def test_stored_source_is_the_generated_one(case, folder):
    made, got = _roundtrip(folder, _final(case.fn, case.args()))
    _same(made, got)


@pytest.mark.parametrize("fn, args", [(tutorial, (np.linspace(-1, 1, 4),)),
                                      (euler, (np.linspace(0, 1, 3), np.array(5), np.array(0.1)))],
                         ids=["tutorial", "euler"])
def test_control_flow_and_callees(fn, args, folder):
    made, got = _roundtrip(folder, _final(fn, args))
    assert made.callees, "the sub-graphs are functions of the module"
    _same(made, got)


def test_split_function_and_its_pieces(folder):
    def deep(w, x):
        h = x
        for _ in range(12):
            h = np.tanh(h @ w + np.sin(h) * 0.1) + h * 0.5
        return np.sum(h * h)

    g = _final(deep, (np.eye(3) * 0.5, np.ones((2, 3))))
    made, got = _roundtrip(folder, g, {**OPTIONS, "split_lines": 60})
    assert len(made.parts) > 1
    _same(made, got)


def test_array_constants_are_this_graphs(folder):
    """Two graphs alike but for an integer array constant: two keys, each its own array."""
    def f(idx):
        return lambda x: np.sum(x[idx] * x[idx])

    x = np.arange(5.0)
    g1, g2 = _final(f(np.array([0, 1, 1])), (x,)), _final(f(np.array([4, 3, 1])), (x,))
    k1 = source_cache.key(g1, "k", OPTIONS)
    k2 = source_cache.key(g2, "k", OPTIONS)
    assert k1[0] != k2[0]
    made1, got1 = _roundtrip(folder, g1)
    made2, got2 = _roundtrip(folder, g2)
    assert made1.consts and made2.consts, "the indices are array constants of the kernel"
    _same(made1, got1)
    _same(made2, got2)


def test_key_changes_with_location_name_options(folder):
    g = _final(lambda x: np.sum(np.sin(x) * x), (np.ones(3),))
    base = source_cache.key(g, "k", OPTIONS)[0]
    assert source_cache.key(g, "k", OPTIONS)[0] == base, "deterministic"
    assert source_cache.key(g, "k2", OPTIONS)[0] != base
    assert source_cache.key(g, "k", {**OPTIONS, "reuse_bytes": -1})[0] != base
    e = g.eqns[0]
    moved = g.replace(eqns=(e.replace(loc=e.loc.__class__(e.loc.file, e.loc.line + 1,
                                                          e.loc.func, e.loc.source)),
                            *g.eqns[1:]))
    assert source_cache.key(moved, "k", OPTIONS)[0] != base
    scaled = g.replace(eqns=tuple(
        eq.replace(inputs=tuple(Lit.make(3.0) if isinstance(v, Lit) and v.is_scalar else v
                                for v in eq.inputs)) for eq in g.eqns))
    if any(isinstance(v, Lit) for eq in g.eqns for v in eq.inputs):
        assert source_cache.key(scaled, "k", OPTIONS)[0] != base


def test_unknown_parameter_type_is_not_cached(folder):
    g = _final(lambda x: np.sum(x * x), (np.ones(3),))
    odd = g.replace(eqns=(Eqn(g.eqns[0].prim, g.eqns[0].inputs, g.eqns[0].outputs,
                              (("what", object()),), g.eqns[0].loc), *g.eqns[1:]))
    assert source_cache.key(odd, "k", OPTIONS) is None


def test_damaged_or_planted_entry_is_refused(folder, caplog):
    g = _final(lambda x: np.sum(np.tanh(x)), (np.ones(3),))
    made, got = _roundtrip(folder, g)
    _same(made, got)
    found = source_cache.key(g, f"{g.name}_kernel", OPTIONS)
    path = folder.path / found[0].hex()[:20] / "source.nbk"
    data = bytearray(path.read_bytes())
    i = data.index(b"return")
    data[i:i + 6] = b"raise "  # a planted change to the text
    path.write_bytes(bytes(data))
    assert source_cache.load(folder, found) is None
    assert "failed its check" in caplog.text
    assert not path.exists(), "removed, to be generated again"
    # an entry written with another folder's key is refused the same way
    other = cache.open_folder(folder.path.parent / "other")
    source_cache.save(other, found, made)
    planted = other.path / found[0].hex()[:20] / "source.nbk"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(planted.read_bytes())
    assert source_cache.load(folder, found) is None


def test_readable_payload_is_json_not_pickle(folder):
    g = _final(lambda x: np.sum(x ** 3), (np.ones(3),))
    _roundtrip(folder, g)
    found = source_cache.key(g, f"{g.name}_kernel", OPTIONS)
    data = (folder.path / found[0].hex()[:20] / "source.nbk").read_bytes()
    payload = data[len(cache.MAGIC) + 32:]
    assert set(json.loads(payload)) >= {"text", "consts", "callees"}


_CHILD = textwrap.dedent("""
    import sys, json
    import numpy as np
    import adjit
    c = np.array([2, 0, 1]) if sys.argv[1] == "a" else np.array([1, 1, 2])

    def f(x):
        y = x[c] * x[c]
        while np.sum(y) < 50.0:
            y = y * 1.5
        return np.sum(y)

    out = adjit.value_and_grad(f)(np.array([1.0, 2.0, 3.0]))
    print(json.dumps({"out": [float(out[0]), out[1].tolist()],
                      "codegen_imported": "adjit.codegen.cpu" in sys.modules}))
""")


def test_second_process_skips_code_generation_and_keeps_its_constants(tmp_path):
    env = {**os.environ, "ADJIT_CACHE_DIR": str(tmp_path / "c"), "ADJIT_BACKGROUND_COMPILE": "0"}
    script = tmp_path / "child.py"
    script.write_text(_CHILD)

    def run(which):
        p = subprocess.run([sys.executable, str(script), which], env=env, capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout.strip().splitlines()[-1])

    first, second = run("a"), run("a")
    assert first["codegen_imported"] and not second["codegen_imported"]
    assert second["out"] == first["out"]
    other = run("b")  # another constant: another graph, generated (not the cached text)
    assert other["codegen_imported"]

    def reference(c):
        x = np.array([1.0, 2.0, 3.0])
        y = x[c] * x[c]
        k = 0
        while np.sum(y) < 50.0:
            y = y * 1.5
            k += 1
        g = np.zeros(3)
        np.add.at(g, c, 2 * x[c] * 1.5 ** k)
        return [float(np.sum(y)), g.tolist()]

    np.testing.assert_allclose(first["out"][0], reference(np.array([2, 0, 1]))[0])
    np.testing.assert_allclose(first["out"][1], reference(np.array([2, 0, 1]))[1])
    np.testing.assert_allclose(other["out"][0], reference(np.array([1, 1, 2]))[0])
    np.testing.assert_allclose(other["out"][1], reference(np.array([1, 1, 2]))[1])


def test_cached_generates_on_a_miss_then_finds_it_and_survives_its_own_failure(
        folder, monkeypatch, caplog):
    g = _final(lambda x: np.sum(np.exp(x) * x), (np.ones(3),))
    made = []

    def generate():
        made.append(emit_cpu(g, fuse(g), "k", **OPTIONS))
        return made[-1]

    first = source_cache.cached(folder, g, "k", OPTIONS, generate)
    second = source_cache.cached(folder, g, "k", OPTIONS, generate)
    assert len(made) == 1 and second.text == first.text

    def broken(*a, **k):
        raise RuntimeError("a bug in the cache")

    monkeypatch.setattr(source_cache, "key", broken)
    third = source_cache.cached(folder, g, "k", OPTIONS, generate)
    assert len(made) == 2 and third.text == first.text
    assert "source cache lookup for k failed" in caplog.text
