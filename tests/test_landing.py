"""The landing page, reports/out/index.html: a card per suite (reference tier with its
scale and provenance, every verdict counted, the headline claims with one line of
evidence, the quick re-run, links to both reports), a legend of the verdicts, and a page
that stays within a browser's width."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from html import unescape
from pathlib import Path

import pytest
from PIL import Image

import harness.report.render
from harness.cli import main
from harness.judge.verdict import NOT_COMPARABLE, SUPPORTED, Verdict
from harness.report.index_page import EVIDENCE_CHARS, LEGEND, ellipsis, first_clause, short_evidence
from harness.report.model import VERDICT_ORDER
from harness.report.render import write_index
from tests.conftest import FIXTURES, missing
from tests.test_suite_validation import edit

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LONG_TITLE = ("A write-up whose title goes on and on about sparse bottlenecks, "
              "autoencoders and attention " * 4 + "Supercalifragilistic" * 8)
HEADLINE_FOR_EACH = '''
[[claim]]
id = "above-four"
headline = true
quote = "Every arm scores above 4"
kind = "threshold"
metric = "score"
a = {}
op = ">"
value = 4.0
for_each = { arm = ["a", "b"] }
'''


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> tuple[Path, list, dict[str, Path]]:
    """`reproduce` of two toy suites: "toy" with a committed reference (tier ref, the
    write-up's scale; quick differs from it) and headline claims, "toy2" with a very long
    title, no reference tier and no headline claims. Returns the output folder, the models
    handed to write_index and the suite folders."""
    root = tmp_path_factory.mktemp("landing")
    toy, toy2 = root / "toy", root / "more" / "toy2"
    shutil.copytree(FIXTURES / "toy", toy)
    shutil.copytree(FIXTURES / "toy", toy2)
    edit(toy / "suite.toml", 'task = "task:run"', 'task = "task:run"\nreference = "ref"')
    with (toy / "suite.toml").open("a", encoding="utf-8") as f:
        f.write("\n[tiers.ref]\nseeds = 3\nparams = { spread = 0.4 }\ntuning = { trials = 3 }"
                "\n\n[scale]\nparams = { spread = 0.4 }\n")
    for claim in ("a-beats-b", "untestable"):
        edit(toy / "claims.toml", f'id = "{claim}"\n', f'id = "{claim}"\nheadline = true\n')
    with (toy / "claims.toml").open("a", encoding="utf-8") as f:
        f.write(HEADLINE_FOR_EACH)
    edit(toy2 / "suite.toml", 'title = "Toy suite for engine tests"', f'title = "{LONG_TITLE}"')
    assert main(["regress", "--update", "--suite", str(toy), "--tier", "ref", "--threads", "1",
                 "--no-progress"]) == 0
    models: list = []
    write = harness.report.render.write_index

    def keep(found, out_dir):
        models.extend(found)
        return write(found, out_dir)

    harness.report.render.write_index = keep  # the CLI imports it from the module when it runs
    try:
        out = root / "out"
        assert main(["reproduce", "--suite", str(toy), "--suite", str(toy2), "--threads", "1",
                     "--store", str(root / "store.sqlite"), "--out", str(out),
                     "--no-progress"]) == 0
    finally:
        harness.report.render.write_index = write
    return out, models, {"toy": toy, "toy2": toy2}


def cards(html: str) -> dict[str, str]:
    return dict(re.findall(r'<section class="card" id="suite-([^"]+)">(.*?)</section>', html,
                           re.S))


def badges(panel: str) -> dict[str, int]:
    """The verdict counts of one tier's panel: outcome -> number."""
    counts = re.search(r'<p class="counts">(.*?)</p>', panel, re.S).group(1)
    found = re.findall(r'<span class="v ([\w-]+)(?: zero)?"[^>]*>(\d+) ([\w ]+)</span>', counts)
    assert [k.replace("-", " ") for k, _, _ in found] == [k for _, _, k in found]
    return {k: int(n) for _, n, k in found}


def report_counts(md: str) -> dict[str, int]:
    line = next(x for x in md.splitlines() if x.startswith("**Verdicts:**"))
    return {k: int(n) for n, k in re.findall(r"(\d+) ([a-z ]+?)(?: ·| \()", line)}


def report_claims(md: str) -> dict[str, str]:
    """Claim id -> verdict, from a report's claim headings ("### ✅ a-beats-b — supported")."""
    return dict(re.findall(r"^### \S+ (\S+) — (.+)$", md, re.M))


def panels(card: str) -> dict[str, str]:
    return {tier: body for tier, body in re.findall(
        r'<div class="tier [\w ]+">\s*<h3>[^<]*tier <code>(\w+)</code></h3>(.*?)\n</div>',
        card, re.S)}


def test_each_suite_has_a_card_with_its_reference_quick_run_and_headline_claims(landing):
    out, _, folders = landing
    html = (out / "index.html").read_text(encoding="utf-8")
    found = cards(html)
    assert list(found) == ["toy", "toy2"]

    toy = found["toy"]
    assert "<h2>Toy suite for engine tests</h2>" in toy and "<code>toy.txt</code>" in toy
    tiers = panels(toy)
    assert list(tiers) == ["ref", "quick"]
    assert "Reference: tier <code>ref</code>" in toy and "Quick re-run: tier <code>quick" in toy
    ref_md = (out / "toy-ref.md").read_text(encoding="utf-8")
    quick_md = (out / "toy-quick.md").read_text(encoding="utf-8")
    assert "Scale:</b> This tier runs the write-up&#39;s stated settings." in tiers["ref"]
    heading = re.search(r"\*\*(Reference run of .*?)\*\*", ref_md).group(1)
    assert "Reference run of " in tiers["ref"] and unescape(tiers["ref"]).count(heading) == 1
    assert "sparsebench verify --suite" in tiers["ref"]
    # every outcome counted, as each report's own headline counts them
    for tier, md in (("ref", ref_md), ("quick", quick_md)):
        assert list(badges(tiers[tier])) == VERDICT_ORDER
        assert badges(tiers[tier]) == report_counts(md)
    assert badges(tiers["quick"])[NOT_COMPARABLE] > 0  # quick differs from the write-up's

    # the headline claims, in the file's order, with the reference tier's verdicts
    assert "Headline claims at tier <code>ref</code>" in toy
    rows = re.findall(r'<li(?: class="more")?><span class="v ([\w-]+)">([\w ]+)</span>'
                      r'<div class="claim"><span class="claim-id">([\w-]+)</span>(.*?)</div>'
                      r"</li>", toy, re.S)
    assert [r[2] for r in rows] == ["a-beats-b", "untestable", "above-four-a", "above-four-b"]
    verdicts = report_claims(ref_md)
    for css, verdict, cid, body in rows:
        assert verdict == verdicts[cid] and css == verdict.replace(" ", "-")
        evidence = unescape(re.search(r'<span class="evidence"[^>]*>(.*?)</span>', body).group(1))
        assert evidence and "\n" not in evidence and len(evidence) <= EVIDENCE_CHARS
    assert '<q class="quote" title="Every arm scores above 4">' in rows[2][3]
    assert "<q" not in rows[3][3]  # a for_each claim's quote shows once
    assert '<span class="label">arm = b</span>' in rows[3][3]

    toy2 = found["toy2"]
    assert LONG_TITLE in toy2 and "Reference: none yet" in toy2
    assert (f"<code>sparsebench regress --update --suite {folders['toy2']} --tier "
            "&lt;tier&gt;</code>") in toy2
    assert list(panels(toy2)) == ["quick"]
    assert badges(panels(toy2)["quick"]) == report_counts(
        (out / "toy2-quick.md").read_text(encoding="utf-8"))
    assert "No headline claims are marked yet" in toy2


def test_the_legend_explains_every_outcome(landing):
    out, _, _ = landing
    html = (out / "index.html").read_text(encoding="utf-8")
    legend = re.search(r'<section class="legend" id="legend">(.*?)</section>', html, re.S)
    terms = re.findall(r'<dt><span class="v ([\w-]+)">([\w ]+)</span></dt><dd>(.*?)</dd>',
                       legend.group(1))
    assert [t[1] for t in terms] == VERDICT_ORDER
    assert all(unescape(text) == LEGEND[k] and text.count(". ") == 0 for _, k, text in terms)


def test_every_link_resolves_and_nothing_is_fetched(landing):
    out, _, _ = landing
    html = (out / "index.html").read_text(encoding="utf-8")
    assert ("content=\"default-src 'none'; style-src 'unsafe-inline'\"" in html)
    assert "src=" not in html and "url(" not in html and "@import" not in html
    links = re.findall(r'href="([^"]+)"', html)
    ids = set(re.findall(r' id="([^"]+)"', html))
    files = [unescape(x) for x in links if not x.startswith("#")]
    assert {"toy-ref.html", "toy-ref.md", "toy-quick.html", "toy-quick.md", "toy2-quick.html",
            "toy2-quick.md"} <= set(files)
    assert all((out / f).is_file() for f in files), [f for f in files if not (out / f).is_file()]
    assert all(x[1:] in ids for x in links if x.startswith("#"))


def test_one_suite_and_a_reference_not_yet_written(landing, tmp_path: Path):
    _, models, folders = landing
    toy = [m for m in models if m.suite == "toy"]
    html = write_index(toy, tmp_path / "one").read_text(encoding="utf-8")
    assert list(cards(html)) == ["toy"] and '<nav class="toc">' not in html
    quick = next(m for m in toy if m.tier == "quick")
    # the reference is committed but this index renders the quick tier only
    html = write_index([quick], tmp_path / "quick").read_text(encoding="utf-8")
    assert ("The reference of tier ref is committed but not rendered in this index; render "
            f"it with <code>sparsebench reproduce --suite {folders['toy']}</code>") in html
    assert "Headline claims at tier <code>quick</code>" in html
    # a reference tier whose file nobody wrote yet: the command that writes it
    html = write_index([replace(quick, reference_tier="full", reference_committed=False)],
                       tmp_path / "none").read_text(encoding="utf-8")
    assert ("No reference run of tier full yet: write it with <code>sparsebench regress "
            f"--update --suite {folders['toy']} --tier full</code>") in html


def verdict(outcome: str, reason: str, p_holm: float | None = None) -> Verdict:
    return Verdict("x", "greater", "q", outcome, reason, p_holm=p_holm)


def test_evidence_is_one_short_line_of_the_reason():
    judged = verdict(SUPPORTED, "test_acc: fsb 68.93 ± 0.75 (n=3) vs baseline 66.9 ± 0.4 (n=3); "
                     "paired by seed over 3 seeds: difference 2.03. Holm over ...", 0.0123)
    assert short_evidence(judged) == ("test_acc: fsb 68.93 ± 0.75 (n=3) vs baseline 66.9 ± 0.4 "
                                      "(n=3); adjusted p = 0.012")
    later = verdict(NOT_COMPARABLE, "Not comparable at tier quick, which runs epochs = 5 "
                    "(write-up: 50); data: ours (the write-up's is not reproduced): the tiers "
                    "cpu, full would test it. At this tier (supported): a 1 vs b 2; p = 0.1.")
    assert short_evidence(later) == ("Not comparable at this tier: the tiers cpu, full would "
                                     "test it (here: supported)")
    internal = "From the write-up's own numbers (x = 6.64; y = 3.24): 6.64 <= 3.24 does not hold."
    assert first_clause(internal) == internal[:-1]
    long = verdict(SUPPORTED, "Reproduced " + "1.0 ± 0.1, " * 40 + "the end")
    assert len(short_evidence(long)) <= EVIDENCE_CHARS and short_evidence(long).endswith("…")
    assert ellipsis("two\nlines", 20) == "two lines"


def _browser(profile: Path) -> list[str]:
    """Headless Chromium that reaches nothing outside (the page loads nothing)."""
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}"]


