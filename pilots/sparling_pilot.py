"""One end-to-end SPARLING pilot: ReadoutNet on the suite's data, scored by the suite.

The suite's ``run()`` trains ``SparlingNet`` with the paper's schedule and returns
metrics only at the end. A pilot asks a different question -- does a readout option or
a schedule change let the model learn the digits' order *before* the density falls --
so it needs the whole trajectory, other schedules, and runs that survive being killed.
Everything that defines the task is imported from ``suites/sparling/task.py``, never
copied: the data (``data_config``, ``generate``, ``_fixed_set``), ``teacher_forcing``,
``evaluate``, ``sequence_scores``, ``sequences`` and ``motif_minimum``; the parameters
come from a tier of ``suite.toml``, with ``--set`` overrides checked as the CLI checks them.

Every ``--val-every`` steps one CSV row is appended and flushed (split ``val``):

    step, split, density, density_over_min, train_loss, exact, edit, multiset, bar,
    action, motif_acc, ms_per_step

``density`` is the layer's density during the interval that ended at ``step`` (what
``action`` then changes); ``multiset`` counts a sequence right when it has the right
digits in any order, the ceiling of a reader that does not know the order. Accuracies
are percent. ``action``: ``reduce`` / ``hold`` (the annealer's), ``wait`` (before
``--anneal-after``), ``held`` (at the ``--hold-at`` level, or at the target with
``--train-on``: annealing stopped, training goes on), ``done`` (the target passed: the
run ends, as in the suite), ``end`` (the last step: the suite never anneals there). A
last row (split ``test``) holds the test set's scores, its *measured* eval-mode density
and motif accuracy. ``<out>.json`` records the
parameters and options, and at the end the test set's motif errors.

Checkpoints (``--checkpoint``) hold the model, optimiser, scheduler, annealer and RNG
states; a run started with an existing checkpoint resumes from it, first cutting the
CSV back to the checkpoint's step, so the rows equal an uninterrupted run's (all but
``ms_per_step``). ``--steps`` may grow on resume; every other setting must match.

    OMP_NUM_THREADS=1 PYTHONPATH=. python pilots/sparling_pilot.py --tier cpu \\
        --attend-active --polar 3 --log-values --anneal-on edit --bar-start 0.6 \\
        --bar-decay 0.01 --out runs/a.csv --checkpoint runs/a.pt
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path[:1]:  # this checkout's packages, before any installed copy
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from baselines.sparling import DensityAnnealer, sequence_loss  # noqa: E402
from baselines.sparling_readout import ReadoutNet  # noqa: E402
from baselines.speed import autocast, check_speed_params  # noqa: E402
from harness.determinism import seed_everything  # noqa: E402
from harness.errors import SparsebenchError  # noqa: E402
from harness.spec.overrides import apply, parse_sets  # noqa: E402
from harness.spec.plan import resolve  # noqa: E402
from harness.spec.suite import load_suite  # noqa: E402
from harness.spec.suite_imports import import_suite_module  # noqa: E402
from harness.task_api import check_finite  # noqa: E402

COLUMNS = ("step", "split", "density", "density_over_min", "train_loss", "exact", "edit",
           "multiset", "bar", "action", "motif_acc", "ms_per_step")
# the suite's methods whose density is annealed (task.VARIANTS: kind, batch norm)
METHODS = {"MT": ("MT", True), "ST": ("ST", True), "MT_noBN": ("MT", False)}
# options that only say where and how long to run: they may differ between a run and
# its resumption
RUN_ONLY = ("steps", "stop_after", "out", "checkpoint", "ckpt_every", "threads",
            "overwrite")


# ----------------------------------------------------------------- command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sparling_pilot", description=__doc__.splitlines()[0],
        epilog="Defaults of the schedule options are the tier's parameters.")
    run = parser.add_argument_group("run")
    run.add_argument("--tier", default="cpu", help="suite.toml tier for every parameter")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                     help="override a tier parameter (repeatable)")
    run.add_argument("--method", choices=sorted(METHODS), default="MT")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--steps", type=int, default=None, help="default: the tier's max_steps")
    run.add_argument("--val-every", type=int, default=None,
                     help="default: the tier's val_every")
    run.add_argument("--threads", type=int, default=1)
    run.add_argument("--out", type=Path, required=True, help="CSV log (appended, flushed)")
    run.add_argument("--overwrite", action="store_true",
                     help="start afresh even if --out exists (without a checkpoint)")
    run.add_argument("--checkpoint", type=Path, default=None,
                     help="save here every --ckpt-every steps; resume from it if present")
    run.add_argument("--ckpt-every", type=int, default=500)
    run.add_argument("--stop-after", type=int, default=None,
                     help="exit after this step as a kill would (no test row): time-boxing "
                          "and resume tests")
    readout = parser.add_argument_group("readout (baselines/sparling_readout.py)")
    readout.add_argument("--attend-active", action="store_true")
    readout.add_argument("--soft-bias", type=float, default=None, metavar="EPS",
                         help="soft attention bias with this epsilon")
    readout.add_argument("--polar", type=int, default=None, metavar="H",
                         help="polar positions with H harmonics")
    readout.add_argument("--log-values", action="store_true")
    readout.add_argument("--read-active", action="store_true")
    readout.add_argument("--kl-feed", action="store_true")
    sched = parser.add_argument_group("density schedule")
    sched.add_argument("--anneal-on", choices=("exact", "edit"), default=None)
    sched.add_argument("--bar-start", type=float, default=None)
    sched.add_argument("--bar-decay", type=float, default=None)
    sched.add_argument("--bar-decay-near-target", type=float, default=None, metavar="D",
                       help="bar decay once within --near reductions of the target")
    sched.add_argument("--near", type=int, default=3)
    sched.add_argument("--hold-at", type=float, default=None, metavar="X",
                       help="stop annealing at X times the motif minimum and train on")
    sched.add_argument("--train-on", action="store_true",
                       help="at the target, train on to --steps (the suite ends the run)")
    sched.add_argument("--anneal-after", type=int, default=0, metavar="STEP",
                       help="no annealing (and no bar decay) before this step")
    return parser.parse_args(argv)


def tier_params(tier: str, sets: list[str]) -> dict:
    """The tier's parameters with ``--set`` applied by the harness's own rules (unknown
    key, factor or wrong type: a one-line SparsebenchError)."""
    plan = resolve(load_suite("sparling"), tier)
    return dict(apply(plan, parse_sets(sets)).params)


def readout_options(args: argparse.Namespace) -> dict:
    """ReadoutNet keyword options from the flags."""
    opts: dict = {"attend_active": args.attend_active, "log_values": args.log_values,
                  "read_active": args.read_active, "kl_feed": args.kl_feed}
    if args.soft_bias is not None:
        opts.update(soft_bias=True, soft_eps=args.soft_bias)
    if args.polar is not None:
        opts.update(polar=True, harmonics=args.polar)
    return opts


def settings(args: argparse.Namespace, p: dict) -> dict:
    """Everything that determines the run's rows (the resume check compares it)."""
    chosen = {k: v for k, v in vars(args).items() if k not in RUN_ONLY and k != "set"}
    chosen = {k: str(v) if isinstance(v, Path) else v for k, v in chosen.items()}
    return {"params": {k: v for k, v in p.items() if k != "max_steps"},
            "readout": readout_options(args), "options": chosen}


