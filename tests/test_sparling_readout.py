"""SPARLING readout options: the attention mask, the soft bias, polar positions, feeds, and
that with every option off ReadoutNet is SparlingNet."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.digit_circle import DigitCircleConfig, generate
from baselines.sparling import SparlingNet
from baselines.sparling_readout import ReadoutDecoder, ReadoutNet, oracle_maps, polar_features

SIZE, POOL = 20, 5  # a 4 x 4 grid of 5 px cells
SMALL = dict(method="MT", size=SIZE, width=4, units=1, motifs=10, batch_norm=True,
             density=0.5, d_model=16, heads=2, enc_layers=1, dec_layers=1, pool=POOL,
             max_len=4)
TOKENS = torch.tensor([[10, 3, 1, 4], [10, 2, 7, 11]])


def decoder(seed: int = 0, **options) -> ReadoutDecoder:
    torch.manual_seed(seed)
    return ReadoutDecoder(10, SIZE, 16, 2, 1, 1, POOL, 4, **options).eval()


def sparse_maps(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random values everywhere, activity only in cells (0, 1) and (2, 3) of sample 0 and
    (3, 0) of sample 1: cell (1, 2) is inactive in both."""
    gen = torch.Generator().manual_seed(seed)
    values = torch.rand(2, 10, SIZE, SIZE, generator=gen)
    activity = torch.zeros(2, 10, SIZE, SIZE)
    activity[0, 3, 2, 7] = activity[0, 1, 12, 18] = activity[1, 5, 16, 1] = 1.0
    return values, activity


def logits(dec: ReadoutDecoder, values, activity, tokens=TOKENS) -> torch.Tensor:
    return dec.decode(*dec.encode(values, activity), tokens)


# ----------------------------------------------------------------- attention


def test_attend_active_ignores_inactive_cells_and_plain_attention_does_not():
    values, activity = sparse_maps()
    changed = values.clone()
    changed[:, :, 5:10, 10:15] += 3.0  # cell (1, 2): inactive in both samples
    masked, plain = decoder(attend_active=True), decoder()
    assert torch.allclose(logits(masked, values, activity), logits(masked, changed, activity),
                          atol=1e-6, rtol=0)
    assert not torch.allclose(logits(plain, values, activity),
                              logits(plain, changed, activity), atol=1e-3)
    # changing an active cell does reach the output
    touched = values.clone()
    touched[0, :, 0:5, 5:10] += 3.0
    assert not torch.allclose(logits(masked, values, activity)[0],
                              logits(masked, touched, activity)[0], atol=1e-3)


def test_a_sample_without_active_cells_attends_everywhere():
    values, activity = sparse_maps()
    activity[1] = 0  # sample 1: nothing active
    masked, plain = decoder(attend_active=True), decoder()
    bias = masked.key_bias(activity)
    assert torch.isinf(bias[0]).sum() == 16 - 2 and (bias[1] == 0).all()
    out = logits(masked, values, activity)
    assert torch.isfinite(out).all()
    assert torch.equal(out[1], logits(plain, values, activity)[1])


def test_soft_bias_tends_to_the_hard_mask_as_eps_shrinks():
    values, activity = sparse_maps()
    hard = logits(decoder(attend_active=True), values, activity)
    gaps = [(logits(decoder(soft_bias=True, soft_eps=eps), values, activity) - hard).abs().max()
            for eps in (1e-1, 1e-3, 1e-6, 1e-9)]
    assert all(a > b for a, b in zip(gaps, gaps[1:], strict=False)), gaps
    assert gaps[0] > 1e-3 and gaps[-1] < 1e-5, gaps


def test_soft_bias_passes_gradient_to_the_activity_and_the_hard_mask_does_not():
    values, activity = sparse_maps()
    activity[0, 2, 12, 17] = 0.4  # a second, weaker entry in an active cell is not the max
    activity[0, 7, 17, 17] = 0.3  # a weakly active cell (3, 3)
    for options, expect in (({"soft_bias": True}, True), ({"attend_active": True}, False)):
        act = activity.clone().requires_grad_()
        logits(decoder(**options), values, act).square().sum().backward()
        grad = act.grad if act.grad is not None else torch.zeros_like(act)
        assert bool(grad[0, 7, 17, 17] != 0) is expect, options
        assert grad[0, 2, 12, 17] == 0  # not its cell's maximum: no say in the bias


