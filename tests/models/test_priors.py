"""The priors the ELBO trains: mixture densities against torch.distributions, the one-sample
KL estimate against closed forms and quadrature, sampling, and their place in the DSAE."""

from __future__ import annotations

import math

import pytest
import torch
from torch import distributions as D

from dsae.config import ModelConfig
from dsae.errors import DsaeError
from dsae.models import build_model
from dsae.models.blocks import Gaussian
from dsae.models.priors import (
    GaussianMixture,
    LearntNormalPrior,
    MixtureHead,
    MixturePrior,
    NormalPrior,
    kl_term,
)

SMALL = dict(channels=[8, 16], frame_dim=16, hidden_dim=16, f_dim=6, z_dim=3)


def _mixture(k: int = 3, d: int = 4, batch: tuple[int, ...] = (), seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return GaussianMixture(
        torch.randn(*batch, k, generator=g),
        2 * torch.randn(*batch, k, d, generator=g),
        torch.randn(*batch, k, d, generator=g) * 0.5,
    )


def _torch_mixture(m: GaussianMixture) -> D.MixtureSameFamily:
    comp = D.Independent(D.Normal(m.mean, torch.exp(0.5 * m.logvar)), 1)
    return D.MixtureSameFamily(D.Categorical(logits=m.logits), comp)


def test_mixture_log_prob_matches_torch_distributions():
    m = _mixture(batch=(5,))
    x = torch.randn(5, 4) * 2
    torch.testing.assert_close(m.log_prob(x), _torch_mixture(m).log_prob(x))


def test_one_component_mixture_is_the_gaussian():
    m = _mixture(k=1)
    g = Gaussian(m.mean[0], m.logvar[0])
    x = torch.randn(7, 4)
    torch.testing.assert_close(m.log_prob(x), g.log_prob(x))
    q = Gaussian(torch.randn(7, 4), torch.randn(7, 4) * 0.3)
    # the one-sample estimate averaged over many draws approaches the closed form
    draws = q.mean + torch.randn(20000, 7, 4) * torch.exp(0.5 * q.logvar)
    est = m.kl_from(Gaussian(q.mean.expand_as(draws), q.logvar.expand_as(draws)), draws).mean(0)
    torch.testing.assert_close(est, q.kl(Gaussian(g.mean.expand(7, 4), g.logvar.expand(7, 4))),
                               atol=0.15, rtol=0.02)  # fmt: skip


def test_kl_estimate_is_unbiased_against_quadrature():
    """1-D: E_q[log q - log p] over draws vs the integral on a fine grid."""
    p = GaussianMixture(torch.tensor([0.0, 0.7]), torch.tensor([[-2.0], [1.5]]),
                        torch.tensor([[-1.0], [0.2]]))  # fmt: skip
    q = Gaussian(torch.tensor([0.5]), torch.tensor([-0.5]))
    grid = torch.linspace(-12, 12, 200001).unsqueeze(-1)
    qd = q.log_prob(grid).exp()
    exact = float(((q.log_prob(grid) - p.log_prob(grid)) * qd).sum() * (grid[1] - grid[0]))
    g = torch.Generator().manual_seed(3)
    x = q.mean + torch.randn(200000, 1, generator=g) * math.exp(0.5 * float(q.logvar))
    est = float(kl_term(Gaussian(q.mean.expand_as(x), q.logvar.expand_as(x)), p, x).mean())
    assert abs(est - exact) < 0.02
    assert exact > 0.1  # a mixture that differs from q: the KL is not trivially 0


def test_kl_term_is_the_closed_form_for_gaussians():
    q, p = (
        Gaussian(torch.randn(3, 2), torch.randn(3, 2)),
        Gaussian(torch.randn(3, 2), torch.zeros(3, 2)),
    )
    x = torch.randn(3, 2)
    torch.testing.assert_close(kl_term(q, p, x), q.kl(p))
    torch.testing.assert_close(kl_term(q, None, x), q.kl())


def test_mixture_samples_follow_the_weights_and_components():
    m = GaussianMixture(torch.log(torch.tensor([0.2, 0.8])).expand(40000, 2),
                        torch.tensor([[-10.0, 0.0], [10.0, 5.0]]).expand(40000, 2, 2),
                        torch.full((40000, 2, 2), -2.0))  # fmt: skip
    x = m.sample(torch.Generator().manual_seed(0))
    right = x[:, 0] > 0
    assert abs(float(right.float().mean()) - 0.8) < 0.01
    torch.testing.assert_close(x[right].mean(0), torch.tensor([10.0, 5.0]), atol=0.02, rtol=0)
    torch.testing.assert_close(x[right].std(0), torch.full((2,), math.exp(-1.0)), atol=0.01, rtol=0)
    assert m.mode_mean()[0].tolist() == [10.0, 5.0]
    again = m.sample(torch.Generator().manual_seed(0))
    assert torch.equal(x, again)  # the generator fixes every draw


def test_mixture_head_shapes():
    head = MixtureHead(5, 3, 4)
    m = head(torch.randn(2, 7, 5))
    assert m.logits.shape == (2, 7, 4) and m.mean.shape == (2, 7, 4, 3)
    assert m.log_prob(torch.randn(2, 7, 3)).shape == (2, 7)
    assert m.sample().shape == (2, 7, 3)


def test_learnt_mixture_prior_moves_to_the_codes():
    """Minimising the KL estimate over p's parameters alone fits p(f) to where q puts f."""
    torch.manual_seed(0)
    prior = MixturePrior(2, 2)
    centres = torch.tensor([[4.0, 4.0], [-4.0, 0.0]])
    opt = torch.optim.Adam(prior.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(1)
    for _ in range(600):
        mean = centres[torch.randint(0, 2, (64,), generator=g)]
        q = Gaussian(mean, torch.full_like(mean, -4.0))
        loss = prior.kl(q, q.sample(g)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    f = prior.sample(2000, torch.Generator().manual_seed(2))
    near = torch.cdist(f, centres).min(1).values
    assert float((near < 1.0).float().mean()) > 0.9
    assert NormalPrior(2).sample(4000, torch.Generator().manual_seed(2)).norm(dim=1).mean() < 2


def test_learnt_normal_prior_fits_the_moments_of_the_aggregate_posterior():
    """The ELBO's best N(mu, diag sigma^2) for fixed posteriors q_i = N(m_i, s_i^2): mu the
    mean of the m_i, sigma^2 the mean of s_i^2 + (m_i - mu)^2; its KL is the closed form."""
    g = torch.Generator().manual_seed(0)
    m = torch.randn(256, 3, generator=g) * torch.tensor([0.5, 2.0, 1.0]) + torch.tensor(
        [1.0, -2.0, 0.0]
    )
    q = Gaussian(m, torch.full_like(m, math.log(0.09)))
    prior = LearntNormalPrior(3)
    torch.testing.assert_close(prior.kl(q, m), q.kl())  # starts as N(0, I)
    opt = torch.optim.Adam(prior.parameters(), lr=0.05)
    for _ in range(800):
        loss = prior.kl(q, m).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.testing.assert_close(prior.mean.detach(), m.mean(0), atol=1e-3, rtol=0)
    want = 0.09 + m.var(0, unbiased=False)
    torch.testing.assert_close(prior.logvar.detach().exp(), want, atol=2e-3, rtol=1e-3)
    p = D.Normal(prior.mean.detach(), (0.5 * prior.logvar.detach()).exp())
    closed = prior.kl(q, m).detach()
    torch.testing.assert_close(closed, D.kl_divergence(D.Normal(m, 0.3), p).sum(-1))
    f = prior.sample(20000, torch.Generator().manual_seed(1))
    torch.testing.assert_close(f.mean(0), m.mean(0), atol=0.05, rtol=0)
    torch.testing.assert_close(f.var(0), want, atol=0.05, rtol=0.05)


@pytest.mark.parametrize("p_f", ["mixture", "learnt"])
def test_dsae_with_learnt_priors_trains_them(p_f):
    torch.manual_seed(0)
    cfg = ModelConfig(**SMALL, p_f=p_f, p_f_components=3, p_z="mixture", p_z_components=2)
    model = build_model(cfg, (3, 16, 16))
    x = torch.rand(2, 4, 3, 16, 16)
    out = model(x)
    terms = model.loss_terms(x, out)
    (terms.recon + terms.kl_f + terms.kl_z).mean().backward()
    assert model.p_f.mean.grad is not None and model.p_f.mean.grad.abs().sum() > 0
    assert model.prior.head.proj.weight.grad.abs().sum() > 0
    g = torch.Generator().manual_seed(0)
    f, z = model.sample_f(5, g), model.sample_z(5, 6, g)
    assert f.shape == (5, 6) and z.shape == (5, 6, 3) and torch.isfinite(z).all()
    g2 = torch.Generator().manual_seed(0)
    assert torch.equal(f, model.sample_f(5, g2)) and torch.equal(z, model.sample_z(5, 6, g2))


def test_default_priors_keep_the_model_of_the_paper():
    torch.manual_seed(0)
    model = build_model(ModelConfig(**SMALL), (3, 16, 16))
    assert isinstance(model.p_f, NormalPrior)
    assert not any(k.startswith("p_f.") for k in model.state_dict())
    x = torch.rand(2, 4, 3, 16, 16)
    out = model(x)
    terms = model.loss_terms(x, out)
    torch.testing.assert_close(terms.kl_f, out.q_f.kl())
    torch.testing.assert_close(terms.kl_z, out.q_z.kl(out.p_z).sum(-1))


@pytest.mark.parametrize(
    "over", [{"p_f": "flow"}, {"p_z": "flow"}, {"p_z": "mixture", "p_z_components": 0}]
)
def test_bad_prior_keys_are_config_errors(over):
    with pytest.raises(ValueError):
        build_model(ModelConfig(**SMALL, **over), (3, 16, 16))


def test_families_without_learnt_priors_refuse_them():
    with pytest.raises(DsaeError, match="p_f mixture is not available for dvrnn"):
        build_model(ModelConfig(name="dvrnn", **SMALL, p_f="mixture"), (3, 16, 16))


def test_grouped_mixture_prior_is_a_product_of_block_mixtures():
    torch.manual_seed(0)
    prior = MixturePrior(6, 3, groups=2)
    with torch.no_grad():
        prior.logits.normal_()
        prior.logvar.normal_(0.0, 0.3)
    f = torch.randn(5, 6) * 2
    d = prior.density()
    want = sum(
        _torch_mixture(GaussianMixture(d.logits[g], d.mean[g], d.logvar[g])).log_prob(
            f[:, 3 * g : 3 * g + 3]
        )
        for g in range(2)
    )
    torch.testing.assert_close(prior.log_prob(f), want)


def test_grouped_mixture_draws_each_block_on_its_own():
    """Two blocks of two well-separated components each: all four combinations appear, each
    as often as the product of its blocks' weights."""
    prior = MixturePrior(2, 2, groups=2)
    with torch.no_grad():
        prior.mean.copy_(torch.tensor([[[-5.0], [5.0]], [[-5.0], [5.0]]]))
        prior.logvar.fill_(-4.0)
        prior.logits.copy_(torch.log(torch.tensor([[0.5, 0.5], [0.2, 0.8]])))
    f = prior.sample(40000, torch.Generator().manual_seed(0))
    combo = (f[:, 0] > 0).long() * 2 + (f[:, 1] > 0).long()
    freq = torch.bincount(combo, minlength=4).float() / len(f)
    torch.testing.assert_close(freq, torch.tensor([0.1, 0.4, 0.1, 0.4]), atol=0.01, rtol=0)


def test_groups_must_divide_f():
    with pytest.raises(ValueError, match="divide f_dim"):
        MixturePrior(6, 2, groups=4)