# ----------------------------------------------------------------- schedule


@dataclass
class Schedule:
    """The suite's DensityAnnealer with the pilot's extra rules around it.

    ``hold`` keeps training once the annealer's target (the --hold-at level, or the
    suite's with --train-on) is reached and its bar beaten: the suite ends the run there;
    ``slow_decay`` replaces the bar decay once ``near`` reductions or fewer remain, so
    that the last, most damaging reductions wait for the accuracy to recover; ``after``
    keeps the density (and the bar) untouched until the decoder has had time to learn.
    """

    annealer: DensityAnnealer
    anneal_on: str
    after: int = 0
    slow_decay: float | None = None
    near: int = 3
    hold: bool = False

    def step(self, step: int, exact: float, edit: float) -> str:
        """The action for the validation at ``step`` (accuracies as fractions)."""
        if step < self.after:
            return "wait"
        if self.slow_decay is not None and self.annealer.steps_to_target() <= self.near:
            self.annealer.bar_decay = self.slow_decay
        outcome = self.annealer.step(exact if self.anneal_on == "exact" else edit)
        if self.hold and self.annealer.done:
            return "held"
        return outcome


def make_schedule(args: argparse.Namespace, p: dict, minimum: float) -> Schedule:
    """The schedule from the flags, defaulting to the tier's values."""
    target = float(p["target_density"])
    if args.hold_at is not None:
        level = args.hold_at * minimum
        if level < target:
            raise SparsebenchError(
                f"--hold-at {args.hold_at:g}: {level:.4g} is below the target density "
                f"{target:.4g} ({target / minimum:.2f} x the motif minimum); the run "
                "would reach the target first")
        target = level
    bar = float(p["bar_start"] if args.bar_start is None else args.bar_start)
    decay = float(p["bar_decay"] if args.bar_decay is None else args.bar_decay)
    annealer = DensityAnnealer(float(p["start_density"]), target, float(p["anneal_factor"]),
                               bar, decay, float(p["bar_min"]))
    return Schedule(annealer, args.anneal_on or str(p["anneal_on"]), args.anneal_after,
                    args.bar_decay_near_target, args.near,
                    args.hold_at is not None or args.train_on)


