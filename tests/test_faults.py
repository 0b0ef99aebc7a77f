"""Faults and hostile input at the command line: exit codes, messages, nothing lost."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main
from tests.conftest import missing
from tests.test_suite_validation import CLAIMS_CASES, SUITE_CASES, edit

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.parametrize("file,case", [("suite.toml", c) for c in SUITE_CASES]
                         + [("claims.toml", c) for c in CLAIMS_CASES])
def test_every_malformed_file_is_one_line_exit_2(toy: Path, tmp_path: Path, capsys, file, case):
    old, new, _, _ = case
    edit(toy / file, old, new)
    store = tmp_path / "store.sqlite"
    assert main(["run", "--suite", str(toy), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sparsebench: error: ")
    assert str(toy / file) in err and "Traceback" not in err
    assert not store.exists() and not Path(str(store) + ".lock").exists()


def test_random_byte_damage_never_escapes_as_a_traceback(toy: Path, capsys):
    """300 seeded mutations of both files: each either loads or is an error, one line per
    problem."""
    rng = random.Random(0)
    originals = {f: (toy / f).read_bytes() for f in ("suite.toml", "claims.toml")}
    outcomes = {0: 0, 2: 0}
    for _ in range(300):
        name = rng.choice(list(originals))
        data = bytearray(originals[name])
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(data))
            action = rng.choice(["delete", "insert", "replace"])
            junk = rng.choice([b"\xff", b"[", b"]", b"=", b'"', b"\n", b"9" * 40, b"{", b"-1"])
            if action == "delete":
                del data[pos:pos + rng.randint(1, 20)]
            elif action == "insert":
                data[pos:pos] = junk
            else:
                data[pos:pos + len(junk)] = junk
        for f, content in originals.items():
            (toy / f).write_bytes(bytes(data) if f == name else content)
        code = main(["list", "--suite", str(toy)])
        out = capsys.readouterr()
        assert code in outcomes, out.err
        outcomes[code] += 1
        if code == 2:
            lines = out.err.splitlines()
            assert lines and all(line.startswith("sparsebench: error: ") for line in lines), \
                out.err
            assert "Traceback" not in out.err
    assert outcomes[2] > 200  # most damage is caught, none escapes


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *args]


def slow_toy(toy: Path, seconds: float = 0.15) -> Path:
    edit(toy / "suite.toml", "sleep = 0.0", f"sleep = {seconds}")
    return toy


def test_second_writer_refuses_cleanly(toy: Path, tmp_path: Path):
    store = tmp_path / "store.sqlite"
    # the first run takes ~10 s, so it still holds the store when the second starts
    first = subprocess.Popen(cli("run", "--suite", str(slow_toy(toy, 0.6)), "--tier", "smoke",
                                 "--store", str(store), "--no-progress"), cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not Path(str(store) + ".lock").exists() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        second = subprocess.run(cli("run", "--suite", str(toy), "--tier", "smoke", "--store",
                                    str(store)), cwd=REPO, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 2
        assert "in use by pid" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.wait(timeout=120)
    assert first.returncode == 0


def test_corrupted_store_is_refused_with_a_recovery_hint(toy: Path, tmp_path: Path):
    store = tmp_path / "store.sqlite"
    store.write_bytes(b"SQLite format 3\x00" + os.urandom(3000))
    proc = subprocess.run(cli("run", "--suite", str(toy), "--store", str(store)), cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "not a readable sparsebench store" in proc.stderr and ".recover" in proc.stderr


def test_kill_9_five_times_then_resume(toy: Path, tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "kill_resume.py"), "--suite",
         str(slow_toy(toy)), "--tier", "smoke", "--kills", "5", "--workdir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "kills survived: 5 of 5" in proc.stdout
    assert "cells run twice: 0" in proc.stdout and "reports identical: True" in proc.stdout


def _browser(profile: Path) -> list[str]:
    """Headless Chromium that reaches nothing outside (a report page loads nothing)."""
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}"]


def test_hostile_text_renders_inert_in_a_real_browser(toy: Path, tmp_path: Path):
    if CHROMIUM is None:
        missing("chromium is not installed (.ci/run installs it)")
    hostile = ("<script>document.title='pwned'</script><img src=x onerror=\\\"document.title="
               "'pwned'\\\"> {{ 7*7 }} {% raw %}")
    edit(toy / "claims.toml", 'quote = "A beats B"', f'quote = "{hostile}"')
    edit(toy / "claims.toml", 'title = "Main table"',
         'title = "<b>Main</b> <script>x()</script> costs $5 and $6"')
    out = tmp_path / "out"
    assert main(["reproduce", "--suite", str(toy), "--tier", "smoke", "--store",
                 str(tmp_path / "s.sqlite"), "--out", str(out), "--no-progress"]) == 0
    page = out / "toy-smoke.html"
    args = _browser(tmp_path / "profile")
    dom = subprocess.run([*args, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert "<title>Toy suite for engine tests" in dom and "pwned" not in dom.split("<body")[0]
    assert "<script>document.title" not in dom and "&lt;script&gt;document.title" in dom
    assert "{{ 7*7 }}" in dom and "{% raw %}" in dom
    # the write-up's table, tuning, the write-up against itself, seed statistics
    assert dom.count("<table>") == 4
    assert "&lt;b&gt;Main&lt;/b&gt; &lt;script&gt;x()&lt;/script&gt; costs $5" in dom
    shot = REPO / "reports" / "out" / "hostile-input.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([*args, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_a_wide_table_scrolls_in_its_box_not_the_page_in_a_real_browser(toy: Path,
                                                                         tmp_path: Path):
    """A write-up table of 19 columns in an 800 px window. The page forbids scripts, so a
    copy of it gets one that writes the laid-out widths into the DOM (``--dump-dom`` prints
    the DOM after scripts ran): the document must be no wider than the viewport, while the
    table's own box is (so the table really is too wide and scrolls inside it)."""
    if CHROMIUM is None:
        missing("chromium is not installed (.ci/run installs it)")
    wide = "".join(f', {{ key = "s{i}", label = "Score of a long-named setting {i}", '
                   'metric = "score", margin = 1.5, margin_reason = "as the first" }'
                   for i in range(6))
    edit(toy / "claims.toml", "higher_is_better = true },", f"higher_is_better = true }}{wide},")
    for mean in ("10.0", "9.0"):
        cells = "".join(f', s{i} = "{mean} ± 0.5"' for i in range(6))
        edit(toy / "claims.toml", f'reported = {{ score = "{mean} ± 0.5" }}',
             f'reported = {{ score = "{mean} ± 0.5"{cells} }}')
    out = tmp_path / "out"
    assert main(["reproduce", "--suite", str(toy), "--tier", "smoke", "--store",
                 str(tmp_path / "s.sqlite"), "--out", str(out), "--no-progress"]) == 0
    page = out / "toy-smoke.html"
    html = page.read_text()
    assert "default-src 'none';" in html
    measure = ("<script>const d = document.documentElement, b = document.body;"
               "b.dataset.page = d.scrollWidth + ' ' + d.clientWidth;"
               "b.dataset.boxes = [...document.querySelectorAll('.scroll')]"
               ".map(e => e.scrollWidth + ' ' + e.clientWidth).join(',');</script>")
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("default-src 'none';", "default-src 'none'; "
                                  "script-src 'unsafe-inline';")
                     .replace("</body>", measure + "</body>"))
    args = [*_browser(tmp_path / "profile"), "--window-size=800,1200"]
    dom = subprocess.run([*args, "--dump-dom", probe.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    page_width, viewport = map(int, re.search(r'data-page="(\d+) (\d+)"', dom).groups())
    boxes = [tuple(map(int, box.split())) for box in
             re.search(r'data-boxes="([\d ,]+)"', dom).group(1).split(",")]
    assert 700 <= viewport <= 800 and page_width <= viewport
    assert len(boxes) == 4  # the table, tuning, the write-up against itself, seed statistics
    assert boxes[0][0] > boxes[0][1] > 0  # the write-up's table is wider than its box
    assert dom.count('<td class="verdict"><span class="v ') >= 14  # each reported cell's
    assert '<span class="v contradicted">contradicted</span>' in dom
    shot = REPO / "reports" / "out" / "wide-table.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([*args, f"--screenshot={shot}", page.as_uri()], capture_output=True,
                   timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000
