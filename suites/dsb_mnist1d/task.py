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

from baselines.batched_mlp import BatchedAdam, BatchedSparseMLP
from baselines.mnist1d_data import holdout_split, load_mnist1d
from baselines.sparse_mlp import KINDS, SparseMLP, count_params
from harness.determinism import seed_everything
from harness.task_api import Diverged, RunContext, check_finite

TASK_VERSION = "1"
# Cells that differ only in these parameters may train together in run_batch.
BATCH_VARYING = ("seed", "lr")


def _settings(params: dict, ctx: RunContext) -> dict:
    kind = params["model"]
    if kind not in KINDS:
        raise ValueError(f"unknown model {kind!r}; expected one of {KINDS}")
    if "seed" in params and int(params["seed"]) != ctx.seed:
        raise ValueError(f"params seed {params['seed']} != ctx.seed {ctx.seed}")
    return {
        "kind": kind,
        "hidden": int(params.get("hidden", 100)),
        "depth": int(params.get("depth", 3)),
        "epochs": int(params["epochs"]),
        "batch_size": int(params["batch_size"]),
        "lr": float(params["lr"]),
        "holdout": float(params.get("holdout", 0.0)),
        "n_train": int(params.get("n_train") or 0),
        "tau_bias": float(params.get("tau_bias", 0.0)),
    }


def _split(s: dict, ctx: RunContext) -> dict[str, torch.Tensor]:
    """This cell's train/val/test tensors on its device (the holdout draws from its generator)."""
    data = load_mnist1d()
    x_tr, y_tr, x_val, y_val = holdout_split(data["x_train"], data["y_train"], s["holdout"],
                                             ctx.generator)
    if s["n_train"]:
        x_tr, y_tr = x_tr[: s["n_train"]], y_tr[: s["n_train"]]
    out = {"x_tr": x_tr, "y_tr": y_tr, "x_val": x_val, "y_val": y_val,
           "x_te": data["x_test"], "y_te": data["y_test"]}
    return {k: v.to(ctx.device) for k, v in out.items()}


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return 100.0 * (logits.argmax(-1) == y).double().mean().item()


def _metrics(s: dict, test_logits, test_acts, train_logits, d, val_logits, params: int,
             train_loss: list[float]) -> dict[str, float | list[float]]:
    test_acc, train_acc = _accuracy(test_logits, d["y_te"]), _accuracy(train_logits, d["y_tr"])
    zero_pct = [100.0 * (a == 0).double().mean(1) for a in test_acts]  # each (n_inputs,)
    # SD across test inputs with ddof=0: the test set is the population described.
    sparsity_mean = [z.mean().item() for z in zero_pct]
    sparsity_sd = [z.std(correction=0).item() for z in zero_pct]
    metrics: dict[str, float | list[float]] = {
        "test_acc": test_acc,
        "train_acc": train_acc,
        "gen_gap": train_acc - test_acc,
        "sparsity_mean": sparsity_mean,
        "sparsity_sd": sparsity_sd,
        "sparsity_avg": sum(sparsity_mean) / len(sparsity_mean),
        "param_count": float(params),
        "train_loss": train_loss,
    }
    if s["holdout"] > 0:
        metrics["val_acc"] = _accuracy(val_logits, d["y_val"])
    return metrics


