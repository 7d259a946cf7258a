"""LSTM-f and LSTM-c (Li & Mandt 2018, section 4.3): one global z rolled out deterministically."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO
from torch.distributions import Normal, kl_divergence

from dsae.config import ModelConfig, load_config
from dsae.data.base import DatasetMeta, SequenceSplit, write_dataset_dir
from dsae.models import build_model
from dsae.models.rollout import LSTMc, LSTMf
from dsae.train import load_run, train

FAMILIES = ["lstm_f", "lstm_c"]
SMALL = dict(channels=[8, 16, 32], frame_dim=32, hidden_dim=32, f_dim=4, z_dim=6, rollout_dim=24)
SHAPE = (1, 32, 32)


def _model(name: str, **kw):
    torch.manual_seed(0)
    return build_model(ModelConfig(name=name, likelihood="bernoulli", **{**SMALL, **kw}), SHAPE)


def moving_squares(n: int, t: int, seed: int) -> np.ndarray:
    """(n, t, 32, 32) 0/1 frames: a 6 x 6 square per sequence moving with a constant
    velocity, bouncing off the walls."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, t, 32, 32), dtype=np.uint8)
    for i in range(n):
        pos, vel = rng.uniform(0, 26, 2), rng.uniform(-3, 3, 2)
        for s in range(t):
            r, c = pos.astype(int)
            out[i, s, r : r + 6, c : c + 6] = 1
            pos = pos + vel
            for k in range(2):
                if not 0 <= pos[k] <= 26:
                    vel[k] = -vel[k]
                    pos[k] = np.clip(pos[k], 0, 26)
    return out


def _batch(b: int = 3, t: int = 7) -> torch.Tensor:
    return torch.from_numpy(moving_squares(b, t, seed=1)).float().unsqueeze(2)


@pytest.mark.parametrize("name", FAMILIES)
def test_shapes_of_every_entry_point(name):
    model = _model(name)
    x = _batch()
    out = model.train()(x)
    assert out.x_param.shape == x.shape
    assert out.f.shape == (3, 4) and out.z.shape == (3, 7, 6) and out.p_z is None
    model.eval()
    e = model.encode(x)
    assert e.f_mean.shape == e.f_logvar.shape == (3, 4)
    assert e.z_mean.shape == e.z_logvar.shape == (3, 7, 6)
    assert model.decode(e.f_mean, e.z_mean).shape == x.shape
    assert model.reconstruct(x).shape == x.shape
    g = torch.Generator().manual_seed(0)
    for fix in ("none", "static", "dynamic"):
        assert model.generate(2, 9, fix=fix, generator=g).shape == (2, 9, *SHAPE)
    assert model.impute(x[:, :3], 10).shape == (3, 10, *SHAPE)
    assert model.impute(x[:, :3], 3).shape == (3, 3, *SHAPE)


@pytest.mark.parametrize("name", FAMILIES)
def test_z_is_one_code_held_over_time(name):
    model = _model(name).eval()
    e = model.encode(_batch())
    assert torch.equal(e.z_mean, e.z_mean[:, :1].expand_as(e.z_mean))
    assert torch.equal(e.z_logvar, e.z_logvar[:, :1].expand_as(e.z_logvar))
    out = model.train()(_batch())
    assert torch.equal(out.z, out.z[:, :1].expand_as(out.z))
    z = model.sample_z(5, 8, torch.Generator().manual_seed(0))
    assert z.shape == (5, 8, 6) and torch.equal(z, z[:, :1].expand_as(z))
    assert not torch.equal(z[0, 0], z[1, 0])


