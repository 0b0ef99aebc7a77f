"""SPARLING on DIGIT CIRCLE: train one method, score the sequence and the motifs.

params (see suite.toml for the values per tier):
  method        MT | ST | L1 | KL | MT_noBN | MT_fixed
                  MT, ST     thresholds behind batch norm, density annealed
                  L1, KL     penalty on the (batch-normed) motif activations, no target
                  MT_noBN    MT without the batch norm (ablation)
                  MT_fixed   MT held at target_density / anneal_factor, no annealing (ablation)
  size, font_px, min_radius, jitter, max_digits, pre_noise, post_noise   the data
  width, units, d_model, heads, enc_layers, dec_layers, pool             the network
  batch_size, lr, warmup, clip, max_steps                                the optimiser
  val_every, n_val, n_test, eval_batch, data_seed                        evaluation
  start_density, target_density, anneal_factor, bar_start, bar_decay,
  bar_min, anneal_on ("exact" | "edit"), momentum, probe_above,
  near_target, bar_decay_near, train_on, probe_steps                     sparsity
  attend ("soft" | "active" | "all"), attend_eps, polar_harmonics,
  log_values, read_active, kl_feed                                       the decoder's readout
  l1_weight, kl_weight                                                   baselines
  precision ("fp32" | "bf16"), compile (bool), channels_last (bool)      speed options
                (bf16 autocast; torch.compile of the extractor and the transformer
                blocks; the convolutions in channels-last memory layout); each changes
                the numbers, so they are off unless a tier asks

The network is ``baselines.sparling_readout.ReadoutNet``: the motif model and sparsity
layer of ``baselines.sparling`` and a decoder with the readout choices above (suite.toml
``[choices] decoder_readout``). ``train_on`` keeps training at the target once the bar
is beaten there (the paper stops); ``probe_steps`` > 0 takes the probe after the run
instead of during the descent: the density goes back up ``probe_above`` reductions, the
network trains that many steps more, and the test evaluation there is the probe.

Training batch ``k`` of a cell is DIGIT CIRCLE samples ``k*B .. k*B+B-1`` of stream 0
under the cell's seed (a fresh stream, as in the paper); the validation and test sets
are streams 1 and 2 under ``data_seed``, the same for every cell. Model initialisation
draws from the global RNG the harness seeded; nothing else is random.

Metrics: see suite.toml ``[metrics]``. Motif scoring follows the authors' evaluation
(sparling-repro ``pixel_art/analysis/evaluate_motifs.py``): for each stamp, in the
order stamped, the channel with the largest activation inside the stamp's box is its
prediction ("none" if no activation is there) and the box is cleared; every active
position left over is a false positive. FNE = undetected stamps / stamps; FPE =
false positives / (false positives + detected stamps); CE = 1 - (detected stamps on
the channel that the Hungarian matching of channels to digits assigns to their digit)
/ detected stamps (100 % when nothing is detected). ``motif_acc`` (ours, one number
for "identifies the motifs") = correctly identified stamps / (stamps + false positives).
"""

from __future__ import annotations

import functools
import statistics
import time

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from baselines.digit_circle import DigitCircleConfig, generate
from baselines.sparling import (
    BOS,
    EOS,
    DensityAnnealer,
    forward_flops,
    sequence_loss,
)
from baselines.sparling_readout import ReadoutNet
from baselines.speed import autocast, check_speed_params
from harness.task_api import RunContext, check_finite

TASK_VERSION = "2"

# method -> (bottleneck, batch norm, annealed)
VARIANTS = {
    "MT": ("MT", True, True),
    "ST": ("ST", True, True),
    "L1": ("L1", True, False),
    "KL": ("KL", True, False),
    "MT_noBN": ("MT", False, True),
    "MT_fixed": ("MT", True, False),
}
ATTEND = ("soft", "active", "all")  # soft key bias, hard mask on active cells, everywhere


# ----------------------------------------------------------------- data


