"""Graphviz DOT text for a graph: `to_dot(graph, pruned=None, title=None) -> str`.

One node per graph input, equation and output; an edge for every use of a Var. Equation
nodes are labelled with their line of the text IR (`%3 = mul %2, 2.0 : f32[8,3]`, the same
names `str(graph)` prints) and their location and role. Forward equations (role '') are
filled with FORWARD_FILL, adjoint and tangent equations (role starting with 'vjp' or 'jvp')
with ADJOINT_FILL, any other role with OTHER_FILL. Equations whose `id()` is in `pruned` are
drawn faded: dashed gray outline, gray text, no fill, and so are the edges into them. Each
sub-graph is a cluster tied to its equation by a dotted edge. Node names depend only on
positions in the graph, so the output is deterministic.
"""
from __future__ import annotations

from .core import Eqn, Graph, Lit, Value
from .printer import Namer, format_eqn

FORWARD_FILL = "#cfe2f3"  # light blue
ADJOINT_FILL = "#f4cccc"  # light red
OTHER_FILL = "#fff2cc"  # light yellow
INPUT_FILL = "#d9ead3"  # light green
OUTPUT_FILL = "#eeeeee"
PRUNED_COLOR = "gray60"


def to_dot(graph: Graph, pruned: set[int] | None = None, title: str | None = None) -> str:
    """DOT text drawing `graph`; `pruned` holds id()s of equations to draw faded."""
    label = title if title is not None else f"graph {graph.name}"
    lines = [f"digraph {_q(graph.name)} {{",
             "  compound=true;",
             f"  label={_q(label)};",
             "  labelloc=t;",
             '  node [fontname="monospace", fontsize=10];',
             '  edge [fontname="monospace", fontsize=9];']
    _Drawer(lines, pruned or set()).graph(graph, Namer(), prefix="", indent="  ")
    lines.append("}")
    return "\n".join(lines) + "\n"


def fill_for(role: str) -> str:
    """The fill color of an equation with this role."""
    if not role:
        return FORWARD_FILL
    return ADJOINT_FILL if role.startswith(("vjp", "jvp")) else OTHER_FILL


class _Drawer:
    def __init__(self, lines: list[str], pruned: set[int]) -> None:
        self.lines = lines
        self.pruned = pruned

    def graph(self, g: Graph, namer: Namer, prefix: str, indent: str) -> None:
        # Where each Var was defined: node name, and whether that node is faded.
        source: dict[int, tuple[str, bool]] = {}
        for i, v in enumerate(g.inputs):
            node = f"{prefix}in{i}"
            text = f"{namer.input(v)}: {v.type}"
            self.lines.append(f"{indent}{node} [label={_q(text)}, shape=ellipse, style=filled, "
                              f"fillcolor={_q(INPUT_FILL)}];")
            source[id(v)] = (node, False)
        for i, eqn in enumerate(g.eqns):
            node = f"{prefix}e{i}"
            faded = id(eqn) in self.pruned
            self.eqn(node, eqn, namer, faded, indent)
            self.edges(node, eqn.inputs, source, faded, indent)
            for v in eqn.outputs:
                source[id(v)] = (node, faded)
            for k, (key, sub) in enumerate(eqn.subgraphs()):
                self.subgraph(node, f"{node}_g{k}_", key, sub, namer, indent)
        for i, v in enumerate(g.outputs):
            node = f"{prefix}out{i}"
            text = f"return {namer.ref(v)}: {v.type}"
            self.lines.append(f"{indent}{node} [label={_q(text)}, shape=box, "
                              f'style="rounded,filled", fillcolor={_q(OUTPUT_FILL)}];')
            self.edges(node, (v,), source, False, indent)

    def eqn(self, node: str, eqn: Eqn, namer: Namer, faded: bool, indent: str) -> None:
        text = format_eqn(eqn, namer, locs=False)
        where = " ".join(s for s in (eqn.loc.short() if eqn.loc else "", eqn.role) if s)
        label = text + ("\n" + where if where else "")
        if faded:
            look = f'style=dashed, color={_q(PRUNED_COLOR)}, fontcolor={_q(PRUNED_COLOR)}'
        else:
            look = f"style=filled, fillcolor={_q(fill_for(eqn.role))}"
        self.lines.append(f"{indent}{node} [label={_q(label)}, shape=box, {look}];")

    def edges(self, node: str, values: tuple[Value, ...], source: dict[int, tuple[str, bool]],
              faded: bool, indent: str) -> None:
        for v in values:
            if isinstance(v, Lit) or id(v) not in source:
                continue  # literals are shown in the label; undefined Vars have no source
            src, src_faded = source[id(v)]
            look = f' [style=dashed, color={_q(PRUNED_COLOR)}]' if faded or src_faded else ""
            self.lines.append(f"{indent}{src} -> {node}{look};")

    def subgraph(self, owner: str, prefix: str, key: str, sub: Graph, namer: Namer,
                 indent: str) -> None:
        # As in the printer: the sub-graph gets its own names, numbering goes on.
        sub_namer = Namer()
        sub_namer.counter = namer.counter
        cluster = f"cluster_{prefix.rstrip('_')}"
        self.lines.append(f"{indent}subgraph {cluster} {{")
        self.lines.append(f"{indent}  label={_q(f'{key}: graph {sub.name}')};")
        self.lines.append(f'{indent}  style=rounded; color="gray40";')
        self.graph(sub, sub_namer, prefix, indent + "  ")
        self.lines.append(f"{indent}}}")
        namer.counter = sub_namer.counter
        anchor = f"{prefix}in0" if sub.inputs else f"{prefix}e0" if sub.eqns else f"{prefix}out0"
        if sub.inputs or sub.eqns or sub.outputs:
            self.lines.append(f"{indent}{owner} -> {anchor} [lhead={cluster}, style=dotted, "
                              f"arrowhead=odot];")


def _q(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