@pytest.mark.parametrize("name", FAMILIES)
def test_decode_rolls_out_as_many_steps_as_asked_from_the_first_code(name):
    model = _model(name).eval()
    e = model.encode(_batch())  # T = 7 seen
    z11 = e.z_mean[:, :1].expand(-1, 11, -1)
    long = model.decode(e.f_mean, z11)
    assert long.shape == (3, 11, *SHAPE)
    # the rollout is causal: its first 7 steps are the 7-step decode
    torch.testing.assert_close(long[:, :7], model.decode(e.f_mean, z11[:, :7]))
    # codes after the first are not read
    other = z11.clone()
    other[:, 1:] += 5.0
    torch.testing.assert_close(model.decode(e.f_mean, other), long)


@pytest.mark.parametrize("name", FAMILIES)
def test_continue_z_keeps_the_seen_code_and_impute_decodes_it(name):
    model = _model(name).eval()
    x = _batch()
    z_seen = model.encode(x[:, :3]).z_mean
    g = torch.Generator().manual_seed(0)
    for most_likely in (False, True):
        z = model.continue_z(z_seen, 10, g, most_likely)
        assert z.shape == (3, 10, 6)
        assert torch.equal(z[:, :3], z_seen) and torch.equal(z, z[:, :1].expand_as(z))
    e = model.encode(x[:, :3])
    expected = model.decode(e.f_mean, e.z_mean[:, :1].expand(-1, 10, -1))
    torch.testing.assert_close(model.impute(x[:, :3], 10, g), expected)
    with pytest.raises(ValueError, match="steps"):
        model.continue_z(z_seen, 2)


def test_lstm_f_starts_from_z_and_moves_on_its_own():
    model = _model("lstm_f").eval()
    g = torch.Generator().manual_seed(0)
    f = model.sample_f(1, g).expand(2, -1)
    z = model.sample_z(2, 7, g)
    x = model.decode(f, z)
    assert (x[0, 0] - x[1, 0]).abs().max() > 1e-4  # the first frame depends on z
    for t in range(1, 7):  # later frames differ from the first: the rollout moves
        assert (x[:, t] - x[:, 0]).abs().max() > 1e-4
    h = model.rollout(z[:, 0], 7)
    assert (h[:, 1:] - h[:, :1]).abs().amax(-1).min() > 1e-4


def test_lstm_c_reads_z_at_every_step():
    model = _model("lstm_c").eval()
    g = torch.Generator().manual_seed(0)
    f = model.sample_f(1, g)
    z = model.sample_z(1, 7, g)
    a, b = model.decode(f, z), model.decode(f, z + 0.5)
    for t in range(7):
        assert (a[:, t] - b[:, t]).abs().max() > 1e-5
    # z is the LSTM's input at every step: the states are an LSTM over z repeated
    h = model.rollout(z[:, 0], 7)
    expected, _ = model.lstm(z[:, :1].expand(-1, 7, -1).contiguous())
    torch.testing.assert_close(h, expected)
    assert isinstance(model, LSTMc) and isinstance(_model("lstm_f"), LSTMf)


@pytest.mark.parametrize("name", FAMILIES)
def test_kl_of_z_is_one_gaussian_per_sequence(name):
    model = _model(name).train()
    x = _batch()
    out = model(x)
    terms = model.loss_terms(x, out)
    q = Normal(out.q_z.mean[:, 0], torch.exp(0.5 * out.q_z.logvar[:, 0]))
    expected = kl_divergence(q, Normal(0.0, 1.0)).sum(-1)  # once, not T times
    torch.testing.assert_close(terms.kl_z, expected)
    q_f = Normal(out.q_f.mean, torch.exp(0.5 * out.q_f.logvar))
    torch.testing.assert_close(terms.kl_f, kl_divergence(q_f, Normal(0.0, 1.0)).sum(-1))
    bce = torch.nn.functional.binary_cross_entropy_with_logits(out.x_param, x, reduction="none")
    torch.testing.assert_close(terms.recon, bce.flatten(1).sum(-1))


@pytest.mark.parametrize("name", FAMILIES)
def test_decode_frames_scales_the_likelihood_of_k_frames(name):
    model = _model(name, decode_frames=3).train()
    x = _batch()
    out = model(x)
    assert out.frames.shape == (3, 3) and out.x_param.shape == (3, 3, *SHAPE)
    assert model.loss_terms(x, out).recon.shape == (3,)


