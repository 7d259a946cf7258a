"""The Disentangled VRNN (Prasanna & Vidyasagar): f beside VRNN style codes z_t, full and
factorized posteriors."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO, SHARED, assert_same_weights
from torch.distributions import Normal, kl_divergence

from dsae.config import ModelConfig, load_config
from dsae.data import build_dataset
from dsae.models import MODELS, build_model
from dsae.models.dvrnn import DisentangledVRNN
from dsae.train import load_run, train
from dsae.train.checkpoint import load_checkpoint

VARIANTS = ["full", "factorized"]
SMALL = dict(channels=[8, 16], frame_dim=16, hidden_dim=16, f_dim=5, z_dim=3)
SHAPE = (1, 16, 16)
MNIST = SHARED / "data" / "mnist"


def _model(variant: str, **kw) -> DisentangledVRNN:
    torch.manual_seed(0)
    cfg = ModelConfig(name="dvrnn", dvrnn_posterior=variant, likelihood="bernoulli", **SMALL, **kw)
    return build_model(cfg, SHAPE)


def _batch(b: int = 3, t: int = 5) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return (torch.rand(b, t, *SHAPE, generator=g) > 0.7).float()


def test_registered_under_its_name():
    assert MODELS["dvrnn"] is DisentangledVRNN
    with pytest.raises(ValueError, match="dvrnn_posterior"):
        _model("both")


@pytest.mark.parametrize("variant", VARIANTS)
def test_kl_of_z_is_the_sum_over_time_of_the_gaussian_kl_against_the_rollout_prior(variant):
    model = _model(variant).train()
    x = _batch()
    out = model(x)
    # the prior the model computed: p(z_t | h_{t-1}) on the states of the posterior samples
    feats = model.frame_features(x)
    h = torch.zeros(x.shape[0], model.cfg.hidden_dim)
    for t in range(x.shape[1]):
        p = model.prior(h)
        torch.testing.assert_close(p.mean, out.p_z.mean[:, t])
        torch.testing.assert_close(p.logvar, out.p_z.logvar[:, t])
        h = model.step(h, feats[:, t], model.phi_z(out.z[:, t]), out.f)
    q = Normal(out.q_z.mean, torch.exp(0.5 * out.q_z.logvar))
    p = Normal(out.p_z.mean, torch.exp(0.5 * out.p_z.logvar))
    expected = kl_divergence(q, p).sum((1, 2))
    terms = model.loss_terms(x, out)
    torch.testing.assert_close(terms.kl_z, expected)
    assert terms.kl_z.shape == (3,) and bool((terms.kl_z > 0).all())
    q_f = Normal(out.q_f.mean, torch.exp(0.5 * out.q_f.logvar))
    torch.testing.assert_close(terms.kl_f, kl_divergence(q_f, Normal(0.0, 1.0)).sum(1))


def test_the_factorized_posterior_and_prior_of_z_do_not_read_f():
    x = _batch()
    f = torch.randn(3, SMALL["f_dim"])
    for variant in VARIANTS:
        model = _model(variant).eval()
        feats = model.frame_features(x)
        with torch.no_grad():
            q_a, p_a, z_a, _ = model.infer_z(feats, f, sample=False)
            q_b, p_b, z_b, _ = model.infer_z(feats, f + 3.0, sample=False)
        if variant == "factorized":
            torch.testing.assert_close(q_a.mean, q_b.mean)
            torch.testing.assert_close(q_a.logvar, q_b.logvar)
            torch.testing.assert_close(p_a.mean, p_b.mean)
            torch.testing.assert_close(z_a, z_b)
        else:  # full: f enters q(z_t | .) and, from t = 2, the state the prior reads
            assert not torch.allclose(q_a.mean, q_b.mean)
            torch.testing.assert_close(p_a.mean[:, 0], p_b.mean[:, 0])  # p(z_1 | h_0 = 0)
            assert not torch.allclose(p_a.mean[:, 1:], p_b.mean[:, 1:])


def test_the_posterior_of_z_t_reads_only_frames_up_to_t():
    model = _model("full").eval()
    x = _batch()
    later = x.clone()
    later[:, 3:] = 1 - later[:, 3:]
    feats_a, feats_b = model.frame_features(x), model.frame_features(later)
    f = torch.zeros(3, SMALL["f_dim"])
    with torch.no_grad():
        q_a = model.infer_z(feats_a, f, sample=False)[0]
        q_b = model.infer_z(feats_b, f, sample=False)[0]
    torch.testing.assert_close(q_a.mean[:, :3], q_b.mean[:, :3])
    assert not torch.allclose(q_a.mean[:, 3:], q_b.mean[:, 3:])


@pytest.mark.parametrize("variant", VARIANTS)
def test_decode_with_given_z_is_a_deterministic_causal_rollout(variant):
    model = _model(variant).eval()
    f, z = torch.randn(2, SMALL["f_dim"]), torch.randn(2, 7, SMALL["z_dim"])
    a, b = model.decode(f, z), model.decode(f, z)
    assert a.shape == (2, 7, *SHAPE) and torch.equal(a, b)
    assert 0 <= float(a.min()) and float(a.max()) <= 1
    moved = z.clone()
    moved[:, 4] += 2.0
    c = model.decode(f, moved)
    torch.testing.assert_close(c[:, :4], a[:, :4])  # frame t reads z_<=t only
    assert not torch.allclose(c[:, 4:], a[:, 4:])
    # with the frames as their own decoded means, decode is the training pass's decoder
    x_param = model.decode_param(f, model.rollout_states(f, z, a))
    torch.testing.assert_close(model.frame_mean(x_param), a)


@pytest.mark.parametrize("variant", VARIANTS)
def test_prior_rollouts_continue_the_seen_codes(variant):
    model = _model(variant).eval()
    z_seen = torch.randn(2, 3, SMALL["z_dim"])
    g = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    z = model.continue_z(z_seen, 6, g())
    assert z.shape == (2, 6, SMALL["z_dim"]) and torch.equal(z[:, :3], z_seen)
    assert torch.equal(z, model.continue_z(z_seen, 6, g()))
    mode = model.continue_z(z_seen, 6, most_likely=True)
    assert not torch.allclose(mode[:, 3:], z[:, 3:])
    # the most likely continuation follows the prior's mean after the decoded frames
    f = torch.zeros(2, SMALL["f_dim"])
    frames = model.decode(f, mode)
    states = model.rollout_states(f, mode, frames)
    torch.testing.assert_close(model.prior(states[:, 3:, -16:]).mean, mode[:, 3:])
    pred = model.impute(_batch(2, 4), 6, g())
    assert pred.shape == (2, 6, *SHAPE) and torch.isfinite(pred).all()


def _cfg(tiny_config, variant: str, **train_kw):
    return dataclasses.replace(
        tiny_config,
        model=dataclasses.replace(
            tiny_config.model, name="dvrnn", dvrnn_posterior=variant, hidden_dim=16
        ),
        objective=dataclasses.replace(tiny_config.objective, beta_f=0.5, beta_z=25.0),
        train=dataclasses.replace(tiny_config.train, max_steps=6, ckpt_every=3, **train_kw),
    )


@pytest.mark.parametrize("variant", VARIANTS)
def test_trains_with_finite_losses_and_resumes_exactly(tmp_path, tiny_config, variant):
    cfg = _cfg(tiny_config, variant, log_every=1)
    res = train(cfg, tmp_path / "whole")
    assert res.step == 6
    for key in ("loss", "recon", "kl_f", "kl_z"):
        assert np.isfinite(res.last[key]), key
    train(cfg, tmp_path / "parts", stop_at=3)
    train(cfg, tmp_path / "parts", resume=True)
    a, b = load_checkpoint(tmp_path / "whole"), load_checkpoint(tmp_path / "parts")
    assert_same_weights(a, b)
    run = load_run(tmp_path / "whole")
    assert run.model.name == "dvrnn" and run.model.cfg.dvrnn_posterior == variant
    g = torch.Generator().manual_seed(0)
    assert run.model.generate(2, 5, fix="static", generator=g).shape == (2, 5, 3, 32, 32)


def _dsae(*args: str) -> None:
    """The CLI as a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "dsae.cli.main", *args], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"dsae {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.mark.skipif(not MNIST.is_dir(), reason=f"no MNIST test set at {MNIST}")
