"""Reports: honest counts (cells with no result are "not run"), Markdown that reads back as
its text, and the HTML page's tables, verdicts, interval labels and plots."""

from __future__ import annotations

import random
import re
import tomllib
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from markdown_it import MarkdownIt
from markupsafe import escape
from matplotlib.container import BarContainer

from harness.judge.engine import INCONCLUSIVE, NOT_RUN, NOT_TESTABLE, SUPPORTED, verdict_level
from harness.report.md_text import md_code, md_escape, one_line
from harness.report.model import VERDICT_ORDER, build, column_notes, interval_note
from harness.report.plots import table_figure
from harness.report.render import terminal_summary, write_index, write_suite_report
from harness.stats.core import SUMMARY_CONFIDENCE, summarize
from harness.stats.margins import RULE, RULE_PLAIN
from tests.test_engine import run_toy
from tests.test_suite_validation import edit

REPO = Path(__file__).resolve().parents[1]

# CommonMark with raw HTML on (what a browser-bound renderer may allow), GitHub's tables and
# strikethrough; text_join off, so that each escape and each entity stays its own token.
MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]) \
    .disable("text_join")


def inline_text(tokens) -> str:
    """The text of one inline run; fails on anything but text and backslash escapes
    (tags, entities, emphasis, code, links, line breaks)."""
    out = []
    for t in tokens:
        assert t.type == "text" or (t.type == "text_special" and t.info == "escape"), \
            (t.type, t.info, t.content)
        out.append(t.content)
    return "".join(out)


def only_inline(source: str) -> str:
    """The text of a document that must hold exactly one inline run."""
    inlines = [t for t in MD.parse(source) if t.type == "inline"]
    assert len(inlines) == 1, [t.type for t in MD.parse(source)]
    return inline_text(inlines[0].children)


def contexts(s: str) -> dict[str, tuple[str, str]]:
    """Where the templates put escaped text: (Markdown source, the text it must show)."""
    text = one_line(s)
    cell = md_escape(s, table=True)
    return {
        "paragraph": (md_escape(s), text),
        "list item": (f"- “{md_escape(s)}” then more", f"“{text}” then more"),
        "quote": (f"> {md_escape(s)} (section)", f"{text} (section)"),
        "heading": (f"## {md_escape(s)}", text),
        "table cell": (f"| h | {cell} |\n|---|---|\n| {cell} | x |", text),
        "image alt": (f"![{md_escape(s, link_text=True)}](p.png)", text),
    }


def check_reads_back(s: str) -> None:
    if not one_line(s):
        return
    for where, (source, expected) in contexts(s).items():
        if where == "table cell":
            cells = [t for t in MD.parse(source) if t.type == "inline"]
            assert [t.type for t in MD.parse(source)][0] == "table_open", (s, source)
            assert [inline_text(c.children) for c in cells] == ["h", expected, expected, "x"]
        elif where == "image alt":
            [inline] = [t for t in MD.parse(source) if t.type == "inline"]
            [image] = inline.children
            assert image.type == "image" and image.attrs["src"] == "p.png", (s, source)
            assert inline_text(image.children) == expected, (s, source)
        else:
            assert only_inline(source) == expected, (where, s, source)


HOSTILE = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "a <= b -> c => d <- e",
    "x < y > z", "x<y", "<3", "</", "<", ">", "&", "&amp; &lt; &#60; &#x3C; &copy;&nbsp;",
    "R&D & co", "&unknownentity;", "&#0;", "*bold* **strong** _em_ __u__ snake_case_name",
    "a*b*c", "100 * (a - b) * 2", "x_1 + y_2", "_leading", "trailing_", "*", "_", "**", "__",
    "`code` ``x`` `", "[link](http://x) ![img](y) [ref][r] [a] [] []()", "[r]: http://evil",
    "[15.59, 41.01]", "](", "a](b)", "[", "]", "# heading", "### title ###", "foo #", "#5",
    "#", "> quote", "- item", "+ item", "* item", "1. item", "2) item", "12345678.", "1.",
    "2020. was a year", "---", "***", "___", "===", "- - -", "* * *", "-5.3", "+5", "--x",
    "~~strike~~ ~one~ a ~ b", "a | b || c", "|---|---|", ":---:", "\\", "back\\slash \\* \\",
    "a\\_b", "\\<b\\>", "<http://autolink.com>", "<a@b.co>", "<!-- comment -->", "<?php ?>",
    "<!DOCTYPE html>", "<![CDATA[x]]>", "    indented code", "\tTab", "line1\nline2\r\nl3\rl4",
    "trailing two spaces  \nnext", "<div>\n<p>x</p>\n</div>", "{{ 7*7 }} {% raw %}",
    "$5 and $6", "ü_ß_é", "日本_語", "a\u00a0*\u00a0b", "“x”", "javascript:alert(1)",
    "https://example.com/a_b_c", "www.example.com", "<a href='x'>l</a>", "'; DROP TABLE x",
]
ALPHABET = list("ab1 _*`~|<>&#[]()!\\-+=.:;/\"'{}$%^@\t\n") + ["é", "\u00a0", "“", "amp;"]