def test_soft_bias_is_scale_free_and_relative_to_the_sample_maximum():
    _, activity = sparse_maps()
    activity[0, 1, 12, 18] = 0.5
    dec = decoder(soft_bias=True, soft_eps=1e-6)
    bias = dec.key_bias(activity)
    assert torch.allclose(bias, dec.key_bias(20 * activity))
    assert bias[0, 0 * 4 + 1].item() == pytest.approx(0.0, abs=1e-6)  # the max
    assert bias[0, 2 * 4 + 3].item() == pytest.approx(math.log(0.5 + 1e-6), abs=1e-6)
    assert bias[0, 1 * 4 + 2].item() == pytest.approx(math.log(1e-6), abs=1e-5)


def test_the_two_biases_are_exclusive():
    with pytest.raises(ValueError, match="choose one"):
        decoder(attend_active=True, soft_bias=True)


# ----------------------------------------------------------------- positions


def test_polar_features_of_known_cells():
    feats = polar_features(30, 10, harmonics=3)  # 3 x 3 cells, centres 10 px apart
    assert feats.shape == (9, 7)
    below, right, above, centre = feats[2 * 3 + 1], feats[1 * 3 + 2], feats[0 * 3 + 1], feats[4]
    # theta = 0 below the centre (row offset r cos theta), pi / 2 to the right
    assert torch.allclose(below, torch.tensor([1, 1, 1, 0, 0, 0, 10 / 15]), atol=1e-6)
    assert torch.allclose(right, torch.tensor([0, -1, 0, 1, 0, -1, 10 / 15]), atol=1e-6)
    assert torch.allclose(above, torch.tensor([-1, 1, -1, 0, 0, 0, 10 / 15]), atol=1e-6)
    assert centre[-1] == 0
    corner = feats[2 * 3 + 2]  # below right: theta = pi / 4, radius sqrt(2) x 10
    assert corner[0] == pytest.approx(math.cos(math.pi / 4), abs=1e-6)
    assert corner[-1] == pytest.approx(math.sqrt(200) / 15, abs=1e-6)


def test_the_label_is_the_angular_order_around_the_canvas_centre():
    """Why polar features around the canvas centre suffice: on the cpu tier's canvas the
    centre lies inside the circle, so sorting the stamps by theta gives the label."""
    cfg = DigitCircleConfig(size=40, font_px=8, min_radius=8, jitter=1, max_digits=5)
    data = generate(cfg, 2302, 1, 0, 150)
    m = oracle_maps(data)
    agree = 0
    for i in range(len(m)):
        ch, rows, cols = m[i].nonzero(as_tuple=True)
        theta = np.arctan2(cols.numpy() - 19.5, rows.numpy() - 19.5)
        seq = ch.numpy()[np.argsort(theta)].tolist()
        k = seq.index(min(seq))
        agree += seq[k:] + seq[:k] == data.labels[i, : data.lengths[i]].tolist()
    assert agree == len(m)


def test_oracle_maps_hold_one_entry_per_digit_on_its_channel():
    cfg = DigitCircleConfig(size=40, font_px=8, min_radius=8, jitter=1, max_digits=5)
    data = generate(cfg, 0, 0, 0, 8)
    m = oracle_maps(data, value=20.0)
    assert (m.sum(dim=(1, 2, 3)) == 20.0 * torch.from_numpy(data.lengths).float()).all()
    for i in range(8):
        on = set(m[i].nonzero()[:, 0].tolist())
        assert on == set(data.labels[i, : data.lengths[i]].tolist())


# ----------------------------------------------------------------- the network


