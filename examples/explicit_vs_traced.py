"""Explicit (declared) vs implicit (traced) graph construction, and the tutorial's picture.

The seed tutorial draws `z = w*x + b` and its backward graph. Here the same graph is
built both ways, compared, and drawn: forward nodes blue, adjoint nodes red, pruned
nodes faded. Run: python examples/explicit_vs_traced.py [outdir]
"""
from __future__ import annotations

import pathlib
import shutil
import sys

import numpy as np

import adjit

ex = adjit.explicit


def z(w: np.ndarray, x: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(w * x + b)


def main(outdir: str = ".") -> None:
    out = pathlib.Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    w, x, b = rng.normal(size=3), np.ones(3), rng.normal(size=3)

    # Declared: variables first, then the formula, then the gradient graph, then compile.
    with ex.declaring():
        wv, xv, bv = ex.var("w", (3,)), ex.var("x", (3,)), ex.var("b", (3,))
        zv = ex.sum(wv * xv + bv)
        gw, gb = ex.gradients(zv, [wv, bv])
        fn = ex.function([wv, xv, bv], [zv, gw, gb])
        print("declared gradient graph of w:\n", gw.graph, sep="")
        print("declared function:", fn(w, x, b))

    # Traced: run the Python function; the same graph comes out.
    print(adjit.compare(z, w, x, b, declared=lambda w, x, b: ex.sum(w * x + b)))

    # Pictures: the joint forward+backward graph, with what pruning removed faded
    # (x is not differentiated, so its cotangent is pruned).
    ins = adjit.inspect(adjit.grad(z, argnums=(0, 2)), w, x, b)
    for stage in ("traced", "pruned"):
        path = out / f"z_{stage}.dot"
        path.write_text(ins.to_dot(stage))
        print("wrote", path)
        if shutil.which("dot"):
            print("wrote", ins.render(str(out / f"z_{stage}.svg"), stage))


if __name__ == "__main__":
    main(*sys.argv[1:])