@pytest.mark.parametrize("s", HOSTILE)
def test_md_escape_reads_back_as_the_text_itself(s: str):
    check_reads_back(s)


def test_md_escape_reads_back_for_random_hostile_strings():
    rng = random.Random(0)
    for _ in range(1500):
        check_reads_back("".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 14))))


def test_every_string_of_the_shipped_suites_reads_back():
    """Quotes, notes, titles, labels, reasons, choices: every string value of every
    claims.toml and suite.toml under suites/."""
    def strings(x):
        if isinstance(x, str):
            yield x
        elif isinstance(x, dict):
            for v in x.values():
                yield from strings(v)
        elif isinstance(x, list):
            for v in x:
                yield from strings(v)

    files = sorted(REPO.glob("suites/*/claims.toml")) + sorted(REPO.glob("suites/*/suite.toml"))
    assert len(files) >= 10
    seen = 0
    for f in files:
        for s in strings(tomllib.loads(f.read_text())):
            check_reads_back(s)
            seen += 1
    assert seen > 1000


def test_md_escape_leaves_plain_text_as_it_is():
    """Readable in a terminal: no entities, and no backslash where nothing needs one."""
    for s in ["a <= b -> c & d", "sparsity_mean[0]", "[15.59, 41.01]", "100 * 2 = 200",
              "-52.92", "avg 27% (n=3)", "6.64 <= 3.24 does not hold", "Linear -> GELU",
              "R&D", "x > 0"]:
        assert md_escape(s) == s and md_escape(s, table=True) == s
    assert md_escape("a | b", table=True) == "a \\| b" and md_escape("a | b") == "a | b"
    assert md_escape("<b>x</b> &amp;") == "\\<b>x\\</b> \\&amp;"


def test_md_code_holds_any_backticks():
    for s in ["plain", "a `tick`", "``double``", "`", " spaced ", "x | y"]:
        [inline] = [t for t in MD.parse(f"run {md_code(s)} now") if t.type == "inline"]
        [code] = [t for t in inline.children if t.type == "code_inline"]
        assert code.content == s


def _all_text(source: str) -> str:
    out = []
    for t in MD.parse(source):
        assert t.type not in ("html_block", "html_inline"), t.content
        for c in t.children or []:
            assert c.type != "html_inline", c.content
            if c.type in ("text", "text_special"):
                out.append(c.content)
    return "".join(out)


def test_rendered_markdown_report_carries_no_html_entities(toy: Path, store_path: Path,
                                                            tmp_path: Path):
    hostile = "A & B <= C -> D, <b>x</b> *y* `z` | w"
    edit(toy / "claims.toml", 'quote = "A beats B"', f'quote = "{hostile}"')
    edit(toy / "claims.toml", 'title = "Main table"', 'title = "<i>Main</i> & co"')
    edit(toy / "claims.toml", 'row_header = "Arm"', 'row_header = "A <= B | C"')
    result, _ = run_toy(toy, store_path)
    md = write_suite_report(build(result, "cmd"), tmp_path / "out")["md"].read_text()
    for entity in ("&lt;", "&gt;", "&amp;", "&#"):
        assert entity not in md, entity
    text = _all_text(md)  # no raw HTML anywhere in the document
    assert hostile in text and "<i>Main</i> & co" in text and "A <= B | C" in text
    assert "A & B <= C -> D" in md  # readable as it stands


# ------------------------------------------------------------------ item 5: grids