@pytest.mark.parametrize("name", FAMILIES)
def test_a_few_adam_steps_lower_the_loss_on_a_fixed_batch(name):
    model = _model(name).train()
    x = _batch(b=8, t=7)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(25):
        t = model.loss_terms(x, model(x))
        loss = (t.recon + t.kl_f + t.kl_z).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5])


def _stand_in_balls(out, n_train: int = 80, n_test: int = 16, t: int = 10):
    """A dataset of 32 x 32 x 1 binary frames (moving squares, no factors)."""
    meta = DatasetMeta("squares", t, (32, 32, 1), {}, {}, info={"binary": True})

    def split(n: int, seed: int) -> SequenceSplit:
        x = moving_squares(n, t, seed)[..., None] * np.uint8(255)
        return SequenceSplit(x=x, static=np.zeros((n, 0), np.int64), dynamic={}, meta=meta)

    return write_dataset_dir(out, {"train": split(n_train, 0), "test": split(n_test, 1)})


def dsae(*args: str) -> None:
    """The CLI as a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "dsae.cli.main", *args], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"dsae {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.mark.parametrize("config", ["balls_dsae", "balls_lstm_f", "balls_lstm_c"])
def test_balls_configs_train_from_the_cli_and_impute(tmp_path, config):
    data = _stand_in_balls(tmp_path / "squares")
    path = REPO / "configs" / f"{config}.yaml"
    assert load_config(path).data.name == "balls"
    common = ("--no-progress", "--set", f"data.root={data}", "--set", "train.max_steps=3")
    run = tmp_path / "run"
    if config == "balls_dsae":
        dsae("train", str(path), "--out", str(run), *common)
    else:  # the baselines start from a DSAE run's frame networks
        dsae("train", str(REPO / "configs" / "balls_dsae.yaml"), "--out", str(tmp_path / "d"),
             *common)  # fmt: skip
        dsae("train", str(path), "--out", str(run), *common,
             "--set", f"train.init_from={tmp_path / 'd'}")  # fmt: skip
        assert load_run(run).config.train.init_from == str(tmp_path / "d")
    loaded = load_run(run)
    assert loaded.model.name == load_config(path).model.name
    x = loaded.meta.modality.to_tensor(moving_squares(2, 10, 3)[..., None] * np.uint8(255))
    g = torch.Generator().manual_seed(0)
    pred = loaded.model.impute(x[:, :4], 12, g)
    assert pred.shape == (2, 12, *SHAPE) and torch.isfinite(pred).all()
    assert 0 <= float(pred.min()) and float(pred.max()) <= 1


@pytest.mark.parametrize("name", FAMILIES)
def test_the_loop_extras_and_fitted_samplers_take_a_rollout_family(tmp_path, tiny_config, name):
    """The I(f; z) critic reads the training pass's f and z (z repeated over time); the
    weight average and the post-hoc samplers need only the contract."""
    cfg = dataclasses.replace(
        tiny_config,
        model=dataclasses.replace(
            tiny_config.model, name=name, rollout_dim=16, f_prior="mixture", z_prior="aggregate"
        ),
        objective=dataclasses.replace(tiny_config.objective, mi_weight=1.0),
        train=dataclasses.replace(tiny_config.train, max_steps=3, log_every=1, ema_decay=0.9),
    )
    res = train(cfg, tmp_path / "run")
    assert res.step == 3 and np.isfinite(res.last["loss"]) and "mi" in res.last
    run = load_run(tmp_path / "run")
    assert list(run.samplers) == ["learnt_prior", "mixture_f+aggregate_z"]
    g = torch.Generator().manual_seed(0)
    for sampler in run.samplers.values():
        assert run.model.generate(2, 6, generator=g, sampler=sampler).shape == (2, 6, 3, 32, 32)
