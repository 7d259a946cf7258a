import dataclasses

import numpy as np
import pytest
import torch

from dsae.config import ModelConfig
from dsae.data import load_split
from dsae.data.modality import modality_for
from dsae.errors import DsaeError
from dsae.models.dsae import DSAE
from dsae.samplers import (
    SAMPLERS_FILE,
    ConfiguredSampler,
    LearntPrior,
    Mixture,
    check_sampler_config,
    encode_split,
    fit_sampler,
    load_sampler,
    sampler_name,
    samplers_for,
    save_samplers,
)
from dsae.train import load_run, train
from dsae.train.checkpoint import load_checkpoint


def _model(**over) -> DSAE:
    cfg = ModelConfig(channels=[8, 16], frame_dim=16, hidden_dim=16, f_dim=3, z_dim=2)
    return DSAE(dataclasses.replace(cfg, **over), (3, 16, 16))


def _with_model(cfg, **kw):
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **kw))


def _two_components() -> Mixture:
    return Mixture(
        "mixture",
        torch.log(torch.tensor([0.25, 0.75])),
        torch.tensor([[-5.0] * 3, [5.0] * 3]),
        torch.full((2, 3), float(np.log(0.01))),
    )


def test_a_mixture_samples_its_components_in_proportion():
    sampler = ConfiguredSampler(_model(), _two_components(), None)
    assert sampler.name == "mixture_f"
    f = sampler.sample_f(4000, torch.Generator().manual_seed(0))
    upper = f[:, 0] > 0
    assert abs(float(upper.float().mean()) - 0.75) < 0.03
    assert torch.allclose(f[upper].mean(0), torch.full((3,), 5.0), atol=0.02)
    assert abs(float(f[~upper].std(0).mean()) - 0.1) < 0.01
    assert torch.equal(f, sampler.sample_f(4000, torch.Generator().manual_seed(0)))


def test_without_a_z_part_the_sampler_draws_the_learnt_prior():
    model = _model()
    sampler = ConfiguredSampler(model, _two_components(), None)
    a = sampler.sample_z(5, 4, torch.Generator().manual_seed(0))
    assert torch.equal(a, model.prior.sample(5, 4, torch.Generator().manual_seed(0)))
    learnt = LearntPrior(model)
    g1, g2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    assert torch.equal(learnt.sample_f(3, g1), model.sample_f(3, g2))
    assert learnt.name == "learnt_prior"


def test_sampler_names_say_which_parts_are_fitted():
    assert sampler_name("aggregate", "aggregate") == "aggregate"
    assert sampler_name("mixture", None) == "mixture_f"
    assert sampler_name(None, "aggregate") == "aggregate_z"
    assert sampler_name("mixture", "aggregate") == "mixture_f+aggregate_z"
    assert sampler_name(None, None) is None


def test_a_one_component_z_mixture_gives_the_marginal_for_fewer_steps_and_the_lstm_for_more():
    model = _model()
    t, zd = 4, 2
    g = torch.Generator().manual_seed(0)
    a = torch.randn(t * zd, t * zd, generator=g)
    cov = a @ a.T / (t * zd) + 0.1 * torch.eye(t * zd)
    mean = torch.randn(1, t * zd, generator=g)
    z_part = Mixture(
        "mixture",
        torch.zeros(1),
        mean,
        cov.diagonal().log().unsqueeze(0),
        torch.linalg.cholesky(cov).unsqueeze(0),
        steps=t,
    )
    sampler = ConfiguredSampler(model, None, z_part)
    z = sampler.sample_z(40000, t, torch.Generator().manual_seed(1)).flatten(1).double()
    scale = float(cov.diagonal().max())
    torch.testing.assert_close(z.mean(0), mean[0].double(), atol=0.03 * scale, rtol=0)
    torch.testing.assert_close(torch.cov(z.T), cov.double(), atol=0.05 * scale, rtol=0.05)
    head = sampler.sample_z(40000, 2, torch.Generator().manual_seed(2)).flatten(1).double()
    torch.testing.assert_close(
        torch.cov(head.T), cov[: 2 * zd, : 2 * zd].double(), atol=0.05 * scale, rtol=0.05
    )
    longer = sampler.sample_z(3, t + 1, torch.Generator().manual_seed(3))
    assert torch.equal(longer, model.prior.sample(3, t + 1, torch.Generator().manual_seed(3)))


