"""np.einsum on tracers against numpy's own einsum: repeated indices (diagonals), three and
more operands (contracted along numpy's greedy path), the operand/sublist form, implicit
output, '...', and size-1 broadcasting, with gradients. einsum is linear in each operand,
so the exact directional derivative along D for operand k is sum(W * einsum(..., D, ...)):
gradients are checked against that, with numpy computing it."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from adjit.ir import evaluate
from adjit.passes.pipeline import differentiate
from adjit.tracer import trace
from hypothesis import given, settings
from hypothesis import strategies as st

import adjit

SIZES = dict(zip("abcdefghij", [2, 3, 4, 5, 4, 3, 2, 6, 5, 4], strict=True))


def check(*args: Any, shapes_only: bool = False) -> None:
    """Trace np.einsum(*args) with the arrays among args traced, compare with numpy."""
    pos = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
    arrays = [args[i] for i in pos]

    def f(*xs: Any) -> Any:
        full = list(args)
        for i, x in zip(pos, xs, strict=True):
            full[i] = x
        return np.einsum(*full)

    want = np.einsum(*args)
    (got,) = evaluate(trace(f, arrays, concrete=False).graph, *arrays)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    if shapes_only:
        return
    rng = np.random.default_rng(1)
    w = rng.normal(size=want.shape)
    g = trace(lambda *xs: (f(*xs) * w).sum(), arrays, concrete=False).graph
    grads = evaluate(differentiate(g, list(range(len(arrays)))).simplified, *arrays)[1:]
    for k, (a, gk) in enumerate(zip(arrays, grads, strict=True)):
        d = rng.normal(size=a.shape)
        moved = list(arrays)
        moved[k] = d
        exact = np.sum(w * f(*moved))  # linear in operand k (numpy runs f here)
        np.testing.assert_allclose(np.sum(gk * d), exact, rtol=1e-9, atol=1e-9)


def operands(subscripts: str, sizes: dict[str, int] = SIZES, seed: int = 0) -> list[Any]:
    rng = np.random.default_rng(seed)
    terms = subscripts.split("->")[0].split(",")
    return [rng.normal(size=[sizes[c] for c in t.strip()]) for t in terms]


# numpy/_core/tests/test_einsum.py: its optimize_compare strings, with its sizes
NUMPY_STRINGS = [
    "a,ab,abc->abc", "a,b,ab->ab", "ea,fb,gc,hd,abcd->efgh", "ea,fb,abcd,gc,hd->efgh",
    "abcd,ea,fb,gc,hd->efgh", "acdf,jbje,gihb,hfac,gfac,gifabc,hfac",
    "cd,bdhe,aidb,hgca,gc,hgibcd,hgac", "abhe,hidj,jgba,hiab,gab",
    "bde,cdh,agdb,hica,ibd,hgicd,hiac", "chd,bde,agbc,hiad,hgc,hgi,hiad",
    "chd,bde,agbc,hiad,bdi,cgh,agdb", "bdhe,acad,hiab,agac,hibd", "ab,ab,c->", "ab,ab,c->c",
    "ab,ab,cd,cd->", "ab,ab,cd,cd->ac", "ab,ab,cd,cd->cd", "ab,ab,cd,cd,ef,ef->",
    "ab,cd,ef->abcdef", "ab,cd,ef->acdf", "ab,cd,de->abcde", "ab,cd,de->be", "ab,bcd,cd->abcd",
    "ab,bcd,cd->abd", "eb,cb,fb->cef", "dd,fb,be,cdb->cef", "bca,cdb,dbf,afc->",
    "dcc,fce,ea,dbf->ab", "fdf,cdd,ccd,afe->ae", "abcd,ad", "ed,fcd,ff,bcf->be",
    "baa,dcf,af,cde->be", "bd,db,eac->ace", "fff,fae,bef,def->abd", "efc,dbc,acf,fd->abe",
    "ba,ac,da->bcd", "ab,ab", "ab,ba", "abc,abc", "abc,bac", "abc,cba", "aab,fa,df,ecc->bde",
    "ecb,fef,bad,ed->ac", "bcf,bbb,fbf,fc->", "bb,ff,be->e", "bcb,bb,fc,fff->",
    "fbb,dfd,fc,fc->", "afd,ba,cc,dc->bf", "adb,bc,fa,cfc->d", "bbd,bda,fc,db->acf",
    "dba,ead,cad->bce", "aef,fbc,dca->bde",
    # and its other einsum strings without '...'
    "ii", "ii->i", "iii->i", "jii->ij", "ij", "ji", "ij,jk", "ij,jk,kl", "ijk->jik", "i->",
    "i,i", "i,j", "ij,j", "ji,j", "ij,i->", "ji,i->", "i,ij->", "i,i,i->i", "i,i,i,i->",
    "ijk,jil->kl", "ijkl,k", "ijkl,k->ijl", "ijij->", "aabb->ab", "bbcdc->d", "ij,ij->j",
    "ij->j", "ijk,j->ijk", "im,im,im->m", "mi,mi,mi->m", "x,yx,zx->xzy".replace("x", "a")
    .replace("y", "b").replace("z", "c"), "ijklm,ijn,ijn->".replace("l", "e").replace(
        "m", "f").replace("n", "g").replace("k", "d"),
]


@pytest.mark.parametrize("subscripts", NUMPY_STRINGS)
def test_numpy_einsum_strings(subscripts: str) -> None:
    sizes = dict(SIZES, i=3, j=4, k=2, l=3, m=2)
    check(subscripts, *operands(subscripts, sizes))


@pytest.mark.parametrize("subscripts,shapes", [
    ("...", [(2, 3)]), ("...,...", [(2, 1), (3,)]), ("...i,...i", [(2, 3), (3,)]),
    ("...i->...", [(2, 3)]), ("...ii->...i", [(2, 3, 3)]), ("...ii->i...", [(2, 3, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 5)]), ("i...->...", [(2, 3)]),
    ("i...i->...i", [(3, 2, 3)]), ("i...i->i...", [(3, 2, 3)]), ("ii...->...i", [(3, 3, 2)]),
    ("ii...->i...", [(3, 3, 2)]), ("i...,i...", [(2, 3), (2, 3)]),
    ("ij...,j->ij...", [(2, 3, 4), (3,)]), ("ij...,j...->ij...", [(2, 3, 4), (3, 4)]),
    ("ij...,j...->i...", [(2, 3, 4), (3, 4)]), ("ij...,...j->ij...", [(2, 3, 4), (4, 3)]),
    ("ik,k...->i...", [(2, 3), (3, 4)]), ("ik...,k...->i...", [(2, 3, 4), (3, 4)]),
    ("ik...,...kj->i...j", [(2, 3, 4), (4, 3, 5)]), ("...k,kj", [(2, 3), (3, 4)]),
    ("...kl,k", [(2, 3, 4), (3,)]), ("...kl,k...", [(2, 3, 4), (3, 2)]),
    ("...lmn,...lmno->...o", [(2, 2, 3, 2), (2, 3, 2, 4)]),
    ("...lmn,lmno->...o", [(5, 2, 3, 2), (2, 3, 2, 4)]),
    ("...ft,mf->...mt", [(2, 3, 5), (4, 3)]), (",i->", [(), (3,)]), (",i->i", [(), (3,)]),
    ("i,->", [(3,), ()]), ("cl,cpx->lpx", [(2, 3), (2, 4, 5)]),
    # numpy's singleton-broadcasting cases (test_singleton_broadcasting)
    ("ijp,ipq,ikq->ijk", [(3, 1, 1), (3, 1, 3), (1, 3, 3)]),
    ("jhcabhijaci,dfijejgh->fgje", [(1, 1, 1, 1, 3, 1, 1, 1, 1, 1, 1),
                                    (3, 1, 3, 1, 1, 1, 1, 2)]),
    ("baegffahgc,hdggeff->dhg", [(2, 1, 4, 1, 1, 1, 1, 2, 1, 1), (1, 1, 1, 1, 4, 1, 1)]),
    ("cehgbaifff,fhhdegih->cdghbi", [(1,) * 10, (2, 1, 1, 2, 4, 1, 1, 1)]),
    ("gah,cdbcghefg->ef", [(2, 3, 1), (1, 3, 1, 1, 1, 2, 1, 4, 1)]),
    ("cacc,bcb->", [(1, 1, 1, 1), (1, 4, 1)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]), ("ij,jk", [(1, 3), (1, 2)]), ("ij,jk", [(2, 1), (3, 2)]),
    ("ijk,kl,jl", [(1, 5, 4), (4, 6), (5, 6)]), ("ijk,kl,jl,i->i", [(1, 5, 4), (4, 6), (5, 6),
                                                                   (10,)]),
    ("abjk,kl,jl", [(1, 1, 5, 4), (4, 6), (5, 6)]),
    ("abjk,kl,jl,ab->ab", [(1, 1, 5, 4), (4, 6), (5, 6), (7, 7)]),
    ("obk,ijk->ioj", [(2, 4, 8), (2, 4, 8)]), ("ij->", [(2, 0)]), ("ij->i", [(2, 0)]),
])
def test_ellipsis_broadcasting_and_scalars(subscripts: str, shapes: list[tuple[int, ...]]) -> None:
    rng = np.random.default_rng(2)
    check(subscripts, *[rng.normal(size=s) for s in shapes])


def test_sublist_form() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    check(a, [0, 1], [1, 0])  # the example, which crashed
    check(a, [0, 1])  # implicit output
    check(a, [0, 1], b, [1, 2], [0, 2])
    check(a, [0, 1], b, [1, 2])
    check(rng.normal(size=(3, 3)), [0, 0], [0])
    check(rng.normal(size=(2, 3, 3)), [Ellipsis, 1, 1], [Ellipsis, 1])
    check(a, [Ellipsis, 1], rng.normal(size=3), [1], [Ellipsis])
    check(a, [51, 26], [26, 51])  # 51 is 'z', 26 is 'a' (numpy's mapping)


def test_greedy_path_for_three_operands() -> None:
    """The contraction order is numpy's greedy one: here (b, c) first, the cheap pair."""
    rng = np.random.default_rng(4)
    a, b, c = rng.normal(size=(30, 2)), rng.normal(size=(2, 30)), rng.normal(size=(30, 1))
    g = trace(lambda a, b, c: np.einsum("ij,jk,kl->il", a, b, c), (a, b, c),
              concrete=False).graph
    matmuls = [e for e in g.eqns if e.prim == "matmul"]
    path = np.einsum_path("ij,jk,kl->il", a, b, c, optimize="greedy")[0]
    assert path[1] == (1, 2)
    assert tuple(matmuls[0].inputs[0].shape) == (1, 2, 30)  # b, then c
    (got,) = evaluate(g, a, b, c)
    np.testing.assert_allclose(got, a @ b @ c)