def test_a_failed_cell_in_a_suite_with_a_grid_is_reported(toy: Path, store_path: Path,
                                                          tmp_path: Path):
    """Cells of the main grid have no "grid" parameter, and an extra grid's cells may lack
    main factors: the failed-cells list names what each cell has."""
    edit(toy / "suite.toml", 'fail_arm = ""', 'fail_arm = "a"')
    with open(toy / "suite.toml", "a") as f:
        f.write('\n[[grid]]\nname = "sweep"\nfactors = { spread = [0.1, 0.2], arm = ["a"] }\n')
    (toy / "claims.toml").write_text("[source]\nfile = 'toy.txt'\n")  # 'arm = a' is ambiguous
    result, _ = run_toy(toy, store_path)
    model = build(result, "cmd")
    params = {f["params"] for f in model.failed}
    assert "arm=a, spread=0.1, grid=sweep, seed=0" in params  # the sweep's cells failed
    tuning = [f for f in model.failed if f["stage"] == "tune"]
    assert len(tuning) == 3 and all("grid" not in f["params"] for f in tuning)
    assert all(f["params"].startswith("arm=a, spread=0.5, seed=") for f in tuning)
    md = write_suite_report(model, tmp_path / "out")["md"].read_text()
    assert "## Failed cells" in md and "grid=sweep, seed=1" in md


# ------------------------------------------------------------------ item 9b: not run


def test_cells_with_no_result_are_not_run_everywhere(toy: Path, store_path: Path,
                                                     tmp_path: Path):
    """Nothing run yet (report before run): every table cell and every claim that needs a
    result is "not run", never "inconclusive", and every count says so."""
    result, _ = run_toy(toy, store_path, execute=False)
    model = build(result, "cmd")
    verdicts = {v.id: v.verdict for v in model.claims}
    assert verdicts == {"a-beats-b": NOT_RUN, "b-beats-a": NOT_RUN, "a-equals-c": NOT_RUN,
                        "size-deterministic": NOT_RUN, "a-no-worse-than-c": NOT_RUN,
                        "threshold": NOT_RUN, "internal-sum": SUPPORTED,
                        "untestable": NOT_TESTABLE}
    assert "arm=a: not run yet" in next(v for v in model.claims if v.id == "a-beats-b").reason
    # two value verdicts and two tests against chance
    assert [v.verdict for v in model.table_verdicts] == [NOT_RUN] * 4
    assert model.counts[NOT_RUN] == 6 and model.counts[INCONCLUSIVE] == 0
    assert model.table_counts[NOT_RUN] == 4 and model.table_counts[INCONCLUSIVE] == 0
    assert model.tables[0].rows[0][3:5] == [NOT_RUN, NOT_RUN]
    split = "claims: 1 supported, 1 not testable, 6 not run; table numbers: 4 not run"
    summary = terminal_summary(model)
    assert summary.splitlines()[0] == ("toy (tier smoke): verdicts: 1 supported, "
                                       f"1 not testable, 10 not run ({split})")
    assert "inconclusive" not in summary.split("Flagged:")[0].splitlines()[0]
    paths = write_suite_report(model, tmp_path / "out")
    md, html = paths["md"].read_text(), paths["html"].read_text()
    total = {k: 0 for k in VERDICT_ORDER} | {SUPPORTED: 1, NOT_TESTABLE: 1, NOT_RUN: 10}
    assert "**Verdicts:** " + " · ".join(f"{total[k]} {k}" for k in VERDICT_ORDER) \
           + f" ({split})" in md
    assert "| ⏭ not run " in md and "❔" not in md
    assert '<span class="v not-run">10 not run</span>' in html
    index = write_index([model], tmp_path / "out").read_text()
    row = re.search(r"<tr><td>toy</td>.*?</tr>", index).group(0)
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert cells[3:] == [*(str(total[k]) for k in VERDICT_ORDER), split, cells[-1]]


def test_cells_that_all_failed_are_not_run(toy: Path, store_path: Path):
    """Every seed of arm b failed (no tuning here, so its main cells run and fail)."""
    text = (toy / "suite.toml").read_text().replace('fail_arm = ""', 'fail_arm = "b"')
    text = text.replace("tuning = { trials = 3 }\n", "")
    (toy / "suite.toml").write_text(text[:text.index("[tuning]")]
                                    + text[text.index("[tiers.smoke]"):])
    result, _ = run_toy(toy, store_path)
    assert sum(r.status == "failed" for r in result.records) == 3
    model = build(result, "cmd")
    v = {c.id: c for c in model.claims}
    assert v["a-beats-b"].verdict == NOT_RUN and "arm=b: 3 failed, none finished" in \
        v["a-beats-b"].reason
    assert v["threshold"].verdict == SUPPORTED
    b_cell = model.tables[0].result.cells[(1, "score")]
    assert b_cell.verdict.verdict == NOT_RUN and b_cell.failed == 3
    assert b_cell.chance.verdict == NOT_RUN and "arm=b: 3 failed" in b_cell.chance.reason
    assert model.tables[0].rows[1][2:5] == ["not run (3 failed)", NOT_RUN, NOT_RUN]


