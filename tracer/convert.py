"""From a function object to its converted twin: source, rewrite, compile, same closure.

`converted(fn)` returns a function that behaves like `fn` on Python values but whose
`if`/`while`/`for` on traced values become `cond`/`while` equations (tracer/autograph.py
rewrites the ast; tracer/control.py decides at run time). The source comes from
`inspect`, is parsed at its original indentation and line numbers, and is compiled with
the original file name, so tracebacks, `Loc`s and carets point at the user's lines. The
converted code object is cached per original code object, the function per function
object.

Closures: the rewritten `def` is compiled inside a factory `def ag__factory(ag__, *freevars)`,
so its free variables are the original's plus `ag__`; the new function gets the
original's globals, defaults and closure cells (the same cells, so later rebinding of a
closed-over name is seen), plus a cell holding this module's `Namespace`.

Anything that cannot be converted (no source: builtins, REPL lambdas; a construct the
rewrite refuses) runs unconverted; `why_unconverted(fn)` says why.
"""
from __future__ import annotations

import __future__
import ast
import copy
import dis
import inspect
import linecache
import os
import sysconfig
import types
import weakref
from typing import Any, Callable

import numpy as np

from adjit.runtime.gcpause import gc_paused

from . import control, pybuiltins
from .autograph import AG, Unsupported, convert
from .undefined import UndefinedReturn, undefined

_CODES: dict[types.CodeType, types.CodeType | None] = {}
_WHY: dict[types.CodeType, str] = {}
_SOURCE: dict[types.CodeType, str] = {}  # the rewritten def, as Python text
_MADE: set[types.CodeType] = set()  # code objects this module produced (already converted)
_FUNCS: weakref.WeakKeyDictionary[types.FunctionType, Callable[..., Any]] = \
    weakref.WeakKeyDictionary()


class Namespace:
    """What converted code calls `ag__`: the control-flow helpers, and `cv`, which decides
    what a call `f(...)` calls."""

    if_stmt = staticmethod(control.if_stmt)
    while_stmt = staticmethod(control.while_stmt)
    for_stmt = staticmethod(control.for_stmt)
    range_ = staticmethod(control.range_)
    if_exp = staticmethod(control.if_exp)
    and_ = staticmethod(control.and_)
    or_ = staticmethod(control.or_)
    not_ = staticmethod(control.not_)
    chain = staticmethod(control.chain)
    undefined = staticmethod(undefined)
    UndefinedReturn = UndefinedReturn
    ret = staticmethod(control.ret)

    def __init__(self, module_globals: dict[str, Any]) -> None:
        self.module_globals = module_globals

    def cv(self, f: Any) -> Any:
        """`f` itself, its adjit-aware replacement (max, min, sum, float, np.array; a numpy
        function given a list of traced values), or, for a plain function of the same
        module or of any module of the user's (not a library's), its converted version."""
        if isinstance(f, (types.FunctionType, types.MethodType)):
            fn = f.__func__ if isinstance(f, types.MethodType) else f
            if not isinstance(fn, types.FunctionType):
                return f
            return converted(f) if (fn.__globals__ is self.module_globals
                                    or not library_code(fn.__code__.co_filename)) else f
        if isinstance(f, types.BuiltinFunctionType):
            return pybuiltins.REPLACEMENTS.get(f, f)
        if f is float:
            return pybuiltins.py_float
        if isinstance(f, _DISPATCHER) and f in _numpy_functions():
            return pybuiltins.lists_packed(f)
        return f


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    roots |= {os.path.join(here, d) for d in ("tracer", "ir", "passes", "codegen", "runtime",
                                               "adjit")}  # adjit's own stage folders
    return tuple(os.path.join(os.path.abspath(r), "") for r in roots)


_LIBRARY_ROOTS = _library_roots()


def library_code(filename: str) -> bool:
    """Code of Python's standard library, of an installed package (numpy, scipy, ...) or of
    adjit: called from converted code, it runs as written. Everything else is the user's, and
    is converted wherever it is called from, as TensorFlow's autograph converts recursively:
    a loss in one module whose helper in another branches on a traced value compiles, and so
    does the user's function when a transformation's own wrapper calls it."""
    return filename.startswith("<") or os.path.abspath(filename).startswith(_LIBRARY_ROOTS)
_DISPATCHER = type(np.mean)  # numpy's functions that dispatch __array_function__


def _numpy_functions() -> dict[Any, Any]:
    from .numpy_api import FUNCTIONS

    return FUNCTIONS


