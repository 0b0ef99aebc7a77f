"""DIGIT CIRCLE generator: determinism, digit counts, label order, motif boxes vs pixels."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from baselines.digit_circle import DigitCircleConfig, canonical, generate, stamps

CFG = DigitCircleConfig()  # the paper's 100 x 100 canvas, 3-6 digits
CLEAN = dataclasses.replace(CFG, pre_noise=0.0, post_noise=0.0)


@pytest.fixture(scope="module")
def many():
    return generate(CFG, seed=7, stream=0, start=0, n=300)


def test_same_seed_same_samples_and_any_slice_is_reproducible():
    a = generate(CFG, 3, 0, 0, 6)
    b = generate(CFG, 3, 0, 0, 6)
    for field in ("images", "labels", "lengths", "digits", "boxes"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    part = generate(CFG, 3, 0, 2, 3)
    assert np.array_equal(part.images, a.images[2:5])
    assert np.array_equal(part.boxes, a.boxes[2:5])
    other_seed, other_stream = generate(CFG, 4, 0, 0, 6), generate(CFG, 3, 1, 0, 6)
    assert not np.array_equal(other_seed.images, a.images)
    assert not np.array_equal(other_stream.images, a.images)


def test_three_to_six_distinct_digits(many):
    assert set(many.lengths.tolist()) == {3, 4, 5, 6}
    for k, digits, labels in zip(many.lengths, many.digits, many.labels, strict=True):
        placed = digits[:k]
        assert len(set(placed.tolist())) == k and placed.min() >= 0 and placed.max() <= 9
        assert (digits[k:] == -1).all() and (labels[k:] == -1).all()
        assert sorted(labels[:k].tolist()) == sorted(placed.tolist())


def test_canonical_rotation():
    assert canonical([3, 1, 2]) == [1, 2, 3]
    assert canonical([5, 0, 9]) == [0, 9, 5]
    assert canonical([2, 7, 4]) == [2, 7, 4]


def test_label_is_angular_order_from_the_smallest_digit():
    """Recover the circle from the stamp centres (no jitter) and read the digits by angle."""
    cfg = dataclasses.replace(CLEAN, jitter=0)
    data = generate(cfg, 11, 0, 0, 60)
    for k, digits, boxes, labels in zip(data.lengths, data.digits, data.boxes, data.labels,
                                        strict=True):
        centres = np.array([[r0 + (r1 - r0) // 2, c0 + (c1 - c0) // 2]
                            for r0, c0, r1, c1 in boxes[:k]], dtype=float)
        # least-squares circle: r^2 + c^2 = 2 a r + 2 b c + const
        design = np.c_[2 * centres, np.ones(k)]
        (a, b, _), *_ = np.linalg.lstsq(design, (centres**2).sum(1), rcond=None)
        angles = np.arctan2(centres[:, 1] - b, centres[:, 0] - a)  # row = cos, column = sin
        by_angle = [int(d) for _, d in sorted(zip(angles, digits[:k], strict=True))]
        assert labels[:k].tolist() == canonical(by_angle)
        assert labels[0] == digits[:k].min()


def test_boxes_inside_canvas_and_match_the_stamped_pixels():
    data = generate(CLEAN, 5, 0, 0, 40)
    glyphs = stamps(CLEAN.font_px)
    for image, k, digits, boxes in zip(data.images, data.lengths, data.digits, data.boxes,
                                       strict=True):
        redrawn = np.zeros_like(image)
        for d, (r0, c0, r1, c1) in zip(digits[:k], boxes[:k], strict=True):
            assert 0 <= r0 < r1 <= CLEAN.size and 0 <= c0 < c1 <= CLEAN.size
            assert (r1 - r0, c1 - c0) == glyphs[d].shape
            redrawn[r0:r1, c0:c1] = glyphs[d]
        assert np.array_equal(redrawn, image)  # all ink is stamps, stamped in box order


def test_noise_before_and_after_stamping():
    """Inside a stamp's box only the post-noise differs from the clean stamp; outside,
    pre- and post-noise both add specks. Rates over 40 canvases."""
    noisy, clean = generate(CFG, 9, 0, 0, 40), generate(CLEAN, 9, 0, 0, 40)
    assert np.array_equal(noisy.boxes, clean.boxes)
    inside = np.zeros(noisy.images.shape, dtype=bool)
    for i, (k, boxes) in enumerate(zip(noisy.lengths, noisy.boxes, strict=True)):
        for r0, c0, r1, c1 in boxes[:k]:
            inside[i, r0:r1, c0:c1] = True
    flips = noisy.images != clean.images
    ink = np.mean([g.mean() for g in stamps(CFG.font_px)])
    assert flips[inside].mean() == pytest.approx(CFG.post_noise, abs=0.01)
    expected_out = CFG.pre_noise * ink * (1 - CFG.post_noise) + CFG.post_noise * (
        1 - CFG.pre_noise * ink)
    assert flips[~inside].mean() == pytest.approx(expected_out, abs=0.01)


def test_config_rejects_a_canvas_too_small():
    with pytest.raises(ValueError, match="too small"):
        DigitCircleConfig(size=40, min_radius=20)
