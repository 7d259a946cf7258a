import dataclasses
import itertools
import math

import pytest
import torch
from torch.distributions import Bernoulli, Independent, Laplace, Normal, kl_divergence

from dsae.config import ModelConfig, ObjectiveConfig
from dsae.errors import DsaeError
from dsae.models.base import LossTerms
from dsae.models.blocks import Gaussian
from dsae.models.dsae import DSAE
from dsae.models.likelihoods import LIKELIHOODS, bernoulli_nll, gaussian_nll, laplace_nll
from dsae.objectives.elbo import elbo_terms, gaussian_kl, kl_weight, weigh
from dsae.objectives.weights import EDGE_THRESHOLD, edge_mask, pixel_weight


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
        (3, 8, 8),
    )
    x = torch.rand(2, 3, 3, 8, 8)
    out = model(x)
    assert 0 <= float(out.x_param.detach().min()) <= float(out.x_param.detach().max()) <= 1
    t = elbo_terms(model, x, out, ObjectiveConfig())
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
    return DSAE(cfg, (3, 16, 16))


def test_elbo_terms_weights_and_sum():
    torch.manual_seed(0)
    model = _tiny_model()
    x = torch.rand(4, 5, 3, 16, 16)
    out = model(x)
    t1 = elbo_terms(model, x, out, ObjectiveConfig(beta_f=1, beta_z=1))
    t2 = elbo_terms(model, x, out, ObjectiveConfig(beta_f=3, beta_z=0.5))
    torch.testing.assert_close(t1.loss, t1.recon + t1.kl_f + t1.kl_z)
    torch.testing.assert_close(t2.loss, t2.recon + 3 * t2.kl_f + 0.5 * t2.kl_z)
    torch.testing.assert_close(t1.elbo, -t1.loss)
    # the z KL is against the prior run on the posterior samples, summed over time
    kl_z = gaussian_kl(out.q_z, model.prior(out.z)).sum(-1).mean()
    torch.testing.assert_close(t1.kl_z, kl_z)
    # the model's per-sequence terms, weighed and averaged over the batch
    terms = model.loss_terms(x, out)
    assert terms.recon.shape == terms.kl_f.shape == terms.kl_z.shape == (4,)
    w = weigh(terms, ObjectiveConfig(beta_f=3, beta_z=0.5, kl_warmup_steps=4), step=1)
    torch.testing.assert_close(w.loss, t2.recon + 0.5 * (3 * t2.kl_f + 0.5 * t2.kl_z))


def test_free_nats_floor_each_kl_term_and_stop_its_gradient_below():
    kl_f = torch.tensor(3.0, requires_grad=True)
    kl_z = torch.tensor(40.0, requires_grad=True)
    recon = torch.tensor(100.0)
    terms = LossTerms(recon=recon.expand(2), kl_f=kl_f.expand(2), kl_z=kl_z.expand(2))
    w = weigh(terms, ObjectiveConfig(beta_f=2, beta_z=1, free_nats_f=10, free_nats_z=10))
    torch.testing.assert_close(w.loss, torch.tensor(100.0 + 2 * 10 + 40))
    torch.testing.assert_close(w.kl_f, torch.tensor(3.0))  # logged as it is
    w.loss.backward()
    assert kl_f.grad == 0.0 and kl_z.grad == 1.0  # below its floor f's KL has no pull
    plain = weigh(terms, ObjectiveConfig(beta_f=2, beta_z=1))
    torch.testing.assert_close(plain.loss, torch.tensor(100.0 + 2 * 3 + 40))


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
        t = elbo_terms(model, x, model(x), ObjectiveConfig())
        opt.zero_grad()
        t.loss.backward()
        opt.step()
        losses.append(float(t.loss.detach()))
    mse_after = float((model.reconstruct(x) - x).pow(2).mean())
    assert sum(losses[-5:]) < sum(losses[:5])
    assert mse_after < 0.5 * mse_before, (mse_before, mse_after)


def test_edge_mask_marks_a_thin_line_and_its_neighbours_only():
    x = torch.zeros(2, 3, 8, 8)
    x[0, :, 3, 2:6] = 0.5  # a one-pixel horizontal line in frame 0
    x[1] += EDGE_THRESHOLD / 2  # frame 1: flat up to a change below the threshold
    x[1, 0, 0, 0] += EDGE_THRESHOLD / 2
    m = edge_mask(x)
    assert m.shape == (2, 1, 8, 8)
    expected = torch.zeros(8, 8)
    expected[2:5, 2:6] = 1  # the line, the rows above and below it
    expected[3, 1] = expected[3, 6] = 1  # and its two ends' outer neighbours
    torch.testing.assert_close(m[0, 0], expected)
    assert float(m[1].sum()) == 0
    # a colour change in one channel counts; leading (batch, time) dims pass through
    y = torch.zeros(2, 4, 3, 8, 8)
    y[1, 2, 2, 5, 5] = 1.0
    my = edge_mask(y)
    assert my.shape == (2, 4, 1, 8, 8) and float(my.sum()) == 5
    assert pixel_weight(y, 0.0) is None and pixel_weight(torch.rand(4, 6), 3.0) is None
    torch.testing.assert_close(pixel_weight(y, 3.0), 1 + 3 * my)