# ------------------------------------------------------------------ item 19: HTML, plots


def test_tables_label_their_intervals_with_levels_from_the_code(toy: Path, store_path: Path,
                                                                tmp_path: Path):
    """The tables print 95 % t intervals of the mean (summarize's default); verdicts read
    the (1 - 2 alpha) interval: 90 % at alpha 0.05, 80 % at alpha 0.1."""
    edit(toy / "claims.toml", 'reported_n = 4', 'reported_n = 4\nalpha = 0.1')
    result, _ = run_toy(toy, store_path)
    model = build(result, "cmd")
    note = model.tables[0].interval_note
    assert "mean ± SD over the seeds [95 % t interval of the mean]" in note
    assert "the 80 % t interval of reproduced − reported inside ±margin" in note
    paths = write_suite_report(model, tmp_path / "out")
    md, html = paths["md"].read_text(), paths["html"].read_text()
    assert note in md and str(escape(note)) in html and "| 95 % t interval " in md
    assert "<th>95 % BCa bootstrap interval, shown from n ≥ " in html


def test_html_tables_scroll_in_their_box_and_verdicts_are_words(toy: Path, store_path: Path,
                                                                tmp_path: Path):
    result, _ = run_toy(toy, store_path)
    html = write_suite_report(build(result, "cmd"), tmp_path / "out")["html"].read_text()
    body = html.split("<body>")[1]
    # the main table, tuning, the write-up against itself, seed statistics
    assert body.count("<table>") == body.count('<div class="scroll"><table>') == 4
    assert "overflow-x: auto" in html.split("</style>")[0]
    table = body.split('<div class="scroll"><table>')[1].split("</table>")[0]
    assert '<td class="verdict"><span class="v supported">supported</span></td>' in table
    assert '<td class="verdict"><span class="v contradicted">contradicted</span></td>' in table
    assert not re.search("[\u2700-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]", table)


def test_plot_legend_is_outside_the_axes_and_percent_bars_stay_in_range(toy: Path,
                                                                        store_path: Path):
    """A score in % with a wide spread: its t interval runs below 0, its bar stops at 0."""
    edit(toy / "suite.toml", 'score = { unit = "pts" }', 'score = { unit = "%" }')
    edit(toy / "suite.toml", "spread = 0.5", "spread = 20.0")
    result, _ = run_toy(toy, store_path)
    model = build(result, "cmd")
    cells = model.tables[0].result.cells
    assert min(cells[(r, "score")].reproduced.ci_low for r in (0, 1)) < 0  # a real test
    fig = table_figure(model.tables[0].result, model.units, SUMMARY_CONFIDENCE)
    fig.canvas.draw()
    [legend] = fig.legends
    box = legend.get_window_extent()
    [ax] = fig.axes
    assert not box.overlaps(ax.get_window_extent())
    assert "95 % t interval" in " ".join(t.get_text() for t in legend.get_texts())
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 2  # reported, reproduced
    ys = [y for bar in bars for segment in bar.errorbar.lines[2][0].get_segments()
          for _, y in segment]
    assert min(ys) == 0.0 and max(ys) <= 100.0
    plt.close(fig)


def test_interval_levels_are_named_once():
    """The seeds' intervals are summarize()'s default level; a verdict reads the
    (1 - 2 alpha) interval (TOST at alpha); the table note states both."""
    assert SUMMARY_CONFIDENCE == 0.95
    assert summarize([1.0, 2.0, 4.0]) == summarize([1.0, 2.0, 4.0], SUMMARY_CONFIDENCE)
    assert verdict_level(0.05) == pytest.approx(0.9)
    note = interval_note(True, 0.025)
    assert "[95 % t interval of the mean]" in note and "the 95 % t interval of" in note
    assert "90 %" in interval_note(True, 0.05) and "Verdict" not in interval_note(False, 0.05)


# ------------------------------------------------------------------ issue 14, fault 7


