"""`adjit.optim`: PyTorch's SGD, Adam and AdamW, with PyTorch's update formulas.

An optimizer holds parameter groups (`param_groups`, a list of dicts: `params` and the
hyper-parameters) and per-parameter state (`state[p]`: momentum buffers, moments). `step()`
reads each parameter's `.grad` and changes the parameter in place, unrecorded, the way
`torch.optim`'s single-tensor code does (torch/optim/sgd.py and adam.py; the operations
below are theirs, in their order, so the float32 results round the same way up to fused
multiply-adds). Parameters without a gradient are skipped.

The arithmetic runs in place on the parameters' numpy arrays (no temporary tensors: an
11.7 M-parameter model steps at memory speed) and then moves each parameter's version
counter on, as PyTorch's in-place ops do, so a graph recorded before the step and
backpropagated after it reports the change instead of using the new values silently.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Callable

import numpy as np

from adjit.tracer.tensor import Tensor, enable_grad

__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]


def _bump(t: Tensor) -> None:
    """`t`'s array was changed in place: the version counter moves on (see the docstring)."""
    t._version[0] += 1


class Optimizer:
    """The base class: parameter groups, state, `zero_grad` and `state_dict`."""

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a Tensor")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered "
                            "collections, but the ordering of tensors in sets will change "
                            "between runs. Please use a list instead.")
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params "
                                f"is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group["params"] = params
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad = p.grad.detach()
                    p.grad._np[...] = 0
                    _bump(p.grad)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad._np
                if g.shape != p.shape:
                    raise RuntimeError(f"a parameter of shape {list(p.shape)} has a gradient "
                                       f"of shape {list(g.shape)}")
                if group.get("maximize", False):
                    g = -g
                self._update(p, p._np, g.astype(p.dtype, copy=False), self.state[p], group)
                _bump(p)
        return loss

    def _update(self, p: Tensor, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        raise NotImplementedError

    # ---- saving and restoring -------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """`{"state": {index: state}, "param_groups": [group with params as indices]}`, the
        parameters numbered in group order (PyTorch's layout)."""
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {index[id(p)]: {k: (v.clone() if isinstance(v, Tensor) else v)
                                for k, v in s.items()}
                 for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        params = []
        for mine, saved in zip(self.param_groups, groups, strict=True):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
            params.extend(zip(saved["params"], mine["params"], strict=True))
        by_index = dict(params)
        self.state = defaultdict(dict)
        for i, s in state_dict["state"].items():
            p = by_index[int(i)]
            self.state[p] = {k: (Tensor(np.array(v._np if isinstance(v, Tensor) else v,
                                                 dtype=p.dtype), _array=True)
                                 if isinstance(v, (Tensor, np.ndarray)) else v)
                             for k, v in s.items()}
        for mine, saved in zip(self.param_groups, groups, strict=True):
            for k, v in saved.items():
                if k != "params":
                    mine[k] = v

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {g[k]}" for k in sorted(g) if k != "params")
        return "\n".join(lines) + "\n)"


class SGD(Optimizer):
    """Stochastic gradient descent with momentum (PyTorch's form: the momentum buffer
    starts as the first gradient, then `buf = momentum * buf + (1 - dampening) * grad`;
    Nesterov uses `grad + momentum * buf`), and L2 weight decay added to the gradient."""

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: Any = None, differentiable: bool = False,
                 fused: Any = None) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _update(self, p: Tensor, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, momentum = group["lr"], group["momentum"]
        wd, dampening = group["weight_decay"], group["dampening"]
        if wd != 0:
            grad = grad + param * np.asarray(wd, param.dtype)  # grad.add(param, alpha=wd)
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = Tensor(np.array(grad, copy=True), _array=True)
                state["momentum_buffer"] = buf
            else:
                b = buf._np
                np.multiply(b, np.asarray(momentum, b.dtype), out=b)
                if dampening == 0:
                    np.add(b, grad, out=b)
                else:
                    np.add(b, grad * np.asarray(1 - dampening, b.dtype), out=b)
                _bump(buf)
            if group["nesterov"]:
                grad = grad + buf._np * np.asarray(momentum, param.dtype)
            else:
                grad = buf._np
        # param.add_(grad, alpha=-lr)
        param -= grad * np.asarray(lr, param.dtype)


class Adam(Optimizer):
    """Adam (Kingma and Ba) with PyTorch's bias corrections and epsilon placement:
    `p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`; `weight_decay` adds
    `wd * p` to the gradient (L2), or with `decoupled_weight_decay` (AdamW) shrinks
    `p` by `lr * wd` first; `amsgrad` keeps the running maximum of `v`."""

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: Any = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: Any = None,
                 decoupled_weight_decay: bool = False) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _update(self, p: Tensor, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        wd, dt = group["weight_decay"], param.dtype
        if not state:
            state["step"] = 0
            state["exp_avg"] = Tensor(np.zeros_like(param), _array=True)
            state["exp_avg_sq"] = Tensor(np.zeros_like(param), _array=True)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = Tensor(np.zeros_like(param), _array=True)
        state["step"] += 1
        step = state["step"]
        if wd != 0:
            if group["decoupled_weight_decay"]:
                param *= np.asarray(1 - lr * wd, dt)  # param.mul_(1 - lr * wd)
            else:
                grad = grad + param * np.asarray(wd, dt)  # grad.add(param, alpha=wd)
        m, v = state["exp_avg"]._np, state["exp_avg_sq"]._np
        # exp_avg.lerp_(grad, 1 - beta1): torch's lerp is self + w * (end - self) for w < 0.5
        w = 1 - beta1
        if w < 0.5:
            m += (grad - m) * np.asarray(w, dt)
        else:
            m[...] = grad - (grad - m) * np.asarray(1 - w, dt)
        # exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        v *= np.asarray(beta2, dt)
        v += grad * grad * np.asarray(1 - beta2, dt)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = math.sqrt(bias_correction2)
        if group["amsgrad"]:
            vmax = state["max_exp_avg_sq"]._np
            np.maximum(vmax, v, out=vmax)
            _bump(state["max_exp_avg_sq"])
            denom = np.sqrt(vmax)
        else:
            denom = np.sqrt(v)
        denom /= np.asarray(bias_correction2_sqrt, dt)
        denom += np.asarray(eps, dt)
        # param.addcdiv_(exp_avg, denom, value=-step_size)
        param -= (m / denom) * np.asarray(step_size, dt)
        _bump(state["exp_avg"])
        _bump(state["exp_avg_sq"])


class AdamW(Adam):
    """Adam with decoupled weight decay (`p *= 1 - lr * weight_decay` before the step)."""

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 **kwargs: Any) -> None:
        kwargs.pop("decoupled_weight_decay", None)
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad,
                         decoupled_weight_decay=True, **kwargs)
