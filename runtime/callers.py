"""The per-signature call paths of a `Transformed` (runtime/api.py), decided when a
specialization is compiled so that a call does as little as possible: the direct paths (the
arguments handed to numba as they are, results from the kernel's tuple in one frame), the
general one (`_assemble`), those answered before the kernel is compiled (`Tiered`,
`Background`), and those of specializations that hold only while their guards do. Also how
results are boxed: outputs that may alias an input or a constant are copied
(runtime/arguments.py `boxer`), unless the generated function copied them itself."""
from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from adjit.ir.errors import AdjitError
from adjit.tracer import Tracer, pytree, unflatten
from adjit.tracer.captures import Probe

from .arguments import aliasing_outputs, boxer, host_copy, is_device_array
from .compiler import Specialization, provisional

MAX_GUARDED = 8  # specializations kept per signature when guards tell them apart
_NO_PROBE = Probe([])


class Callers:
    """The call-path half of `Transformed` (a mixin: it provides `_assemble`, `_call_args`,
    `_compile`, `_callers`, `_set_caller`, `_probe`, `_watch`, `_n_ct`, `transform`,
    `single`, `specializations`)."""

    def _make_caller(self, spec: Specialization, key: Any) -> Callable[..., Any]:
        """The per-signature call path: everything decidable at compile time is decided here,
        so a call costs the key, numba's dispatch and the boxing of results."""
        if spec.traced.guards:
            return self._guarded_caller(key)
        if provisional(spec.fn):
            return self._tiered_caller(spec, key)
        if spec.target != "cpu":  # device arrays in and out: no numpy fast path
            if not spec.traced.captured:
                return lambda a, v: self._assemble(spec, spec.run(self._call_args(spec, a, v)))

            def device_call(a: tuple[Any, ...], v: Any) -> Any:
                out = spec.run(self._call_args(spec, a, v))
                if not any(is_device_array(x) for x in pytree.flatten(a)[0]):
                    out = [host_copy(o) for o in out]  # a captured device array read in
                return self._assemble(spec, out)     # place: numpy in, numpy out still

            return device_call
        fn = spec.fn
        if spec.consts:  # the array constants follow the arguments (and the captured values)
            kernel, consts = fn, spec.consts

            def fn(*a: Any) -> Any:
                return kernel(*a, *consts)

        boxes = _boxes(spec)
        # Direct: every argument is a native-endian ndarray of the traced dtype (the key
        # says so), as are the captured arrays (their tokens do), so numba gets them as is.
        direct = not self._n_ct and all(
            isinstance(k, tuple) and len(k) == 2 and isinstance(k[0], tuple)
            for k in (key if not self._probe else key[0])) and not (
            self._probe and any(type(t) is tuple and t[:1] == ("device",) for t in key[1]))
        n_out = len(spec.traced.graph.outputs)
        returns = self.transform.returns
        if getattr(self, "has_aux", False):
            returns = "aux"  # no fast path: the result carries the aux structure
        if not direct:
            return lambda a, v: self._assemble(spec, spec.run(self._call_args(spec, a, v)),
                                               boxes)
        captured = spec.traced.captured
        if captured:
            pick = operator.itemgetter(*captured)
            many = len(captured) > 1

            def run(a: tuple[Any, ...], v: Any) -> Any:  # the arguments, then the captured
                return fn(*a, *pick(v)) if many else fn(*a, pick(v))

            if returns == "grad" and self.single:
                box = boxes[n_out]
                return lambda a, v: box(run(a, v)[n_out], True)
            if returns == "value_and_grad" and self.single and n_out == 1:
                box_v, box_g = boxes[0], boxes[1]

                def captured_value_and_grad(a: tuple[Any, ...], v: Any) -> Any:
                    val, g = run(a, v)
                    return box_v(val, False), box_g(g, True)

                return captured_value_and_grad
            return lambda a, v: self._assemble(spec, spec.run(self._call_args(spec, a, v)),
                                               boxes)
        if returns == "grad" and self.single:
            box = boxes[n_out]
            if getattr(box, "identity", False):  # the common case in one frame
                if spec.consts:
                    return lambda a, v: kernel(*a, *consts)[n_out]
                return lambda a, v: fn(*a)[n_out]
            return lambda a, v: box(fn(*a)[n_out], True)
        if returns in ("grad", "value_and_grad") and not self.single and n_out == 1 \
                and spec.grad_trees is None:  # argnums=(0, 1): a tuple of plain gradients
            box_v, grad_boxes = boxes[0], boxes[1:]
            scalar = getattr(box_v, "scalar", None)
            if scalar is not None and all(getattr(b, "identity", False) for b in grad_boxes):
                if returns == "grad":  # the common cases without a box call per result
                    return lambda a, v: fn(*a)[1:]

                def value_and_grads_plain(a: tuple[Any, ...], v: Any) -> Any:
                    outs = fn(*a)
                    return scalar(outs[0]), outs[1:]

                return value_and_grads_plain

            def grads_call(a: tuple[Any, ...], v: Any) -> Any:
                outs = fn(*a)
                grads = tuple([b(o, True) for b, o in zip(grad_boxes, outs[1:], strict=True)])
                return grads if returns == "grad" else (box_v(outs[0], False), grads)

            return grads_call
        if returns == "value_and_grad" and self.single and n_out == 1:
            box_v, box_g = boxes[0], boxes[1]
            if getattr(box_g, "identity", False) and getattr(box_v, "scalar", None):
                scalar = box_v.scalar  # the common case in one frame: a numpy scalar, as is

                def value_and_grad_plain(a: tuple[Any, ...], v: Any) -> Any:
                    val, g = fn(*a)
                    return scalar(val), g

                return value_and_grad_plain

            def value_and_grad_call(a: tuple[Any, ...], v: Any) -> Any:
                val, g = fn(*a)
                return box_v(val, False), box_g(g, True)

            return value_and_grad_call
        return lambda a, v: self._assemble(spec, spec.run(self._call_args(spec, a, v)), boxes)

    def _tiered_caller(self, spec: Specialization, key: Any) -> Callable[..., Any]:
        """Calls before the kernel is compiled (`Tiered`, runtime/background.py); the first
        call that runs the kernel installs the direct path for the ones after."""
        def call(a: tuple[Any, ...], v: Any) -> Any:
            out = self._assemble(spec, spec.run(self._call_args(spec, a, v)))
            if not provisional(spec.fn) and self._callers.get(key) is call:
                self._set_caller(key, self._make_caller(spec, key))
            return out

        return call

    def _guarded_caller(self, key: Any) -> Callable[..., Any]:
        """Specializations that hold only while their guards do: run the newest one whose
        guards hold for these arguments; when none does, trace again (tracer/guards.py)."""
        tried: list[Specialization] = [self.specializations[key]]

        def call(a: tuple[Any, ...], vals: Any) -> Any:
            for spec in reversed(tried):
                call_args = self._call_args(spec, a, vals)
                outs = spec.run(call_args)
                if _truth(outs[spec.traced.n_outputs]) or _traced_on(spec, call_args):
                    return self._assemble(spec, outs)
            try:
                probe = self._probe if self._probe is not None else _NO_PROBE
                spec = self._compile(a, probe, list(vals), "a guard failed")
            except AdjitError as e:
                raise e.with_traceback(None) from None
            self._watch.guard_failed()
            self.specializations[key] = spec
            tried.append(spec)
            del tried[:-MAX_GUARDED]
            # Traced on these very arguments, so its guards hold for them.
            return self._assemble(spec, spec.run(self._call_args(spec, a, vals)))

        return call


    def _assemble(self, spec: Any, outs: list[Any], boxes: Sequence[Any] | None = None) -> Any:
        outs = fresh_outputs(spec, outs, boxes)
        n_out = len(spec.traced.graph.outputs)  # the function's outputs, then any guard check
        n_user = spec.traced.n_outputs
        if not self.transform.differentiates:
            return unflatten(spec.traced.out_tree, [_scalar(o) for o in outs[:n_user]])
        grads = _regroup(getattr(spec, "grad_trees", None), outs[n_out:])
        if getattr(self, "has_aux", False):  # (value, aux): the aux leaves follow the value
            aux = unflatten(spec.traced.out_tree[2][1], [_scalar(o) for o in outs[1:n_user]])
            return self.transform.assemble(_scalar(outs[0]), grads, self.single, aux)
        value = _scalar(outs[0]) if n_user == 1 else tuple(_scalar(o) for o in outs[:n_user])
        return self.transform.assemble(value, grads, self.single)