def test_all_options_off_is_sparling_net_with_the_same_weights_and_initialisation():
    torch.manual_seed(0)
    ref = SparlingNet(**SMALL).eval()
    torch.manual_seed(0)
    mine = ReadoutNet(**SMALL).eval()
    for (k, a), (k2, b) in zip(ref.state_dict().items(), mine.state_dict().items(),
                               strict=True):
        assert k == k2 and torch.equal(a, b), k
    torch.manual_seed(1)
    other = ReadoutNet(**SMALL).eval()
    other.load_state_dict(ref.state_dict())
    images = (torch.rand(2, SIZE, SIZE, generator=torch.Generator().manual_seed(3)) < 0.3)
    out_ref, m_ref = ref(images, TOKENS)
    out, m = other(images, TOKENS)
    assert torch.equal(m, m_ref) and torch.equal(out, out_ref)
    assert torch.equal(other.greedy(m), ref.greedy(m_ref))


def test_sparling_weights_load_where_shapes_match():
    ref = SparlingNet(**SMALL)
    mine = ReadoutNet(**SMALL, polar=True, read_active=True, attend_active=True)
    theirs = ref.state_dict()
    own = mine.state_dict()
    fit = {k: v for k, v in theirs.items() if k in own and own[k].shape == v.shape}
    missing, unexpected = mine.load_state_dict(fit, strict=False)
    assert set(missing) == {"decoder.embed.weight", "decoder.polar_proj.weight",
                            "decoder.polar_proj.bias"} and not unexpected
    assert mine.decoder.embed.in_channels == 20


def test_feeds_and_activity_follow_the_bottleneck():
    m = torch.tensor([0.2, 0.5, 0.7, 0.9]).view(1, 4, 1, 1)
    kl = ReadoutNet(**{**SMALL, "method": "KL", "motifs": 4}, kl_feed=True, log_values=True)
    assert torch.allclose(kl.feed(m).flatten(), torch.log1p(torch.tensor([0, 0, 0.2, 0.4])))
    assert torch.allclose(kl.activity(m).flatten(), torch.tensor([0, 0, 0.2, 0.4]))
    mt = ReadoutNet(**{**SMALL, "motifs": 4})
    assert torch.equal(mt.feed(m), m)
    assert torch.equal(mt.activity(torch.tensor([0.0, 3.0]).view(1, 2, 1, 1)).flatten(),
                       torch.tensor([0.0, 3.0]))
    with pytest.raises(ValueError, match="kl_feed"):
        ReadoutNet(**SMALL, kl_feed=True)


def test_two_runs_with_every_option_give_the_same_bits():
    def run() -> tuple[torch.Tensor, list[torch.Tensor]]:
        torch.manual_seed(5)
        net = ReadoutNet(**SMALL, soft_bias=True, polar=True, log_values=True,
                         read_active=True).train()
        images = torch.rand(3, SIZE, SIZE, generator=torch.Generator().manual_seed(9)) < 0.3
        tokens = torch.tensor([[10, 1, 2, 3]] * 3)
        out, _ = net(images, tokens)
        out.square().mean().backward()
        return out.detach(), [p.grad.clone() for p in net.parameters() if p.grad is not None]

    (a, ga), (b, gb) = run(), run()
    assert torch.equal(a, b) and len(ga) == len(gb)
    assert all(torch.equal(x, y) for x, y in zip(ga, gb, strict=True))
    assert any(g.abs().sum() > 0 for g in ga[:2])  # the extractor gets a gradient


def test_oracle_benchmark_runs_and_reports_every_metric(capsys):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "sparling_oracle.py"
    spec = importlib.util.spec_from_file_location("sparling_oracle", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.main(["--steps", "2", "--eval-every", "1", "--n-eval", "8", "--batch", "4",
                       "--variants", "none,attend_active+polar+log_values"])
    assert [(r["variant"], r["step"]) for r in rows] == [
        ("none", 1), ("none", 2), ("attend_active+polar+log_values", 1),
        ("attend_active+polar+log_values", 2)]
    assert all(0 <= r[k] <= 100 for r in rows for k in ("exact", "edit", "multiset"))
    assert "attend_active+polar+log_values      2" in capsys.readouterr().out
