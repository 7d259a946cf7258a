"""The I(f; z) critic: its estimate against the closed form of a Gaussian pair, the split
of gradients between the critic and the encoders, the adaptive weight, and training with it
(resume included)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from conftest import assert_same_weights

from dsae.errors import DsaeError
from dsae.objectives.mi import MICritic, adapt_weight, mi_terms


def _fit_critic(rho: float, steps: int = 400, seed: int = 0) -> float:
    """Train a critic on f ~ N(0, 1), z_t = rho f + sqrt(1 - rho^2) e; return its estimate."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    critic = MICritic(1, 1, 32)
    opt = torch.optim.Adam(critic.parameters(), lr=3e-3)
    est = []
    for i in range(steps):
        f = torch.randn(256, 1, generator=g)
        z = rho * f.unsqueeze(1) + math.sqrt(1 - rho**2) * torch.randn(256, 2, 1, generator=g)
        terms = mi_terms(critic, f, z)
        opt.zero_grad()
        terms.critic_loss.backward()
        opt.step()
        if i >= steps - 50:
            est.append(float(terms.estimate))
    return sum(est) / len(est)


def test_critic_estimate_tracks_the_closed_form_mutual_information():
    rho = 0.9
    true = -0.5 * math.log(1 - rho**2)  # I(f; z_t) of a bivariate Gaussian, 0.830 nats
    assert _fit_critic(rho) == pytest.approx(true, abs=0.3)
    assert abs(_fit_critic(0.0)) < 0.1  # independent codes: nothing to find


def _critic_and_codes() -> tuple[MICritic, torch.Tensor, torch.Tensor]:
    """A small seeded critic and leaf codes f (5, 3), z (5, 4, 2) that record gradients."""
    torch.manual_seed(0)
    critic = MICritic(3, 2, 8)
    return critic, torch.randn(5, 3, requires_grad=True), torch.randn(5, 4, 2, requires_grad=True)


def test_penalty_moves_codes_and_critic_loss_moves_critic_only():
    critic, f, z = _critic_and_codes()
    terms = mi_terms(critic, f, z)
    terms.penalty.backward(retain_graph=True)
    assert all(p.grad is None for p in critic.parameters())
    assert f.grad is not None and z.grad is not None and f.grad.abs().sum() > 0
    f.grad, z.grad = None, None
    terms.critic_loss.backward()
    assert f.grad is None and z.grad is None
    assert all(p.grad is not None for p in critic.parameters())
    assert terms.estimate.requires_grad is False


def test_penalty_through_f_alone_leaves_z_untouched_and_keeps_its_value():
    critic, f, z = _critic_and_codes()
    both = mi_terms(critic, f, z)
    only_f = mi_terms(critic, f, z, through="f")
    assert torch.equal(both.penalty, only_f.penalty)
    (g_both,) = torch.autograd.grad(both.penalty, f)
    only_f.penalty.backward()
    assert z.grad is None
    assert torch.allclose(f.grad, g_both)  # f's side of the gradient is the same
    with pytest.raises(ValueError, match="through"):
        mi_terms(critic, f, z, through="z")


@pytest.mark.parametrize("tc_weight", [0.0, 1.0], ids=["mi", "mi_and_tc"])
def test_training_with_the_critic_logs_it_and_resumes_exactly(tmp_path, tiny_config, tc_weight):
    from dsae.train import train
    from dsae.train.checkpoint import load_checkpoint

    objective = dataclasses.replace(
        tiny_config.objective, mi_weight=2.0, tc_weight=tc_weight, tc_hidden=16, tc_lr=1e-3
    )
    cfg = dataclasses.replace(tiny_config, objective=objective)
    train(cfg, tmp_path / "whole")
    train(cfg, tmp_path / "parts", stop_at=7)
    train(cfg, tmp_path / "parts", resume=True)
    a, b = load_checkpoint(tmp_path / "whole"), load_checkpoint(tmp_path / "parts")
    parts = ("model", "critic", "tc_disc") if tc_weight > 0 else ("model", "critic")
    for part in parts:
        assert a[part].keys() == b[part].keys()
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    if tc_weight > 0:  # the discriminator's own Adam state resumes too
        sa, sb = a["tc_optimizer"]["state"], b["tc_optimizer"]["state"]
        assert sa.keys() == sb.keys() and len(sa) > 0
        for i in sa:
            for k in ("exp_avg", "exp_avg_sq", "step"):
                assert torch.equal(sa[i][k], sb[i][k]), (i, k)
        group = a["tc_optimizer"]["param_groups"][0]
        assert group["betas"] == (0.5, 0.9) and group["lr"] == 1e-3 != cfg.train.lr
    else:
        assert "tc_disc" not in a and "tc_optimizer" not in a
    rec = [
        json.loads(x) for x in (tmp_path / "whole" / "metrics.jsonl").read_text().split("\n") if x
    ]
    assert all("mi" in r and "critic_loss" in r for r in rec)
    assert all(("tc" in r) == (tc_weight > 0) for r in rec)
    plain = train(tiny_config, tmp_path / "plain")
    assert "critic" not in load_checkpoint(tmp_path / "plain") and "mi" not in plain.last
    bad = dataclasses.replace(cfg, objective=dataclasses.replace(cfg.objective, mi_weight=-1.0))
    with pytest.raises(DsaeError, match="mi_weight"):
        train(bad, tmp_path / "bad")


