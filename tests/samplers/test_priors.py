import dataclasses

import numpy as np
import pytest
import torch

from dsae.config import ModelConfig
from dsae.data import load_split
from dsae.models.dsae import DSAE
from dsae.train.checkpoint import load_checkpoint
from dsae.train.loop import frames_to_tensor, load_run, train
from dsae.train.priors import fit_f_prior, fit_priors


def _mixture_model(k: int = 2, **over) -> DSAE:
    cfg = ModelConfig(
        channels=[8, 16],
        frame_dim=16,
        hidden_dim=16,
        f_dim=3,
        z_dim=2,
        f_prior="mixture",
        f_prior_components=k,
    )
    return DSAE(dataclasses.replace(cfg, **over), (16, 16, 3))


def test_mixture_prior_samples_its_components_in_proportion():
    model = _mixture_model()
    with torch.no_grad():
        model.f_mix_logits.copy_(torch.log(torch.tensor([0.25, 0.75])))
        model.f_mix_mean.copy_(torch.tensor([[-5.0] * 3, [5.0] * 3]))
        model.f_mix_logvar.fill_(np.log(0.01))
    f = model.sample_f(4000, torch.Generator().manual_seed(0))
    upper = f[:, 0] > 0
    assert abs(float(upper.float().mean()) - 0.75) < 0.03
    assert torch.allclose(f[upper].mean(0), torch.full((3,), 5.0), atol=0.02)
    assert abs(float(f[~upper].std(0).mean()) - 0.1) < 0.01
    again = model.sample_f(4000, torch.Generator().manual_seed(0))
    assert torch.equal(f, again)
    # before any fit the mixture is N(0, I), like the normal prior
    fresh = _mixture_model().sample_f(4000, torch.Generator().manual_seed(1))
    assert abs(float(fresh.mean())) < 0.05 and abs(float(fresh.std()) - 1.0) < 0.05


def test_training_fits_the_mixture_to_the_aggregate_posterior(tiny_config, tmp_path):
    cfg = dataclasses.replace(
        tiny_config,
        model=dataclasses.replace(tiny_config.model, f_prior="mixture", f_prior_components=4),
    )
    train(cfg, tmp_path / "run", progress=False)
    fit = load_checkpoint(tmp_path / "run")["prior_fit"]["f"]
    assert fit["components"] == 4 and fit["sequences"] == 256
    run = load_run(tmp_path / "run")
    split = load_split(cfg.data.root, "train")
    enc = run.model.encode(frames_to_tensor(split.x))
    q_mean = enc.f_mean.mean(0)
    q_var = (enc.f_logvar.exp() + enc.f_mean.pow(2)).mean(0) - q_mean.pow(2)
    f = run.model.sample_f(20000, torch.Generator().manual_seed(0))
    # the fitted p(f) has the aggregate posterior's first two moments
    assert torch.allclose(f.mean(0), q_mean, atol=0.02 + 0.2 * float(q_var.sqrt().max()))
    assert torch.allclose(f.var(0), q_var, rtol=0.3, atol=0.02)
    # refitting with the same seed gives the same mixture
    before = run.model.f_mix_mean.clone()
    fit_f_prior(run.model, split, cfg.train.seed)
    assert torch.equal(before, run.model.f_mix_mean)


def test_z_mixture_samples_the_lstm_prior_until_fitted():
    model = _mixture_model(z_prior="mixture", z_prior_components=3)
    a = model.sample_z(5, 4, torch.Generator().manual_seed(0))
    b = model.prior.sample(5, 4, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)


def test_training_fits_a_z_mixture_that_reloads_and_samples_the_posterior(tiny_config, tmp_path):
    cfg = dataclasses.replace(
        tiny_config,
        model=dataclasses.replace(
            tiny_config.model,
            f_prior="mixture",
            f_prior_components=4,
            z_prior="mixture",
            z_prior_components=1,
        ),
    )
    train(cfg, tmp_path / "run", progress=False)
    fit = load_checkpoint(tmp_path / "run")["prior_fit"]
    split = load_split(cfg.data.root, "train")
    t, zd = split.x.shape[1], cfg.model.z_dim
    assert fit["z"]["steps"] == t and fit["z"]["components"] == 1 and "f" in fit
    run = load_run(tmp_path / "run")  # the buffers take the fitted length on loading
    assert run.model.z_mix_mean.shape == (1, t * zd)
    enc = run.model.encode(frames_to_tensor(split.x))
    z = run.model.sample_z(20000, t, torch.Generator().manual_seed(0))
    # one component: p(z_1:T) is the Gaussian with the posterior means' moments per unit
    mu, var = enc.z_mean.mean(0), enc.z_mean.var(0)
    assert torch.allclose(z.mean(0), mu, atol=0.05 * float(var.sqrt().max()) + 1e-3)
    assert torch.allclose(z.var(0), var + 1e-4, rtol=0.1)
    # fewer steps: the marginal of the first ones; more: the LSTM prior
    head = run.model.sample_z(20000, 2, torch.Generator().manual_seed(0))
    assert torch.allclose(head.mean(0), mu[:2], atol=0.05 * float(var.sqrt().max()) + 1e-3)
    g = torch.Generator().manual_seed(1)
    longer = run.model.sample_z(3, t + 1, g)
    assert torch.equal(longer, run.model.prior.sample(3, t + 1, torch.Generator().manual_seed(1)))
    # refitting from one pass gives the same mixtures
    before = run.model.z_mix_mean.clone(), run.model.f_mix_mean.clone()
    fit_priors(run.model, split, cfg.train.seed)
    assert torch.equal(before[0], run.model.z_mix_mean)
    assert torch.equal(before[1], run.model.f_mix_mean)


