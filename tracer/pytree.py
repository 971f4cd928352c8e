"""Pytrees: nested tuples, lists, dicts and namedtuples of arrays and numbers, as JAX has them.

`flatten(x)` gives the leaves in a fixed order (dict keys sorted, as JAX sorts them) and a
hashable `Tree` that `unflatten` fills back in; `paths(tree)` names each leaf the way the
user writes it (`params['w']`, `layers[0]`). Anything that is not one of these containers is
a leaf. `None` is an empty subtree (no leaf), so optional parts of a structure cost nothing.
"""
from __future__ import annotations

from typing import Any, Sequence

# A tree: None for a leaf; ("none",) for None; otherwise (kind, aux, children), where kind is
# "tuple", "list", "dict" (aux: the sorted keys) or "namedtuple" (aux: the class).
Tree = Any
LEAF: Tree = None
NONE: Tree = ("none",)


def is_container(x: Any) -> bool:
    return x is None or type(x) in (tuple, list, dict) or _is_namedtuple(x)


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def flatten(x: Any) -> tuple[list[Any], Tree]:
    leaves: list[Any] = []
    return leaves, _flatten(x, leaves)


def _flatten(x: Any, leaves: list[Any]) -> Tree:
    if x is None:
        return NONE
    t = type(x)
    if t is tuple or t is list:
        return (t.__name__, None, tuple(_flatten(c, leaves) for c in x))
    if t is dict:
        keys = tuple(sorted(x, key=_sort_key))
        return ("dict", keys, tuple(_flatten(x[k], leaves) for k in keys))
    if _is_namedtuple(x):
        return ("namedtuple", t, tuple(_flatten(c, leaves) for c in x))
    leaves.append(x)
    return LEAF


def _sort_key(k: Any) -> Any:
    return (type(k).__name__, k)


def unflatten(tree: Tree, leaves: Sequence[Any]) -> Any:
    it = iter(leaves)
    out = _unflatten(tree, it)
    return out


def _unflatten(tree: Tree, it: Any) -> Any:
    if tree is LEAF:
        return next(it)
    if tree == NONE:
        return None
    kind, aux, children = tree
    items = [_unflatten(c, it) for c in children]
    if kind == "tuple":
        return tuple(items)
    if kind == "list":
        return items
    if kind == "dict":
        return dict(zip(aux, items, strict=True))
    return aux(*items)


def count(tree: Tree) -> int:
    if tree is LEAF:
        return 1
    if tree == NONE:
        return 0
    return sum(count(c) for c in tree[2])


def paths(tree: Tree, prefix: str) -> list[str]:
    """Each leaf's name as the user writes it, from `prefix` (the argument's name)."""
    if tree is LEAF:
        return [prefix]
    if tree == NONE:
        return []
    kind, aux, children = tree
    if kind == "dict":
        steps = [f"[{k!r}]" for k in aux]
    elif kind == "namedtuple":
        steps = [f".{f}" for f in aux._fields]
    else:
        steps = [f"[{i}]" for i in range(len(children))]
    return [p for step, c in zip(steps, children, strict=True) for p in paths(c, prefix + step)]


def flatten_arguments(args: Sequence[Any], static: Sequence[int]
                      ) -> tuple[list[Any], list[bool], list[Tree | None]]:
    """The leaves of a call's arguments, which of them are static, and each argument's tree
    (None for a static or plain argument). Python ints and bools inside a structure are
    static, as they are at the top level (tracer/trace.py)."""
    flat: list[Any] = []
    flat_static: list[bool] = []
    trees: list[Tree | None] = []
    for i, a in enumerate(args):
        if i in static or not is_container(a):
            flat.append(a)
            flat_static.append(i in static)
            trees.append(None)
            continue
        leaves, tree = flatten(a)
        flat.extend(leaves)
        flat_static.extend(type(leaf) in (int, bool) for leaf in leaves)
        trees.append(tree)
    return flat, flat_static, trees


def regroup(trees: Sequence[Tree | None], flat: Sequence[Any]) -> list[Any]:
    """`flatten_arguments` undone: one value per argument."""
    out: list[Any] = []
    pos = 0
    for tree in trees:
        if tree is None:
            out.append(flat[pos])
            pos += 1
        else:
            n = count(tree)
            out.append(unflatten(tree, flat[pos:pos + n]))
            pos += n
    return out
