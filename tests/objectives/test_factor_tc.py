"""The total correlation discriminator: its estimate against the closed form of a Gaussian
pair, the permutation of each unit on its own, and the split of gradients between the
discriminator and the encoders."""

from __future__ import annotations

import math

import pytest
import torch

from dsae.objectives.factor_tc import TCDiscriminator, joint_codes, permute_dims, tc_terms


def _fit_discriminator(rho: float, steps: int = 150, seed: int = 0) -> float:
    """Train D for a fixed number of steps on pairs (a, b), b = rho a + sqrt(1 - rho^2) e,
    and return its estimate averaged over the last 50 batches."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    disc = TCDiscriminator(2, 32)
    opt = torch.optim.Adam(disc.parameters(), lr=5e-3, betas=(0.5, 0.9))
    est = []
    for i in range(steps):
        a = torch.randn(256, 1, generator=g)
        b = rho * a + math.sqrt(1 - rho**2) * torch.randn(256, 1, generator=g)
        terms = tc_terms(disc, torch.cat([a, b], dim=1), generator=g)
        opt.zero_grad()
        terms.disc_loss.backward()
        opt.step()
        if i >= steps - 50:
            est.append(float(terms.estimate))
    return sum(est) / len(est)


def test_estimate_is_near_zero_for_independent_units_and_the_closed_form_for_a_pair():
    # TC of a bivariate Gaussian is its mutual information, -0.5 log(1 - rho^2) = 0.830 nats.
    # Over seeds the estimate sits at 0.79-0.82 (a density-ratio estimator from a small MLP
    # and 150 steps falls a little short) and one batch's mean logit varies by about 0.06,
    # about 0.01 averaged over 50 batches: 0.15 leaves room for both and still tells 0.83
    # from 0 or from a saturated discriminator
    rho = 0.9
    true = -0.5 * math.log(1 - rho**2)
    assert _fit_discriminator(rho) == pytest.approx(true, abs=0.15)
    assert abs(_fit_discriminator(0.0)) < 0.05


def test_permutation_shuffles_each_unit_on_its_own():
    c = torch.arange(40.0).reshape(20, 2)
    c[:, 1] += 100
    p = permute_dims(c, torch.Generator().manual_seed(0))
    for j in range(2):  # every unit keeps its values (its marginal) ...
        assert torch.equal(p[:, j].sort().values, c[:, j])
    pairs_kept = (p[:, 1] - p[:, 0] == 100).sum()
    assert int(pairs_kept) < 20  # ... and the rows' pairings are broken


def test_joint_code_repeats_f_over_frames():
    f, z = torch.randn(3, 2), torch.randn(3, 4, 5)
    c = joint_codes(f, z)
    assert c.shape == (3, 4, 7)
    assert torch.equal(c[:, 2, :2], f) and torch.equal(c[:, :, 2:], z)


def test_penalty_moves_codes_and_discriminator_loss_moves_discriminator_only():
    torch.manual_seed(0)
    disc = TCDiscriminator(5, 8)
    f, z = torch.randn(4, 3, requires_grad=True), torch.randn(4, 6, 2, requires_grad=True)
    terms = tc_terms(disc, joint_codes(f, z))
    logits = disc(joint_codes(f, z)).detach()
    torch.testing.assert_close(terms.penalty.detach(), logits.sum(1).mean())
    terms.penalty.backward(retain_graph=True)
    assert all(p.grad is None for p in disc.parameters())
    assert f.grad.abs().sum() > 0 and z.grad.abs().sum() > 0
    f.grad, z.grad = None, None
    terms.disc_loss.backward()
    assert f.grad is None and z.grad is None
    assert all(p.grad is not None for p in disc.parameters())
    assert terms.estimate.requires_grad is False