def converted(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The converted version of a function or bound method; anything else unchanged."""
    if isinstance(fn, types.MethodType):
        inner = converted(fn.__func__)
        return fn if inner is fn.__func__ else types.MethodType(inner, fn.__self__)
    if not isinstance(fn, types.FunctionType) or fn.__code__ in _MADE:
        return fn
    try:
        return _FUNCS[fn]
    except KeyError:
        pass
    code = _converted_code(fn)
    result = fn if code is None else _rebuild(fn, code)
    _FUNCS[fn] = result
    return result


def user_converted(f: Any) -> Any:
    """`converted(f)` for a function of the user's (not a library's, nor adjit's), else `f`:
    what adjit itself calls on traced values (a custom_vjp's fwd and bwd, a custom_jvp's
    rule, a checkpointed function), as converted code calls it (`Namespace.cv`)."""
    fn = getattr(f, "__func__", f)
    if isinstance(fn, types.FunctionType) and not library_code(fn.__code__.co_filename):
        return converted(f)
    return f


def converted_source(fn: Callable[..., Any]) -> str | None:
    """The rewritten source of `fn` (None if it runs unconverted)."""
    fn = getattr(fn, "__func__", fn)
    if not isinstance(fn, types.FunctionType):
        return None
    code = _converted_code(fn) if fn.__code__ not in _MADE else fn.__code__
    return _SOURCE.get(code) if code is not None else None


def why_unconverted(fn: Callable[..., Any]) -> str | None:
    """Why `fn` runs unconverted (None if it is converted, or never was asked for)."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    return _WHY.get(code) if code is not None else "it is not a Python function"


def why_unconverted_code(code: types.CodeType) -> str | None:
    return _WHY.get(code)


def _rebuild(fn: types.FunctionType, code: types.CodeType) -> types.FunctionType:
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True))
    closure = tuple(types.CellType(Namespace(fn.__globals__)) if name == AG else cells[name]
                    for name in code.co_freevars)
    new = types.FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__,
                             closure or None)
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__qualname__ = fn.__qualname__
    new.__module__ = fn.__module__
    new.__doc__ = fn.__doc__
    return new


def _converted_code(fn: types.FunctionType) -> types.CodeType | None:
    code = fn.__code__
    if code not in _CODES:
        try:
            with gc_paused():  # parsing and compiling its source: bounded work
                _CODES[code] = _convert_code(fn)
        except Unsupported as e:
            _CODES[code], _WHY[code] = None, str(e)
        except (OSError, TypeError, SyntaxError, IndexError, ValueError) as e:
            _CODES[code], _WHY[code] = None, f"its source is not available ({e})"
    return _CODES[code]


_SKIP_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR \
    | inspect.CO_ITERABLE_COROUTINE


def _convert_code(fn: types.FunctionType) -> types.CodeType | None:
    code = fn.__code__
    if code.co_flags & _SKIP_FLAGS:
        raise Unsupported("it is a generator or coroutine")
    if "__class__" in code.co_freevars:
        raise Unsupported("it uses super() or __class__")
    node = _parse_lambda(fn) if code.co_name == "<lambda>" else _parse_def(fn)
    node.decorator_list = []
    # The file may have changed since the function was compiled (an edited module that was
    # not reloaded): convert only the source that compiles to the code Python runs.
    if _fingerprint(_compile_def(copy.deepcopy(node), code)) != _fingerprint(code):
        raise Unsupported("its source file has changed since it was loaded")
    new_def, changed = convert(node)
    if not changed:
        return None
    inner = _rename(_compile_def(new_def, code), code.co_name, code.co_qualname)
    new_def.name = code.co_name
    _SOURCE[inner] = ast.unparse(new_def)
    return inner


_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)


def _fingerprint(code: types.CodeType) -> list[tuple[Any, ...]]:
    """The instructions of `code` (and of the code it nests) with their line numbers, up to
    what the compiler decides from the rest of the module: a method call on a name the module
    imports (`np.sin(x)`) is LOAD_GLOBAL + LOAD_ATTR rather than LOAD_METHOD, which moves
    the jump offsets."""
    out: list[tuple[Any, ...]] = []
    for ins in dis.get_instructions(code):
        arg = None if ins.opcode in _JUMPS else ins.argval
        if isinstance(arg, types.CodeType):
            arg = tuple(_fingerprint(arg))
        elif isinstance(arg, float) and arg != arg:
            arg = "nan"
        name = "LOAD_ATTR" if ins.opname == "LOAD_METHOD" else ins.opname
        # RESUME sits on the first decorator's line, and the rewrite drops decorators.
        line = ins.positions.lineno if ins.positions and name != "RESUME" else None
        out.append((name, repr(arg) if not isinstance(arg, tuple) else arg, line))
    return out