@pytest.mark.parametrize("args,match", [
    (("ij,jk", (2, 3), (4, 5)), "broadcast"), (("ii", (2, 3)), "collapsing"),
    (("i->j", (3,)), "never appears"), (("ii->ii", (3, 3)), "more than once"),
    (("...i->i", (2, 3)), "'...'"), (("ij", (3,)), "do not match"), (("i,j", (3,)), "operand"),
    (("i$", (3, 3)), "letters"), (("i->->i", (3,)), "'->'"),
])
def test_errors_like_numpy(args: tuple[Any, ...], match: str) -> None:
    subs, *shapes = args
    arrays = [np.ones(s) for s in shapes]
    with pytest.raises(ValueError):
        np.einsum(subs, *arrays)
    with pytest.raises(adjit.AdjitError, match=match):
        trace(lambda *xs: np.einsum(subs, *xs), arrays, concrete=False)


def test_compiled_gradients() -> None:
    """Through numba: a trace, a 3-operand chain, and the sublist form, with gradients."""
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(3, 3)), rng.normal(size=(3, 4))

    def f(a, b):
        return (np.einsum("ii->", a) * np.einsum("ij,jk,kl->il", a, a, b).sum()
                + np.einsum(a, [0, 1], [1, 0]).sum() ** 2 + np.einsum("ii->i", a) @ b[:, 0])

    v, (ga, gb) = adjit.value_and_grad(f, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(v, f(a, b))
    eps = 1e-6
    for arr, g, k in ((a, ga, 0), (b, gb, 1)):
        d = rng.normal(size=arr.shape)
        args_p = [a, b]
        args_m = [a, b]
        args_p[k] = arr + eps * d
        args_m[k] = arr - eps * d
        fd = (f(*args_p) - f(*args_m)) / (2 * eps)
        np.testing.assert_allclose(np.sum(g * d), fd, rtol=1e-6)


# ---- generated expressions ----------------------------------------------------------------

@st.composite
def expressions(draw: Any) -> tuple[str, list[tuple[int, ...]]]:
    labels = "abcd"
    sizes = {c: draw(st.integers(1, 3)) for c in labels}
    n_ell = draw(st.integers(0, 2))
    ell_sizes = [draw(st.integers(1, 3)) for _ in range(n_ell)]
    terms, shapes = [], []
    for _ in range(draw(st.integers(1, 4))):
        term = draw(st.lists(st.sampled_from(labels), max_size=4))
        shape = [sizes[c] if draw(st.integers(0, 4)) != 0 else 1 for c in term]
        # a repeated label within one operand must have one size there
        for c in set(term):
            same = [shape[i] for i, t in enumerate(term) if t == c]
            for i, t in enumerate(term):
                if t == c:
                    shape[i] = same[0]
        text = "".join(term)
        if n_ell and draw(st.booleans()):
            k = draw(st.integers(0, n_ell))
            at = draw(st.integers(0, len(term)))
            dims = [1 if draw(st.integers(0, 3)) == 0 else d for d in ell_sizes[n_ell - k:]]
            text = text[:at] + "..." + text[at:]
            shape = shape[:at] + dims + shape[at:]
        terms.append(text)
        shapes.append(tuple(shape))
    subs = ",".join(terms)
    if draw(st.booleans()):
        seen = sorted({c for t in terms for c in t if c.isalpha()})
        out = draw(st.permutations(seen).map(lambda p: "".join(p)))
        out = out[:draw(st.integers(0, len(out)))]
        if any("..." in t for t in terms):
            at = draw(st.integers(0, len(out)))
            out = out[:at] + "..." + out[at:]
        subs += "->" + out
    return subs, shapes


@settings(max_examples=150, deadline=None)
@given(expressions())
def test_generated_expressions(case: tuple[str, list[tuple[int, ...]]]) -> None:
    subs, shapes = case
    rng = np.random.default_rng(6)
    arrays = [rng.normal(size=s) for s in shapes]
    try:
        np.einsum(subs, *arrays)
    except ValueError:
        with pytest.raises(adjit.AdjitError):
            trace(lambda *xs: np.einsum(subs, *xs), arrays, concrete=False)
        return
    check(subs, *arrays)