def data_config(p: dict) -> DigitCircleConfig:
    return DigitCircleConfig(size=int(p["size"]), font_px=int(p["font_px"]),
                             min_radius=int(p["min_radius"]), jitter=int(p["jitter"]),
                             max_digits=int(p["max_digits"]), pre_noise=float(p["pre_noise"]),
                             post_noise=float(p["post_noise"]))


@functools.lru_cache(maxsize=4)
def _fixed_set(cfg: DigitCircleConfig, data_seed: int, stream: int, n: int):
    return generate(cfg, data_seed, stream, 0, n)  # shared by every cell of a process


def teacher_forcing(labels: np.ndarray, lengths: np.ndarray, device):
    """Decoder input [BOS, d1..dk, EOS..], targets [d1..dk, EOS, EOS..], mask up to EOS."""
    n, m = labels.shape
    targets = np.full((n, m + 1), EOS, dtype=np.int64)
    targets[:, :m] = np.where(labels >= 0, labels, EOS)
    tokens_in = np.concatenate([np.full((n, 1), BOS), targets[:, :-1]], 1)
    mask = np.arange(m + 1)[None] <= lengths[:, None]
    return (torch.from_numpy(tokens_in).to(device), torch.from_numpy(targets).to(device),
            torch.from_numpy(mask).to(device=device, dtype=torch.float32))


def motif_minimum(cfg: DigitCircleConfig, motifs: int = 10) -> float:
    """The density at which the motif map holds one active entry per digit on average:
    mean digits per image / (motif channels x map positions). The paper's canvas (3-6
    digits, 10 channels, 100 x 100) gives 4.5e-5; its target 5.0226e-5 is 1.116 x that."""
    mean_digits = (cfg.min_digits + cfg.max_digits) / 2  # the count is uniform
    return mean_digits / (motifs * cfg.size * cfg.size)


# ----------------------------------------------------------------- scoring


