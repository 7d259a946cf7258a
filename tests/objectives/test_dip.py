"""DIP-VAE: the penalty is zero at the identity covariance, positive away from it, and
DIP-II is DIP-I's formula on E[Sigma] + Cov[mu]."""

from __future__ import annotations

import pytest
import torch

from dsae.models.blocks import Gaussian
from dsae.objectives.dip import dip_covariance, dip_penalty, dip_terms


def _identity_cov_codes(n: int, d: int, seed: int = 0) -> torch.Tensor:
    """n codes (n, d) whose covariance over the rows (divided by n) is exactly I."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    x = x - x.mean(0)
    q, _ = torch.linalg.qr(x)  # orthonormal columns, each orthogonal to the ones vector
    return q * n**0.5 + 3.0  # an offset of the mean changes no covariance


def test_penalty_is_zero_for_identity_covariance_and_positive_for_correlated_codes():
    mu = _identity_cov_codes(64, 4)
    q = Gaussian(mu, torch.full_like(mu, -30.0))
    cov = dip_covariance(q, "i")
    torch.testing.assert_close(cov, torch.eye(4, dtype=torch.float64))
    assert float(dip_penalty(cov, 10.0, 100.0)) == pytest.approx(0.0, abs=1e-9)
    mixed = mu.clone()
    mixed[:, 1] = 0.8 * mu[:, 0] + 0.6 * mu[:, 1]  # still unit variance, correlated 0.8
    cov_m = dip_covariance(Gaussian(mixed, torch.zeros_like(mixed)), "i")
    assert float(dip_penalty(cov_m, 10.0, 100.0)) == pytest.approx(10.0 * 2 * 0.8**2)
    assert float(dip_penalty(cov_m, 0.0, 100.0)) == pytest.approx(0.0, abs=1e-9)
    scaled = Gaussian(2.0 * mu, torch.zeros_like(mu))  # variance 4 on each unit
    assert float(dip_penalty(dip_covariance(scaled, "i"), 10.0, 1.0)) == pytest.approx(4 * 9.0)


def test_dip_ii_is_dip_i_on_the_expected_posterior_variance_plus_the_means_covariance():
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(32, 3, generator=g) @ torch.randn(3, 3, generator=g)
    logvar = torch.randn(32, 3, generator=g)
    q = Gaussian(mu, logvar)
    centred = mu - mu.mean(0)
    cov_mu = centred.T @ centred / 32
    expected = cov_mu + torch.diag(logvar.exp().mean(0))
    torch.testing.assert_close(dip_covariance(q, "ii"), expected)
    torch.testing.assert_close(dip_covariance(q, "i"), cov_mu)
    diag, off = torch.diagonal(expected), expected - torch.diag(torch.diagonal(expected))
    closed = 5.0 * off.pow(2).sum() + 5.0 * (diag - 1).pow(2).sum()
    torch.testing.assert_close(dip_penalty(dip_covariance(q, "ii"), 5.0, 5.0), closed)
    # posterior variance alone can make DIP-II's covariance the identity
    exact = Gaussian(torch.zeros(8, 2), torch.zeros(8, 2))
    assert float(dip_penalty(dip_covariance(exact, "ii"), 10.0, 10.0)) == 0.0
    with pytest.raises(ValueError, match="kind"):
        dip_covariance(q, "iii")


def test_z_codes_are_pooled_over_batch_and_frames():
    mu = _identity_cov_codes(24, 2).float()
    q_z = Gaussian(mu.reshape(4, 6, 2), torch.zeros(4, 6, 2))  # (B, T, z_dim)
    q_f = Gaussian(mu[:4] * 0 + torch.tensor([1.0, 2.0]), torch.zeros(4, 2))  # no spread
    pf, pz = dip_terms(q_f, q_z, "i", 10.0, 100.0)
    assert float(pz) == pytest.approx(0.0, abs=1e-4)
    assert float(pf) == pytest.approx(100.0 * 2)  # both variances 0: (0 - 1)^2 each
