"""autograph: rewrite a function's ast so that its control flow calls tracer/control.py.

The rewrite is semantics-preserving for Python values (the helpers run plain Python
control flow when the condition is not traced); it only gives the helpers the chance
to emit `cond`/`while` when the condition is traced. Three passes, as in TensorFlow's
autograph:

1. returns: a `return` inside a compound statement becomes `ag__retval = value;
   ag__do_return = True` (plus `break` inside a loop), the statements after it are
   guarded by `if not ag__do_return:`, and the function ends with
   `return ag__.ret(ag__retval)` (`ret` turns the marker "no return ran" into None).
2. jumps: in each loop, `break` and `continue` become flag assignments; the rest of the
   body is guarded by the flags, and a `while` test becomes `not ag__break_N and test`
   (a `for` gets the same as an extra test, checked before each item).
3. control: each `if`/`while`/`for` becomes local functions over the names the statement
   assigns (its *state*: passed in as parameters, returned as a tuple) and a call

       a, b = ag__.if_stmt(test, ag__f_if_true_1, ag__f_if_false_2, (a, b), ('a', 'b'))
       a, b = ag__.while_stmt(ag__f_while_test_3, ag__f_while_body_4, (a, b), ('a', 'b'))
       i, a = ag__.for_stmt(iterable, extra_test, ag__f_for_body_5, (i, a), ('i', 'a'))

   `x if c else y` becomes `ag__.if_exp(c, lambda: x, lambda: y)`; `and`, `or`, `not` and
   comparison chains become `ag__.and_`, `or_`, `not_`, `chain`; `for ... in range(...)`
   iterates `ag__.range_(range, ...)`; a call `f(...)` of a plain name becomes
   `ag__.cv(f)(...)`, which converts the user's functions (not libraries') and replaces the
   builtins `max`, `min` and `sum`. Every state variable is bound to
   `ag__.undefined(name)` at the start of its function, so a state tuple can always be
   read.

New nodes take the location of the statement they replace, and the original nodes keep
theirs, so tracebacks, `Loc`s and carets point at the user's lines. Functions with
constructs the rewrite cannot express faithfully (generators, `global`/`nonlocal`,
`del` of a name, `match`, the walrus operator, `locals()`) raise `Unsupported`; they
run unconverted.
"""
from __future__ import annotations

import ast
import itertools
from typing import Any, Iterable

# `math` functions of a traced number that converted code traces (tracer/pybuiltins.py).
MATH_NAMES = frozenset(["sqrt", "exp", "expm1", "log", "log2", "log10", "log1p", "sin", "cos",
                        "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "fabs",
                        "pow", "hypot", "asinh", "acosh", "atanh", "exp2"])

AG = "ag__"  # the runtime namespace (convert.Namespace), a closure cell of converted code
RETVAL = "ag__retval"
DO_RETURN = "ag__do_return"
ITEM = "ag__item"
_GENERATED_FN = "ag__f_"  # prefix of the local functions pass 3 defines


# Names whose attributes are never the user's functions: calls on them stay as written.
_LIBRARY_NAMES = frozenset(["np", "numpy", "AG"])


def _dotted_name(e: ast.expr, local: set[str]) -> bool:
    """`mod.f` or `mod.sub.f` on a name that is not a local variable (a module or a global
    object: its functions may be the user's); not `x.sum` on a local array, not `f().g`."""
    while isinstance(e, ast.Attribute):
        e = e.value
    return (isinstance(e, ast.Name) and not e.id.startswith(AG) and e.id not in local
            and e.id not in _LIBRARY_NAMES)


def _local_names(fn: ast.FunctionDef) -> set[str]:
    names = {a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)}
    names |= {a.arg for a in (fn.args.vararg, fn.args.kwarg) if a is not None}
    names |= {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)
              and isinstance(n.ctx, ast.Store)}
    return names


class Unsupported(Exception):
    """The function uses a construct the rewrite does not handle; it runs unconverted."""


def convert(fn: ast.FunctionDef) -> tuple[ast.FunctionDef, bool]:
    """The rewritten function definition (without decorators), and whether anything changed."""
    _check_supported(fn)
    fn.decorator_list = []
    before = ast.dump(fn)
    _Returns().visit(fn)
    _Jumps().visit(fn)
    fn = _Control(_local_names(fn)).visit(fn)
    ast.fix_missing_locations(fn)
    return fn, ast.dump(fn) != before


