"""Can the SPARLING decoder read DIGIT CIRCLE from perfect motif maps? One row per variant.

Trains only the decoder of a ``ReadoutNet`` on oracle motif maps (one active entry per
digit: its channel, at the stamp's centre pixel, value ``--values-scale``) built from
the generator's ground truth, and scores greedy decoding on a held-out set every
``--eval-every`` steps:

    exact     the whole sequence right (the suite's e2e_acc)
    edit      1 - edit distance / max length (the suite's e2e_edit_acc)
    multiset  the right digits in any order: the share a decoder that reads the digits
              but not their cyclic order can still get

A variant is ``none`` or readout options joined by ``+`` (baselines/sparling_readout.py:
attend_active, soft_bias, polar, log_values, read_active). Every variant starts from the
same initialisation and sees the same batches. The decoder's sizes and optimiser come
from ``--tier`` (d_model, heads, layers, lr, warm-up, clip); the data from the suite tier
whose canvas is ``--size`` (40: the cpu tier's; 100: the paper's, pool 8).

    python benchmarks/sparling_oracle.py --size 40 --steps 1500 \\
        --variants none,attend_active,polar,attend_active+polar --out oracle.csv
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path[:1]:  # this checkout's packages, before any installed copy
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from baselines.digit_circle import DigitCircleConfig, generate  # noqa: E402
from baselines.sparling import sequence_loss  # noqa: E402
from baselines.sparling_readout import OPTIONS, ReadoutNet, oracle_maps  # noqa: E402
from harness.spec.plan import resolve  # noqa: E402
from harness.spec.suite import load_suite  # noqa: E402
from harness.spec.suite_imports import import_suite_module  # noqa: E402

DATA_KEYS = ("size", "font_px", "min_radius", "jitter", "pre_noise", "post_noise", "pool",
             "max_digits", "data_seed")
MODEL_KEYS = ("d_model", "heads", "enc_layers", "dec_layers", "lr", "warmup", "clip",
              "batch_size")


def variant_options(name: str) -> dict[str, bool]:
    """``attend_active+polar`` -> {"attend_active": True, "polar": True}; ``none`` -> {}."""
    if name == "none":
        return {}
    opts = name.split("+")
    unknown = [o for o in opts if o not in OPTIONS or o == "kl_feed"]
    if unknown:
        raise SystemExit(f"unknown option(s) {unknown} in variant {name!r}; "
                         f"expected none or a '+'-joined subset of {OPTIONS[:2] + OPTIONS[3:]}")
    return dict.fromkeys(opts, True)


def settings(tier: str, size: int) -> dict:
    """The model/optimiser of ``tier`` and the data of the tier drawn on a ``size`` canvas."""
    suite = load_suite("sparling")
    p = dict(resolve(suite, tier).params)
    for data_tier in ("cpu", "full"):
        q = resolve(suite, data_tier).params
        if int(q["size"]) == size:
            return {**{k: p[k] for k in MODEL_KEYS}, **{k: q[k] for k in DATA_KEYS}}
    raise SystemExit(f"no suite tier draws a {size} px canvas (the cpu tier: 40, full: 100)")


def scores(task, tokens: torch.Tensor, data) -> tuple[float, float, float]:
    """(exact, edit accuracy, multiset accuracy) in percent."""
    pred = task.sequences(tokens.numpy())
    exact, err = task.sequence_scores(pred, data.labels, data.lengths)
    multiset = np.mean([sorted(p) == sorted(lab[:k].tolist())
                        for p, lab, k in zip(pred, data.labels, data.lengths, strict=True)])
    return 100 * exact, 100 * (1 - err), 100 * float(multiset)


def train_variant(task, name: str, p: dict, cfg: DigitCircleConfig, args, held_out,
                  held_maps: torch.Tensor) -> list[dict]:
    torch.manual_seed(args.seed)  # every variant: the same initialisation
    net = ReadoutNet("MT", cfg.size, 4, 1, 10, True, 0.5, int(p["d_model"]), int(p["heads"]),
                     int(p["enc_layers"]), int(p["dec_layers"]), int(p["pool"]),
                     cfg.max_digits + 1, **variant_options(name))
    params = list(net.decoder.parameters())
    opt = torch.optim.Adam(params, lr=float(p["lr"]))
    warmup = max(int(p["warmup"]), 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    batch, rows, loss_sum, step_time = args.batch, [], 0.0, 0.0
    net.train()
    for step in range(1, args.steps + 1):
        data = generate(cfg, args.seed, 0, (step - 1) * batch, batch)
        m = oracle_maps(data, value=args.values_scale)
        tokens_in, targets, mask = task.teacher_forcing(data.labels, data.lengths, "cpu")
        tick = time.perf_counter()
        loss = sequence_loss(net.read(m, tokens_in), targets, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, float(p["clip"]))
        opt.step()
        sched.step()
        step_time += time.perf_counter() - tick
        loss_sum += loss.item()
        if step % args.eval_every and step != args.steps:
            continue
        net.eval()
        tokens = torch.cat([net.greedy(held_maps[i : i + 250])
                            for i in range(0, len(held_maps), 250)])
        net.train()
        exact, edit, multiset = scores(task, tokens, held_out)
        interval = (step - 1) % args.eval_every + 1
        rows.append({"variant": name, "step": step, "exact": exact, "edit": edit,
                     "multiset": multiset, "train_loss": loss_sum / interval,
                     "ms_per_step": 1000 * step_time / interval})
        print(f"  {name:>28} step {step:5d}: exact {exact:5.1f}  edit {edit:5.1f}  "
              f"multiset {multiset:5.1f}  loss {loss_sum / interval:.3f}  "
              f"{1000 * step_time / interval:.1f} ms/step", flush=True)
        loss_sum, step_time = 0.0, 0.0
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=40, help="canvas: 40 (cpu tier) or 100")
    parser.add_argument("--max-digits", type=int, default=None,
                        help="default: the data tier's (40 px: 5, 100 px: 6)")
    parser.add_argument("--tier", default="cpu", help="decoder sizes and optimiser from here")
    parser.add_argument("--pool", type=int, default=None, help="default: the data tier's")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=None, help="default: the tier's (16)")
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--n-eval", type=int, default=1000)
    parser.add_argument("--variants", default="none,attend_active,polar,attend_active+polar")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--values-scale", type=float, default=1.0,
                        help="value of an active oracle entry (MT outputs can be large)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="CSV of every evaluation")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)  # run with OMP_NUM_THREADS=1 too

    p = settings(args.tier, args.size)
    if args.max_digits is not None:
        p["max_digits"] = args.max_digits
    if args.pool is not None:
        p["pool"] = args.pool
    args.batch = args.batch or int(p["batch_size"])
    cfg = DigitCircleConfig(size=args.size, font_px=int(p["font_px"]),
                            min_radius=int(p["min_radius"]), jitter=int(p["jitter"]),
                            max_digits=int(p["max_digits"]), pre_noise=float(p["pre_noise"]),
                            post_noise=float(p["post_noise"]))
    task = import_suite_module(load_suite("sparling").folder, "task")
    held_out = generate(cfg, int(p["data_seed"]), 1, 0, args.n_eval)
    held_maps = oracle_maps(held_out, value=args.values_scale)
    print(f"oracle decoder: {args.size} px, {cfg.min_digits}-{cfg.max_digits} digits, pool "
          f"{p['pool']}, d_model {p['d_model']}, {p['heads']} heads, {p['enc_layers']}+"
          f"{p['dec_layers']} layers, batch {args.batch}, lr {p['lr']}, values x"
          f"{args.values_scale:g}, seed {args.seed}, {args.steps} steps, {args.n_eval} "
          f"held-out samples, torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    rows = []
    for name in args.variants.split(","):
        rows += train_variant(task, name, p, cfg, args, held_out, held_maps)
    print(f"\n{'variant':>28} {'step':>6} {'exact':>6} {'edit':>6} {'multiset':>8} "
          f"{'ms/step':>8}")
    for name in args.variants.split(","):
        mine = [r for r in rows if r["variant"] == name]
        ms = float(np.median([r["ms_per_step"] for r in mine]))
        for r in mine:
            if r is mine[-1] or r["step"] % (4 * args.eval_every) == 0:
                print(f"{name:>28} {r['step']:6d} {r['exact']:6.1f} {r['edit']:6.1f} "
                      f"{r['multiset']:8.1f} {ms:8.1f}")
    if args.out:
        with args.out.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return rows


if __name__ == "__main__":
    main()