# ----------------------------------------------------------------- scoring


class _Recorder:
    """Passes everything to the model and keeps the tokens of its greedy decoding, so
    that multiset accuracy is scored on the very predictions ``task.evaluate`` scored,
    without decoding twice."""

    def __init__(self, model: ReadoutNet):
        self.model, self.tokens = model, []

    def __getattr__(self, name: str):
        return getattr(self.model, name)

    def greedy(self, m: torch.Tensor) -> torch.Tensor:
        tokens = self.model.greedy(m)
        self.tokens.append(tokens.cpu().numpy())
        return tokens


def multiset_accuracy(pred: list[list[int]], labels: np.ndarray, lengths: np.ndarray
                      ) -> float:
    """Share of sequences with the right digits in any order."""
    right = [sorted(p) == sorted(lab[:k].tolist())
             for p, lab, k in zip(pred, labels, lengths, strict=True)]
    return float(np.mean(right))


def score(task: ModuleType, model: ReadoutNet, data, p: dict, motifs: bool) -> dict:
    """``task.evaluate`` plus multiset accuracy, all accuracies in percent."""
    recorder = _Recorder(model)
    out = task.evaluate(recorder, data, torch.device("cpu"), int(p["eval_batch"]), motifs,
                        check_speed_params(p)[0])
    pred = task.sequences(np.concatenate(recorder.tokens))
    return {**out, "exact_pct": 100.0 * out["exact"], "edit_pct": 100.0 * (1 - out["edit_err"]),
            "multiset_pct": 100.0 * multiset_accuracy(pred, data.labels, data.lengths)}


# ----------------------------------------------------------------- log and checkpoint


def open_log(path: Path, resume_step: int | None, overwrite: bool) -> None:
    """A fresh CSV with its header, or on resume the existing one cut back to the
    validation rows up to ``resume_step`` (rows a killed run wrote after its last
    checkpoint are redone)."""
    if resume_step is None:
        if path.exists() and not overwrite:
            raise SparsebenchError(f"--out {path} exists and there is no checkpoint to resume "
                                   "from; pass --overwrite to start afresh")
        rows: list[dict] = []
    elif not path.exists():
        raise SparsebenchError(f"resuming at step {resume_step} but its log --out {path} is "
                               "missing; pass the --out of the checkpoint's run")
    else:
        with path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f)
                    if r["split"] == "val" and int(r["step"]) <= resume_step]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def append_row(path: Path, row: dict) -> None:
    """One row, flushed at once, so that a run that dies keeps its log."""
    with path.open("a", newline="") as f:
        csv.DictWriter(f, fieldnames=COLUMNS).writerow({k: _text(row.get(k)) for k in COLUMNS})
        f.flush()


def _text(value) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


@dataclass
class State:
    """What a checkpoint holds besides the modules' own state dicts."""

    step: int = 0
    loss_sum: float = 0.0  # training loss summed since the last validation
    ended: bool = False  # the annealer's "done": the run ends as the suite's does


