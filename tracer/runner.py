"""A recorded operation's graph as a Python function on arrays (record._Op's `run`).

The recorded front end runs an operation's graph on the inputs' arrays once per operation
recorded, so this is on its hot path: the function is written for the graph (one call per
equation, literals bound once), with nothing left to decide at run time but what could
differ from the graph's types.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from adjit.ir import Graph

try:  # numpy's error state, set directly: np.errstate costs several microseconds
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj

    _IGNORE = _make_extobj(all="ignore")
    # the context variable's own methods, called by the written function with no Python
    # function around them (a wrapper costs as much as the switch itself)
    _quiet, _loud = _extobj_contextvar.set, _extobj_contextvar.reset
except (ImportError, AttributeError, TypeError):  # pragma: no cover - another numpy
    _IGNORE = "ignore"

    def _quiet(all: str) -> Any:  # noqa: A002 - np.errstate's keyword
        state = np.errstate(all=all)
        state.__enter__()
        return state

    def _loud(token: Any) -> None:
        token.__exit__(None, None, None)


def runner(graph: Graph) -> Callable[[Sequence[np.ndarray]], tuple[np.ndarray, ...]]:
    """`evaluate(graph, *arrays)` for arrays of the graph's input types (the cache key of a
    recorded operation says they are), as a Python function written for this graph: one
    call per equation (the primitive's reference impl, or the faster kernel the runtime
    installed for it, tracer/kernels.py, writing into an array allocated here), literals
    bound once, and an output copied only where it could share
    memory with an input or a literal (a view, an input, a literal, one output twice) or is
    not C-contiguous (a transposed result: the compiled backward reads these arrays, and
    numba's code for arrays of any layout is slower and compiled separately). numpy's
    warnings are off while it runs (a recorded overflow gives inf, as in PyTorch)."""
    from adjit.ir import Lit
    from adjit.ir.primitive import PRIMS

    from .kernels import kernel

    glob: dict[str, Any] = {"ndarray": np.ndarray, "_quiet": _quiet, "_loud": _loud,
                            "_IGNORE": _IGNORE, "_fix": _fix, "_copy": _copy_c,
                            "_empty": np.empty, "_c": np.ascontiguousarray}
    names: dict[int, str] = {}
    lines = []
    args = []
    for i, v in enumerate(graph.inputs):
        names[id(v)] = f"x{i}"
        args.append(f"x{i}")
        glob[f"d{i}"] = v.type.np_dtype
    body = [f"    {', '.join(args)}{',' if len(args) == 1 else ''} = arrays"] if args else []
    for i in range(len(args)):  # a uint8 array for an i64 input (dtype_name widens it)
        body.append(f"    if x{i}.dtype is not d{i} and x{i}.dtype != d{i}: "
                    f"x{i} = x{i}.astype(d{i})")

    def name(v: Any) -> str:
        if isinstance(v, Lit):
            k = f"c{len(glob)}"
            glob[k] = v.value
            return k
        return names[id(v)]

    for j, eqn in enumerate(graph.eqns):
        prim = PRIMS[eqn.prim]
        params = dict(eqn.params)
        fast = (kernel(eqn.prim) if len(eqn.outputs) == 1
                and not any(isinstance(v, Lit) for v in eqn.inputs) else None)
        if fast is not None:  # out = _empty(shape, dtype); k(*inputs, out, **params)
            n = names[id(eqn.outputs[0])] = f"v{j}_0"
            glob[f"k{j}"], glob[f"p{j}"] = fast, params
            out = eqn.outputs[0].type
            glob[f"t{j}_0"], glob[f"s{j}_0"] = out.np_dtype, out.shape
            ins = "".join(f"_c({name(v)}), " for v in eqn.inputs)
            lines.append(f"        {n} = _empty(s{j}_0, t{j}_0)")
            lines.append(f"        k{j}({ins}{n}{', **p' + str(j) if params else ''})")
            continue
        # an elementwise primitive's ufunc itself when it has one: its impl is the ufunc's
        # result made an array, which the check after the call does here (with `_fix`)
        ufunc = None if params else prim.extra.get("ufunc")
        glob[f"f{j}"] = ufunc or prim.impl
        glob[f"p{j}"] = params
        call = f"f{j}({', '.join(name(v) for v in eqn.inputs)}{', **p' + str(j) if params else ''})"
        outs = []
        for k, o in enumerate(eqn.outputs):
            n = f"v{j}_{k}"
            names[id(o)] = n
            glob[f"t{j}_{k}"] = o.type.np_dtype
            glob[f"s{j}_{k}"] = o.type.shape
            outs.append(n)
        if len(outs) == 1:
            n = outs[0]
            lines.append(f"        {n} = {call}")
            lines.append(f"        if type({n}) is not ndarray or {n}.dtype is not t{j}_0 and "
                         f"{n}.dtype != t{j}_0 or {n}.shape != s{j}_0: "
                         f"{n} = _fix({n}, t{j}_0, s{j}_0)")
        else:
            lines.append(f"        r = {call}")
            for k, n in enumerate(outs):
                lines.append(f"        {n} = _fix(r[{k}], t{j}_{k}, s{j}_{k})")
    if lines:
        body += ["    token = _quiet(_IGNORE)", "    try:", *lines, "    finally:",
                 "        _loud(token)"]
    results = []
    seen: set[str] = set()
    for v in graph.outputs:
        n = name(v)
        if isinstance(v, Lit) or n in seen or n.startswith("x"):
            results.append(f"_copy({n})")
        else:
            results.append(f"({n} if {n}.base is None and {n}.flags.c_contiguous "
                           f"else _copy({n}))")
        seen.add(n)
    body.append(f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})")
    src = "def run(arrays):\n" + "\n".join(body) + "\n"
    exec(compile(src, f"<recorded {graph.name}>", "exec"), glob)  # noqa: S102 - our own text
    return glob["run"]


def _copy_c(a: Any) -> np.ndarray:
    return np.array(a, order="C")  # (np.ascontiguousarray would make a 0-d array 1-d)


def _fix(r: Any, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(r, dtype=dtype)  # (a numpy scalar, as numpy's reductions to 0-d give)
    return a if a.shape == shape else a.reshape(shape)  # (a reshaped array is a view)