def _compile_def(node: ast.FunctionDef, code: types.CodeType) -> types.CodeType:
    """The code of `node` compiled as `code` was: with its free variables (plus `ag__`) as
    those of an enclosing factory, the file's name and its `from __future__` flags."""
    # Inside the factory the def must not bind the function's own name: a recursive call
    # would then read the factory's local instead of the module's global.
    node.name = "ag__fn"
    factory = ast.FunctionDef(name="ag__factory", args=ast.arguments(
        posonlyargs=[], args=[ast.arg(arg=n) for n in (AG, *code.co_freevars)], vararg=None,
        kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
        body=[node, ast.Return(value=ast.Name(id=node.name, ctx=ast.Load()))],
        decorator_list=[], returns=None, type_comment=None)
    if "type_params" in factory._fields:
        factory.type_params = []
    module = ast.Module(body=[ast.copy_location(factory, node)], type_ignores=[])
    ast.fix_missing_locations(module)
    flags = code.co_flags & __future__.annotations.compiler_flag
    compiled = compile(module, code.co_filename, "exec", flags=flags, dont_inherit=True)
    return _const_code(_const_code(compiled, "ag__factory"), "ag__fn")


def _parse_def(fn: types.FunctionType) -> ast.FunctionDef:
    """The function's `def` as an ast with the file's line numbers and columns."""
    lines, start = inspect.getsourcelines(fn)
    first = lines[0]
    indent = len(first) - len(first.lstrip())
    # An indented def (a method, a nested function) is parsed inside `if 1:` rather than
    # dedented, so that column offsets stay those of the file.
    text = ("if 1:\n" if indent else "") + "".join(lines)
    tree = ast.parse(text)
    node = tree.body[0].body[0] if indent else tree.body[0]
    ast.increment_lineno(tree, start - (2 if indent else 1))
    code = fn.__code__
    if not isinstance(node, ast.FunctionDef) or node.name != code.co_name:
        raise Unsupported("its source does not match its code")
    a = node.args
    params = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    if params != list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]):
        raise Unsupported("its source does not match its code")
    return node


_FILES: dict[str, tuple[str, ast.Module]] = {}


def _parse_lambda(fn: types.FunctionType) -> ast.FunctionDef:
    """A lambda as `def <lambda>(args): return body`. A lambda's source line is often not
    a statement of its own, so the whole file is parsed; of the lambdas on the line, the one
    whose body spans the code's instruction positions is it."""
    code = fn.__code__
    text = "".join(linecache.getlines(code.co_filename, fn.__globals__))
    if not text:
        raise OSError("no source file")
    cached = _FILES.get(code.co_filename)
    if cached is None or cached[0] != text:
        cached = _FILES[code.co_filename] = (text, ast.parse(text))
    params = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    spots = [(p[0], p[2], p[1], p[3]) for p in code.co_positions()
             if p[0] is not None and p[2] is not None and (p[2], p[3]) != (0, 0)]
    found = []
    for node in ast.walk(cached[1]):
        if not isinstance(node, ast.Lambda) or node.lineno != code.co_firstlineno:
            continue
        a = node.args
        if [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)] != params:
            continue
        b = node.body
        start, end = (b.lineno, b.col_offset), (b.end_lineno, b.end_col_offset)
        if all(start <= (line, col) and (end_line, end_col) <= end
               for line, col, end_line, end_col in spots):
            found.append(node)
    if len(found) != 1:
        raise Unsupported("its source could not be told apart from other lambdas on its line")
    lam = copy.deepcopy(found[0])  # the rewrite edits it; the file's tree is cached
    ret = ast.copy_location(ast.Return(value=lam.body), lam.body)
    fn_def = ast.FunctionDef(name="<lambda>", args=lam.args, body=[ret], decorator_list=[],
                             returns=None, type_comment=None)
    if "type_params" in fn_def._fields:
        fn_def.type_params = []
    return ast.copy_location(fn_def, lam)


def _const_code(code: types.CodeType, name: str) -> types.CodeType:
    for c in code.co_consts:
        if isinstance(c, types.CodeType) and c.co_name == name:
            return c
    raise Unsupported(f"compiled code has no function {name}")


def _rename(code: types.CodeType, name: str, qualname: str) -> types.CodeType:
    """Give the converted function its own name back, show the local functions of the
    rewrite under the name of the user's function that contains them (in tracebacks and
    `Loc.func`), and remember every code object as converted."""
    consts = []
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            generated = c.co_name.startswith("ag__f_")
            c = _rename(c, name if generated else c.co_name,
                        qualname if generated else f"{qualname}.<locals>.{c.co_name}")
        consts.append(c)
    changes: dict[str, Any] = {"co_consts": tuple(consts), "co_name": name,
                               "co_qualname": qualname}
    new = code.replace(**changes)
    _MADE.add(new)
    return new