def edit_distance(a: list[int], b: list[int]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def sequences(tokens: np.ndarray) -> list[list[int]]:
    """Greedy outputs up to the first EOS."""
    out = []
    for row in tokens.tolist():
        out.append(row[: row.index(EOS)] if EOS in row else row)
    return out


def sequence_scores(pred: list[list[int]], labels: np.ndarray, lengths: np.ndarray
                    ) -> tuple[float, float]:
    """(exact-sequence accuracy, mean edit distance / max length), both fractions."""
    exact, err = 0, 0.0
    for p, lab, k in zip(pred, labels, lengths, strict=True):
        true = lab[:k].tolist()
        exact += p == true
        err += edit_distance(p, true) / max(len(p), len(true))
    return exact / len(pred), err / len(pred)


def motif_confusion(values: np.ndarray, active: np.ndarray, digits: np.ndarray,
                    boxes: np.ndarray) -> np.ndarray:
    """Counts (channels + 1, 11): rows channel / none, columns digit / none."""
    n, c = values.shape[:2]
    conf = np.zeros((c + 1, 11), dtype=np.int64)
    for i in range(n):
        act = active[i].copy()
        val = np.where(act, values[i], -np.inf)
        for d, (r0, c0, r1, c1) in zip(digits[i], boxes[i], strict=True):
            if d < 0:
                break
            region = act[:, r0:r1, c0:c1]
            if region.any():
                conf[int(val[:, r0:r1, c0:c1].max(axis=(1, 2)).argmax()), d] += 1
            else:
                conf[c, d] += 1
            act[:, r0:r1, c0:c1] = False
            val[:, r0:r1, c0:c1] = -np.inf
        conf[:c, 10] += act.sum(axis=(1, 2))
    return conf


def motif_errors(conf: np.ndarray) -> dict[str, float]:
    """FPE, FNE, CE and motif_acc in percent from a confusion count matrix."""
    c = conf.shape[0] - 1
    core = conf[:c, :10]
    stamps, missed, false_pos = conf[:, :10].sum(), conf[c, :10].sum(), conf[:c, 10].sum()
    detected = core.sum()
    rows, cols = linear_sum_assignment(-core)
    matched = core[rows, cols].sum()
    return {
        "fne": 100.0 * missed / max(stamps, 1),
        "fpe": 100.0 * false_pos / max(false_pos + detected, 1),
        "ce": 100.0 * (1 - matched / detected) if detected else 100.0,
        "motif_acc": 100.0 * matched / max(stamps + false_pos, 1),
    }


def timer(device: torch.device):
    """The clock of the timing metrics. On a CPU, this process's CPU time: a tier's cells
    run two at a time on shared machines, and another process taking a core stretches a
    cell's wall time but not the CPU time its steps need (the tiers pin one thread, so the
    two agree on a quiet machine). On a GPU, wall time: kernels run asynchronously, and
    the caller synchronises before reading it."""
    return time.perf_counter if device.type == "cuda" else time.process_time


@torch.no_grad()
def evaluate(model: ReadoutNet, data, device, batch: int, motifs: bool,
             precision: str = "fp32") -> dict:
    """Greedy sequences (and, with ``motifs``, motif scores and density) on ``data``."""
    was_training = model.training
    model.eval()
    preds, conf, active, zeros, total, per_channel = [], None, 0, 0, 0, None
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    clock = timer(device)
    elapsed = 0.0  # the model's time only: motifs and greedy decoding, not the scoring
    for i in range(0, len(data.images), batch):
        images = torch.from_numpy(data.images[i : i + batch]).to(device)
        sync()
        start = clock()
        with autocast(device, precision):
            m = model.motifs(images)
            tokens = model.greedy(m)
        sync()
        elapsed += clock() - start
        preds += sequences(tokens.cpu().numpy())
        if motifs:
            act = model.bottleneck.active(m)
            active += int(act.sum())
            zeros += int((m == 0).sum())
            total += act.numel()
            counts = act.sum(dim=(0, 2, 3)).cpu().numpy()
            per_channel = counts if per_channel is None else per_channel + counts
            part = motif_confusion(m.float().cpu().numpy(), act.cpu().numpy(),
                                   data.digits[i : i + batch], data.boxes[i : i + batch])
            conf = part if conf is None else conf + part
    model.train(was_training)
    exact, err = sequence_scores(preds, data.labels, data.lengths)
    out = {"exact": exact, "edit_err": err, "ms_per_image": 1000 * elapsed / len(preds)}
    if motifs:
        out.update(motif_errors(conf), density=active / total, zeros=zeros / total,
                   per_channel=per_channel)
    return out


# ----------------------------------------------------------------- training


def run(params: dict, ctx: RunContext) -> dict[str, float | list[float]]:
    p = params
    if p["method"] not in VARIANTS:
        raise ValueError(f"unknown method {p['method']!r}; expected one of {list(VARIANTS)}")
    if "seed" in p and int(p["seed"]) != ctx.seed:
        raise ValueError(f"params seed {p['seed']} != ctx.seed {ctx.seed}")
    kind, batch_norm, annealed = VARIANTS[p["method"]]
    precision, compile_ = check_speed_params(p)
    device, cfg = ctx.device, data_config(p)
    target, factor = float(p["target_density"]), float(p["anneal_factor"])
    density = float(p["start_density"]) if annealed else target / factor
    max_len = cfg.max_digits + 1

    model = ReadoutNet(kind, cfg.size, int(p["width"]), int(p["units"]), 10, batch_norm,
                       density, int(p["d_model"]), int(p["heads"]), int(p["enc_layers"]),
                       int(p["dec_layers"]), int(p["pool"]), max_len, float(p["momentum"]),
                       **readout_options(p, kind)).to(device)
    if _flag(p, "channels_last"):  # oneDNN's fastest convolutions on CPU (benchmarks/)
        model = model.to(memory_format=torch.channels_last)
    if compile_:  # the dense parts; the bottleneck's data-dependent threshold stays eager
        for module in (model.extractor, *model.decoder.encoder, *model.decoder.decoder):
            module.compile()
    # fused: one kernel for all parameters (2.1 against 4.5 ms per step at the cpu tier)
    opt = torch.optim.Adam(model.parameters(), lr=float(p["lr"]), fused=True)
    warmup = max(int(p["warmup"]), 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    annealer = DensityAnnealer(density, target, factor, float(p["bar_start"]),
                               float(p["bar_decay"]), float(p["bar_min"]),
                               int(p["near_target"]), float(p["bar_decay_near"])
                               ) if annealed else None
    # the probe evaluation is taken at this many reductions, probe_above short of the target
    probe_k = max(annealer.steps_to_target() - int(p["probe_above"]), 0) if annealer else -1
    probe_steps, train_on = int(p["probe_steps"]), _flag(p, "train_on")
    if probe_steps < 0:
        raise ValueError(f"probe_steps must be >= 0, not {probe_steps}")

    val = _fixed_set(cfg, int(p["data_seed"]), 1, int(p["n_val"]))
    test = _fixed_set(cfg, int(p["data_seed"]), 2, int(p["n_test"]))
    eval_batch = int(p["eval_batch"])
    max_steps, val_every = int(p["max_steps"]), int(p["val_every"])
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    curves = {"train_loss": [], "val_acc_curve": [], "density_curve": []}
    probe, step, loss_sum = None, 0, torch.zeros((), device=device)
    interval_ms: list[float] = []  # training time per step, per validation interval
    clock = timer(device)
    model.train()
    tick = clock()
    train = functools.partial(_train_step, model, opt, sched, p, cfg, ctx.seed, device,
                              precision)
    while step < max_steps:
        loss_sum += train(step)
        step += 1
        if step % val_every and step < max_steps:
            continue
        sync()
        interval = (step - 1) % val_every + 1
        interval_ms.append(1000.0 * (clock() - tick) / interval)
        mean_loss = loss_sum.item() / interval
        check_finite(mean_loss, f"step {step}")
        loss_sum.zero_()
        v = evaluate(model, val, device, eval_batch, motifs=False, precision=precision)
        acc = v["exact"] if p["anneal_on"] == "exact" else 1.0 - v["edit_err"]
        curves["train_loss"].append(mean_loss)
        curves["val_acc_curve"].append(100.0 * acc)
        curves["density_curve"].append(100.0 * (model.bottleneck.density or 0.0))
        ctx.progress(step / max_steps)
        if annealer is not None and step < max_steps:  # never change density untrained
            before = annealer.reductions
            outcome = annealer.step(acc)
            if (outcome != "hold" and before == probe_k and probe is None
                    and not probe_steps):
                probe = evaluate(model, test, device, eval_batch, motifs=True,
                                 precision=precision)
            if outcome == "done" and not train_on:
                break
            model.bottleneck.density = annealer.density
        tick = clock()

    final = evaluate(model, test, device, eval_batch, motifs=True, precision=precision)
    # the density target the test ran at: the after-run probe below moves the layer's
    final["target"] = model.bottleneck.density
    # the first interval holds the warm-up (allocator, autotuning, compilation): left out
    step_ms = statistics.median(interval_ms[1:] or interval_ms)
    if probe_steps and annealer is not None and annealer.at_target:
        model.bottleneck.density = float(p["start_density"]) * factor ** probe_k
        model.bottleneck.sparse.fresh = True  # the next batch sets the thresholds afresh
        for extra in range(probe_steps):
            train(step + extra)
        probe = evaluate(model, test, device, eval_batch, motifs=True, precision=precision)
    return _metrics(p, annealer, final, probe, curves, step, step_ms)


def _train_step(model: ReadoutNet, opt, sched, p: dict, cfg: DigitCircleConfig, seed: int,
                device, precision: str, step: int) -> torch.Tensor:
    """One optimiser step on training batch ``step`` of stream 0; the detached loss."""
    batch = int(p["batch_size"])
    data = generate(cfg, seed, 0, step * batch, batch)
    images = torch.from_numpy(data.images).to(device)
    tokens_in, targets, mask = teacher_forcing(data.labels, data.lengths, device)
    with autocast(device, precision):
        logits, m = model(images, tokens_in)
        loss = sequence_loss(logits, targets, mask) + model.bottleneck.penalty(
            m, float(p["l1_weight"]), float(p["kl_weight"]), float(p["target_density"]))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), float(p["clip"]))
    opt.step()
    sched.step()
    return loss.detach()


