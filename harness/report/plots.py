"""One figure per write-up table (reported beside reproduced, with intervals), and
tiles of image metrics."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from ..judge.engine import TableResult  # noqa: E402


def _plain(text: str) -> str:
    """Text for matplotlib: '$' would start mathtext (and can fail to parse)."""
    return text.replace("$", r"\$")


def plot_tiles(rows: list[tuple[str, int | None, np.ndarray | None]], title: str,
               path: Path) -> bool:
    """One row of grey-scale tiles per configuration (each tile scaled to its own range);
    returns False when no row has tiles."""
    drawn = [t for _, _, t in rows if t is not None]
    if not drawn:
        return False
    cols = max(len(t) for t in drawn)
    fig, axes = plt.subplots(len(rows), cols, figsize=(0.75 * cols + 1.6, 0.8 * len(rows) + 0.6),
                             squeeze=False)
    for r, (label, seed, tiles) in enumerate(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if tiles is not None and c < len(tiles):
                tile = tiles[c]
                low, high = float(tile.min()), float(tile.max())
                ax.imshow(tile, cmap="gray", vmin=low, vmax=high if high > low else low + 1,
                          interpolation="nearest")
        name = label if seed is None else f"{label} (seed {seed})"
        axes[r][0].set_ylabel(_plain(name if tiles is not None else f"{label}: not run"),
                              rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(_plain(title), fontsize=10)
    _save(fig, path, 64)
    return True


def plot_curves(panels, title: str, path: Path, units: dict[str, str]) -> bool:
    """One panel per curve metric: a colour per configuration, a thin line per seed;
    returns False when no configuration has a finished seed with the curves.
    ``panels`` is a report.CurvePanels."""
    if not any(metrics for _, seeds in panels.rows for _, metrics in seeds):
        return False
    n = len(panels.metrics)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n + 0.4, 3.4), squeeze=False)
    colours = plt.get_cmap("tab10")
    for p, metric in enumerate(panels.metrics):
        ax = axes[0][p]
        for c, (label, seeds) in enumerate(panels.rows):
            for s, (_, curves) in enumerate(seeds):
                points = curves.get(metric)
                if not points:
                    continue
                step = panels.x_step or 1.0
                x = step * np.arange(1, len(points) + 1)
                y = np.asarray(points, dtype=float)
                if metric in panels.log_y:  # a log axis cannot show zero: left out
                    y = np.where(y > 0, y, np.nan)
                ax.plot(x, y, color=colours(c % 10), lw=1.2, alpha=0.85,
                        label=_plain(label) if s == 0 else None)
        if metric in panels.log_y:
            ax.set_yscale("log")
            plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
            ax.yaxis.set_major_formatter(plain)  # 0.05, not 5 x 10^-2
            ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        unit = units.get(metric, "")
        ax.set_title(_plain(metric + (f" ({unit})" if unit else "")), fontsize=9)
        ax.set_xlabel(_plain(panels.x_label), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle(_plain(title), fontsize=10)
    _save(fig, path, 80)
    return True


def _save(fig: plt.Figure, path: Path, dpi: int) -> None:
    """Lay out, write (no timestamped metadata, so the bytes repeat) and close."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, metadata={"Software": None})
    plt.close(fig)


def _clipped(low: float, mean: float, high: float, percent: bool) -> tuple[float, float]:
    """Error bar lengths below and above the mean; a percentage's bar stays in [0, 100]."""
    if not np.isfinite(mean):
        return 0.0, 0.0
    if percent:
        low, high = max(low, 0.0), min(high, 100.0)
    return (max(mean - low, 0.0) if np.isfinite(low) else 0.0,
            max(high - mean, 0.0) if np.isfinite(high) else 0.0)