# ---- checks ----------------------------------------------------------------------------------

_FRAME_BUILTINS = {"locals", "vars", "eval", "exec"}


def _check_supported(fn: ast.AST) -> None:
    for node in ast.walk(fn):
        why = None
        if isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await, ast.AsyncFunctionDef,
                             ast.AsyncFor, ast.AsyncWith)):
            why = "it is a generator or coroutine"
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            why = "it declares global or nonlocal names"
        elif isinstance(node, ast.Delete) and any(isinstance(t, ast.Name) for t in node.targets):
            why = "it deletes a local name"
        elif isinstance(node, ast.Match):
            why = "it uses a match statement"
        elif isinstance(node, ast.NamedExpr):
            why = "it uses the walrus operator"
        elif isinstance(node, ast.Name) and node.id.startswith(AG):
            why = f"it uses the name {node.id}, which adjit reserves"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in _FRAME_BUILTINS:
            why = f"it calls {node.func.id}()"
        elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))) and any(
                isinstance(n, (ast.Return, ast.Break, ast.Continue))
                for s in node.finalbody for n in ast.walk(s)):
            why = "it jumps out of a finally block"
        if why:
            raise Unsupported(why)


# ---- small builders --------------------------------------------------------------------------

def _name(name: str, store: bool = False) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Store() if store else ast.Load())


def _call(helper: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Attribute(value=_name(AG), attr=helper, ctx=ast.Load()),
                    args=list(args), keywords=[])


def _assign(name: str, value: ast.expr) -> ast.Assign:
    return ast.Assign(targets=[_name(name, store=True)], value=value)


def _not(name: str) -> ast.expr:
    return ast.UnaryOp(op=ast.Not(), operand=_name(name))


def _none_set(flags: list[str]) -> ast.expr:
    if len(flags) == 1:
        return _not(flags[0])
    return ast.BoolOp(op=ast.And(), values=[_not(f) for f in flags])


def _args(names: Iterable[str]) -> ast.arguments:
    return ast.arguments(posonlyargs=[], args=[ast.arg(arg=n) for n in names], vararg=None,
                         kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])


def _thunk(body: ast.expr) -> ast.Lambda:
    return ast.Lambda(args=_args(()), body=body)


def _tuple(names: list[str], store: bool = False) -> ast.Tuple:
    return ast.Tuple(elts=[_name(n, store) for n in names],
                     ctx=ast.Store() if store else ast.Load())


def _located(new: Any, like: ast.AST) -> Any:
    """Give every node of `new` (a node or list) that has no location the location of `like`."""
    for top in new if isinstance(new, list) else [new]:
        for node in ast.walk(top):
            if "lineno" in node._attributes and not hasattr(node, "lineno"):
                ast.copy_location(node, like)
    return new


def _blocks(s: ast.stmt) -> list[list[ast.stmt]]:
    """The statement lists nested in a compound statement (not in nested scopes)."""
    if isinstance(s, (ast.If, ast.For, ast.While)):
        return [s.body, s.orelse]
    if isinstance(s, ast.With):
        return [s.body]
    if isinstance(s, (ast.Try, getattr(ast, "TryStar", ast.Try))):
        return [s.body, *[h.body for h in s.handlers], s.orelse, s.finalbody]
    return []


def _contains(stmts: list[ast.stmt], kind: type, into_loops: bool) -> bool:
    """Whether `kind` (Return, Break, Continue) occurs in stmts, outside nested scopes; loop
    bodies count only with into_loops (a break there belongs to the inner loop)."""
    for s in stmts:
        if isinstance(s, kind):
            return True
        if isinstance(s, (ast.For, ast.While)) and not into_loops:
            if _contains(s.orelse, kind, into_loops):
                return True
            continue
        if any(_contains(b, kind, into_loops) for b in _blocks(s)):
            return True
    return False


# ---- pass 1: returns -------------------------------------------------------------------------

