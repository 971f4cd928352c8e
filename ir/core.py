"""The IR's data model: types, values, equations and graphs.

Everything here is immutable. A `Var` is an SSA value and compares by identity;
a `Lit` is a constant and compares by value, so common-subexpression elimination
can match equal constants. An `Eqn` applies one primitive (by name, looked up in
`ir.primitive.PRIMS`) to input values and defines new output `Var`s. A `Graph`
has inputs, equations in a valid topological order, and outputs. Control-flow
primitives keep their sub-graphs in params, so a `Graph` nests.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

# Short dtype names used in the text IR, and their numpy dtypes.
DTYPES: dict[str, np.dtype] = {
    "f32": np.dtype(np.float32),
    "f64": np.dtype(np.float64),
    "c64": np.dtype(np.complex64),
    "c128": np.dtype(np.complex128),
    "i32": np.dtype(np.int32),
    "i64": np.dtype(np.int64),
    "bool": np.dtype(np.bool_),
}
_NAME_OF = {v: k for k, v in DTYPES.items()}
FLOAT_DTYPES = ("f32", "f64")
COMPLEX_DTYPES = ("c64", "c128")
INT_DTYPES = ("i32", "i64")
# complex <-> real of the same precision
REAL_OF = {"c64": "f32", "c128": "f64"}
COMPLEX_OF = {"f32": "c64", "f64": "c128"}


def dtype_name(dt: Any) -> str:
    """The IR name ('f64', 'i64', ...) of a numpy dtype-like value."""
    dt = np.dtype(dt)
    if dt in _NAME_OF:
        return _NAME_OF[dt]
    if dt.kind in "iu":
        return "i64"
    if dt.kind == "f":
        return "f64"
    if dt.kind == "c":
        return "c128"
    raise TypeError(f"adjit does not support arrays of dtype {dt}")


@dataclass(frozen=True, slots=True)
class ArrayType:
    """dtype (an IR dtype name) and a static shape."""

    dtype: str
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}")
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def np_dtype(self) -> np.dtype:
        return DTYPES[self.dtype]

    @property
    def is_float(self) -> bool:
        """Whether values of this type carry derivatives: real floats and complex."""
        return self.dtype in FLOAT_DTYPES or self.dtype in COMPLEX_DTYPES

    @property
    def is_complex(self) -> bool:
        return self.dtype in COMPLEX_DTYPES

    @property
    def is_real_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    def with_shape(self, shape: tuple[int, ...]) -> ArrayType:
        return ArrayType(self.dtype, tuple(shape))

    def with_dtype(self, dtype: str) -> ArrayType:
        return ArrayType(dtype, self.shape)

    def __str__(self) -> str:
        return f"{self.dtype}[{','.join(str(d) for d in self.shape)}]"

    @staticmethod
    def of(array: Any) -> ArrayType:
        a = np.asarray(array)
        return ArrayType(dtype_name(a.dtype), a.shape)


@dataclass(frozen=True, slots=True)
class Loc:
    """Where in the user's source an equation came from."""

    file: str
    line: int
    func: str = ""
    source: str = ""  # the source line, stripped of its newline
    col: int | None = None
    end_col: int | None = None

    def short(self) -> str:
        import os

        return f"{os.path.basename(self.file)}:{self.line}"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where} in {self.func}" if self.func else where


class _Typed:
    """What every value offers: its shape and dtype, read off its `type`."""

    __slots__ = ()
    type: ArrayType

    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape

    @property
    def dtype(self) -> str:
        return self.type.dtype


@dataclass(frozen=True, slots=True, eq=False)
class Var(_Typed):
    """An SSA value. Identity is the value: two Vars are equal only if they are the same."""

    type: ArrayType
    name: str | None = None

    def __repr__(self) -> str:
        return f"Var({self.name or hex(id(self))}: {self.type})"


@dataclass(frozen=True, slots=True, eq=False)
class Lit(_Typed):
    """A constant. Scalars are the common case; arrays are allowed (closed-over data)."""

    value: np.ndarray
    type: ArrayType

    @staticmethod
    def make(value: Any, dtype: str | None = None) -> Lit:
        arr = np.asarray(value)
        dt = dtype or dtype_name(arr.dtype)
        arr = np.array(arr, dtype=DTYPES[dt])  # private copy: the IR must not see later mutation
        arr.setflags(write=False)
        return Lit(arr, ArrayType(dt, arr.shape))

    @property
    def is_scalar(self) -> bool:
        return self.type.ndim == 0

    def scalar(self) -> Any:
        return self.value.item()

    def _key(self) -> tuple:
        return (self.type, self.value.tobytes())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Lit) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Lit({self.value.tolist()!r}: {self.type})"


Value = Var | Lit


@dataclass(frozen=True, slots=True, eq=False)
class Eqn:
    """`outputs = prim(inputs; params)`. `role`: '' for user code, 'vjp(tanh)' for adjoint work."""

    prim: str
    inputs: tuple[Value, ...]
    outputs: tuple[Var, ...]
    params: tuple[tuple[str, Any], ...] = ()
    loc: Loc | None = None
    role: str = ""

    @property
    def out(self) -> Var:
        (o,) = self.outputs
        return o

    @property
    def p(self) -> dict[str, Any]:
        return dict(self.params)

    def replace(self, **changes: Any) -> Eqn:
        return dataclasses.replace(self, **changes)

    def subgraphs(self) -> Iterator[tuple[str, Graph]]:
        for k, v in self.params:
            if isinstance(v, Graph):
                yield k, v
            elif isinstance(v, tuple) and v and all(isinstance(g, Graph) for g in v):
                for i, g in enumerate(v):
                    yield f"{k}[{i}]", g


def make_params(params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Params are a sorted tuple of pairs so equations hash and print deterministically."""
    return tuple(sorted((k, _freeze(v)) for k, v in params.items()))


def _freeze(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, tuple):
        return tuple(_freeze(x) for x in v)
    return v


@dataclass(frozen=True, slots=True, eq=False)
class Graph:
    """A function: named inputs, equations in order, outputs (Vars or Lits)."""

    name: str
    inputs: tuple[Var, ...]
    eqns: tuple[Eqn, ...]
    outputs: tuple[Value, ...]
    notes: tuple[str, ...] = field(default=())  # comment lines printed under the header

    @property
    def in_types(self) -> tuple[ArrayType, ...]:
        return tuple(v.type for v in self.inputs)

    @property
    def out_types(self) -> tuple[ArrayType, ...]:
        return tuple(v.type for v in self.outputs)

    def replace(self, **changes: Any) -> Graph:
        return dataclasses.replace(self, **changes)

    def format(self, locs: bool = True) -> str:
        from .printer import format_graph

        return format_graph(self, locs=locs)

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return f"<Graph {self.name}: {len(self.eqns)} eqns>"

    def to_dot(self, **kwargs: Any) -> str:
        from .dot import to_dot

        return to_dot(self, **kwargs)
