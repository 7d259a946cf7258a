import math

import torch
from torch.distributions import Bernoulli, Independent, Laplace, Normal, kl_divergence

from dsae.config import ModelConfig, ObjectiveConfig
from dsae.models.blocks import Gaussian
from dsae.models.dsae import DSAE
from dsae.objectives.elbo import (
    bernoulli_nll,
    elbo_terms,
    gaussian_kl,
    gaussian_nll,
    kl_weight,
    laplace_nll,
)


def _normal(g: Gaussian) -> Independent:
    return Independent(Normal(g.mean, torch.exp(0.5 * g.logvar)), 1)


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    q = Gaussian(torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g))
    p = Gaussian(torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g))
    expected = kl_divergence(_normal(q), _normal(p))
    torch.testing.assert_close(gaussian_kl(q, p), expected, rtol=1e-5, atol=1e-5)


def test_gaussian_kl_standard_prior_and_zero_at_equality():
    g = torch.Generator().manual_seed(1)
    q = Gaussian(torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g))
    std = Gaussian(torch.zeros(4, 3), torch.zeros(4, 3))
    torch.testing.assert_close(gaussian_kl(q), kl_divergence(_normal(q), _normal(std)))
    torch.testing.assert_close(gaussian_kl(q, q), torch.zeros(4), atol=1e-6, rtol=0)


def test_nll_terms_match_torch_distributions():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(3, 2, 5, generator=g)
    mean = torch.rand(3, 2, 5, generator=g)
    log_sigma = torch.tensor(math.log(0.3))
    expected = -Normal(mean, 0.3).log_prob(x).sum((1, 2))
    torch.testing.assert_close(gaussian_nll(x, mean, log_sigma), expected)
    logits = torch.randn(3, 2, 5, generator=g)
    xb = (x > 0.5).float()
    expected_b = -Bernoulli(logits=logits).log_prob(xb).sum((1, 2))
    torch.testing.assert_close(bernoulli_nll(xb, logits), expected_b)
    expected_l = -Laplace(mean, 0.3).log_prob(x).sum((1, 2))
    torch.testing.assert_close(laplace_nll(x, mean, log_sigma), expected_l)


def test_laplace_model_gives_means_in_the_unit_interval_and_weighs_errors_linearly():
    torch.manual_seed(0)
    model = DSAE(
        ModelConfig(
            channels=[4, 8],
            frame_dim=8,
            hidden_dim=8,
            f_dim=3,
            z_dim=2,
            likelihood="laplace",
            sigma_x=0.1,
        ),
        (8, 8, 3),
    )
    x = torch.rand(2, 3, 3, 8, 8)
    out = model(x)
    assert 0 <= float(out.x_param.detach().min()) <= float(out.x_param.detach().max()) <= 1
    t = elbo_terms(out, x, ObjectiveConfig(), "laplace", model.log_sigma)
    t.loss.backward()
    assert torch.isfinite(t.loss)
    # doubling every error doubles the data term: |x - mean| / b, not (x - mean)^2
    mean = torch.full((1, 4), 0.5)
    b = torch.tensor(math.log(0.1))
    base = laplace_nll(mean, mean, b)
    e1 = laplace_nll(mean + 0.1, mean, b) - base
    e2 = laplace_nll(mean + 0.2, mean, b) - base
    torch.testing.assert_close(e2, 2 * e1)


def test_kl_warmup_is_linear_and_capped():
    assert kl_weight(0, 0) == 1.0
    assert kl_weight(0, 10) == 0.1
    assert kl_weight(4, 10) == 0.5
    assert kl_weight(100, 10) == 1.0


def _tiny_model(encoder: str = "factorised") -> DSAE:
    cfg = ModelConfig(
        encoder=encoder,
        channels=[8, 16],
        frame_dim=16,
        hidden_dim=16,
        f_dim=6,
        z_dim=3,
        sigma_x=0.1,
    )
    return DSAE(cfg, (16, 16, 3))


def test_elbo_terms_weights_and_sum():
    torch.manual_seed(0)
    model = _tiny_model()
    x = torch.rand(4, 5, 3, 16, 16)
    out = model(x)
    t1 = elbo_terms(out, x, ObjectiveConfig(beta_f=1, beta_z=1), "gaussian", model.log_sigma)
    t2 = elbo_terms(out, x, ObjectiveConfig(beta_f=3, beta_z=0.5), "gaussian", model.log_sigma)
    torch.testing.assert_close(t1.loss, t1.recon + t1.kl_f + t1.kl_z)
    torch.testing.assert_close(t2.loss, t2.recon + 3 * t2.kl_f + 0.5 * t2.kl_z)
    torch.testing.assert_close(t1.elbo, -t1.loss)
    # the z KL is against the prior run on the posterior samples, summed over time
    kl_z = gaussian_kl(out.q_z, model.prior(out.z)).sum(-1).mean()
    torch.testing.assert_close(t1.kl_z, kl_z)


def test_elbo_decreases_on_a_small_batch():
    torch.manual_seed(0)
    model = _tiny_model()
    # each sequence one flat colour that brightens over time: learnable in a few steps
    colour = torch.rand(8, 1, 3, 1, 1)
    ramp = torch.linspace(0, 0.3, 4).view(1, 4, 1, 1, 1)
    x = (colour * 0.7 + ramp).expand(8, 4, 3, 16, 16).contiguous()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    mse_before = float((model.reconstruct(x) - x).pow(2).mean())
    losses = []
    for _ in range(80):
        t = elbo_terms(model(x), x, ObjectiveConfig(), "gaussian", model.log_sigma)
        opt.zero_grad()
        t.loss.backward()
        opt.step()
        losses.append(float(t.loss.detach()))
    mse_after = float((model.reconstruct(x) - x).pow(2).mean())
    assert sum(losses[-5:]) < sum(losses[:5])
    assert mse_after < 0.5 * mse_before, (mse_before, mse_after)
