"""Capacity annealing: C(step) linear and clipped at its target, gamma |KL - C| in the loss
in place of beta KL, its gradient changing sign where KL crosses C."""

from __future__ import annotations

import pytest
import torch

from dsae.config import ObjectiveConfig
from dsae.models.base import LossTerms
from dsae.objectives.capacity import capacity, capacity_term
from dsae.objectives.elbo import weigh


def test_capacity_rises_linearly_and_stops_at_the_target():
    assert capacity(0, 25.0, 100) == 0.0
    assert capacity(10, 25.0, 100) == pytest.approx(2.5)
    assert capacity(50, 25.0, 100) == pytest.approx(12.5)
    assert capacity(100, 25.0, 100) == 25.0
    assert capacity(10_000, 25.0, 100) == 25.0
    assert capacity(0, 7.0, 0) == 7.0  # no rise: the target from the first step
    steps = [capacity(s, 4.0, 40) for s in range(41)]
    diffs = [b - a for a, b in zip(steps[:-1], steps[1:], strict=True)]
    assert all(d == pytest.approx(0.1) for d in diffs)


def test_gradient_sign_flips_where_kl_crosses_the_capacity():
    for kl0, sign in ((3.0, 1.0), (1.0, -1.0)):  # above C = 2 KL is pushed down, below it up
        kl = torch.tensor(kl0, requires_grad=True)
        term = capacity_term(kl, 2.0, 1000.0)
        assert float(term.detach()) == pytest.approx(1000.0 * abs(kl0 - 2.0))
        term.backward()
        assert float(kl.grad) == pytest.approx(1000.0 * sign)


def test_weigh_replaces_beta_kl_by_gamma_times_the_distance_to_the_current_capacity():
    terms = LossTerms(
        recon=torch.tensor([10.0, 14.0]),
        kl_f=torch.tensor([3.0, 5.0]),  # batch mean 4
        kl_z=torch.tensor([20.0, 30.0]),  # batch mean 25
    )
    cfg = ObjectiveConfig(
        beta_f=7.0,
        beta_z=3.0,
        kl_warmup_steps=50,  # neither beta nor the warm-up applies under capacity
        capacity_gamma=100.0,
        capacity_f=10.0,
        capacity_z=40.0,
        capacity_steps=20,
    )
    for step in (0, 5, 10, 20, 60):
        c_f, c_z = 10.0 * min(1, step / 20), 40.0 * min(1, step / 20)
        w = weigh(terms, cfg, step)
        expected = 12.0 + 100.0 * abs(4.0 - c_f) + 100.0 * abs(25.0 - c_z)
        assert float(w.loss) == pytest.approx(expected)
        logged = w.as_floats()
        assert logged["capacity_f"] == pytest.approx(c_f)
        assert logged["capacity_z"] == pytest.approx(c_z)
    off = weigh(terms, ObjectiveConfig(beta_f=7.0, beta_z=3.0, capacity_f=10.0))
    assert float(off.loss) == pytest.approx(12.0 + 7.0 * 4.0 + 3.0 * 25.0)
    assert "capacity_f" not in off.as_floats()
