"""Sessions: tests, reproduce, regress, report, lint.

On a machine without an NVIDIA GPU, torch is pinned to the CPU build of 2.13.0
(constraints/cpu.txt). Set SPARSEBENCH_TORCH to override, e.g. "torch==2.9.1".
"""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "shared", "data")


def _install(session: nox.Session, *extras: str) -> None:
    target = "." + (f"[{','.join(extras)}]" if extras else "")
    torch_spec = os.environ.get("SPARSEBENCH_TORCH")
    if torch_spec:
        session.install(torch_spec)
        session.install("-e", target)
    elif shutil.which("nvidia-smi") is None:
        session.install("-c", "constraints/cpu.txt", "-e", target)
    else:
        session.install("-e", target)


def _env() -> dict[str, str]:
    env = {}
    if "SPARSEBENCH_DATA" not in os.environ and os.path.isdir(SHARED_DATA):
        env["SPARSEBENCH_DATA"] = os.path.abspath(SHARED_DATA)
    return env


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (engine, statistics, models, smoke tier end to end), one pytest
    worker per core (pytest-xdist: 270 s against 375 s in one process on CI's 2 cores);
    arguments after -- replace that, e.g. nox -s tests -- tests/test_drift.py -x."""
    _install(session, "test", "dist")
    session.run("pytest", *(session.posargs or ["-n", "auto"]), env=_env())


@nox.session
def reproduce(session: nox.Session) -> None:
    """Run every suite (default tier: quick) and write reports/out/. Pass options after --,
    e.g. nox -s reproduce -- --suite dsb_mnist1d --tier full, or -- --executor dask
    --workers 2 to use two cores"""
    _install(session, "dist")
    session.run("sparsebench", "reproduce", *session.posargs, env=_env())


@nox.session
def report(session: nox.Session) -> None:
    """Render reports/out/ from the store without training."""
    _install(session)
    session.run("sparsebench", "report", *session.posargs, env=_env())


@nox.session
def regress(session: nox.Session) -> None:
    """Rerun the quick tier and fail on any stored number that moved (CI passes
    -- --executor dask --workers 2 to use both cores)."""
    _install(session, "dist")
    session.run("sparsebench", "regress", "--tier", "quick", *session.posargs, env=_env())


# `nox -s verify`: per suite, how many cells of its committed reference to re-run and the
# most seconds a chosen cell took in the reference, so that all suites together take at
# most 3 minutes on CI's 2 cores (dsb_mnist1d full: 1-5 s a cell, 25 s for 3 in all;
# the attention suite's cpu tier: its three dense length-64 cells take 18 s each;
# sae_tutorial full: its cheapest cells, L1 at rho 0.1 (3.5-4.4 s), read the L1 grid another
# cell trained, which a re-run in a fresh store trains again, once per seed: 161 s for a
# whole configuration on CI's 2 cores; 6.2 s takes the dense width-196 configuration
# instead, which reads nothing, about 10 s, and regress's quick tier runs the grid). A sample of 0
# skips a reference none of whose cells fits (sparling cpu: every cell trains 20 000 steps,
# 31-34 min quiet); run its verify by hand, as the line it prints says. On another machine class
# than the reference's, verify re-runs whole configurations (every seed, 3 cells here):
# in one process on CI's 2 cores sae_tutorial took 230 s and sae_mnist_logits 158 s,
# so CI runs it with --executor dask --workers 2.
VERIFY_SAMPLE = {"dsb_mnist1d": (3, 5.0), "adaptive_sparse_attention": (2, 20.0),
                 "sae_tutorial": (1, 6.2), "sae_mnist_logits": (1, 55.0), "sparling": (0, 0.0)}
VERIFY_DEFAULT = (2, 20.0)  # a new reference until it gets its own line above


def _references() -> list[tuple[str, str]]:
    """(suite, tier) of every suite whose suite.toml names a reference tier with a
    committed suites/<suite>/expected/<tier>.json."""
    found = []
    for toml in sorted(Path(__file__).parent.glob("suites/*/suite.toml")):
        tier = tomllib.loads(toml.read_text(encoding="utf-8")).get("reference")
        if tier and (toml.parent / "expected" / f"{tier}.json").is_file():
            found.append((toml.parent.name, tier))
    return found


@nox.session
def verify(session: nox.Session) -> None:
    """Re-run a sample of every committed reference's cheaper cells; fail if a number
    moved (CI passes -- --executor dask --workers 2 to use both cores)."""
    _install(session, "dist")
    for suite, tier in _references():
        sample, seconds = VERIFY_SAMPLE.get(suite, VERIFY_DEFAULT)
        if sample == 0:
            session.log(f"{suite} {tier}: no cell fits here; by hand: sparsebench verify "
                        f"--suite {suite} --tier {tier} --sample 1")
            continue
        session.run("sparsebench", "verify", "--suite", suite, "--tier", tier, "--sample",
                    str(sample), "--max-cell-seconds", f"{seconds:g}", "--no-progress",
                    *session.posargs, env=_env())


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