@pytest.mark.parametrize("config", ["digits_dvrnn", "digits_dvrnn_factorized", "digits_dsae"])
def test_digits_configs_train_generate_and_swap_from_the_cli(tmp_path, config):
    path = REPO / "configs" / f"{config}.yaml"
    loaded = load_config(path)
    assert loaded.data.name == "digits" and loaded.model.likelihood == "bernoulli"
    if loaded.model.name == "dvrnn":
        assert (loaded.objective.beta_f, loaded.objective.beta_z) == (0.5, 25.0)
    data = build_dataset("digits", tmp_path / "digits", source=MNIST, n_train=16, n_test=8)
    run = tmp_path / "run"
    _dsae("train", str(path), "--out", str(run), "--no-progress",
          "--set", f"data.root={data}", "--set", "train.max_steps=3",
          "--set", "train.batch_size=8")  # fmt: skip
    assert load_run(run).model.name == loaded.model.name
    _dsae("generate", str(run), "--out", str(tmp_path / "gen"), "--fix", "static",
          "--n", "2", "--groups", "1")  # fmt: skip
    _dsae("swap", str(run), "--out", str(tmp_path / "swap"), "--pairs", "2")
    assert (tmp_path / "swap" / "swaps.png").is_file()
    assert any((tmp_path / "gen").iterdir())