def readout_options(p: dict, kind: str) -> dict:
    """``ReadoutNet``'s keyword options from the params (``kl_feed`` acts on KL only)."""
    if p["attend"] not in ATTEND:
        raise ValueError(f"attend must be one of {list(ATTEND)}, not {p['attend']!r}")
    harmonics = int(p["polar_harmonics"])
    if harmonics < 0:
        raise ValueError(f"polar_harmonics must be >= 0 (0: no polar features), not {harmonics}")
    return {"attend_active": p["attend"] == "active", "soft_bias": p["attend"] == "soft",
            "soft_eps": float(p["attend_eps"]), "polar": harmonics > 0,
            "harmonics": max(harmonics, 1), "log_values": _flag(p, "log_values"),
            "read_active": _flag(p, "read_active"),
            "kl_feed": _flag(p, "kl_feed") and kind == "KL"}


def _flag(p: dict, key: str) -> bool:
    value = p.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, not {value!r}")
    return value


def _metrics(p, annealer, final, probe, curves, steps, step_ms) -> dict:
    cfg = data_config(p)
    counts = final["per_channel"].astype(float)
    flops = forward_flops(int(p["size"]), int(p["width"]), int(p["units"]), 10,
                          int(p["d_model"]), int(p["enc_layers"]), int(p["dec_layers"]),
                          int(p["pool"]), int(p["max_digits"]) + 1)
    total = sum(flops.values())
    out = {
        "e2e_acc": 100.0 * final["exact"],
        "e2e_err": 100.0 * final["edit_err"],
        "e2e_edit_acc": 100.0 * (1.0 - final["edit_err"]),
        "density_pct": 100.0 * final["density"],
        "density_over_minimum": final["density"] / motif_minimum(cfg),
        "sparsity_pct": 100.0 * (1.0 - final["density"]),
        "fpe": final["fpe"], "fne": final["fne"], "ce": final["ce"],
        "motif_acc": final["motif_acc"],
        "channel_cv": float(counts.std() / counts.mean()) if counts.mean() > 0 else 0.0,
        "dead_channels": float((counts == 0).sum()),
        "steps": float(steps),
        "gflops": total / 1e9,
        "flops_saved_pct": 100.0 * flops["embed"] * final["zeros"] / total,
        "step_ms": step_ms,
        "infer_ms": final["ms_per_image"],
        **curves,
    }
    if final["target"] is not None:  # MT / ST family
        out["target_density_pct"] = 100.0 * final["target"]
        out["target_over_minimum"] = final["target"] / motif_minimum(cfg)
        out["density_over_target"] = final["density"] / final["target"]
    if annealer is not None:
        out["reached_target"] = float(annealer.at_target)
        out["finished"] = float(annealer.done)
        out["anneal_steps"] = float(annealer.reductions)
        if probe is not None:
            for key, name in [("fpe", "fpe"), ("fne", "fne"), ("ce", "ce"),
                              ("motif_acc", "motif_acc")]:
                out[f"{name}_at"] = [probe[key], final[key]]
            out["e2e_err_at"] = [100.0 * probe["edit_err"], 100.0 * final["edit_err"]]
            out["density_at"] = [100.0 * probe["density"], 100.0 * final["density"]]
    return out