MEASURE = ("<script>const d = document.documentElement;"
           "document.body.dataset.page = d.scrollWidth + ' ' + d.clientWidth;"
           "document.body.dataset.cards = document.querySelectorAll('section.card').length;"
           "</script>")


@pytest.mark.parametrize("width", [1280, 600])
def test_the_page_in_a_real_browser_fits_its_width_and_is_not_blank(landing, tmp_path: Path,
                                                                    width: int):
    """The page forbids scripts, so a copy gets one that writes the laid-out widths into the
    DOM (``--dump-dom`` prints it after scripts ran): the document must be no wider than
    the viewport, even with a very long title. Then a screenshot that is not blank."""
    if CHROMIUM is None:
        missing("chromium is not installed (.ci/run installs it)")
    out, _, _ = landing
    page = out / "index.html"
    html = page.read_text(encoding="utf-8")
    probe = out / f"probe-{width}.html"
    probe.write_text(html.replace("default-src 'none';", "default-src 'none'; "
                                  "script-src 'unsafe-inline';")
                     .replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    args = [*_browser(tmp_path / "profile"), f"--window-size={width},1400"]
    dom = subprocess.run([*args, "--dump-dom", probe.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    page_width, viewport = map(int, re.search(r'data-page="(\d+) (\d+)"', dom).groups())
    assert width - 100 <= viewport <= width and page_width <= viewport
    assert re.search(r'data-cards="2"', dom)
    shot = REPO / "reports" / "out" / f"landing-toy-{width}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.unlink(missing_ok=True)
    subprocess.run([*args, f"--screenshot={shot}", page.as_uri()], capture_output=True,
                   timeout=120)
    with Image.open(shot) as image:
        assert image.width == width
        grey = image.convert("L").histogram()  # pixels per grey level, 0 (black) to 255
    dark = sum(grey[:128]) / sum(grey)  # text, badges, borders
    assert 0.005 < dark < 0.5 and sum(1 for n in grey if n) > 20
