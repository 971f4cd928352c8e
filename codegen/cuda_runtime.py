"""Run a lowered program (ir/loops.py) on a CUDA device, or serially on the host.

`compile_program(program, target) -> ProgramFunction`, a callable taking the graph's inputs
(and array constants are its own). What is copied, and when:

- NumPy inputs are copied to the device at each call and the results copied back: the caller
  gets numpy arrays, as from the CPU back end.
- Device arrays (anything with `__cuda_array_interface__`, or the simulator's arrays) are
  read where they are, without a copy, and the results stay on the device: the caller gets
  device arrays (0-d results as 0-d device arrays). An input returned unchanged as a result
  is copied (on the device), so a result never aliases an argument. A strided one is copied
  to a C-contiguous one on the device first (`ProgramFunction.device`).
- Array constants of the function are copied to the device once, at the first call.
- Float matrix products run on the device (a tiled shared-memory kernel,
  codegen/cuda_kernels.py). Other `CallStep`s (library calls, integer products) copy their
  operands to the host, run the primitive's reference implementation and copy the results
  back: one round trip per such step.
- Control flow runs on the host with device kernels: a `cond` reads its predicate back, a
  `while` its condition's result at each iteration (one scalar copy each); the branches,
  bodies and the reverse sweep of a `while_grad` are programs of their own whose kernels
  run on the device, and the tape holds device arrays.

`target="python"` runs the same program with numpy arrays and the printer's serial Python
functions: the interpreter the tests compare lowered programs with.
"""
from __future__ import annotations

import linecache
from typing import Any

import numpy as np
from adjit.codegen.cuda import Module, emit, grid
from adjit.codegen.devices import is_device_array, simulated  # noqa: F401 (re-exported)
from adjit.ir.core import DTYPES
from adjit.ir.errors import CodegenError
from adjit.ir.loops import Alloc, Const, ControlStep, CallStep, LoopKernel, Program, verify
from adjit.ir.primitive import MATMUL, PRIMS
from adjit.passes.schedule_cuda import schedule_cuda
from adjit.passes.plan import BODY, COND, WHILE

THREADS = 128  # per block
MAX_BLOCKS = 4096
# The simulator runs every thread as a Python thread: a small grid keeps tests fast, and the
# grid-stride loops are correct for any grid.
SIM_THREADS, SIM_BLOCKS = 8, 2
# Under the simulator, products with more output elements than this take the host path: its
# emulation of the tiled kernel's barriers takes seconds for 16x16 and minutes for 64x64.
SIM_MATMUL_MAX = 64


def cuda_module() -> Any:
    """numba.cuda, when a GPU (or the simulator) is there; else a clear error."""
    from adjit.tracer.loc import user_loc  # the user's call, named in the error

    try:
        from numba import cuda
    except ImportError as e:  # pragma: no cover - numba ships numba.cuda
        raise CodegenError(f"target='cuda' needs numba's CUDA support ({e})",
                           loc=user_loc(2), hint="pip install numba-cuda") from None
    if not cuda.is_available():
        raise CodegenError("target='cuda': no CUDA GPU is available here", loc=user_loc(2),
                           hint="run on a machine with an NVIDIA GPU and its driver, or set "
                                "NUMBA_ENABLE_CUDASIM=1 (before numba is imported) to run "
                                "on numba's CUDA simulator; target='cpu' runs anywhere")
    return cuda