def test_a_columns_own_margin_and_its_reason_are_shown_under_its_table(
        toy: Path, store_path: Path, tmp_path: Path):
    """The toy's score column sets margin 1.5 with a reason: the note under the table says
    it beside the default rule, in both reports. Without its own margin the column is
    judged by the rule (the old judge gave it no verdict) and no note says otherwise."""
    custom = "Score: margin ±1.5: the toy write-up reads 'within 1.5 points'"
    model = build(run_toy(toy, store_path)[0], "cmd")
    assert column_notes(model.tables[0].result.spec) == [custom]
    note = model.tables[0].interval_note
    assert note.endswith(custom) and f"Margin: {RULE}, unless the column says" in note
    paths = write_suite_report(model, tmp_path / "out")
    assert custom in paths["md"].read_text() and str(escape(custom)) in paths["html"].read_text()
    row_a = model.tables[0].result.cells[(0, "score")].verdict
    assert "(the toy write-up reads 'within 1.5 points')" in row_a.reason

    edit(toy / "claims.toml", "margin = 1.5, margin_reason = \"the toy write-up reads "
         "'within 1.5 points'\", ", "")
    model = build(run_toy(toy, store_path)[0], "cmd")  # the same cells, read back
    assert column_notes(model.tables[0].result.spec) == []
    for r in (0, 1):
        verdict = model.tables[0].result.cells[(r, "score")].verdict
        assert verdict.evidence["margin"] == pytest.approx(0.5 if r == 0 else 0.45)  # 5 %
        assert f"margin ({RULE_PLAIN})" in verdict.reason
    edit(toy / "claims.toml", 'metric = "score", chance',
         'metric = "score", no_verdict = "the toy write-up gives no run count", chance')
    model = build(run_toy(toy, store_path)[0], "cmd")
    assert column_notes(model.tables[0].result.spec) == \
        ["Score: no verdict: the toy write-up gives no run count"]
    assert model.tables[0].result.cells[(0, "score")].verdict is None
    assert "verdict" not in model.tables[0].headers and "vs chance" in model.tables[0].headers


def test_curves_are_drawn_per_configuration_and_checked_on_load(toy: Path, store_path: Path,
                                                                tmp_path: Path):
    curves = ('\n[[curves]]\nid = "training"\ntitle = "Training curves"\n'
              'metrics = ["curve"]\nx_param = "lr"\nx_label = "step"\nlog_y = ["curve"]\n'
              'row = [{ label = "A", where = { arm = "a" } }, '
              '{ label = "B", where = { arm = "b" } }]\n')
    with open(toy / "claims.toml", "a") as f:
        f.write(curves)
    result, _ = run_toy(toy, store_path)
    model = build(result, "cmd")
    [figure] = [f for f in model.figures if f.id == "training"]
    assert [label for label, _ in figure.curves.rows] == ["A", "B"]
    assert all(len(seeds) == 3 for _, seeds in figure.curves.rows)  # a line per seed (smoke)
    assert figure.curves.rows[0][1][0][1]["curve"] == [1.0, 0.5, 0.25]
    paths = write_suite_report(model, tmp_path / "out")
    assert paths["training"].stat().st_size > 1000
    assert "training.png" in paths["md"].read_text()
    assert "data:image/png;base64," in paths["html"].read_text()
    # a metric that is not a curve is an error naming the field
    text = (toy / "claims.toml").read_text().replace('metrics = ["curve"]', 'metrics = ["score"]')
    (toy / "claims.toml").write_text(text.replace('log_y = ["curve"]', "log_y = []"))
    with pytest.raises(Exception, match=r"curves\[0\]\.metrics\[0\]: 'score' is not a curve"):
        run_toy(toy, store_path)


def test_the_write_up_against_itself_is_a_section_with_its_arithmetic(toy: Path,
                                                                      store_path: Path,
                                                                      tmp_path: Path):
    edit(toy / "claims.toml", "reported_n = 4\n",
         'reported_n = 4\n\n[forensics]\nscore = { step = "1", why = "whole points" }\n')
    edit(toy / "claims.toml", 'reported = { score = "9.0 ± 0.5" }',
         'reported = { score = "9.1 ± 0.5" }')  # 4 integers: 9.0 or 9.25
    edit(toy / "claims.toml", 'reported = { score = "10.0 ± 0.5" }',
         'reported = { score = "10.0 ± 0.8" }')  # 9, 10, 10, 11
    result, _ = run_toy(toy, store_path)
    paths = write_suite_report(build(result, "cmd"), tmp_path / "out")
    md, html = paths["md"].read_text(), paths["html"].read_text()
    for text in (md, html):
        assert "The write-up against itself" in text
        assert "none rounds to 9.1" in text and "9, 9.25" in text
    section = md.split("## The write-up against itself", 1)[1].split("\n## ", 1)[0]
    assert "❌ inconsistent" in section and "✅ consistent" in section  # A's 10.0 = 40 / 4
    # the column's chance (0) adds one check per row; the toy's a-beats-b claim agrees
    # with the printed 10.0 and 9.1, its b-beats-a claim has them the other way round
    assert "Outcomes: 5 consistent, 2 inconsistent, 1 uninformative." in section


