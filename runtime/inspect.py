"""adjit.inspect: every stage of a compilation, printable as a whole or one by one."""
from __future__ import annotations

import inspect as _pyinspect
import shutil
import subprocess
from typing import Any, Callable

from adjit.ir import Graph
from adjit.ir.errors import TraceError
from adjit.tracer.loc import user_loc

from adjit.passes.pipeline import DIFFERENTIATE, Result, Stage

from .api import Transformed, check_target, value_and_grad
from .compiler import Specialization


def _names(pipeline: tuple[Stage, ...]) -> tuple[str, ...]:
    """"traced", then each stage's result and report names."""
    return ("traced", *(n for s in pipeline for n in (s.result, s.report) if n))


class Inspection:
    """The stages of one specialization, in the order they ran: the traced graph, its guards,
    each stage of the transformation's pipeline (passes/pipeline.py: for a gradient
    `adjoint`, `pruned` with `prune_report`, `simplified` with `rewrites`), then the kernel
    `plan` and the generated `source`. Each is an attribute by its name (None for a stage
    this transformation does not have: a `jit` has no `adjoint`); printing shows them all."""

    # The names `python -m adjit inspect --stage NAME` accepts, in pipeline order: those of
    # a gradient's pipeline, which has every stage a jit's has.
    STAGES = ("traced", "guards", *_names(DIFFERENTIATE)[1:], "plan", "loops", "source")

    def __init__(self, spec: Specialization, mode: str) -> None:
        self.spec = spec
        self.mode = mode
        self.guards = spec.traced.guards
        results = list(spec.stages.results)
        if self.guards:
            results.insert(1, Result("guards", "guards (checked on every call; a failing one "
                                               "retraces)",
                                     "\n".join(str(g) for g in self.guards)))
        results.append(Result("plan", "kernel plan", spec.plan))
        if spec.program is not None:  # a device target: the loop IR its kernels print
            results.append(Result("loops", f"loop IR (lowered for target={spec.target!r})",
                                  spec.program))
        else:  # the loop IR the CPU source prints (codegen/cpu.py)
            from adjit.codegen.cpu import cpu_program

            results.append(Result("loops", "loop IR (lowered for target='cpu')",
                                  cpu_program(spec.final, spec.plan,
                                              f"{spec.final.name}_kernel", callees=True)))
        results.append(Result("source", f"generated source (target={spec.target!r})",
                              spec.source.text))
        self.results = results

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("results", "spec", "guards"):
            raise AttributeError(name)
        for r in self.results:
            if r.name == name and name != "guards":
                return r.value
            if r.report_name == name:
                return r.report
        if name in self.STAGES or name == "simplify_stats":
            return self.spec.stages.simplify_stats if name == "simplify_stats" else None
        raise AttributeError(f"an Inspection has no stage {name!r}; its stages are "
                             f"{', '.join(self.names())}")

    def names(self) -> list[str]:
        return [n for r in self.results for n in (r.name, r.report_name) if n]

    def sections(self) -> list[tuple[str, str]]:
        return [(r.title, r.text()) for r in self.results]

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
        g = getattr(self, stage)
        if not isinstance(g, Graph):
            graphs = [r.name for r in self.results if isinstance(r.value, Graph)]
            raise ValueError(f"{stage!r} is not a graph stage of this inspection; graph "
                             f"stages: {', '.join(graphs)}")
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


def inspect(fun: Callable[..., Any], *args: Any, target: str | None = None) -> Inspection:
    """Compile `fun` for `args` (a plain function is treated as `value_and_grad(fun)`) and
    return its stages. A recorded tensor shows the compiled backward of its graph.
    `target="cuda"` shows the loop IR and the CUDA kernels (a transformed function's own
    target otherwise)."""
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
    if target is not None and target != t.target:
        check_target(target)
        t = t._rebind(t.fun)
        t.target = target
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