def save_checkpoint(path: Path, model, opt, sched, schedule: Schedule, state: State,
                    fingerprint: dict) -> None:
    """Everything the next steps depend on, written atomically."""
    blob = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
            "annealer": dict(vars(schedule.annealer)), "state": vars(state).copy(),
            "fresh": model.bottleneck.sparse.fresh, "settings": fingerprint,
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                    "python": random.getstate()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, model, opt, sched, schedule: Schedule,
                    fingerprint: dict) -> State:
    """Restore a run from ``path``; refuses one made with other settings."""
    blob = torch.load(path, weights_only=False)
    if blob["settings"] != fingerprint:
        theirs, ours = blob["settings"], fingerprint
        diff = sorted(f"{part}.{k}" for part in ours for k in
                      set(ours[part]) | set(theirs.get(part, {}))
                      if ours[part].get(k) != theirs.get(part, {}).get(k))
        raise SparsebenchError(f"--checkpoint {path} was made with other settings "
                               f"({', '.join(diff)}); use another path or the same options")
    model.load_state_dict(blob["model"])
    opt.load_state_dict(blob["opt"])
    sched.load_state_dict(blob["sched"])
    vars(schedule.annealer).update(blob["annealer"])
    model.bottleneck.sparse.fresh = blob["fresh"]
    model.bottleneck.density = schedule.annealer.density
    torch.set_rng_state(blob["rng"]["torch"])
    np.random.set_state(blob["rng"]["numpy"])
    random.setstate(blob["rng"]["python"])
    return State(**blob["state"])


# ----------------------------------------------------------------- training


def build(p: dict, method: str, options: dict, density: float):
    """ReadoutNet, fused Adam and the linear warm-up, as the suite's ``run()`` builds them."""
    kind, batch_norm = METHODS[method]
    model = ReadoutNet(kind, int(p["size"]), int(p["width"]), int(p["units"]), 10, batch_norm,
                       density, int(p["d_model"]), int(p["heads"]), int(p["enc_layers"]),
                       int(p["dec_layers"]), int(p["pool"]), int(p["max_digits"]) + 1,
                       float(p["momentum"]), **options)
    if p.get("channels_last", False):
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=float(p["lr"]), fused=True)
    warmup = max(int(p["warmup"]), 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    return model, opt, sched


def train_step(task: ModuleType, model, opt, sched, p: dict, cfg, seed: int, step: int
               ) -> float:
    """One step on training batch ``step`` of the cell's stream 0, as the suite's."""
    batch = int(p["batch_size"])
    data = task.generate(cfg, seed, 0, step * batch, batch)
    images = torch.from_numpy(data.images)
    tokens_in, targets, mask = task.teacher_forcing(data.labels, data.lengths, "cpu")
    with autocast(torch.device("cpu"), check_speed_params(p)[0]):
        logits, _ = model(images, tokens_in)
        loss = sequence_loss(logits, targets, mask)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), float(p["clip"]))
    opt.step()
    sched.step()
    return loss.item()


def validate(task, model, val, p: dict, schedule: Schedule, state: State, steps: int,
             minimum: float, ms: float) -> dict:
    """Score the validation set, let the schedule act, and return the CSV row."""
    interval = (state.step - 1) % int(p["val_every"]) + 1
    loss = state.loss_sum / interval
    check_finite(loss, f"step {state.step}")
    v = score(task, model, val, p, motifs=False)
    density = model.bottleneck.density
    if state.step >= steps:
        action = "end"
    else:
        action = schedule.step(state.step, v["exact"], 1.0 - v["edit_err"])
        model.bottleneck.density = schedule.annealer.density
        state.ended = action == "done"
    return {"step": state.step, "split": "val", "density": density,
            "density_over_min": density / minimum, "train_loss": loss,
            "exact": v["exact_pct"], "edit": v["edit_pct"], "multiset": v["multiset_pct"],
            "bar": schedule.annealer.bar, "action": action, "ms_per_step": ms}


def progress(row: dict, steps: int) -> None:
    print(f"[pilot] step {row['step']}/{steps}  density {row['density']:.3g} "
          f"({row['density_over_min']:.1f}x min)  loss {row['train_loss']:.3f}  val exact "
          f"{row['exact']:.1f} edit {row['edit']:.1f} multiset {row['multiset']:.1f}  bar "
          f"{row['bar']:.3f} {row['action']}  {row['ms_per_step']:.0f} ms/step",
          file=sys.stderr, flush=True)


