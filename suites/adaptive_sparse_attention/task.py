"""Dense vs fixed vs adaptive top-k attention on a synthetic language.

One cell trains one model variant (``model``) at one sequence length (``seq_len``)
with one seed, and evaluates it on a fixed validation set of that length.

params:
  model           dense | fixed25 | fixed50 | fixed75 | adaptive
  seq_len         tokens of context per sequence
  d_model, n_layers, n_heads, n_experts, moe_top_k
                  model size (other widths scale with d_model, see
                  baselines.sparse_transformer.config_for)
  max_len         position-embedding table size (the longest seq_len of the suite)
  keep_min, keep_max, gate_temperature
                  the adaptive controller's range of kept shares and gate width
  steps           optimiser steps
  tokens_per_step batch size in tokens; sequences per batch = tokens_per_step // seq_len
  lr, warmup, min_lr_ratio, weight_decay, grad_clip
                  AdamW with linear warm-up (share of steps) and cosine decay
  balance_coef    weight of the MoE load-balancing loss
  indexer_coef    weight of the indexer's KL loss (it trains only the indexer)
  val_per_type    validation sequences per sequence type
  val_seed        seed of the validation set (the same for every cell)
  log_every       steps per point of the train_loss curve
  timing_warmup   steps left out of the throughput median
  precision, compile
                  speed options: "bf16" autocast, torch.compile of the model; both change
                  the numbers, so they are off ("fp32", false) unless a tier asks

The adaptive cell also trains a Fixed-50 % model from the same seed on the same
batches, step for step in the same loop, so that "Adaptive vs Fixed 50 %" is a paired
comparison measured under the same load (``loss_vs_fixed50_pct``,
``speed_vs_fixed50_pct``). That model is bit-for-bit the one the fixed50 cell of the
same seed trains (same initialisation stream, same data), on the same device.

Model initialisation draws from the global RNG (seeded by the harness); the
training batches draw from ``ctx.generator``; the validation set from ``val_seed``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
import torch.utils.deterministic

from baselines.sparse_transformer import (
    VARIANTS,
    SparseTransformer,
    config_for,
    count_params,
)
from baselines.speed import autocast, check_speed_params
from baselines.synthetic_lm import (
    TYPES,
    VOCAB_SIZE,
    Batch,
    entropy_floor,
    sample,
    true_distribution_stats,
    validation_set,
)
from harness.task_api import RunContext, check_finite

TASK_VERSION = "1"

#: The write-up's model size ("256d, 4 layers, 8 heads, 4 experts"), for parameter counts.
WRITEUP_SIZE = {"d_model": 256, "n_layers": 4, "n_heads": 8, "n_experts": 4}


def build_config(variant: str, params: dict, size: dict | None = None):
    """A cell's model config, at the cell's own size unless ``size`` is given."""
    size = size or {k: int(params[k]) for k in WRITEUP_SIZE}
    return config_for(
        variant, **size, moe_top_k=int(params["moe_top_k"]), max_len=int(params["max_len"]),
        keep_min=float(params["keep_min"]), keep_max=float(params["keep_max"]),
        gate_temperature=float(params["gate_temperature"]))


def params_in_millions(variant: str, params: dict) -> float:
    """Parameters of ``variant`` at the write-up's size, counted without allocating."""
    with torch.device("meta"):
        model = SparseTransformer(build_config(variant, params, WRITEUP_SIZE))
    return count_params(model) / 1e6


def learning_rate(step: int, params: dict) -> float:
    steps, lr = int(params["steps"]), float(params["lr"])
    warm = max(1, round(float(params["warmup"]) * steps))
    if step < warm:
        return lr * (step + 1) / warm
    progress = (step - warm) / max(1, steps - warm)
    floor = float(params["min_lr_ratio"])
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def loss_terms(model: SparseTransformer, batch_inputs: torch.Tensor,
               batch_targets: torch.Tensor, params: dict) -> tuple[torch.Tensor, torch.Tensor]:
    out = model(batch_inputs)
    lm = F.cross_entropy(out.logits.reshape(-1, VOCAB_SIZE), batch_targets.reshape(-1))
    total = lm + float(params["balance_coef"]) * out.balance + \
        float(params["indexer_coef"]) * out.indexer_kl
    return total, lm


