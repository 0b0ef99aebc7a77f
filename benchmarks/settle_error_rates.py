"""How often settle decides a directional question wrongly when the truth is the null.

Simulates the engine's directional question (questions.one_sided_question, a two-sided t
test whose sign decides) on normal seeds whose true mean sits on the line: look 0 on the
tier's seeds at alpha; when it is inconclusive, settle's rounds add the seeds the
question's power figure asks for (stats.seeds_to_detect at the look's level, capped at
--max-seeds) and judge all seeds at alpha / K, keeping the first decision. Prints, per
design, the chance that the settle looks decide (should be <= alpha), the chance over
both reads (look 0 and settle, <= 2 alpha), and, for contrast, what re-testing at alpha
at every look gives (optional stopping). Only look-0 inconclusive runs reach settle,
exactly as in `sparsebench settle`.

    python benchmarks/settle_error_rates.py [--reps 20000] [--n0 3] [--looks 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.stats import core as stats  # noqa: E402
from harness.stats.questions import INCONCLUSIVE, one_sided_question  # noqa: E402


def one_run(rng: np.random.Generator, n0: int, looks: int, alpha: float, max_seeds: int,
            per_look: float) -> tuple[bool, bool]:
    """(look 0 decided, a settle look decided) for one simulated question under the null."""
    x = list(rng.standard_normal(n0))
    first = one_sided_question(x, 0.0, "above", alpha)
    if first.outcome != INCONCLUSIVE:
        return True, False
    for _ in range(looks):
        sd = float(np.std(x, ddof=1))
        need = stats.seeds_to_detect(np.mean(x) / sd, per_look, alternative="two-sided",
                                     one_sample=True) if sd > 0 else None
        if need is None or need > max_seeds or need <= len(x):
            need = min(max_seeds, len(x) + n0) if need is None or need > max_seeds \
                else len(x) + 1
        x += list(rng.standard_normal(need - len(x)))
        if one_sided_question(x, 0.0, "above", per_look).outcome != INCONCLUSIVE:
            return False, True
        if len(x) >= max_seeds:
            break
    return False, False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=20000)
    ap.add_argument("--n0", type=int, default=3)
    ap.add_argument("--looks", type=int, nargs="+", default=[1, 2, 3, 5])
    ap.add_argument("--max-seeds", type=int, default=30)
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args()
    rows = []
    for k in args.looks:
        for name, per_look in (("settle (alpha/K)", args.alpha / k),
                               ("naive (alpha every look)", args.alpha)):
            rng = np.random.default_rng(0)
            first = later = 0
            for _ in range(args.reps):
                a, b = one_run(rng, args.n0, k, args.alpha, args.max_seeds, per_look)
                first += a
                later += b
            rows.append([k, name, f"{first / args.reps:.4f}", f"{later / args.reps:.4f}",
                         f"{(first + later) / args.reps:.4f}"])
    print(f"null true, {args.reps} simulated questions, {args.n0} seeds at look 0, "
          f"at most {args.max_seeds} seeds, alpha {args.alpha}")
    print(tabulate(rows, headers=["looks K", "design", "look 0 decides", "a settle look "
                                  "decides", "either"]))


if __name__ == "__main__":
    main()