def test_row(task, model, test, p: dict, schedule: Schedule, step: int, minimum: float
             ) -> tuple[dict, dict]:
    """The final CSV row (measured test density) and the full test scores."""
    t = score(task, model, test, p, motifs=True)
    row = {"step": step, "split": "test", "density": t["density"],
           "density_over_min": t["density"] / minimum, "exact": t["exact_pct"],
           "edit": t["edit_pct"], "multiset": t["multiset_pct"], "bar": schedule.annealer.bar,
           "action": "final", "motif_acc": t["motif_acc"]}
    keep = ("exact_pct", "edit_pct", "multiset_pct", "density", "fpe", "fne", "ce",
            "motif_acc", "zeros")
    return row, {k: float(t[k]) for k in keep}


def write_sidecar(path: Path, fingerprint: dict, extra: dict | None = None) -> None:
    """``<out>.json``: what the CSV was run with (and, at the end, the test scores)."""
    info = {**fingerprint, "argv": sys.argv[1:], "torch": torch.__version__, **(extra or {})}
    path.with_suffix(".json").write_text(json.dumps(info, indent=1, default=str) + "\n")


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    p = tier_params(args.tier, args.set)
    p["max_steps"] = steps = args.steps or int(p["max_steps"])
    p["val_every"] = args.val_every or int(p["val_every"])
    if p.get("compile", False):
        raise SparsebenchError("compile = true is not supported by the pilot (CPU, eager)")
    task = import_suite_module(load_suite("sparling").folder, "task")
    cfg = task.data_config(p)
    minimum = task.motif_minimum(cfg)
    schedule = make_schedule(args, p, minimum)
    fingerprint = settings(args, p)

    seed_everything(args.seed)  # as the harness does before a cell: model init only
    model, opt, sched = build(p, args.method, readout_options(args), schedule.annealer.density)
    resume = args.checkpoint is not None and args.checkpoint.exists()
    state = (load_checkpoint(args.checkpoint, model, opt, sched, schedule, fingerprint)
             if resume else State())
    open_log(args.out, state.step if resume else None, args.overwrite)
    write_sidecar(args.out, fingerprint)
    if resume:
        print(f"[pilot] resumed from {args.checkpoint} at step {state.step}", file=sys.stderr)

    val = task._fixed_set(cfg, int(p["data_seed"]), 1, int(p["n_val"]))
    test = task._fixed_set(cfg, int(p["data_seed"]), 2, int(p["n_test"]))
    model.train()
    tick, timed = time.perf_counter(), 0
    while state.step < steps and not state.ended:
        state.loss_sum += train_step(task, model, opt, sched, p, cfg, args.seed, state.step)
        state.step += 1
        timed += 1
        validating = state.step % p["val_every"] == 0 or state.step == steps
        if validating:
            ms = 1000.0 * (time.perf_counter() - tick) / timed
            row = validate(task, model, val, p, schedule, state, steps, minimum, ms)
            append_row(args.out, row)
            progress(row, steps)
            state.loss_sum = 0.0
        if args.checkpoint and (state.step % args.ckpt_every == 0 or state.step == steps
                                or state.ended):
            save_checkpoint(args.checkpoint, model, opt, sched, schedule, state, fingerprint)
        if validating:  # ms_per_step: training only, neither validation nor saving
            tick, timed = time.perf_counter(), 0
        if args.stop_after is not None and state.step >= args.stop_after:
            print(f"[pilot] stopped after step {state.step} (--stop-after)", file=sys.stderr)
            return
    row, scores = test_row(task, model, test, p, schedule, state.step, minimum)
    append_row(args.out, row)
    write_sidecar(args.out, fingerprint, {"test": scores, "steps_run": state.step})
    print(f"[pilot] test exact {row['exact']:.1f} edit {row['edit']:.1f} multiset "
          f"{row['multiset']:.1f}  density {row['density']:.3g} "
          f"({row['density_over_min']:.2f}x min)  motif_acc {row['motif_acc']:.1f}",
          file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except (SparsebenchError, ValueError) as err:
        print(f"sparling_pilot: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