def run(params: dict, ctx: RunContext) -> dict[str, float | list[float]]:
    s = _settings(params, ctx)
    d = _split(s, ctx)
    x_tr, y_tr, n = d["x_tr"], d["y_tr"], len(d["x_tr"])
    model = SparseMLP(s["kind"], x_tr.shape[1], s["hidden"], s["depth"],
                      tau_bias=s["tau_bias"]).to(ctx.device)
    # The plain per-parameter Adam (not fused, not foreach): stable CPU numbers, and the
    # batched path replays exactly this update.
    opt = torch.optim.Adam(model.parameters(), lr=s["lr"], fused=False, foreach=False)
    train_loss = []
    model.train()
    for e in range(s["epochs"]):
        perm = torch.randperm(n, generator=ctx.generator).to(ctx.device)
        loss_sum = torch.zeros((), device=ctx.device)
        for i in range(0, n, s["batch_size"]):  # the last, smaller batch is kept
            idx = perm[i : i + s["batch_size"]]
            loss = F.cross_entropy(model(x_tr[idx]), y_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * len(idx)
        # One host sync per epoch: a NaN/inf anywhere in the epoch makes the sum non-finite.
        epoch_loss = loss_sum.item() / n
        check_finite(epoch_loss, f"epoch {e}")
        train_loss.append(epoch_loss)
        ctx.progress((e + 1) / s["epochs"])
    model.eval()
    with torch.no_grad():
        test_logits, test_acts = model(d["x_te"], return_acts=True)
        train_logits = model(x_tr)
        val_logits = model(d["x_val"]) if s["holdout"] > 0 else None
    return _metrics(s, test_logits, test_acts, train_logits, d, val_logits,
                    count_params(model), train_loss)


def run_batch(params_list: list[dict], ctxs: list[RunContext]) -> list[dict | Exception]:
    """Train the cells as one stacked model (same kind and sizes; seeds and LRs differ).

    Each model is initialised under its own seed, draws its own data order from its own
    generator and has its own Adam state: on CPU the results equal ``run``'s bit for bit.
    A model whose loss diverges stops updating and comes back as ``Diverged``.
    """
    settings = [_settings(p, c) for p, c in zip(params_list, ctxs, strict=True)]
    shared = {k: v for k, v in settings[0].items() if k != "lr"}
    if any({k: v for k, v in s.items() if k != "lr"} != shared for s in settings):
        raise ValueError("run_batch: cells differ in more than seed and lr")
    s = settings[0]
    device = ctxs[0].device
    splits = [_split(s, c) for c in ctxs]
    models = []
    for ctx in ctxs:
        seed_everything(ctx.seed)  # each model's initialisation, exactly as in run()
        models.append(SparseMLP(s["kind"], splits[0]["x_tr"].shape[1], s["hidden"], s["depth"],
                                tau_bias=s["tau_bias"]).to(device))
    net = BatchedSparseMLP(models)
    opt = BatchedAdam(net.parameters(), [x["lr"] for x in settings])
    x_tr = torch.stack([d["x_tr"] for d in splits])
    y_tr = torch.stack([d["y_tr"] for d in splits])
    m_count, n = x_tr.shape[:2]
    rows = torch.arange(m_count, device=device).unsqueeze(1)
    active = torch.ones(m_count, dtype=torch.bool)
    failed: dict[int, str] = {}
    curves: list[list[float]] = [[] for _ in ctxs]
    for e in range(s["epochs"]):
        perms = torch.stack([torch.randperm(n, generator=c.generator) for c in ctxs]).to(device)
        loss_sum = torch.zeros(m_count, device=device)
        for i in range(0, n, s["batch_size"]):
            idx = perms[:, i : i + s["batch_size"]]
            logits, _ = net(x_tr[rows, idx])
            losses = torch.stack([F.cross_entropy(logits[m], y_tr[m, idx[m]])
                                  for m in range(m_count)])
            opt.zero_grad()
            losses.sum().backward()  # the sum: each model gets exactly its own gradient
            opt.step(active)
            loss_sum += losses.detach() * idx.shape[1]
        for m, value in enumerate(v / n for v in loss_sum.tolist()):
            if not active[m]:
                continue
            if not torch.isfinite(torch.tensor(value)):
                active[m] = False
                failed[m] = f"non-finite loss {value} at epoch {e}"
            curves[m].append(value)
        for ctx in ctxs:
            ctx.progress((e + 1) / s["epochs"])
    with torch.no_grad():
        test_logits, test_acts = net(torch.stack([d["x_te"] for d in splits]))
        train_logits, _ = net(x_tr)
        val_logits = net(torch.stack([d["x_val"] for d in splits]))[0] \
            if s["holdout"] > 0 else None
    results: list[dict | Exception] = []
    for m, d in enumerate(splits):
        if m in failed:
            results.append(Diverged(failed[m]))
            continue
        results.append(_metrics(
            s, test_logits[m], [a[m] for a in test_acts], train_logits[m], d,
            None if val_logits is None else val_logits[m], count_params(models[m]), curves[m]))
    return results