def test_training_fits_the_f_mixture_to_the_aggregate_posterior(tiny_config, tmp_path):
    cfg = _with_model(tiny_config, f_prior="mixture", f_prior_components=4)
    train(cfg, tmp_path / "run", progress=False)
    fit = load_checkpoint(tmp_path / "run")["prior_fit"]["f"]
    assert fit["components"] == 4 and fit["sequences"] == 256
    run = load_run(tmp_path / "run")
    assert run.sampler.name == "mixture_f" and list(run.samplers) == ["learnt_prior", "mixture_f"]
    split = load_split(cfg.data.root, "train")
    enc = run.model.encode(split.meta.modality.to_tensor(split.x))
    q_mean = enc.f_mean.mean(0)
    q_var = (enc.f_logvar.exp() + enc.f_mean.pow(2)).mean(0) - q_mean.pow(2)
    f = run.sampler.sample_f(20000, torch.Generator().manual_seed(0))
    # the fitted p(f) has the aggregate posterior's first two moments
    assert torch.allclose(f.mean(0), q_mean, atol=0.02 + 0.2 * float(q_var.sqrt().max()))
    assert torch.allclose(f.var(0), q_var, rtol=0.3, atol=0.02)
    # refitting with the same seed gives the same mixture
    e = encode_split(run.model, split.meta.modality, split.x, cfg.train.batch_size)
    again, _ = fit_sampler(run.model, cfg.model, e, cfg.train.seed, cfg.train.batch_size)
    assert torch.equal(again.f_part.mean, run.sampler.f_part.mean)


def test_aggregate_samplers_are_the_training_posteriors_and_reload(tiny_config, tmp_path):
    cfg = _with_model(tiny_config, f_prior="aggregate", z_prior="aggregate")
    train(cfg, tmp_path / "run", progress=False)
    split = load_split(cfg.data.root, "train")
    n, t, zd = split.x.shape[0], split.x.shape[1], cfg.model.z_dim
    fit = load_checkpoint(tmp_path / "run")["prior_fit"]
    assert fit["f"]["components"] == n == fit["z"]["components"] and fit["z"]["steps"] == t
    run = load_run(tmp_path / "run")
    s = run.sampler
    assert s.name == "aggregate" and s.z_part.mean.shape == (n, t * zd)
    enc = run.model.encode(split.meta.modality.to_tensor(split.x))
    torch.testing.assert_close(s.f_part.mean, enc.f_mean)
    torch.testing.assert_close(s.z_part.logvar, enc.z_logvar.flatten(1))
    # samples have the mixture's moments: E[f] = mean_i mu_i, Var f = mean_i (s_i^2 + mu_i^2) - E^2
    f = s.sample_f(40000, torch.Generator().manual_seed(0))
    q_mean = enc.f_mean.mean(0)
    q_var = (enc.f_logvar.exp() + enc.f_mean.pow(2)).mean(0) - q_mean.pow(2)
    assert torch.allclose(f.mean(0), q_mean, atol=0.03 * float(q_var.sqrt().max()) + 1e-3)
    assert torch.allclose(f.var(0), q_var, rtol=0.1, atol=1e-3)
    z = s.sample_z(40000, t, torch.Generator().manual_seed(0)).flatten(1)
    zm, zl = enc.z_mean.flatten(1), enc.z_logvar.flatten(1)
    z_var = (zl.exp() + zm.pow(2)).mean(0) - zm.mean(0).pow(2)
    assert torch.allclose(z.var(0), z_var, rtol=0.1, atol=1e-3)
    # generation through the sampler decodes its codes
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    x = run.model.generate(3, t, sampler=s, generator=g1)
    torch.testing.assert_close(x, run.model.decode(s.sample_f(3, g2), s.sample_z(3, t, g2)))


def test_training_fits_a_full_covariance_z_mixture(tiny_config, tmp_path):
    cfg = _with_model(
        tiny_config, z_prior="mixture", z_prior_components=1, z_prior_covariance="full"
    )
    train(cfg, tmp_path / "run", progress=False)
    run = load_run(tmp_path / "run")
    split = load_split(cfg.data.root, "train")
    t, zd = split.x.shape[1], cfg.model.z_dim
    assert run.sampler.name == "mixture_z"
    assert run.sampler.z_part.scale_tril.shape == (1, t * zd, t * zd)
    z_post = run.model.encode(split.meta.modality.to_tensor(split.x)).z_mean.flatten(1).double()
    cov = torch.cov(z_post.T) + 1e-4 * torch.eye(t * zd, dtype=torch.float64)
    z = run.sampler.sample_z(40000, t, torch.Generator().manual_seed(0)).flatten(1).double()
    scale = float(cov.diagonal().max())
    torch.testing.assert_close(torch.cov(z.T), cov, atol=0.05 * scale, rtol=0.05)


