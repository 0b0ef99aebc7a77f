"""DIGIT CIRCLE (SPARLING, arXiv 2302.01976): digits on a circle, read in angular order.

One sample: a ``size x size`` binary canvas; 3 to 6 distinct digits stamped on a
circle of random radius and centre, each moved by a small random jitter; pixel
noise before stamping (background only: a stamp overwrites its whole box) and
after stamping (flips anywhere). The label is the digits in angular order, rotated
so that the smallest digit comes first. The stamp boxes are kept: they are the
ground-truth motif positions that motif identification is scored against.

Recipe of the authors' generator (github.com/kavigupta/sparling-repro,
``pixel_art/domain/stamp_circle.py``), rewritten here:

- radius uniform in ``[min_radius, size // 2 - pad)``, ``pad = jitter + stamp size``;
  centre uniform so that the circle plus ``pad`` fits in the canvas;
- the angular gaps are uniform weights normalised to one turn, redrawn until every
  gap is at least half the even spacing ``1 / (2 n)``; the whole set is rotated by
  a uniform offset;
- a stamp is centred at ``centre + radius (cos a, sin a)`` (row, column) plus an
  integer jitter in ``[-jitter, jitter]`` on each axis;
- pre-noise probability = ``pre_noise`` x the mean ink fraction of the stamps (so
  background specks are as dense as half the ink); post-noise flips each pixel with
  probability ``post_noise``.

A stamp at angle ``a`` sits at row ``r cos a``, column ``r sin a`` from the centre:
angles grow from the bottom of the canvas towards the right, i.e. counter-clockwise
on screen, and the label is the digits in that cyclic order.

Stamps are rendered from DejaVu Sans Mono, the monospace TTF that ships with
matplotlib (the authors used FreeMono, a system font), thresholded at 64/255 and
cropped to the ink with a one-pixel blank border, as the authors' stamps are.

Every sample is a pure function of ``(seed, stream, index)``: training batches,
the validation set and the test set come from separate streams.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

DIGITS = "0123456789"


@dataclass(frozen=True)
class DigitCircleConfig:
    size: int = 100  # canvas side (paper: 100)
    font_px: int = 15  # glyph size in pixels (paper: FreeMono at 15 px)
    min_radius: int = 20  # paper: 20
    jitter: int = 3  # paper: 3 ("random_shift")
    min_digits: int = 3  # paper: 3
    max_digits: int = 6  # paper: 6
    pre_noise: float = 0.5  # x mean ink fraction of the stamps (paper: 0.5)
    post_noise: float = 0.05  # flip probability after stamping (paper: 0.05)

    def __post_init__(self) -> None:
        if not 1 <= self.min_digits <= self.max_digits <= 10:
            raise ValueError("need 1 <= min_digits <= max_digits <= 10")
        if self.min_radius >= self.size // 2 - self.pad:
            raise ValueError(f"canvas {self.size} too small for min_radius {self.min_radius} "
                             f"with padding {self.pad} (jitter + stamp size)")

    @property
    def pad(self) -> int:
        return self.jitter + max(max(s.shape) for s in stamps(self.font_px))


@functools.lru_cache(maxsize=8)
def stamps(font_px: int) -> tuple[np.ndarray, ...]:
    """One boolean glyph per digit, cropped to the ink plus a one-pixel border."""
    from matplotlib import font_manager
    from PIL import Image, ImageDraw, ImageFont

    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans Mono"),
                                 fallback_to_default=False)
    font = ImageFont.truetype(path, font_px)
    out = []
    for d in DIGITS:
        img = Image.new("L", (3 * font_px, 3 * font_px), 0)
        ImageDraw.Draw(img).text((font_px, font_px // 2), d, font=font, fill=255)
        ink = np.asarray(img) > 64
        rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
        glyph = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        out.append(np.pad(glyph, 1))
    return tuple(out)


@dataclass
class DigitCircleBatch:
    """``n`` samples. Per-sample lists are padded to ``max_digits`` with -1."""

    images: np.ndarray  # (n, size, size) uint8, 0/1
    labels: np.ndarray  # (n, max_digits) int64: canonical digit sequence, -1 padded
    lengths: np.ndarray  # (n,) int64
    digits: np.ndarray  # (n, max_digits) int64: the stamps in placement (angular) order
    boxes: np.ndarray  # (n, max_digits, 4) int64: row0, col0, row1, col1 (exclusive ends)


def canonical(seq: list[int]) -> list[int]:
    """Rotate a cyclic sequence so that its smallest element comes first."""
    i = int(np.argmin(seq))
    return list(seq[i:]) + list(seq[:i])


def _angles(n: int, rng: np.random.Generator) -> np.ndarray:
    while True:
        gaps = rng.random(n)
        gaps = gaps / gaps.sum()
        if (gaps >= 1 / (2 * n)).all():
            return (np.cumsum(gaps) + rng.random()) * 2 * np.pi


def _sample(cfg: DigitCircleConfig, rng: np.random.Generator) -> tuple[np.ndarray, list, list]:
    glyphs = stamps(cfg.font_px)
    ink = float(np.mean([g.mean() for g in glyphs]))
    size, pad = cfg.size, cfg.pad
    image = rng.random((size, size)) < cfg.pre_noise * ink
    radius = int(rng.integers(cfg.min_radius, size // 2 - pad))
    centre = rng.integers(radius + pad, size - radius - pad, size=2)
    n = int(rng.integers(cfg.min_digits, cfg.max_digits + 1))
    digits = [int(d) for d in rng.choice(10, size=n, replace=False)]
    placed = []
    for d, a in zip(digits, _angles(n, rng), strict=True):
        point = np.round(centre + radius * np.array([np.cos(a), np.sin(a)])).astype(np.int64)
        point = point + rng.integers(-cfg.jitter, cfg.jitter + 1, size=2)
        g = glyphs[d]
        r0, c0 = point[0] - g.shape[0] // 2, point[1] - g.shape[1] // 2
        image[r0 : r0 + g.shape[0], c0 : c0 + g.shape[1]] = g
        placed.append((d, (int(r0), int(c0), int(r0 + g.shape[0]), int(c0 + g.shape[1]))))
    image ^= rng.random((size, size)) < cfg.post_noise
    return image, digits, placed


def generate(cfg: DigitCircleConfig, seed: int, stream: int, start: int, n: int
             ) -> DigitCircleBatch:
    """Samples ``start .. start + n - 1`` of stream ``stream`` under ``seed``.

    Sample ``i`` is drawn from ``numpy.random.default_rng([seed, stream, i])`` alone,
    so any slice of a stream is reproducible on its own.
    """
    m = cfg.max_digits
    images = np.zeros((n, cfg.size, cfg.size), dtype=np.uint8)
    labels = np.full((n, m), -1, dtype=np.int64)
    digits = np.full((n, m), -1, dtype=np.int64)
    boxes = np.zeros((n, m, 4), dtype=np.int64)
    lengths = np.zeros(n, dtype=np.int64)
    for j in range(n):
        rng = np.random.default_rng([seed, stream, start + j])
        image, seq, placed = _sample(cfg, rng)
        images[j] = image
        k = len(seq)
        lengths[j] = k
        labels[j, :k] = canonical(seq)
        digits[j, :k] = [d for d, _ in placed]
        boxes[j, :k] = [box for _, box in placed]
    return DigitCircleBatch(images, labels, lengths, digits, boxes)


__all__ = ["DigitCircleConfig", "DigitCircleBatch", "canonical", "generate", "stamps"]
