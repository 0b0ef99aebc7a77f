"""Issue 14, faults 10 and 11: the headline counts every verdict (claims and table cells),
and every interval says its level and method, the bootstrap only where it covers."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from harness.judge.engine import CONTRADICTED, SUPPORTED
from harness.report.model import VERDICT_ORDER, build
from harness.report.render import terminal_summary, write_index, write_suite_report
from harness.stats.core import BOOTSTRAP_MIN_N, SUMMARY_CONFIDENCE, bootstrap_ci, summarize
from tests.test_engine import run_toy

# ------------------------------------------------------------------ fault 11: intervals

# the two distributions BOOTSTRAP_MIN_N is chosen on (benchmarks/bootstrap_coverage.py)
DRAWS = {
    "normal": (lambda rng, n: rng.normal(0.0, 1.0, n), 0.0),
    "gamma4": (lambda rng, n: rng.gamma(4.0, 1.0, n), 4.0),  # skewness 1
}


def coverage(interval, dist: str, n: int, reps: int) -> float:
    """How often ``interval(sample)`` holds the true mean, over seeded samples of n."""
    draw, true_mean = DRAWS[dist]
    rng = np.random.default_rng([14, n])
    hits = 0
    for _ in range(reps):
        low, high = interval(draw(rng, n))
        hits += bool(low <= true_mean <= high)  # nan: not shown, a miss
    return hits / reps


@pytest.mark.parametrize("dist", list(DRAWS))
def test_bootstrap_interval_covers_near_nominal_from_the_first_n_it_is_shown(dist: str):
    """summarize's bootstrap interval at BOOTSTRAP_MIN_N seeds covers the true mean within 3
    points of 95 % (1000 seeded samples: simulation SE about 0.7 points; the benchmark
    measures 93-94 %); at 3 seeds the same interval covers about 70 %, which is why it is
    not shown there."""
    def shown(x):
        s = summarize(x)
        return s.boot_low, s.boot_high

    assert coverage(shown, dist, BOOTSTRAP_MIN_N, 1000) >= SUMMARY_CONFIDENCE - 0.03
    assert coverage(bootstrap_ci, dist, 3, 300) < SUMMARY_CONFIDENCE - 0.10


def test_bootstrap_interval_is_not_shown_below_min_n():
    rng = np.random.default_rng(0)
    below = summarize(rng.normal(size=BOOTSTRAP_MIN_N - 1))
    assert math.isnan(below.boot_low) and math.isnan(below.boot_high)
    assert math.isfinite(below.ci_low)  # the t interval is still given
    at = summarize(rng.normal(size=BOOTSTRAP_MIN_N))
    assert at.boot_low < at.mean < at.boot_high


def test_seed_statistics_name_level_and_method_of_each_interval(toy: Path, store_path: Path,
                                                                tmp_path: Path):
    """The toy's smoke tier has 3 seeds: the bootstrap column says why it is empty, and
    both headers say their level and method."""
    assert BOOTSTRAP_MIN_N > 3
    model = build(run_toy(toy, store_path)[0], "cmd")
    assert model.seed_stats and all(row[-1] == f"n < {BOOTSTRAP_MIN_N}"
                                    for row in model.seed_stats)
    paths = write_suite_report(model, tmp_path / "out")
    md, html = paths["md"].read_text(), paths["html"].read_text()
    boot = f"95 % BCa bootstrap interval, shown from n ≥ {BOOTSTRAP_MIN_N}"
    assert re.search(rf"\| 95 % t interval +\| {re.escape(boot)} +\|", md)
    assert f"<th>95 % t interval</th><th>{boot}</th>" in html
    for text in (md, html):
        assert f"shown from n ≥ {BOOTSTRAP_MIN_N} seeds" in text
        assert "CI (bootstrap)" not in text and "CI (t)" not in text
        # the tables' brackets: level and method under every table
        assert text.count("[95 % t interval of the mean]") == len(model.tables)


# ------------------------------------------------------------------ fault 10: counts


def counted(text: str) -> dict[str, int]:
    """'2 supported · 1 contradicted ...' -> {outcome: count} for the outcomes named."""
    pattern = "|".join(re.escape(k) for k in VERDICT_ORDER)
    return {k: int(n) for n, k in re.findall(rf"(\d+) ({pattern})\b", text)}


def test_headline_counts_table_cells_with_the_claims(toy: Path, store_path: Path,
                                                     tmp_path: Path):
    """Every claim supported, one table cell contradicted: the headline of the Markdown and
    HTML reports, the terminal summary and the index all count it, beside the split, and
    count the column's tests against chance (one per cell) with the table's numbers."""
    claims = (toy / "claims.toml").read_text()
    head, *blocks = claims.split("[[claim]]")
    keep = [b for b in blocks if 'id = "internal-sum"' in b]  # the write-up against itself
    (toy / "claims.toml").write_text(head + "[[claim]]" + "[[claim]]".join(keep))
    model = build(run_toy(toy, store_path)[0], "cmd")
    assert {v.verdict for v in model.claims} == {SUPPORTED}
    chance = [v for v in model.table_verdicts if v.id.endswith("/chance")]
    assert [v.verdict for v in chance] == [SUPPORTED, SUPPORTED]
    assert model.table_counts[CONTRADICTED] == 1 and model.table_counts[SUPPORTED] == 3
    total = {k: 0 for k in VERDICT_ORDER} | {SUPPORTED: 4, CONTRADICTED: 1}
    split = "(claims: 1 supported; table numbers: 3 supported, 1 contradicted)"

    paths = write_suite_report(model, tmp_path / "out")
    md_head = next(line for line in paths["md"].read_text().splitlines()
                   if line.startswith("**Verdicts:**"))
    assert counted(md_head.split("(")[0]) == total and split in md_head

    html = paths["html"].read_text()
    html_head = re.search(r'<p class="counts"><b>Verdicts:</b>(.*?)</p>', html, re.S).group(1)
    spans = re.findall(r'<span class="v [\w-]+">(\d+ [\w ]+)</span>', html_head)
    assert counted(" ".join(spans)) == total and split in html_head

    terminal = terminal_summary(model).splitlines()[0]
    assert terminal == "toy (tier smoke): verdicts: 4 supported, 1 contradicted " + split

    index = write_index([model], tmp_path / "out").read_text()
    headers = re.findall(r"<th>(?:<span[^>]*>)?(.*?)(?:</span>)?</th>", index)
    row = re.findall(r"<td>(.*?)</td>", re.search(r"<tr><td>toy</td>.*?</tr>", index).group(0))
    by_header = dict(zip(headers, row, strict=True))
    assert {k: int(by_header[k]) for k in VERDICT_ORDER} == total
    assert by_header["claims / table numbers"] == split[1:-1]


# ------------------------------------------------------------------ a difference of 0


@pytest.mark.parametrize("test", ["one_sample", "against_estimate"])
def test_an_exactly_zero_difference_keeps_its_interval_width(test: str):
    """Seeds whose mean equals the reported number exactly still carry their SE: the
    interval of the difference is [-h, h], not the point [0, 0]."""
    from harness.judge.engine import _interval
    from harness.stats import core as st
    from harness.stats import questions

    values = np.array([0.8, 1.0, 1.2])
    chosen = st.one_sample if test == "one_sample" else questions.against_estimate(0.1, 4.0)
    low, high = _interval(chosen, values, 1.0, 0.95)
    shifted = _interval(chosen, values, 1.0 - 1e-3, 0.95)  # a tiny non-zero difference
    assert low < 0 < high
    assert high - low == pytest.approx(shifted[1] - shifted[0], rel=1e-6)
    assert (low + high) / 2 == pytest.approx(0.0, abs=1e-9)