def test_sampler_config_errors_are_one_line():
    for over, match in [
        ({"z_prior": "mixture", "z_prior_covariance": "tied"}, "z_prior_covariance"),
        ({"z_prior": "aggregate", "z_prior_covariance": "full"}, "needs model.z_prior mixture"),
        ({"f_prior": "flow"}, "f_prior"),
        ({"z_prior": "gru"}, "z_prior"),
        ({"f_prior": "mixture", "f_prior_components": 0}, "f_prior_components"),
    ]:
        with pytest.raises(DsaeError, match=match):
            check_sampler_config(dataclasses.replace(ModelConfig(), **over))
    check_sampler_config(ModelConfig(z_prior_covariance="tied"))  # unused without a z part


def test_save_and_load_round_trip_and_errors(tmp_path):
    model = _model(f_prior="mixture", z_prior="mixture")
    z_part = Mixture("mixture", torch.zeros(2), torch.randn(2, 8), torch.randn(2, 8), steps=4)
    sampler = ConfiguredSampler(model, _two_components(), z_part)
    path = save_samplers(tmp_path / SAMPLERS_FILE, sampler)
    assert torch.load(path, weights_only=True)["name"] == "mixture"
    back = load_sampler(tmp_path, model, model.cfg)
    for a, b in ((sampler.f_part, back.f_part), (sampler.z_part, back.z_part)):
        for k in ("logits", "mean", "logvar"):
            assert torch.equal(getattr(a, k), getattr(b, k))
    assert back.z_part.steps == 4 and back.name == sampler.name
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert torch.equal(sampler.sample_z(5, 3, g1), back.sample_z(5, 3, g2))
    with pytest.raises(DsaeError, match="the config asks for"):
        load_sampler(tmp_path, model, dataclasses.replace(model.cfg, z_prior="aggregate"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / SAMPLERS_FILE).write_bytes(b"not a file")
    with pytest.raises(DsaeError, match="corrupt samplers file"):
        load_sampler(tmp_path / "bad", model, model.cfg)
    with pytest.raises(DsaeError, match="not found"):
        load_sampler(tmp_path / "none", model, model.cfg)


def test_samplers_for_lists_the_learnt_prior_first():
    model = _model()
    assert list(samplers_for(model, None)) == ["learnt_prior"]
    s = ConfiguredSampler(model, _two_components(), None)
    rows = samplers_for(model, s)
    assert list(rows) == ["learnt_prior", "mixture_f"] and rows["mixture_f"] is s


def test_a_run_with_only_the_learnt_prior_has_no_samplers_file(tiny_config, tmp_path):
    train(tiny_config, tmp_path / "run")
    assert not (tmp_path / "run" / SAMPLERS_FILE).exists()
    run = load_run(tmp_path / "run")
    assert isinstance(run.sampler, LearntPrior) and list(run.samplers) == ["learnt_prior"]


def test_resuming_a_run_with_an_aggregate_sampler_is_exact(tiny_config, tmp_path):
    cfg = _with_model(tiny_config, f_prior="aggregate", z_prior="aggregate")
    train(cfg, tmp_path / "whole")
    train(cfg, tmp_path / "parts", stop_at=5)
    assert not (tmp_path / "parts" / SAMPLERS_FILE).exists()  # fitted only at the end
    train(cfg, tmp_path / "parts", resume=True)
    a = torch.load(tmp_path / "whole" / SAMPLERS_FILE, weights_only=True)
    b = torch.load(tmp_path / "parts" / SAMPLERS_FILE, weights_only=True)
    for part in ("f", "z"):
        for k in ("logits", "mean", "logvar"):
            assert torch.equal(a[part][k], b[part][k]), (part, k)


def test_encode_split_is_batched_in_eval_mode():
    model = _model().train()
    x = np.random.default_rng(0).integers(0, 256, (5, 3, 16, 16, 3), dtype=np.uint8)
    e1 = encode_split(model, modality_for(x.shape[2:]), x, batch_size=2)
    e2 = encode_split(model, modality_for(x.shape[2:]), x, batch_size=5)
    torch.testing.assert_close(e1.z_mean, e2.z_mean)
    assert e1.f_mean.shape == (5, 3) and model.training
    with pytest.raises(DsaeError, match="batch size"):
        encode_split(model, modality_for(x.shape[2:]), x, batch_size=0)