def train(models: list[SparseTransformer], data: torch.Tensor, params: dict,
          ctx: RunContext, precision: str = "fp32") -> list[dict]:
    """Train ``models`` on the same batches, step for step in one loop (each model's
    arithmetic is independent of the others). Returns per model the train-loss curve
    and the median tokens/s over the steps after ``timing_warmup``."""
    steps, seq_len = int(params["steps"]), int(params["seq_len"])
    per_batch = data.shape[0] // steps
    log_every, clip = int(params["log_every"]), float(params["grad_clip"])
    cuda = ctx.device.type == "cuda"
    opts = [torch.optim.AdamW(m.parameters(), lr=float(params["lr"]), betas=(0.9, 0.95),
                              weight_decay=float(params["weight_decay"]), fused=False)
            for m in models]
    curves: list[list[float]] = [[] for _ in models]
    sums = [torch.zeros((), device=ctx.device) for _ in models]
    times: list[list[float]] = [[] for _ in models]
    for m in models:
        m.train()
    for step in range(steps):
        batch = data[step * per_batch:(step + 1) * per_batch]  # already on the device
        inputs, targets = batch[:, :-1], batch[:, 1:]
        lr = learning_rate(step, params)
        for i, (model, opt) in enumerate(zip(models, opts, strict=True)):
            if cuda:
                torch.cuda.synchronize(ctx.device)
            start = time.perf_counter()
            for group in opt.param_groups:
                group["lr"] = lr
            with autocast(ctx.device, precision):
                total, lm = loss_terms(model, inputs, targets, params)
            opt.zero_grad(set_to_none=True)
            total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            if cuda:
                torch.cuda.synchronize(ctx.device)
            times[i].append(time.perf_counter() - start)
            sums[i] += lm.detach()
        if (step + 1) % log_every == 0 or step + 1 == steps:
            span = (step % log_every) + 1
            for i in range(len(models)):
                value = sums[i].item() / span
                check_finite(value, f"step {step + 1} (model {i})")
                curves[i].append(value)
                sums[i].zero_()
        ctx.progress((step + 1) / steps)
    skip = min(int(params["timing_warmup"]), steps - 1)
    tokens = per_batch * seq_len
    return [{"train_loss": curve, "tokens_per_s": tokens / statistics.median(t[skip:])}
            for curve, t in zip(curves, times, strict=True)]


@torch.no_grad()
def evaluate(model: SparseTransformer, val: Batch, chunk: int, device: torch.device,
             precision: str = "fp32") -> dict:
    """Loss, accuracy and key budget per sequence type; MoE balance; indexer KL."""
    model.eval()
    n, seq_len = val.tokens.shape[0], val.tokens.shape[1] - 1
    nll = torch.empty(n, seq_len, dtype=torch.float64)
    hit = torch.empty(n, seq_len, dtype=torch.float64)
    k_seq = torch.empty(n, dtype=torch.float64)
    balance = kl = 0.0
    load = torch.zeros(model.cfg.n_experts, dtype=torch.float64)
    for start in range(0, n, chunk):
        part = val.tokens[start:start + chunk].to(device)
        with autocast(device, precision):
            out = model(part[:, :-1])
        targets = part[:, 1:]
        logits = out.logits.float().reshape(-1, VOCAB_SIZE)
        rows = slice(start, start + len(part))
        nll[rows] = F.cross_entropy(logits, targets.reshape(-1), reduction="none") \
            .view(len(part), seq_len).double().cpu()
        hit[rows] = (out.logits.argmax(-1) == targets).double().cpu()
        k_seq[rows] = out.k.double().mean(1).cpu()
        weight = len(part) / n
        balance += weight * out.balance.item()
        kl += weight * out.indexer_kl.item()
        load += weight * out.expert_load.double().cpu()
    model.train()
    metrics: dict = {
        "val_loss": nll.mean().item(),
        "val_acc": 100.0 * hit.mean().item(),
        "moe_balance": balance,
        "indexer_kl": kl,
        "expert_load": (100.0 * load).tolist(),
    }
    by_type = [val.types == i for i in range(len(TYPES))]
    metrics["val_loss_by_type"] = [nll[m].mean().item() for m in by_type]
    metrics["val_acc_by_type"] = [100.0 * hit[m].mean().item() for m in by_type]
    k = [k_seq[m].mean().item() for m in by_type]
    metrics["k_by_type"] = k
    metrics["sparsity_by_type"] = [100.0 * (1.0 - v / seq_len) for v in k]
    metrics["sparsity_mean"] = sum(metrics["sparsity_by_type"]) / len(TYPES)
    metrics["k_type_range"] = max(k) - min(k)
    return metrics