class _Returns(ast.NodeTransformer):
    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        self.generic_visit(node)  # nested functions have their own returns
        nested = any(_contains(b, ast.Return, True) for s in node.body for b in _blocks(s))
        if not nested:
            return node
        # Falling off the end returns None, which a traced merge with a returned array
        # reports as an error. Where the end cannot be reached (every path returns, or a
        # `while True:` left only by `return`), nothing is added: the UndefinedReturn marker
        # then means "not returned yet" and a merge gives it a placeholder.
        body = list(node.body)
        if not _always_returns(body) and not _endless(body[-1]):
            body.append(_located(ast.Return(value=None), body[-1]))
        doc = _docstring(body)
        init = _located([_assign(DO_RETURN, ast.Constant(False)),
                         _assign(RETVAL, _call("UndefinedReturn"))], node)
        end = _located(ast.Return(value=_call("ret", _name(RETVAL))), body[-1])
        node.body = doc + init + _lower_returns(body[len(doc):], False) + [end]
        return node


def _docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
            and isinstance(first.value.value, str):
        return [first]
    return []


def _always_returns(block: list[ast.stmt]) -> bool:
    last = block[-1] if block else None
    return isinstance(last, ast.Return) or (isinstance(last, ast.If) and bool(last.orelse)
                                            and _always_returns(last.body)
                                            and _always_returns(last.orelse))


def _endless(s: ast.stmt) -> bool:
    """`while True:` without a break of its own: only a return (or an exception) ends it."""
    return isinstance(s, ast.While) and isinstance(s.test, ast.Constant) and bool(s.test.value) \
        and not _contains(s.body, ast.Break, False)