class ProgramFunction:
    """A compiled program: call it with the graph's inputs."""

    def __init__(self, program: Program, module: Module, namespace: dict[str, Any],
                 calls: dict[int, ProgramFunction]) -> None:
        self.program = program
        self.module = module
        self.ns = namespace
        self.calls = calls  # the programs control steps call, by id of their Program
        self.target = module.target
        self.cuda = cuda_module() if self.target == "cuda" else None
        from adjit.runtime import config

        self.tape_limit = config.max_tape_bytes()  # ADJIT_MAX_TAPE_MB, as the CPU's
        self._consts: list[Any] | None = None
        if self.target == "cuda":
            threads, blocks = (SIM_THREADS, SIM_BLOCKS) if simulated() else (THREADS,
                                                                             MAX_BLOCKS)
        self.launches = {
            k: [(namespace[ln.name], ln.params,
                 (1, 1) if ln.serial else grid(ln.extent, threads, blocks))
                for ln in launches] if self.target == "cuda" else
            [(namespace[ln.name], ln.params, None) for ln in launches]
            for k, launches in module.launches.items()}

    # -- memory ------------------------------------------------------------------------------

    def put(self, a: Any, shape: tuple[int, ...], dtype: str) -> Any:
        """An argument where the kernels read it (0-d values as one-element buffers)."""
        if is_device_array(a):
            a = self.device(a)
            return a.reshape(shape) if tuple(a.shape) != shape else a
        host = np.ascontiguousarray(a, DTYPES[dtype]).reshape(shape)
        if self.cuda is None:
            return host
        return self.cuda.to_device(host)

    def device(self, a: Any) -> Any:
        """A device argument as a C-contiguous numba device array: another library's array
        (`__cuda_array_interface__`: CuPy, PyTorch) is viewed in place; a strided one
        (a transpose, a slice with steps) is copied once on the device (numba reshapes an
        F-contiguous device array as if it were C-contiguous, and copies neither
        non-contiguous arrays between buffers nor negative strides to the host)."""
        if not hasattr(a, "copy_to_host") and hasattr(a, "__cuda_array_interface__"):
            a = self.cuda.as_cuda_array(a)
        from adjit.codegen import cuda_kernels

        return cuda_kernels.contiguous(a)

    def host(self, a: Any) -> np.ndarray:
        return a if self.cuda is None else a.copy_to_host()

    def alloc(self, s: Alloc) -> Any:
        if self.cuda is None:
            return np.empty(s.shape, DTYPES[s.dtype]) if s.fill is None else \
                np.full(s.shape, s.fill, DTYPES[s.dtype])
        if s.fill is None:
            return self.cuda.device_array(s.shape, DTYPES[s.dtype])
        return self.cuda.to_device(np.full(s.shape, s.fill, DTYPES[s.dtype]))

    def copy(self, a: Any) -> Any:
        if self.cuda is None:
            return np.array(a, copy=True)
        out = self.cuda.device_array(a.shape, a.dtype)
        out.copy_to_device(a)
        return out

    # -- running -----------------------------------------------------------------------------

    def __call__(self, *args: Any) -> tuple[Any, ...]:
        p = self.program
        on_device = self.cuda is not None and any(is_device_array(a) for a in args)
        env = self.run([self.put(a, b.shape, b.dtype)
                        for b, a in zip(p.inputs, args, strict=True)])
        outs = []
        inputs = {b.name for b in p.inputs}
        for o, shape in zip(p.outputs, p.out_shapes, strict=True):
            if isinstance(o, Const):
                value = np.array(o.value, DTYPES[o.dtype])
                outs.append(self.cuda.to_device(value.reshape(1)).reshape(())
                            if on_device else value)
                continue
            a = env[o]
            if on_device:
                if o in inputs:
                    a = self.copy(a)
                outs.append(a.reshape(shape) if tuple(a.shape) != shape else a)
            else:
                outs.append(self.host(a).reshape(shape))
        return tuple(outs)

    def outputs(self, buffers: list[Any]) -> list[Any]:
        """Run on buffers already where the kernels read them; the output buffers (0-d
        values as one-element buffers, scalar literals too)."""
        env = self.run(buffers)
        return [self.put(np.array(o.value), (1,), o.dtype) if isinstance(o, Const) else env[o]
                for o in self.program.outputs]

    def run(self, buffers: list[Any]) -> dict[str, Any]:
        p = self.program
        env: dict[str, Any] = {b.name: a for b, a in zip(p.inputs, buffers, strict=True)}
        if self._consts is None:
            self._consts = [self.put(v, b.shape, b.dtype) for b, v in p.consts]
        for (b, _), c in zip(p.consts, self._consts, strict=True):
            env[b.name] = c
        for k, step in enumerate(p.steps):
            if isinstance(step, Alloc):
                env[step.buf] = self.alloc(step)
            elif isinstance(step, LoopKernel):
                for fn, params, config in self.launches[k]:
                    operands = [env[n] for n in params]
                    if config is None:
                        fn(*operands)
                    else:
                        fn[config](*operands)
            elif isinstance(step, ControlStep):
                self.control(step, env)
            else:
                self.call_step(step, env)
        return env

    # -- control flow (the semantics of ir/prims/control.py, with device kernels) -----------

    def truth(self, buf: Any) -> bool:
        return bool(np.asarray(self.host(buf)).reshape(-1)[0])

    def operands(self, step: ControlStep, env: dict[str, Any]) -> list[Any]:
        return [self.put(np.array(r.value), (1,), r.dtype) if isinstance(r, Const) else env[r]
                for r in step.reads]

    def add(self, a: Any, b: Any) -> Any:
        if self.cuda is None:
            return a + b
        out = self.cuda.device_array(a.shape, a.dtype)
        n = int(np.prod(a.shape))
        threads, blocks = (SIM_THREADS, SIM_BLOCKS) if simulated() else (THREADS,
                                                                         MAX_BLOCKS)
        from adjit.codegen import cuda_kernels

        cuda_kernels.add[grid(n, threads, blocks)](a.reshape(n), b.reshape(n), out.reshape(n))
        return out

    def loop(self, step: ControlStep, ops: list[Any], tape: list[Any] | None) -> list[Any]:
        e = step.eqn
        k = e.p["n_consts"]
        consts, carried = ops[:k], list(ops[k:len(e.p["body"].inputs)])
        cond, body = self.calls[id(step.calls[COND])], self.calls[id(step.calls[BODY])]
        row = sum(int(np.prod(c.shape)) * np.dtype(c.dtype).itemsize for c in carried)
        while self.truth(cond.outputs(consts + carried)[0]):
            if tape is not None:
                if (len(tape) + 1) * row > self.tape_limit:
                    from adjit.codegen.cpu_control import TAPE_LIMIT_MESSAGE

                    raise RuntimeError(TAPE_LIMIT_MESSAGE.format(mb=self.tape_limit >> 20))
                tape.append(carried)
            carried = body.outputs(consts + carried)
        return carried

    def control(self, step: ControlStep, env: dict[str, Any]) -> None:
        e = step.eqn
        ops = self.operands(step, env)
        if e.prim == COND:
            branch = self.calls[id(step.calls["then" if self.truth(ops[0]) else "else"])]
            outs = branch.outputs(ops[1:])
        elif e.prim == WHILE:
            tape: list[Any] | None = [] if step.partner is not None else None
            outs = self.loop(step, ops, tape)
            env[f"#tape{step.index}"], env[f"#final{step.index}"] = tape, outs
        else:
            outs = self.while_grad(step, ops, env)
        for name, o in zip(step.writes, outs, strict=True):
            env[name] = o

    def while_grad(self, step: ControlStep, ops: list[Any], env: dict[str, Any]) -> list[Any]:
        """The forward loop with its tape (or the partner `while`'s), then the cotangents
        walked back through it (`_while_grad_impl`'s semantics)."""
        e = step.eqn
        body = e.p["body"]
        k, n = e.p["n_consts"], len(body.inputs)
        if step.partner is None:
            tape: list[Any] = []
            final = self.loop(step, ops, tape)
        else:
            tape, final = env[f"#tape{step.partner}"], env[f"#final{step.partner}"]
        back = self.calls[id(step.calls["body_vjp"])]
        f_in = [i for i, t in enumerate(body.in_types) if t.is_float]
        f_carried = [i - k for i in f_in if i >= k]
        ct = list(ops[n:])
        ct_consts = {i: self.put(np.zeros(body.inputs[i].shape, body.inputs[i].type.np_dtype),
                                 body.inputs[i].shape or (1,), body.inputs[i].dtype)
                     for i in f_in if i < k}
        consts = ops[:k]
        for carried in reversed(tape):
            grads = back.outputs(consts + list(carried) + ct)
            for i, g in zip(f_in, grads, strict=True):
                if i < k:
                    ct_consts[i] = self.add(ct_consts[i], g)
            ct = [grads[f_in.index(k + j)] for j in f_carried]
        return list(final) + [ct_consts[i] if i < k else ct[f_carried.index(i - k)]
                              for i in f_in]

    def device_step(self, step: CallStep, env: dict[str, Any]) -> bool:
        """Run a step with a hand-written device kernel where there is one (float matrix
        products: codegen/cuda_kernels.py); False where there is none."""
        e = step.eqn
        if self.cuda is None or PRIMS[e.prim].lowers.how != MATMUL \
                or e.out.dtype not in ("f32", "f64"):
            return False
        if simulated() and e.out.type.size > SIM_MATMUL_MAX:
            return False  # the simulator runs a tiled kernel's barriers in Python: minutes
        from adjit.codegen import cuda_kernels

        out = self.cuda.device_array(e.out.shape, DTYPES[e.out.dtype])
        a, b = (env[r] for r in step.reads)
        cuda_kernels.launch_matmul(a, b, out, e.p["transpose_a"], e.p["transpose_b"])
        env[step.writes[0]] = out
        return True

    def call_step(self, step: CallStep, env: dict[str, Any]) -> None:
        if self.device_step(step, env):
            return
        e = step.eqn
        ins = [r.value if isinstance(r, Const) else self.host(env[r]).reshape(x.shape)
               for r, x in zip(step.reads, e.inputs, strict=True)]
        with np.errstate(all="ignore"):
            result = PRIMS[e.prim].impl(*ins, **dict(e.params))
        results = result if isinstance(result, tuple) else (result,)
        for name, v, r in zip(step.writes, e.outputs, results, strict=True):
            arr = np.ascontiguousarray(np.asarray(r, v.type.np_dtype).reshape(v.shape or (1,)))
            env[name] = arr if self.cuda is None else self.cuda.to_device(arr)


