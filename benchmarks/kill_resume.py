"""Kill a reproduce run with SIGKILL at random moments, resume it, and check that nothing
was lost or run twice and that the final report equals an uninterrupted run's.

    python benchmarks/kill_resume.py --suite dsb_mnist1d --tier smoke --kills 20
"""

from __future__ import annotations

import argparse
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def command(suite: str, tier: str, store: Path, out: Path, batch: int) -> list[str]:
    return [sys.executable, "-m", "harness.cli", "reproduce", "--suite", suite, "--tier", tier,
            "--store", str(store), "--out", str(out), "--no-progress", "--batch", str(batch)]


def stored(store: Path) -> list[str]:
    if not store.exists():
        return []
    try:
        with sqlite3.connect(store, timeout=10) as db:
            return [row[0] for row in db.execute("SELECT id FROM cells")]
    except sqlite3.DatabaseError:
        return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="dsb_mnist1d")
    parser.add_argument("--tier", default="smoke")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--batch", type=int, default=16,
                        help="passed to reproduce (1: a kill point after every cell)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="kill_resume_"))

    start = time.perf_counter()
    reference = subprocess.run(command(args.suite, args.tier, work / "ref.sqlite",
                                       work / "ref", args.batch), cwd=REPO, capture_output=True)
    if reference.returncode != 0:
        print(reference.stderr.decode())
        return 1
    total = len(stored(work / "ref.sqlite"))
    full_time = time.perf_counter() - start

    store, out = work / "killed.sqlite", work / "killed"
    survived, trained, kills = 0, 0, 0
    for i in range(args.kills):
        before = stored(store)
        if len(before) == total:
            break
        proc = subprocess.Popen(command(args.suite, args.tier, store, out, args.batch), cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        # Kill at a random moment after 0-2 more cells are stored: at start-up, mid-cell,
        # or just after a cell's transaction.
        target = len(before) + rng.randint(0, 2)
        deadline = time.time() + 5 * full_time
        while len(stored(store)) < target and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        after = stored(store)
        lost = set(before) - set(after)
        if not lost:
            survived += 1
        print(f"kill {i + 1}: {len(after) - len(before)} cells finished before it, "
              f"{len(after)}/{total} stored, lost {len(lost)}")
    final = subprocess.run(command(args.suite, args.tier, store, out, args.batch), cwd=REPO,
                           capture_output=True, text=True)
    if final.returncode != 0:
        print(final.stderr)
        return 1
    for line in final.stdout.splitlines():
        if "cells and trials trained" in line:
            trained = int(line.split(" cells and trials trained")[0].rsplit(" ", 1)[-1])
    ids = stored(store)
    name = Path(args.suite).name
    stem = f"{name}-{args.tier}"  # reports are named per suite and tier
    same = all((out / f"{stem}.{ext}").read_bytes() == (work / "ref" / f"{stem}.{ext}")
               .read_bytes() for ext in ("md", "html"))
    print(f"kills survived: {survived} of {kills}" + (
        f" (all cells were stored after {kills} of the {args.kills} asked)"
        if kills < args.kills else ""))
    print(f"cells stored: {len(ids)} of {total}, cells run twice: {len(ids) - len(set(ids))}; "
          f"the final run trained {trained}")
    print(f"reports identical: {same}")
    return 0 if survived == kills and same and len(set(ids)) == total else 1


if __name__ == "__main__":
    sys.exit(main())