def test_adaptive_weight_grows_geometrically_above_target_and_returns_to_the_floor():
    w, floor, ceiling = 16.0, 16.0, 256.0
    for step in range(1, 101):  # estimate 0.5 nats above target: log w grows by 0.005 a step
        w = adapt_weight(w, 0.7, 0.2, 0.01, floor, ceiling)
        assert w == pytest.approx(floor * math.exp(0.005 * step), rel=1e-9)
    for _ in range(10_000):  # held far above target: capped at the ceiling
        w = adapt_weight(w, 5.0, 0.2, 0.01, floor, ceiling)
    assert w == ceiling
    trace = []
    for _ in range(20_000):  # below target: decays, never under the floor
        w = adapt_weight(w, 0.0, 0.2, 0.01, floor, ceiling)
        trace.append(w)
    assert all(a >= b for a, b in zip(trace[:-1], trace[1:], strict=True))
    assert trace[-1] == floor and min(trace) == floor
    assert adapt_weight(20.0, 0.2, 0.2, 0.01, floor, ceiling) == 20.0  # on target: unchanged


def test_training_with_an_adaptive_weight_moves_it_and_resumes_exactly(tmp_path, tiny_config):
    from dsae.train import train
    from dsae.train.checkpoint import load_checkpoint

    objective = dataclasses.replace(
        tiny_config.objective, mi_weight=2.0, mi_target=1e-6, mi_rate=5.0, mi_weight_max=1e6
    )
    cfg = dataclasses.replace(tiny_config, objective=objective)
    train(cfg, tmp_path / "whole")
    train(cfg, tmp_path / "parts", stop_at=7)
    train(cfg, tmp_path / "parts", resume=True)
    a, b = load_checkpoint(tmp_path / "whole"), load_checkpoint(tmp_path / "parts")
    assert a["mi_weight"] == b["mi_weight"]
    assert_same_weights(a, b)
    rec = [
        json.loads(x) for x in (tmp_path / "whole" / "metrics.jsonl").read_text().split("\n") if x
    ]
    weights = [r["mi_weight"] for r in rec]
    assert weights[0] >= 2.0 and len(set(weights)) > 1  # the weight moved from its floor
    fixed = train(
        dataclasses.replace(
            tiny_config, objective=dataclasses.replace(tiny_config.objective, mi_weight=2.0)
        ),
        tmp_path / "fixed",
    )
    assert load_checkpoint(tmp_path / "fixed")["mi_weight"] == 2.0 == fixed.last["mi_weight"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mi_target": -0.1, "mi_weight": 1.0}, "mi_target must be >= 0"),
        ({"mi_target": 0.1}, "needs objective.mi_weight > 0"),
        ({"mi_target": 0.1, "mi_weight": 1.0, "mi_rate": 0.0}, "mi_rate must be positive"),
        ({"mi_target": 0.1, "mi_weight": 8.0, "mi_weight_max": 4.0}, "mi_weight_max"),
        ({"mi_weight": 1.0, "mi_through": "z"}, "mi_through"),
    ],
)
def test_adaptive_weight_settings_are_checked(tmp_path, tiny_config, change, message):
    from dsae.train import train

    cfg = dataclasses.replace(
        tiny_config, objective=dataclasses.replace(tiny_config.objective, **change)
    )
    with pytest.raises(DsaeError, match=message):
        train(cfg, tmp_path / "bad")