def _lower_returns(stmts: list[ast.stmt], in_loop: bool) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for i, s in enumerate(stmts):
        if isinstance(s, ast.If) and i + 1 < len(stmts) and _contains([s], ast.Return, True):
            # `if c: return a` then more: the rest is the else branch (the same in Python).
            # Then both branches set the flag, so it stays a Python True after a traced if
            # and the rest needs no `if not ag__do_return` of its own.
            if _always_returns(s.body):
                s.orelse, stmts = s.orelse + stmts[i + 1:], stmts[:i + 1]
            elif s.orelse and _always_returns(s.orelse):
                s.body, stmts = s.body + stmts[i + 1:], stmts[:i + 1]
        if isinstance(s, ast.Return):
            new: list[ast.stmt] = [_assign(RETVAL, s.value or ast.Constant(None)),
                                   _assign(DO_RETURN, ast.Constant(True))]
            if in_loop:
                new.append(ast.Break())
            return out + _located(new, s)
        if not any(_contains(b, ast.Return, True) for b in _blocks(s)):
            out.append(s)
            continue
        loop = isinstance(s, (ast.For, ast.While))
        if loop:
            s.body = _lower_returns(s.body, True)
            s.orelse = _lower_returns(s.orelse, in_loop)
        elif isinstance(s, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            s.body = _lower_returns(s.body, in_loop)
            for h in s.handlers:
                h.body = _lower_returns(h.body, in_loop)
            s.orelse = _lower_returns(s.orelse, in_loop)
        else:
            s.body = _lower_returns(s.body, in_loop)
            if isinstance(s, ast.If):
                s.orelse = _lower_returns(s.orelse, in_loop)
        out.append(s)
        rest = _lower_returns(stmts[i + 1:], in_loop)
        if in_loop:
            # A return inside a nested loop broke out of that loop only: break this one too.
            # (A return in an if/with/try here emitted a break the jumps pass handles.)
            if loop:
                out.append(_located(ast.If(test=_name(DO_RETURN), body=[ast.Break()],
                                           orelse=[]), s))
            out += rest
        elif rest:
            out.append(_located(ast.If(test=_not(DO_RETURN), body=rest, orelse=[]), s))
        return out
    return out


# ---- pass 2: break and continue --------------------------------------------------------------

class _Jumps(ast.NodeTransformer):
    def __init__(self) -> None:
        self.counter = itertools.count(1)

    def _loop(self, node: ast.For | ast.While) -> Any:
        self.generic_visit(node)  # inner loops first
        brk = _contains(node.body, ast.Break, False)
        cont = _contains(node.body, ast.Continue, False)
        if not (brk or cont):
            return node
        n = next(self.counter)
        flags: dict[type, str] = {}
        if brk:
            flags[ast.Break] = f"ag__break_{n}"
        if cont:
            flags[ast.Continue] = f"ag__continue_{n}"
        node.body = _lower_jumps(node.body, flags)
        pre: list[ast.stmt] = []
        post: list[ast.stmt] = []
        if cont:
            node.body.insert(0, _located(_assign(flags[ast.Continue], ast.Constant(False)),
                                         node))
        if brk:
            flag = flags[ast.Break]
            pre.append(_located(_assign(flag, ast.Constant(False)), node))
            if isinstance(node, ast.While):
                node.test = _located(ast.BoolOp(op=ast.And(), values=[_not(flag), node.test]),
                                     node.test)
            else:
                node.ag_extra_test = _located(_not(flag), node.iter)  # read by _Control
            if node.orelse:
                post.append(_located(ast.If(test=_not(flag), body=node.orelse, orelse=[]),
                                     node.orelse[0]))
                node.orelse = []
        return pre + [node] + post

    visit_For = visit_While = _loop

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        node.body = [self.visit(s) if isinstance(s, ast.FunctionDef) else s for s in node.body]
        return node


def _lower_jumps(stmts: list[ast.stmt], flags: dict[type, str]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for i, s in enumerate(stmts):
        if type(s) in flags:
            return out + [_located(_assign(flags[type(s)], ast.Constant(True)), s)]
        set_here = [f for kind, f in flags.items() if _contains([s], kind, False)]
        if not set_here:
            out.append(s)
            continue
        if isinstance(s, (ast.For, ast.While)):
            s.orelse = _lower_jumps(s.orelse, flags)
        else:
            for block in _blocks(s):
                block[:] = _lower_jumps(block, flags)
        out.append(s)
        rest = _lower_jumps(stmts[i + 1:], flags)
        if rest:
            out.append(_located(ast.If(test=_none_set(set_here), body=rest, orelse=[]), s))
        return out
    return out


# ---- pass 3: control flow, boolean operators, calls ------------------------------------------

class _Stores(ast.NodeVisitor):
    """Names a list of statements binds in its own scope, in order of first binding."""

    def __init__(self) -> None:
        self.names: dict[str, None] = {}

    def add(self, name: str) -> None:
        if not name.startswith(_GENERATED_FN):
            self.names.setdefault(name, None)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.add(node.id)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.add(node.name)

    visit_ClassDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        pass

    def _comprehension(self, node: ast.AST) -> None:
        pass  # its targets are its own (the walrus operator is not converted)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_alias(self, node: ast.alias) -> None:
        self.add(node.asname or node.name.split(".")[0])

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.add(node.name)
        self.generic_visit(node)


def _stored(stmts: list[ast.stmt]) -> list[str]:
    v = _Stores()
    for s in stmts:
        v.visit(s)
    return list(v.names)


_CHAIN_OPS = {ast.Lt: "Lt", ast.LtE: "LtE", ast.Gt: "Gt", ast.GtE: "GtE", ast.Eq: "Eq",
              ast.NotEq: "NotEq", ast.Is: "Is", ast.IsNot: "IsNot", ast.In: "In",
              ast.NotIn: "NotIn"}


class _Control(ast.NodeTransformer):
    def __init__(self, local: set[str]) -> None:
        self.local = local  # the function's own variables (calls of their methods stay)
        self.counter = itertools.count(1)
        self.scopes: list[dict[str, None]] = []  # state names per user function

    def _fresh(self, kind: str) -> str:
        return f"{_GENERATED_FN}{kind}_{next(self.counter)}"

    def _state(self, names: list[str]) -> tuple[ast.Tuple, ast.Tuple]:
        for n in names:
            self.scopes[-1].setdefault(n, None)
        return _tuple(names), ast.Tuple(elts=[ast.Constant(n) for n in names], ctx=ast.Load())

    def _def(self, name: str, params: list[str], body: list[ast.stmt]) -> ast.FunctionDef:
        fn = ast.FunctionDef(name=name, args=_args(params), body=body, decorator_list=[],
                             returns=None, type_comment=None)
        if "type_params" in fn._fields:  # Python 3.12+
            fn.type_params = []
        return fn

    def _result(self, names: list[str], call: ast.Call) -> ast.stmt:
        if names:
            return ast.Assign(targets=[_tuple(names, store=True)], value=call)
        return ast.Expr(value=call)

    # -- scopes --
    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        self.scopes.append({})
        self.generic_visit(node)
        names = self.scopes.pop()
        a = node.args
        params = {p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg)
                  if p is not None}
        inits = [_assign(n, _call("undefined", ast.Constant(n))) for n in names
                 if n not in params and n not in (RETVAL, DO_RETURN)]  # those come first
        doc = _docstring(node.body)
        node.body = doc + _located(inits, node.body[len(doc)] if node.body[len(doc):]
                                   else node) + node.body[len(doc):]
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        # A class body is its own scope that local functions cannot see into: leave its
        # statements to Python and convert only its methods.
        node.body = [self.visit(s) if isinstance(s, ast.FunctionDef) else s for s in node.body]
        return node

    # -- statements --
    def visit_If(self, node: ast.If) -> list[ast.stmt]:
        self.generic_visit(node)
        names = _stored(node.body + node.orelse)
        state, labels = self._state(names)
        t, f = self._fresh("if_true"), self._fresh("if_false")
        ret = ast.Return(value=_tuple(names))
        defs = [self._def(t, names, node.body + [ret]),
                self._def(f, names, (node.orelse or []) + [ast.Return(value=_tuple(names))])]
        call = _located(_call("if_stmt", node.test, _name(t), _name(f), state, labels), node.test)
        return _located(defs + [self._result(names, call)], node)

    def visit_While(self, node: ast.While) -> list[ast.stmt]:
        self.generic_visit(node)
        names = _stored(node.body)
        state, labels = self._state(names)
        test, body = self._fresh("while_test"), self._fresh("while_body")
        defs = [self._def(test, names, [_located(ast.Return(value=node.test), node.test)]),
                self._def(body, names, node.body + [ast.Return(value=_tuple(names))])]
        call = _located(_call("while_stmt", _name(test), _name(body), state, labels), node.test)
        return _located(defs + [self._result(names, call)], node) + node.orelse

    def visit_For(self, node: ast.For) -> list[ast.stmt]:
        it = node.iter
        is_range = (isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                    and it.func.id == "range" and not it.keywords
                    and not any(isinstance(a, ast.Starred) for a in it.args))
        extra = getattr(node, "ag_extra_test", None)
        extra = self.visit(extra) if extra is not None else None
        self.generic_visit(node)
        if is_range:
            node.iter = _located(_call("range_", _name("range"), *node.iter.args), node.iter)
        bind = ast.Assign(targets=[node.target], value=_name(ITEM))
        names = _stored([bind] + node.body)
        state, labels = self._state(names)
        body = self._fresh("for_body")
        defs = [self._def(body, [ITEM] + names,
                          [_located(bind, node.target)] + node.body
                          + [ast.Return(value=_tuple(names))])]
        test_ref: ast.expr = ast.Constant(None)
        if extra is not None:
            test = self._fresh("for_test")
            defs.insert(0, self._def(test, names, [_located(ast.Return(value=extra), extra)]))
            test_ref = _name(test)
        call = _located(_call("for_stmt", node.iter, test_ref, _name(body), state, labels),
                        node.iter)
        return _located(defs + [self._result(names, call)], node) + node.orelse

    # -- expressions --
    def visit_IfExp(self, node: ast.IfExp) -> ast.expr:
        self.generic_visit(node)
        return _located(_call("if_exp", node.test, _thunk(node.body), _thunk(node.orelse)), node)

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        self.generic_visit(node)
        helper = "and_" if isinstance(node.op, ast.And) else "or_"
        first, *rest = node.values
        return _located(_call(helper, first, *[_thunk(v) for v in rest]), node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            return _located(_call("not_", node.operand), node)
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        if len(node.ops) == 1:
            return node
        args: list[ast.expr] = [node.left]
        for op, right in zip(node.ops, node.comparators, strict=True):
            args += [ast.Constant(_CHAIN_OPS[type(op)]), _thunk(right)]
        return _located(_call("chain", *args), node)

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        f = node.func
        plain = isinstance(f, ast.Name) and f.id != "super" and not f.id.startswith(AG)
        # module.function(x) and obj.method(x) too: the user's are converted wherever they
        # are (convert.library_code), and math.sqrt(x) is traced, not float(x) (pybuiltins.py)
        math_fn = (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
                   and f.attr in MATH_NAMES)
        # np.mean([x, y]), np.array((a, b)): a list of traced values becomes one traced stack
        # (pybuiltins.lists_packed; numpy would make an object array of it)
        list_arg = (isinstance(f, ast.Attribute) and bool(node.args)
                    and isinstance(node.args[0], (ast.List, ast.Tuple, ast.ListComp,
                                                  ast.GeneratorExp)))
        dotted = isinstance(f, ast.Attribute) and _dotted_name(f.value, self.local)
        if plain or math_fn or dotted or list_arg:
            node.func = _located(_call("cv", f), f)
        return node
