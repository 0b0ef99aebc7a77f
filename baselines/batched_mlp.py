"""Several SparseMLPs trained as one: parameters stacked along a leading model axis.

Each model keeps its own initialisation (built by ``SparseMLP`` under its own seed and
stacked), its own data order and its own Adam state and learning rate.

``exact=True`` (the default on CPU) reproduces the one-at-a-time numbers bit for bit
(tests check it): forward matmuls are one ``baddbmm``, but weight gradients,
transcendental activations and the final Adam step run per model, with the kernels and
tensor shapes of the one-model path. ``exact=False`` (the default on GPU, where the
one-model path's bits are not reproducible anyway) runs everything on the whole stack.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .sparse_mlp import SparseMLP


def _stack(models: list[SparseMLP], name: str) -> torch.Tensor:
    tensors = [dict(m.named_parameters())[name].detach() for m in models]
    return torch.stack(tensors).clone().requires_grad_(True)


class _BatchedLinear(torch.autograd.Function):
    """M independent linear layers. The forward is one ``baddbmm``; the backward computes
    each model's weight and bias gradient with the same kernels as ``F.linear``'s backward
    (``mm`` and ``sum`` per model), because a batched ``bmm`` sums in another order and the
    difference, about 1e-9 per step, grows chaotically over training."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad_x = torch.stack([g.mm(w) for g, w in zip(grad, weight, strict=True)]) \
            if ctx.needs_input_grad[0] else None
        grad_w = torch.stack([g.t().mm(xm) for g, xm in zip(grad, x, strict=True)])
        grad_b = torch.stack([g.sum(0) for g in grad])
        return grad_x, grad_w, grad_b


class _PerModelBroadcast(torch.autograd.Function):
    """(M, H) -> (M, B, H) view; the gradient is reduced per model, as F's broadcasting
    of an (H,) tensor over a (B, H) batch reduces it in the one-at-a-time model."""

    @staticmethod
    def forward(ctx, t: torch.Tensor, batch: int) -> torch.Tensor:
        return t.unsqueeze(1).expand(t.shape[0], batch, t.shape[1])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return torch.stack([g.sum(0) for g in grad]), None


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
            exact: bool = True) -> torch.Tensor:
    """x (M, B, in), weight (M, out, in), bias (M, out) -> (M, B, out)."""
    if exact:
        return _BatchedLinear.apply(x, weight, bias)
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


def _per_model(fn, x: torch.Tensor, exact: bool = True) -> torch.Tensor:
    """Apply a transcendental elementwise op one model at a time. Its SIMD and scalar
    paths differ in the last bit, and which elements take the scalar path depends on
    the tensor's size (and the per-thread chunks), so only the one-model shape gives
    the one-model bits."""
    return torch.stack([fn(t) for t in x]) if exact else fn(x)


def _soft_threshold(x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * F.relu(x.abs() - tau)


class BatchedSparseMLP:
    """The forward pass of M stacked SparseMLPs of one kind (plain tensors, no Module)."""

    def __init__(self, models: list[SparseMLP], exact: bool | None = None):
        kinds = {m.kind for m in models}
        if len(kinds) != 1:
            raise ValueError(f"one kind per batch, got {sorted(kinds)}")
        self.kind = kinds.pop()
        self.depth = len(models[0].fcs)
        names = [n for n, _ in models[0].named_parameters()]
        self.params = {n: _stack(models, n) for n in names}
        device = self.params[names[0]].device
        self.exact = device.type == "cpu" if exact is None else exact

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        p, exact = self.params, self.exact
        acts = []
        for i in range(self.depth):
            h = _per_model(F.gelu, _linear(x, p[f"fcs.{i}.weight"], p[f"fcs.{i}.bias"], exact),
                           exact)
            if self.kind == "fsb":
                tau = _per_model(F.softplus, p[f"bottlenecks.{i}.raw"], exact)
                tau = _PerModelBroadcast.apply(tau, h.shape[1]) if exact else tau.unsqueeze(1)
                h = _soft_threshold(h, tau)
            elif self.kind == "dsb":
                z = _linear(h, p[f"bottlenecks.{i}.tau_net.weight"],
                            p[f"bottlenecks.{i}.tau_net.bias"], exact)
                h = _soft_threshold(h, _per_model(F.softplus, z, exact))
            acts.append(h)
            x = h
        return _linear(x, p["head.weight"], p["head.bias"], exact), acts


class BatchedAdam:
    """torch.optim.Adam (defaults, single-tensor path) over stacked parameters, with one
    learning rate per model. Elementwise steps run on the whole stack; only the final
    ``addcdiv_``, whose scalar differs per model, runs per model."""

    def __init__(self, params: list[torch.Tensor], lrs: list[float],
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 exact: bool | None = None):
        self.params = params
        self.lrs = lrs
        self.exact = params[0].device.type == "cpu" if exact is None else exact
        self.lr_tensor = torch.tensor(lrs, dtype=params[0].dtype, device=params[0].device)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.step_count = 0
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, active: torch.Tensor | None = None) -> None:
        self.step_count += 1
        step = float(self.step_count)
        bias_correction1 = 1 - self.beta1**step
        bias_correction2_sqrt = (1 - self.beta2**step) ** 0.5
        for param, exp_avg, exp_avg_sq in zip(self.params, self.exp_avg, self.exp_avg_sq,
                                              strict=True):
            grad = param.grad
            exp_avg.lerp_(grad, 1 - self.beta1)
            exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
            if not self.exact:
                shape = (-1,) + (1,) * (param.dim() - 1)
                step = (self.lr_tensor / bias_correction1).view(shape)
                if active is not None:
                    step = step * active.to(step).view(shape)
                param.sub_(step * exp_avg / denom)
                continue
            for m, lr in enumerate(self.lrs):
                if active is None or active[m]:
                    param[m].addcdiv_(exp_avg[m], denom[m], value=-(lr / bias_correction1))

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None