def test_a_full_covariance_z_mixture_keeps_how_the_units_move_together(tiny_config, tmp_path):
    cfg = dataclasses.replace(
        tiny_config,
        model=dataclasses.replace(
            tiny_config.model, z_prior="mixture", z_prior_components=1, z_prior_covariance="full"
        ),
    )
    train(cfg, tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")  # the Cholesky buffer takes the fitted size on loading
    split = load_split(cfg.data.root, "train")
    t, zd = split.x.shape[1], cfg.model.z_dim
    assert run.model.z_mix_scale_tril.shape == (1, t * zd, t * zd)
    z_post = run.model.encode(frames_to_tensor(split.x)).z_mean.flatten(1).double()
    cov = torch.cov(z_post.T) + 1e-4 * torch.eye(t * zd, dtype=torch.float64)
    z = run.model.sample_z(40000, t, torch.Generator().manual_seed(0)).flatten(1).double()
    # one full component: samples have the posterior means' covariance, off-diagonal too
    scale = float(cov.diagonal().max())
    torch.testing.assert_close(torch.cov(z.T), cov, atol=0.05 * scale, rtol=0.05)
    off = ~torch.eye(t * zd, dtype=torch.bool)
    assert float(cov[off].abs().max()) > 0.2 * scale  # there is correlation to keep
    # the diagonal mixture keeps only the variances
    diag = dataclasses.replace(cfg.model, z_prior_covariance="diag")
    assert not hasattr(DSAE(diag, (32, 32, 3)), "z_mix_scale_tril")
    with pytest.raises(ValueError, match="z_prior_covariance"):
        DSAE(dataclasses.replace(cfg.model, z_prior_covariance="tied"), (32, 32, 3))
    # fewer steps: the marginal of the first ones (the leading block)
    head = run.model.sample_z(40000, 2, torch.Generator().manual_seed(1)).flatten(1).double()
    torch.testing.assert_close(
        torch.cov(head.T), cov[: 2 * zd, : 2 * zd], atol=0.05 * scale, rtol=0.05
    )


def test_aggregate_priors_are_the_training_posteriors_and_reload(tiny_config, tmp_path):
    cfg = dataclasses.replace(
        tiny_config,
        model=dataclasses.replace(tiny_config.model, f_prior="aggregate", z_prior="aggregate"),
    )
    fresh = DSAE(cfg.model, (32, 32, 3))  # before the fit: N(0, I) and the LSTM prior
    f0 = fresh.sample_f(4000, torch.Generator().manual_seed(1))
    assert abs(float(f0.mean())) < 0.05 and abs(float(f0.std()) - 1.0) < 0.05
    z0 = fresh.sample_z(3, 4, torch.Generator().manual_seed(2))
    assert torch.equal(z0, fresh.prior.sample(3, 4, torch.Generator().manual_seed(2)))
    train(cfg, tmp_path / "run", progress=False)
    split = load_split(cfg.data.root, "train")
    n, t, zd = split.x.shape[0], split.x.shape[1], cfg.model.z_dim
    fit = load_checkpoint(tmp_path / "run")["prior_fit"]
    assert fit["f"]["components"] == n == fit["z"]["components"] and fit["z"]["steps"] == t
    run = load_run(tmp_path / "run")  # the buffers take one row per training sequence
    assert run.model.f_mix_mean.shape == (n, cfg.model.f_dim)
    assert run.model.z_mix_mean.shape == (n, t * zd)
    enc = run.model.encode(frames_to_tensor(split.x))
    # the stored components are the posteriors themselves
    torch.testing.assert_close(run.model.f_mix_mean, enc.f_mean)
    torch.testing.assert_close(run.model.z_mix_logvar, enc.z_logvar.flatten(1))
    # samples have the mixture's moments: E[f] = mean_i mu_i, Var f = mean_i (s_i^2 + mu_i^2) - E^2
    f = run.model.sample_f(40000, torch.Generator().manual_seed(0))
    q_mean = enc.f_mean.mean(0)
    q_var = (enc.f_logvar.exp() + enc.f_mean.pow(2)).mean(0) - q_mean.pow(2)
    assert torch.allclose(f.mean(0), q_mean, atol=0.03 * float(q_var.sqrt().max()) + 1e-3)
    assert torch.allclose(f.var(0), q_var, rtol=0.1, atol=1e-3)
    z = run.model.sample_z(40000, t, torch.Generator().manual_seed(0)).flatten(1)
    zm, zl = enc.z_mean.flatten(1), enc.z_logvar.flatten(1)
    z_var = (zl.exp() + zm.pow(2)).mean(0) - zm.mean(0).pow(2)
    assert torch.allclose(z.var(0), z_var, rtol=0.1, atol=1e-3)
    with pytest.raises(ValueError, match="z_prior_covariance"):
        DSAE(dataclasses.replace(cfg.model, z_prior_covariance="full"), (32, 32, 3))