def test_edge_weight_scales_the_squared_error_on_edge_pixels():
    torch.manual_seed(0)
    model = _tiny_model()
    x = torch.zeros(2, 5, 3, 16, 16)
    x[:, :, :, 4:12, 4:12] = 0.8  # a square: its border is an edge, its inside and the rest not
    out = model(x)
    log_sigma = model.log_sigma
    plain = elbo_terms(model, x, out, ObjectiveConfig())
    weighted = elbo_terms(model, x, out, ObjectiveConfig(edge_weight=4.0))
    sq = (x - out.x_param).pow(2) * torch.exp(-2 * log_sigma)
    edge_sq = 0.5 * (sq * edge_mask(x)).reshape(2, -1).sum(-1).mean()
    torch.testing.assert_close(weighted.recon - plain.recon, 4.0 * edge_sq)
    assert float(edge_sq.detach()) > 0
    model.likelihood = LIKELIHOODS["laplace"]()  # the same decoder under a Laplace p(x | z, f)
    lap_plain = elbo_terms(model, x, out, ObjectiveConfig())
    lap = elbo_terms(model, x, out, ObjectiveConfig(edge_weight=1.0))
    ab = (x - out.x_param).abs() * torch.exp(-log_sigma)
    torch.testing.assert_close(
        lap.recon - lap_plain.recon, (ab * edge_mask(x)).reshape(2, -1).sum(-1).mean()
    )


def test_edge_weight_and_film_mix_train_and_bad_values_are_user_errors(tmp_path, tiny_config):
    from dsae.train import train

    cfg = dataclasses.replace(
        tiny_config,
        model=dataclasses.replace(tiny_config.model, decoder_film=True, film_mix=True),
        objective=dataclasses.replace(tiny_config.objective, edge_weight=2.0),
    )
    res = train(cfg, tmp_path / "ok")
    assert res.step == cfg.train.max_steps and math.isfinite(res.last["recon"])
    m, o = tiny_config.model, tiny_config.objective
    for bad, match in [
        (
            dataclasses.replace(tiny_config, objective=dataclasses.replace(o, edge_weight=-1.0)),
            "edge_weight must be >= 0",
        ),
        (
            dataclasses.replace(tiny_config, model=dataclasses.replace(m, film_mix=True)),
            "film_mix needs decoder_film",
        ),
        (
            dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, film_mix_layers=0)),
            "film_mix_layers must be >= 1",
        ),
        (
            dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, likelihood="bernoulli")),
            "edge_weight needs",
        ),
    ]:
        with pytest.raises(DsaeError, match=match):
            train(bad, tmp_path / "bad")


@pytest.mark.parametrize("likelihood", ["gaussian", "laplace", "bernoulli"])
def test_decoded_frame_subsets_estimate_the_full_reconstruction_term_without_bias(likelihood):
    """Averaged over every k-subset of the T frames, the scaled likelihood of the subset is
    exactly the likelihood of all T frames; each subset alone is T / k times its frames'."""
    torch.manual_seed(4)
    model = DSAE(
        ModelConfig(
            channels=[8, 16],
            frame_dim=16,
            hidden_dim=16,
            f_dim=6,
            z_dim=3,
            likelihood=likelihood,
            sigma_x=0.2,
        ),
        (3, 16, 16),
    )
    x = torch.rand(3, 4, 3, 16, 16)
    if likelihood == "bernoulli":
        x = (x > 0.5).float()
    cfg = ObjectiveConfig()
    full = model(x)
    whole = elbo_terms(model, x, full, cfg).recon
    ar = torch.arange(3).unsqueeze(1)
    subsets = list(itertools.combinations(range(4), 2))
    recons = []
    for s in subsets:
        idx = torch.tensor(s).expand(3, 2)
        part = dataclasses.replace(full, x_param=full.x_param[ar, idx], frames=idx)
        recons.append(elbo_terms(model, x, part, cfg).recon)
        one = dataclasses.replace(full, x_param=full.x_param[:, list(s)])
        sub = elbo_terms(model, x[:, list(s)], one, cfg).recon
        torch.testing.assert_close(recons[-1], 2.0 * sub)
    torch.testing.assert_close(torch.stack(recons).mean(), whole)