def fresh_outputs(spec: Any, outs: list[Any], boxes: Sequence[Any] | None = None) -> list[Any]:
    """The compiled function's outputs with those that may alias an input or a constant
    copied (`_boxes`); values of an inlined trace pass through."""
    if boxes is None and isinstance(spec, Specialization):
        boxes = _boxes(spec)
    if boxes is None:
        return outs
    return [b(o, False) if isinstance(o, np.ndarray) and o.ndim else o
            for b, o in zip(boxes, outs, strict=False)]


def _boxes(spec: Specialization) -> list[Callable[[Any, bool], Any]]:
    boxes = getattr(spec, "boxes", None)
    if boxes is None:
        # (outputs the generated function copied itself are fresh already: Source.copied)
        fresh = aliasing_outputs(spec.final) - set(getattr(spec.source, "copied", ()))
        boxes = spec.boxes = [boxer(shape, dt, i in fresh) for i, (shape, dt) in
                              enumerate(zip(spec.out_shapes, spec.out_dtypes, strict=True))]
    return boxes


def _holds(spec: Specialization, call_args: Any) -> bool:
    """Whether a guarded specialization serves these (compiled-function) arguments."""
    return bool(spec.run(call_args)[spec.traced.n_outputs]) or _traced_on(spec, call_args)


def _truth(check: Any) -> bool:
    """A compiled guard check's verdict (read back from the device for a device target)."""
    return bool(host_copy(check))


def _traced_on(spec: Specialization, call_args: Any) -> bool:
    """Whether `call_args` are, bit for bit, the arguments `spec` was traced on (kept only
    where its compiled guard check rounds differently from the trace)."""
    snap = spec.traced_on
    if snap is None or len(snap) != len(call_args):
        return False
    for s, a in zip(snap, call_args, strict=True):
        arr = np.asarray(host_copy(a))
        if arr.dtype != s.dtype or arr.shape != s.shape or arr.tobytes() != s.tobytes():
            return False
    return True


def _regroup(trees: Sequence[Any] | None, grads: Sequence[Any]) -> list[Any]:
    """One gradient per differentiated argument, in its structure."""
    if trees is None:
        return list(grads)
    return pytree.regroup(trees, [_scalar(g) if isinstance(g, np.ndarray) and g.ndim == 0
                                  and t is not None else g
                                  for g, t in zip(grads, _leaf_owners(trees), strict=True)])


def _leaf_owners(trees: Sequence[Any]) -> list[Any]:
    return [t for t in trees for _ in range(1 if t is None else pytree.count(t))]


def _scalar(a: Any) -> Any:
    if isinstance(a, Tracer) or is_device_array(a):
        return a  # a 0-d device array stays one (as JAX's)
    return a[()] if a.ndim == 0 else a
