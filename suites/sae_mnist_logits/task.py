"""MNIST FFN, then a JumpReLU SAE on its logits (write-up 001_d0aa2a17005ee862).

A main-grid cell (``ffn`` = relu | geglu):
  1. split the 60k MNIST training images 80/20 into train/val (seeded), 10k test;
  2. train the FFN classifier (hidden, lr, epochs, batch_size), Adam, cross-entropy;
  3. collect its logits on train/val/test; standardise per dimension (train statistics);
  4. lambda calibration: for each lambda of the geometric grid
     lambda_min * lambda_ratio**k (k < lambda_points), train a fresh SAE for
     calib_epochs and measure its mean hard L0 on val; choose the lambda whose L0 is
     closest to target_actives;
  5. train a fresh final SAE at that lambda (sae_epochs, sae_lr, sae_batch_size);
  6. fidelity: accuracy and CE of the classifier's logits vs the SAE's reconstructed
     logits, MSE in normalised and raw space, per-example val MSE summary.
A sweep cell (``grid = "sweep"``: hidden x lr) runs steps 1-2 only (a ReLU FFN, with the
sweep_* settings) and reports validation and test CE and accuracy.

Vector metrics are per split, in the order [train, val, test]. Accuracies are
fractions (0.9721), as in the write-up. "train" is the rows the models trained on
(all 48k, or the first n_train of them at the small tiers).

The harness seeds the global RNG before calling run: model initialisations draw from
it, in the order classifier, calibration SAEs, final SAE. The split and every
per-epoch permutation draw from ctx.generator.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from baselines.mnist import load_mnist
from baselines.mnist1d_data import holdout_split
from baselines.sae import FFN, JumpReLUSAE
from harness.task_api import RunContext, check_finite

TASK_VERSION = "1"
SPLITS = ("train", "val", "test")
EVAL_CHUNK = 2048  # rows per forward pass when evaluating (bounds hidden-8192 memory)
MONOTONE_TOL = 0.05  # calibration L0 "never rises": rises below this (noise near L0 = 0) pass


# ------------------------------------------------------------------ helpers


def lambda_grid(lambda_min: float, ratio: float, points: int) -> list[float]:
    """The geometric calibration grid lambda_min * ratio**k, k < points."""
    if ratio <= 1 or points < 1 or lambda_min <= 0:
        raise ValueError(f"a geometric lambda grid needs lambda_min > 0, ratio > 1, points >= 1 "
                         f"(got {lambda_min}, {ratio}, {points})")
    return [lambda_min * ratio**k for k in range(points)]


def choose_lambda(lambdas: list[float], l0: list[float], target: float) -> int:
    """Index of the lambda whose mean hard L0 is closest to ``target`` (smaller on a tie)."""
    if len(lambdas) != len(l0):
        raise ValueError(f"{len(lambdas)} lambdas but {len(l0)} L0 measurements")
    return min(range(len(lambdas)), key=lambda i: (abs(l0[i] - target), lambdas[i]))


def per_example_summary(err: torch.Tensor) -> dict[str, float]:
    """The write-up's per-example validation MSE summary; ``err`` has one MSE per example."""
    e = err.double()
    n = e.numel()
    ordered = e.sort().values
    mean = e.mean().item()
    median = ordered[(n - 1) // 2].item()  # the lower median for an even count
    p95 = torch.quantile(e, 0.95).item()  # linear interpolation
    worst_k = max(1, round(0.05 * n))
    return {
        "val_mse_mean": mean,
        "val_mse_median": median,
        "val_mse_p95": p95,
        "val_mse_best": ordered[0].item(),
        "val_mse_best_idx": float(e.argmin().item()),
        "val_mse_worst": ordered[-1].item(),
        "val_mse_worst_idx": float(e.argmax().item()),
        "val_mse_top5_share": (ordered[-worst_k:].sum() / e.sum()).item(),
        "val_mse_mean_minus_median": mean - median,
        "val_mse_p95_over_mean": p95 / mean,
    }


def _fit(module: torch.nn.Module, n: int, epochs: int, batch_size: int, lr: float,
         ctx: RunContext, where: str, batch_loss: Callable[[torch.Tensor], torch.Tensor],
         after_step: Callable[[], None] = lambda: None,
         on_epoch: Callable[[int], None] | None = None) -> tuple[list[float], int]:
    """Adam (fused) over ``n`` rows: a seeded permutation per epoch, the last smaller batch
    kept; ``batch_loss(idx)`` is the loss of the rows ``idx``. Returns the mean loss per
    epoch and the number of optimiser steps."""
    opt = torch.optim.Adam(module.parameters(), lr=lr, fused=True)
    losses, steps = [], 0
    module.train()
    for e in range(epochs):
        perm = torch.randperm(n, generator=ctx.generator).to(ctx.device)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            loss = batch_loss(idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            after_step()
            total += loss.item() * len(idx)
            steps += 1
        epoch_loss = total / n
        check_finite(epoch_loss, f"{where} epoch {e}")
        losses.append(epoch_loss)
        if on_epoch:
            on_epoch(e)
    return losses, steps


def train_classifier(model: FFN, x: torch.Tensor, y: torch.Tensor, epochs: int,
                     batch_size: int, lr: float, ctx: RunContext,
                     on_epoch: Callable[[int], None]) -> tuple[list[float], int]:
    """The classifier on cross-entropy."""
    return _fit(model, len(x), epochs, batch_size, lr, ctx, "classifier",
                lambda idx: F.cross_entropy(model(x[idx]), y[idx]), on_epoch=on_epoch)


@torch.no_grad()
def predict(model: FFN, x: torch.Tensor) -> torch.Tensor:
    """Logits in chunks of EVAL_CHUNK rows (bounds the hidden-8192 activations)."""
    model.eval()
    return torch.cat([model(x[i:i + EVAL_CHUNK]) for i in range(0, len(x), EVAL_CHUNK)])


@torch.no_grad()
def ce_acc(logits: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(cross-entropy, accuracy as a fraction)."""
    return (F.cross_entropy(logits, y).item(),
            (logits.argmax(1) == y).double().mean().item())


def new_sae(params: dict, device: torch.device, train_logits: torch.Tensor) -> JumpReLUSAE:
    """A freshly initialised SAE with its standardiser fitted on the training logits."""
    sae = JumpReLUSAE(d=train_logits.shape[1], n_latents=int(params["sae_latents"]),
                      tau=float(params["tau"]), theta_init=float(params["theta_init"]),
                      normalize_inputs=bool(params["normalize_logits"])).to(device)
    sae.fit_standardizer(train_logits)
    return sae


def train_sae(sae: JumpReLUSAE, x: torch.Tensor, lam: float, epochs: int, batch_size: int,
              lr: float, ctx: RunContext, where: str,
              on_epoch: Callable[[int], None] | None = None) -> tuple[list[float], int]:
    """MSE + lam * mean hard L0, decoder columns renormalised after every step.
    ``x`` is in SAE space."""
    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        xb = x[idx]
        rec, gates = sae(xb)
        return F.mse_loss(rec, xb) + lam * gates.sum(1).mean()

    return _fit(sae, len(x), epochs, batch_size, lr, ctx, where, batch_loss,
                sae.renorm_decoder, on_epoch)


# ------------------------------------------------------------------ the task


def run(params: dict, ctx: RunContext) -> dict[str, float | list[float]]:
    if "seed" in params and int(params["seed"]) != ctx.seed:
        raise ValueError(f"params seed {params['seed']} != ctx.seed {ctx.seed}")
    return _run(params, ctx)


def _run(params: dict, ctx: RunContext) -> dict[str, float | list[float]]:
    device = ctx.device
    sweep = params.get("grid") == "sweep"
    kind = params.get("ffn", "relu")  # sweep cells have no ffn factor: ReLU MLPs
    hidden, lr = int(params["hidden"]), float(params["lr"])
    pre = "sweep_" if sweep else ""
    epochs = int(params[pre + "epochs"])
    batch_size = int(params[pre + "batch_size"])
    n_train = int(params[pre + "n_train"] or 0)
    n_eval = int(params[pre + "n_eval"] or 0)

    data = load_mnist(ctx.data_dir)
    x_tr, y_tr, x_val, y_val = holdout_split(data["x_train"], data["y_train"],
                                             float(params["val_fraction"]), ctx.generator)
    x_te, y_te = data["x_test"], data["y_test"]
    if n_train:  # the split is already a random permutation: the first rows are a sample
        x_tr, y_tr = x_tr[:n_train], y_tr[:n_train]
    if n_eval:
        x_val, y_val, x_te, y_te = x_val[:n_eval], y_val[:n_eval], x_te[:n_eval], y_te[:n_eval]
    xs = {"train": x_tr.to(device), "val": x_val.to(device), "test": x_te.to(device)}
    ys = {"train": y_tr.to(device), "val": y_val.to(device), "test": y_te.to(device)}
    n = len(xs["train"])

    # progress in units of optimiser steps over the whole cell
    sae_steps = 0
    if not sweep:
        lambdas = lambda_grid(float(params["lambda_min"]), float(params["lambda_ratio"]),
                              int(params["lambda_points"]))
        sae_epochs_total = len(lambdas) * int(params["calib_epochs"]) + int(params["sae_epochs"])
        sae_steps = sae_epochs_total * -(-n // int(params["sae_batch_size"]))
    ffn_steps = epochs * -(-n // batch_size)
    done = [0]

    def advance(steps: int) -> Callable[[int], None]:
        def on_epoch(e: int) -> None:
            done[0] += steps
            ctx.progress(min(1.0, done[0] / (ffn_steps + sae_steps)))
        return on_epoch

    # ---- classifier
    model = FFN(kind, d_in=xs["train"].shape[1], hidden=hidden).to(device)
    start = time.perf_counter()
    ffn_loss, steps = train_classifier(model, xs["train"], ys["train"], epochs, batch_size, lr,
                                       ctx, advance(-(-n // batch_size)))
    ffn_ms = 1e3 * (time.perf_counter() - start) / max(steps, 1)
    evaluated = ("val", "test") if sweep else SPLITS  # a sweep cell needs no train pass
    logits = {s: predict(model, xs[s]) for s in evaluated}
    base = {s: ce_acc(logits[s], ys[s]) for s in evaluated}
    metrics: dict[str, float | list[float]] = {
        "val_ce": base["val"][0], "val_acc": base["val"][1],
        "test_ce": base["test"][0], "test_acc": base["test"][1],
        "ffn_train_loss": ffn_loss, "ffn_ms_per_step": ffn_ms,
    }
    if sweep:
        return metrics

    # ---- lambda calibration
    target = float(params["target_actives"])
    sae_bs, sae_lr = int(params["sae_batch_size"]), float(params["sae_lr"])
    calib_epochs = int(params["calib_epochs"])
    calib_l0, calib_mse, calib_drop = [], [], []
    start, sae_step_count = time.perf_counter(), 0
    for lam in lambdas:
        sae = new_sae(params, device, logits["train"])
        _, s = train_sae(sae, sae.normalize(logits["train"]), lam, calib_epochs, sae_bs,
                         sae_lr, ctx, f"calibration lambda={lam:g}",
                         advance(-(-n // sae_bs)))
        sae_step_count += s
        sae.eval()
        with torch.no_grad():
            val_n = sae.normalize(logits["val"])
            rec_n, gates = sae(val_n)
        calib_l0.append(gates.sum(1).double().mean().item())
        calib_mse.append((rec_n - val_n).double().pow(2).mean().item())
        calib_drop.append(base["val"][1] - ce_acc(sae.denormalize(rec_n), ys["val"])[1])
    chosen = choose_lambda(lambdas, calib_l0, target)
    lam = lambdas[chosen]

    # ---- final SAE
    sae = new_sae(params, device, logits["train"])
    sae_loss, s = train_sae(sae, sae.normalize(logits["train"]), lam,
                            int(params["sae_epochs"]), sae_bs, sae_lr, ctx, "final SAE",
                            advance(-(-n // sae_bs)))
    sae_step_count += s
    sae_ms = 1e3 * (time.perf_counter() - start) / max(sae_step_count, 1)

    # ---- fidelity
    sae.eval()
    out: dict[str, dict[str, float]] = {}
    per_example_val = None
    with torch.no_grad():
        for split in SPLITS:
            target_n = sae.normalize(logits[split])
            rec_n, gates = sae(target_n)
            rec_raw = sae.denormalize(rec_n)
            ce_r, acc_r = ce_acc(rec_raw, ys[split])
            err_n = (rec_n - target_n).double().pow(2)
            out[split] = {
                "ce_base": base[split][0], "ce_recon": ce_r, "dce": ce_r - base[split][0],
                "acc_base": base[split][1], "acc_recon": acc_r, "dacc": acc_r - base[split][1],
                "mse_norm": err_n.mean().item(),
                "mse_raw": (rec_raw - logits[split]).double().pow(2).mean().item(),
                "l0": gates.sum(1).double().mean().item(),
            }
            if split == "val":
                per_example_val = err_n.mean(1)
                active_ever = gates.sum(0) > 0
    for name in out["train"]:
        metrics[name] = [out[s][name] for s in SPLITS]
    metrics.update(per_example_summary(per_example_val))
    metrics.update({
        "achieved_actives_val": out["val"]["l0"],
        "lambda_chosen": lam,
        "delta_acc_logits": out["test"]["acc_base"] - out["test"]["acc_recon"],
        "calib_l0": calib_l0,
        "calib_mse": calib_mse,
        "calib_acc_drop": calib_drop,
        "calib_l0_chosen": calib_l0[chosen],
        "calib_monotone": float(all(b <= a + MONOTONE_TOL
                                    for a, b in zip(calib_l0, calib_l0[1:], strict=False))),
        "dead_latents": float((~active_ever).sum().item()),
        "logit_var_mean": logits["train"].double().var(0, correction=0).mean().item(),
        "sae_train_loss": sae_loss,
        "sae_ms_per_step": sae_ms,
    })
    return metrics