def test_flagged_verdicts_are_one_scannable_row_each_with_the_reasoning_folded(
        toy: Path, store_path: Path, tmp_path: Path):
    """The flagged list holds what the numbers do not support (contradicted, inconclusive),
    one row each: compared numbers, effect with the interval that decided it and its level,
    adjusted p, the deciding reason; the full reasoning folds beneath (HTML <details>) or
    follows the table (Markdown). Verdicts without a test here are listed apart."""
    result, _ = run_toy(toy, store_path)
    model = build(result, "cmd")
    assert model.flags and all(v.verdict in ("contradicted", "inconclusive")
                               or v.writeup_ok is False for v in model.flags)
    assert all(v.verdict in ("not run", "not testable", "not comparable")
               for v in model.unjudged)
    assert any(v.id == "untestable" for v in model.unjudged)
    assert not any(v.id == "untestable" for v in model.flags)
    for v, row in zip(model.flags, model.flag_rows, strict=True):
        assert row[0] == v.id and row[1] == v.verdict and len(row) == 6
        if v.p_holm is not None:  # a test: its numbers, its interval's level, its p
            # alpha's own level, or the one Holm held the test to, which is said
            assert " vs " in row[2] and re.search(
                r"\[[^]]+\] \(((80|90|95) %|[0-9.]+ %, Holm)\)", row[3])
            assert row[4] != "—" and row[5]
    paths = write_suite_report(model, tmp_path / "out")
    md, html = paths["md"].read_text(), paths["html"].read_text()
    flagged_html = html.split("<h2>Flagged")[1].split("<h2>")[0]
    assert flagged_html.count("<details><summary>Why</summary>") == len(model.flags)
    assert '<table class="flags">' in flagged_html
    flagged_md = md.split("## Flagged")[1].split("\n## ")[0]
    assert re.search(r"\| claim or number +\| verdict +\|", flagged_md)
    assert "Why, one by one:" in flagged_md
    assert flagged_md.index("| claim or number") < flagged_md.index("Why, one by one:")


def test_the_summary_is_generated_from_the_verdicts(toy: Path, store_path: Path,
                                                    tmp_path: Path):
    result, _ = run_toy(toy, store_path)
    model = build(result, "cmd")
    claims = model.summary[0]
    # one line per family: the claims tested on our runs, apart from the sizes they imply
    # and from the write-up checked against itself
    tested = [v for v in model.claims if v.kind not in ("size", "internal")]
    for outcome in ("supported", "contradicted", "inconclusive"):
        n = sum(v.verdict == outcome for v in tested)
        assert f"{n} {outcome}" in claims
    against = [v.id for v in tested if v.verdict == "contradicted"]
    assert bool(against) == any(line.startswith("Contradicted claims:")
                                for line in model.summary)
    internal = [v for v in model.claims if v.kind == "internal"]
    holds = sum(v.verdict == "supported" for v in internal)
    assert bool(internal) == any(line.startswith(f"The write-up against itself: {holds} of "
                                                 f"{len(internal)} checks hold")
                                 for line in model.summary)
    tables = [line for line in model.summary if line.startswith("Table '")]
    assert len(tables) == len([t for t in model.tables
                               if any(c.verdict for c in t.result.cells.values())])
    paths = write_suite_report(model, tmp_path / "out")
    md, html = paths["md"].read_text(), paths["html"].read_text()
    assert md.index("## Summary") < md.index("## Flagged")
    assert html.index("<h2>Summary</h2>") < html.index("<h2>Flagged")
    assert "Summary:" in terminal_summary(model)