@contextmanager
def no_uninitialized_fill() -> Iterator[None]:
    """Turn off deterministic mode's NaN-filling of new tensors for the duration (it cost
    about a fifth of a CPU step here, and no operation used reads uninitialised memory)."""
    before = torch.utils.deterministic.fill_uninitialized_memory
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.utils.deterministic.fill_uninitialized_memory = before


def run(params: dict, ctx: RunContext) -> dict[str, float | list[float]]:
    with no_uninitialized_fill():
        return _run(params, ctx)


def _run(params: dict, ctx: RunContext) -> dict[str, float | list[float]]:
    variant = params["model"]
    if variant not in VARIANTS:
        raise ValueError(f"unknown model {variant!r}; expected one of {sorted(VARIANTS)}")
    if "seed" in params and int(params["seed"]) != ctx.seed:
        raise ValueError(f"params seed {params['seed']} != ctx.seed {ctx.seed}")
    seq_len, steps = int(params["seq_len"]), int(params["steps"])
    per_batch = int(params["tokens_per_step"]) // seq_len
    if per_batch < 1:
        raise ValueError(f"tokens_per_step {params['tokens_per_step']} < seq_len {seq_len}")

    precision, compile_ = check_speed_params(params)
    models = [SparseTransformer(build_config(variant, params)).to(ctx.device)]
    if variant == "adaptive":  # the paired Fixed-50 % model: same init stream, same data
        torch.manual_seed(ctx.seed)
        models.append(SparseTransformer(build_config("fixed50", params)).to(ctx.device))
    if compile_:
        for model in models:
            model.compile()  # in place: the parameters stay the same tensors
    # every training batch, generated up front and moved once: no per-step host copies
    data = sample(steps * per_batch, seq_len, ctx.generator).tokens.to(ctx.device)
    trained = train(models, data, params, ctx, precision)

    val = validation_set(seq_len, int(params["val_per_type"]), int(params["val_seed"]))
    truth = true_distribution_stats(val)
    results = [evaluate(m, val, per_batch, ctx.device, precision) for m in models]
    metrics: dict = {**results[0], **trained[0]}
    metrics["entropy_floor"] = entropy_floor(seq_len)["mixed"]
    metrics["bayes_val_loss"] = truth["nll"].mean().item()
    metrics["bayes_val_acc"] = 100.0 * truth["top"].mean().item()
    metrics["param_count"] = float(count_params(models[0]))
    metrics["param_count_full_m"] = params_in_millions(variant, params)
    if variant == "adaptive":
        ref, ref_speed = results[1]["val_loss"], trained[1]["tokens_per_s"]
        # The write-up's signs: "Loss Improvement" (fixed - adaptive) / fixed, "Speed
        # Change" (adaptive - fixed) / fixed, both in percent.
        metrics["loss_vs_fixed50_pct"] = 100.0 * (ref - metrics["val_loss"]) / ref
        metrics["speed_vs_fixed50_pct"] = 100.0 * (metrics["tokens_per_s"] - ref_speed) / ref_speed
        fixed_full = params_in_millions("fixed50", params)
        metrics["param_overhead_full_m"] = metrics["param_count_full_m"] - fixed_full
        metrics["param_overhead_full_pct"] = 100.0 * metrics["param_overhead_full_m"] / fixed_full
    return metrics