def table_figure(result: TableResult, units: dict[str, str], level: float
                 ) -> plt.Figure | None:
    """Grouped bars per metric column, reported beside reproduced (with its ``level`` t
    interval), the legend below the axes; None when there is nothing to draw."""
    spec = result.spec
    columns = [c for c in spec.columns if c.metric]
    if not columns:
        return None
    fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns) + 1.5, 3.8),
                             squeeze=False, layout="constrained")
    x = np.arange(len(spec.row))
    for ax, col in zip(axes[0], columns, strict=True):
        percent = units.get(col.metric, "") == "%"
        reported, reported_err, reproduced, err = [], [[], []], [], [[], []]
        for r in range(len(spec.row)):
            cell = result.cells[(r, col.key)]
            mean = cell.reported.mean if cell.reported else np.nan
            spread = cell.reported.spread if cell.reported else None
            spread = spread if spread is not None else 0.0
            reported.append(mean)
            for side, e in zip(reported_err, _clipped(mean - spread, mean, mean + spread,
                                                      percent), strict=True):
                side.append(e)
            s = cell.reproduced
            mean = s.mean if s and s.n else np.nan
            reproduced.append(mean)
            low = s.ci_low if s and s.n >= 2 else mean
            high = s.ci_high if s and s.n >= 2 else mean
            for side, e in zip(err, _clipped(low, mean, high, percent), strict=True):
                side.append(e)
        width = 0.38
        if not np.all(np.isnan(reported)):
            ax.bar(x - width / 2, reported, width, yerr=reported_err, capsize=3,
                   label="reported (± its spread)", color="#bbbbbb", edgecolor="#555555",
                   hatch="//")
        ax.bar(x + width / 2, reproduced, width, yerr=err, capsize=3,
               label=f"reproduced (mean, {100 * level:.4g} % t interval)", color="#3b75af")
        ax.set_xticks(x, [_plain(r.label) for r in spec.row])
        ax.set_xlabel(_plain(spec.row_header))
        ax.set_title(_plain(col.label), fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    legend = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    # beside the data, never on it: constrained layout makes room below the axes
    fig.legend(list(legend.values()), list(legend), loc="outside lower center", ncol=len(legend),
               fontsize=8, frameon=False)
    fig.suptitle(textwrap.fill(_plain(f"{spec.title}: reported vs reproduced"),
                               width=int(45 * len(columns) + 20)), fontsize=10)
    return fig


def plot_table(result: TableResult, path: Path, units: dict[str, str], level: float) -> bool:
    """Save ``table_figure`` as a PNG; returns False when there is nothing to draw."""
    fig = table_figure(result, units, level)
    if fig is None:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return True


def plot_sensitivity(cells: list, title: str, path: Path, max_panels: int = 12) -> bool:
    """One panel per reported number of a sweep (sensitivity.SweepCell): the reproduced
    mean ± SD at each tried value (the suite's own in black), the reported number and its
    margin as a band. Returns False when no value has a result."""
    cells = [c for c in cells if any(t.mean is not None for t in c.tried)][:max_panels]
    if not cells:
        return False
    cols = min(len(cells), 4)
    rows = (len(cells) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    for ax, cell in zip(axes.flat, cells, strict=False):
        x = np.arange(len(cell.tried))
        ax.axhspan(cell.reported - cell.margin, cell.reported + cell.margin, color="tab:green",
                   alpha=0.15, label="reported ± margin")
        ax.axhline(cell.reported, color="tab:green", lw=1)
        for i, t in enumerate(cell.tried):
            if t.mean is None:
                continue
            ax.errorbar(i, t.mean, yerr=t.sd or 0.0, fmt="o", capsize=3,
                        color="black" if t.own else "tab:blue")
        ax.set_xticks(x, [_plain(f"{t.value!r}{' (ours)' if t.own else ''}")
                          for t in cell.tried], fontsize=7)
        ax.set_xlabel(_plain(cell.sweep.param), fontsize=8)
        lines = textwrap.wrap(cell.label, 46)  # the end names the column and the number
        ax.set_title(_plain("\n".join(lines if len(lines) <= 2 else ["… " + lines[-2], lines[-1]])),
                     fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(cells):]:
        ax.set_visible(False)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle(_plain(title), fontsize=10)
    _save(fig, path, 80)
    return True


def plot_recipe(section, path: Path) -> bool:
    """A recipe search (recipe_report.RecipeSection): each trial's distance to the fitted
    numbers (RMS z, log scale) with the best so far, and each choice's importance."""
    if not section.trajectory:
        return False
    panels = 2 if section.importances else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.2), squeeze=False)
    ax = axes[0][0]
    trials = [t for t, _ in section.trajectory]
    dist = np.array([d for _, d in section.trajectory])
    ax.scatter(trials, dist, s=12, color="tab:blue", label="trial (one seed)")
    ax.step(trials, np.minimum.accumulate(dist), where="post", color="black", lw=1,
            label="best so far")
    from ..recipe.search import MATCH  # noqa: PLC0415  (plots imports no harness module at load)
    ax.axhline(MATCH, color="tab:green", lw=1, ls="--", label=f"RMS z = {MATCH:g}")
    if dist.max() / max(dist.min(), 1e-9) > 20:
        ax.set_yscale("log")
    ax.set_xlabel("trial", fontsize=8)
    ax.set_ylabel("RMS z to the fitted numbers", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if panels == 2:
        names = list(section.importances)
        ax = axes[0][1]
        ax.barh(range(len(names)), [section.importances[n] for n in names], color="tab:blue")
        ax.set_yticks(range(len(names)), [_plain(n) for n in names], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("importance (fANOVA share of the distance's variance)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle("Recipe search", fontsize=10)
    _save(fig, path, 80)
    return True
