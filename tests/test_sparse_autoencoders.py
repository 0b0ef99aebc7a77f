"""baselines/sparse_autoencoders.py: each autoencoder's sparsity mechanism."""

from __future__ import annotations

import torch

from baselines.sparse_autoencoders import (
    KLAE,
    L1AE,
    METHODS,
    WTAAE,
    LifetimeAE,
    TopKAE,
    build,
    kl_bernoulli,
    lifetime_penalty,
    reinit_dead,
    usage_balance,
)


def _x(n: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 784, generator=torch.Generator().manual_seed(seed))


def test_topk_keeps_exactly_k_largest_pre_activations():
    torch.manual_seed(0)
    model = TopKAE(64, k=5)
    x = _x()
    z = model.encode(x)
    a = model.pre(x)
    assert ((z != 0).sum(1) == 5).all()
    kept = a.topk(5, dim=1).indices
    assert torch.equal(z.gather(1, kept), a.gather(1, kept))  # kept values pass unchanged
    torch.testing.assert_close(z.abs().sum(1), a.gather(1, kept).abs().sum(1))


def test_wta_keeps_one_unit_per_input_the_largest():
    torch.manual_seed(1)
    model = WTAAE(50)
    x = _x()
    z = model.encode(x)
    assert ((z != 0).sum(1) <= 1).all()
    a = torch.relu(model.pre(x))
    winners = a.argmax(1)
    has = a.max(1).values > 0
    assert torch.equal(z[has].argmax(1), winners[has])
    assert torch.equal(z.max(1).values, a.max(1).values)


def test_l1_penalty_is_lambda_times_mean_sum_abs_and_codes_are_relu():
    torch.manual_seed(2)
    model = L1AE(20, lam=0.3)
    z = model.encode(_x())
    assert (z >= 0).all() and (z == 0).any()
    torch.testing.assert_close(model.penalty(z), 0.3 * z.sum(1).mean())


def test_kl_penalty_is_zero_at_target_and_pushes_towards_it():
    rho = 0.05
    assert kl_bernoulli(rho, torch.tensor([rho])).abs().item() < 1e-7
    assert (kl_bernoulli(rho, torch.tensor([0.01, 0.2, 0.5])) > 0).all()
    rho_hat = torch.tensor([0.01, 0.2], requires_grad=True)
    kl_bernoulli(rho, rho_hat).sum().backward()
    # d/d rho_hat = -rho/rho_hat + (1-rho)/(1-rho_hat): negative below rho, positive above
    assert rho_hat.grad[0] < 0 < rho_hat.grad[1]
    expected = -rho / rho_hat.detach() + (1 - rho) / (1 - rho_hat.detach())
    torch.testing.assert_close(rho_hat.grad, expected)


def test_kl_batch_and_running_estimates():
    torch.manual_seed(3)
    batch, running = KLAE(10, 0.1, estimate="batch"), KLAE(10, 0.1, estimate="running", beta=0.9)
    z = torch.full((4, 10), 0.5)
    torch.testing.assert_close(batch.rho_hat(z), torch.full((10,), 0.5))
    r = running.rho_hat(z)  # 0.9 * 0.1 (initial buffer) + 0.1 * 0.5
    torch.testing.assert_close(r, torch.full((10,), 0.14))
    torch.testing.assert_close(running.running, torch.full((10,), 0.14))
    running.rho_hat(z)
    torch.testing.assert_close(running.running, torch.full((10,), 0.9 * 0.14 + 0.05))
    running.eval()
    before = running.running.clone()
    running.rho_hat(z)
    assert torch.equal(running.running, before)  # no update outside training
    # the KL penalty's gradient pushes too-active sigmoid units down
    x = _x(8)
    model = KLAE(10, 0.05, estimate="batch")
    with torch.no_grad():
        model.enc.bias.fill_(3.0)  # every unit near 1
    model.penalty(model.encode(x)).backward()
    assert (model.enc.bias.grad > 0).all()  # gradient descent lowers the bias


def test_lifetime_penalty_zero_at_rho_and_penalises_always_and_never_active():
    rho, t = 0.25, 0.01
    z = torch.zeros(8, 3)
    z[:2, :] = 5.0  # every unit active for exactly 2 of 8 inputs
    assert lifetime_penalty(z, rho, t).item() < 1e-8
    always = torch.full((8, 1), 5.0)
    never = torch.zeros(8, 1)
    assert abs(lifetime_penalty(always, rho, t).item() - (1 - rho) ** 2) < 1e-6
    assert abs(lifetime_penalty(never, rho, t).item() - rho ** 2) < 1e-6
    model = LifetimeAE(4, rho, lam=2.0, temperature=t)
    assert abs(model.penalty(torch.cat([always, never, z[:, :2]], 1)).item()
               - 2.0 * ((1 - rho) ** 2 + rho ** 2)) < 1e-5


def test_build_every_method_and_loss_backpropagates():
    for method in METHODS:
        torch.manual_seed(4)
        model = build(method, 16, rho=0.25, lam=0.01)
        loss = model.loss(_x(8))
        loss.backward()
        assert torch.isfinite(loss) and model.enc.weight.grad is not None, method
        x_hat, z = model(_x(8))
        assert x_hat.shape == (8, 784) and z.shape == (8, 16)
    assert build("topk", 784, rho=0.05).k == 39


def test_reinit_dead_revives_units_and_keeps_reconstruction():
    torch.manual_seed(5)
    model = L1AE(12, lam=0.1)
    x = _x(64)
    with torch.no_grad():
        model.enc.bias[:4] = -100.0  # units 0-3 dead
    dead = ~model.active(model.encode(x)).any(0)
    assert dead[:4].all()
    before = model(x)[0].detach()
    n = reinit_dead(model, dead, x, torch.Generator().manual_seed(0))
    assert n == int(dead.sum())
    assert model.active(model.encode(x))[:, :4].any(0).all()  # they fire again
    torch.testing.assert_close(model(x)[0].detach(), before, atol=1e-5, rtol=0)


def test_usage_balance():
    even = torch.eye(4, dtype=torch.bool).repeat(2, 1)
    assert abs(usage_balance(even) - 1.0) < 1e-12
    one = torch.zeros(8, 4, dtype=torch.bool)
    one[:, 0] = True
    assert usage_balance(one) == 0.0