def test_the_summary_counts_what_no_seed_count_can_settle():
    from harness.judge import findings
    from harness.judge.verdict import Verdict

    def v(outcome: str, undecidable: bool = False) -> Verdict:
        out = Verdict("x", "value", "q", outcome, "reason")
        if undecidable:
            out.evidence["undecidable"] = "reported"
        return out

    lines = findings.summary([v("supported"), v("inconclusive", True), v("inconclusive")], [])
    assert lines[0] == ("Claims: 1 supported, 0 contradicted, 2 inconclusive (1 of the "
                        "inconclusive ones no number of our seeds can settle: the write-up's "
                        "own spread is too wide).")
    imputed = v("inconclusive", True)
    imputed.evidence["undecidable"] = "imputed"
    lines = findings.summary([v("inconclusive", True), imputed, imputed], [])
    assert lines[0].endswith("(3 of the inconclusive ones no number of our seeds can settle: "
                             "1 by the write-up's own spread, 2 by ours imputed to runs that "
                             "print none).")
    assert v("inconclusive", True).decided_by() == ("no seed count settles it: the "
                                                    "write-up's own spread is too wide")


def test_the_summary_keeps_sizes_and_the_write_up_against_itself_apart_from_the_claims():
    """A size verdict is its own Holm family and an internal check is no test: neither is
    counted among the claims, and a contradicted size says ours against the write-up's."""
    from harness.judge import findings
    from harness.judge.verdict import Verdict

    claim = Verdict("a-beats-b", "greater", "q", "inconclusive", "r")
    size = Verdict("a-beats-b/size", "size", "q", "contradicted", "r")
    size.evidence["compared"] = "ours +2.08 vs +43.39"
    internal = Verdict("sums-to-100", "internal", "q", "supported", "r")
    lines = findings.summary([claim, size, internal], [])
    assert lines[0] == "Claims: 0 supported, 0 contradicted, 1 inconclusive."
    assert "Sizes the claims imply (ours against the write-up's difference): 0 supported, " \
           "1 contradicted, 0 inconclusive." in lines
    assert "Contradicted sizes: a-beats-b (ours +2.08 vs +43.39)." in lines
    assert "The write-up against itself: 1 of 1 checks hold." in lines
    assert not any(line.startswith("Contradicted claims") for line in lines)


def test_the_summary_names_the_claims_the_fewest_added_seeds_could_settle():
    """Inconclusive claims with a seed count (at most settle's default ceiling), fewest
    first, three at most, with the settle command when the tier has a reference."""
    from harness.judge import findings
    from harness.judge.verdict import Verdict

    def v(vid: str, n: int | None, outcome: str = "inconclusive") -> Verdict:
        out = Verdict(vid, "threshold", "q", outcome, "r")
        out.seeds_needed = n
        return out

    claims = [v("a", 12), v("b", 4), v("c", None), v("d", 31), v("e", 6), v("f", 5),
              v("g", 3, "supported")]
    line = findings.cheapest(claims, "sparsebench settle --suite s --tier cpu")
    assert line.startswith("Fewest seeds to settle") and "b (4), f (5), e (6) (" in line
    assert line.endswith(": sparsebench settle --suite s --tier cpu).")
    assert "a (12)" not in line and "d (31)" not in line and "g (3)" not in line
    assert "settle" not in findings.cheapest(claims, None).split(":", 1)[1]
    assert findings.cheapest([v("c", None), v("d", 31)], None) is None


def test_a_table_that_repeats_another_tables_numbers_is_counted_once(
        toy: Path, store_path: Path, tmp_path: Path):
    """A second table printing the main table's rows again (one checkpoint's figures in
    two tables) adds no verdict to the report's totals or its flagged list, and its note
    names what it repeats."""
    plain = build(run_toy(toy, store_path)[0], "cmd")
    main = (toy / "claims.toml").read_text().split("[[figure]]")[0]
    copy = main.split("[[table]]", 1)[1].replace('id = "main"', 'id = "again"').replace(
        'title = "Main table"', 'title = "Again"')
    edit(toy / "claims.toml", "[[figure]]", "[[table]]" + copy + "[[figure]]")
    model = build(run_toy(toy, store_path)[0], "cmd")
    assert len(model.tables) == len(plain.tables) + 1
    assert model.total_counts == plain.total_counts
    assert [v.id for v in model.flags] == [v.id for v in plain.flags]
    again = next(t for t in model.tables if t.id == "again")
    assert "Printed in an earlier table too" in again.interval_note
    assert "again/A as main/A" in again.interval_note