def compile_program(program: Program, target: str = "cuda",
                    done: dict[int, ProgramFunction] | None = None) -> ProgramFunction:
    """Verify, print and load `program` (and the programs it calls) for `target` ("cuda"
    or "python")."""
    if done is None:
        verify(program)
        done = {}
    if id(program) in done:
        return done[id(program)]
    if target == "cuda":
        cuda = cuda_module()
    if target == "cuda":
        schedule_cuda(program)  # grid-stride loops and atomics (passes/schedule_cuda.py)
    module = emit(program, target, SIM_THREADS if simulated() else THREADS,
                  quiet=target != "cuda" or simulated())
    filename = f"<adjit-{target} {program.name} {abs(hash(module.text)):x}>"
    linecache.cache[filename] = (len(module.text), None, module.text.splitlines(True),
                                 filename)
    ns: dict[str, Any] = {"__name__": f"adjit_{target}_{program.name}"}
    if target == "cuda":
        ns["cuda"] = cuda
    exec(compile(module.text, filename, "exec"), ns)  # noqa: S102 - our own generated text
    if target == "cuda" and simulated():
        # numba's simulator runs the kernels as Python, whose math.log(-1.0) raises where a
        # GPU gives nan: they get the plain-Python tier's IEEE math (codegen/compile.py)
        from adjit.codegen.compile import IEEE_CMATH, IEEE_MATH

        ns["math"] = IEEE_MATH
        if "cmath" in ns:
            ns["cmath"] = IEEE_CMATH
    calls: dict[int, ProgramFunction] = {}
    fn = done[id(program)] = ProgramFunction(program, module, ns, calls)
    for step in program.steps:
        if isinstance(step, ControlStep):
            for sub in step.calls.values():
                calls[id(sub)] = compile_program(sub, target, done)
    return fn
