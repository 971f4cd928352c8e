"""adjit.inspect: every stage of a compilation, printable as a whole or one by one."""
from __future__ import annotations

import inspect as _pyinspect
import shutil
import subprocess
from typing import Any, Callable

from adjit.ir import Graph
from adjit.ir.errors import TraceError
from adjit.tracer.loc import user_loc

from .api import Transformed, value_and_grad
from .compiler import Specialization


class Inspection:
    """The stages of one specialization: `traced`, `adjoint`, `pruned` (with `prune_report`),
    `simplified`, `plan` (the kernel plan) and `source` (the generated code)."""

    # The attributes that `python -m adjit inspect --stage NAME` prints, in pipeline order.
    STAGES = ("traced", "guards", "adjoint", "pruned", "prune_report", "simplified", "plan",
              "source")

    def __init__(self, spec: Specialization, mode: str) -> None:
        self.spec = spec
        self.mode = mode
        st = spec.stages
        self.traced: Graph = st.traced
        self.guards = spec.traced.guards
        self.adjoint: Graph | None = st.joint
        self.pruned: Graph | None = st.pruned
        self.prune_report = st.prune_report
        self.simplified: Graph = st.simplified
        self.simplify_stats = st.simplify_stats
        self.plan = spec.plan
        self.source: str = spec.source.text

    def sections(self) -> list[tuple[str, str]]:
        out = [("traced IR", str(self.traced))]
        if self.guards:
            out.append(("guards (checked on every call; a failing one retraces)",
                        "\n".join(str(g) for g in self.guards)))
        if self.adjoint is not None:
            out.append(("adjoint (joint forward + backward) IR", str(self.adjoint)))
            out.append(("pruned IR", f"{self.pruned}\n\n{self.prune_report}"))
        out.append(("simplified IR", f"{self.simplified}\n\nrewrites: {self.simplify_stats}"))
        out.append(("kernel plan", str(self.plan)))
        out.append(("generated source", self.source.rstrip()))
        return out

    def __str__(self) -> str:
        parts = []
        for title, body in self.sections():
            parts.append(f"=== {title} " + "=" * max(0, 70 - len(title)))
            parts.append(body)
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"<adjit.Inspection of {self.traced.name}: {len(self.sections())} stages>"

    def to_dot(self, stage: str = "pruned") -> str:
        if stage == "pruned" and self.adjoint is not None:
            return self.adjoint.to_dot(pruned=self.prune_report.pruned_ids,
                                       title=f"{self.traced.name}: pruning")
        g = {"traced": self.traced, "adjoint": self.adjoint, "simplified": self.simplified,
             "pruned": self.pruned}[stage]
        return g.to_dot()

    def render(self, path: str, stage: str = "pruned") -> str:
        """Draw a stage with Graphviz's `dot` (format from the file extension)."""
        exe = shutil.which("dot")
        if exe is None:
            raise RuntimeError("Graphviz's `dot` program is not installed; use to_dot() and "
                               "render the text elsewhere")
        fmt = path.rsplit(".", 1)[-1]
        subprocess.run([exe, f"-T{fmt}", "-o", path], input=self.to_dot(stage).encode(),
                       check=True)
        return path


def inspect(fun: Callable[..., Any], *args: Any) -> Inspection:
    """Compile `fun` for `args` (a plain function is treated as `value_and_grad(fun)`) and
    return its stages. A recorded tensor shows the compiled backward of its graph."""
    from adjit.tracer.tensor import Tensor

    if isinstance(fun, Tensor):  # a recorded tensor: the compiled backward of its graph
        from .autograd import inspect_tensor

        return inspect_tensor(fun)
    if not args and _needs_arguments(fun):
        name = getattr(fun, "__name__", "")
        name = name if name.isidentifier() else "f"
        raise TraceError(f"adjit.inspect({name}) needs example arguments: it compiles {name} "
                         f"for their shapes and dtypes and shows each stage",
                         loc=user_loc(),
                         hint=f"pass what you would call {name} with, as "
                              f"adjit.inspect({name}, np.arange(4.0))")
    t = fun if isinstance(fun, Transformed) else value_and_grad(fun)
    spec = t.specialize(tuple(args))
    return Inspection(spec, t.mode)


def _needs_arguments(fun: Callable[..., Any]) -> bool:
    """Whether `fun` has a positional parameter without a default (a transformed function
    shows its wrapped function's signature); True when the signature cannot be read."""
    try:
        params = _pyinspect.signature(fun).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               for p in params)
