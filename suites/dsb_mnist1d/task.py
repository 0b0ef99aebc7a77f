"""DSB on MNIST-1D: train a Baseline / FSB / DSB MLP, report accuracy and sparsity.

params:
  model       "baseline" | "fsb" | "dsb"
  hidden      hidden width (default 100)
  depth       number of hidden layers (default 3)
  epochs, batch_size, lr
  holdout     fraction of the 4000 training rows held out for validation
              (default 0: train on all 4000, no val_acc)
  seed        must equal ctx.seed when given
  n_train     optional: keep only the first n rows of the (post-holdout)
              training set, for smoke runs; absent or 0 = all
  tau_bias    optional (default 0): initial pre-softplus threshold, FSB's raw and
              DSB's b_tau. At 0 (tau ~ ln 2) FSB/DSB start with layers 2-3 fully
              zeroed and never train (see baselines/sparse_mlp.py).

The harness seeds the global RNG (torch.manual_seed(ctx.seed)) before calling
run; model initialisation draws from it and is not reseeded here. The holdout
split and the per-epoch shuffles draw from ctx.generator (CPU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from baselines.mnist1d_data import holdout_split, load_mnist1d
from baselines.sparse_mlp import KINDS, SparseMLP, count_params
from harness.task_api import RunContext, check_finite

TASK_VERSION = "1"


@torch.no_grad()
def evaluate(
    model: SparseMLP, x: torch.Tensor, y: torch.Tensor
) -> tuple[float, list[torch.Tensor]]:
    """Accuracy in percent and, per hidden layer, each input's % of exact zeros.

    One batch: the whole MNIST-1D split fits easily (at most 4000 x hidden floats
    per layer).
    """
    was_training = model.training
    model.eval()
    logits, acts = model(x, return_acts=True)
    model.train(was_training)
    acc = 100.0 * (logits.argmax(1) == y).double().mean().item()
    zero_pct = [100.0 * (a == 0).double().mean(1) for a in acts]  # each (n_inputs,)
    return acc, zero_pct


def run(params: dict, ctx: RunContext) -> dict[str, float | list[float]]:
    kind = params["model"]
    if kind not in KINDS:
        raise ValueError(f"unknown model {kind!r}; expected one of {KINDS}")
    hidden = int(params.get("hidden", 100))
    depth = int(params.get("depth", 3))
    epochs = int(params["epochs"])
    batch_size = int(params["batch_size"])
    lr = float(params["lr"])
    holdout = float(params.get("holdout", 0.0))
    n_train = int(params.get("n_train") or 0)
    tau_bias = float(params.get("tau_bias", 0.0))
    if "seed" in params and int(params["seed"]) != ctx.seed:
        raise ValueError(f"params seed {params['seed']} != ctx.seed {ctx.seed}")
    device = ctx.device

    data = load_mnist1d()
    x_tr, y_tr, x_val, y_val = holdout_split(
        data["x_train"], data["y_train"], holdout, ctx.generator
    )
    if n_train:
        x_tr, y_tr = x_tr[:n_train], y_tr[:n_train]
    x_tr, y_tr = x_tr.to(device), y_tr.to(device)
    x_val, y_val = x_val.to(device), y_val.to(device)
    x_te, y_te = data["x_test"].to(device), data["y_test"].to(device)
    n = len(x_tr)

    model = SparseMLP(kind, x_tr.shape[1], hidden, depth, tau_bias=tau_bias).to(device)
    # Not fused (nor foreach-forced): the plain per-parameter loop keeps CPU numbers stable.
    opt = torch.optim.Adam(model.parameters(), lr=lr, fused=False)

    train_loss = []
    model.train()
    for e in range(epochs):
        perm = torch.randperm(n, generator=ctx.generator).to(device)
        loss_sum = torch.zeros((), device=device)
        for i in range(0, n, batch_size):  # the last, smaller batch is kept
            idx = perm[i : i + batch_size]
            loss = F.cross_entropy(model(x_tr[idx]), y_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * len(idx)
        # One host sync per epoch: a NaN/inf anywhere in the epoch makes the sum non-finite.
        epoch_loss = loss_sum.item() / n  # sample-weighted mean of the running batch losses
        check_finite(epoch_loss, f"epoch {e}")
        train_loss.append(epoch_loss)
        ctx.progress((e + 1) / epochs)

    test_acc, test_zero_pct = evaluate(model, x_te, y_te)
    train_acc, _ = evaluate(model, x_tr, y_tr)
    # SD across test inputs with ddof=0 (population SD: the test set is the whole population
    # described, not a sample).
    sparsity_mean = [z.mean().item() for z in test_zero_pct]
    sparsity_sd = [z.std(correction=0).item() for z in test_zero_pct]
    metrics: dict[str, float | list[float]] = {
        "test_acc": test_acc,
        "train_acc": train_acc,
        "gen_gap": train_acc - test_acc,
        "sparsity_mean": sparsity_mean,
        "sparsity_sd": sparsity_sd,
        "sparsity_avg": sum(sparsity_mean) / len(sparsity_mean),
        "param_count": float(count_params(model)),
        "train_loss": train_loss,
    }
    if holdout > 0:
        metrics["val_acc"] = evaluate(model, x_val, y_val)[0]
    return metrics
