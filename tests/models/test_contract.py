"""Every model family in MODELS keeps the SequentialVAE contract."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from lstm_decoder_model import LSTMDecoderModel, PerSequenceLSTMDecoderModel

from dsae.config import ModelConfig
from dsae.models import MODELS, build_model
from dsae.samplers import LearntPrior
from dsae.train import load_run, train

TEST_FAMILIES = {"lstm_decoder": LSTMDecoderModel, "lstm_decoder_seq": PerSequenceLSTMDecoderModel}
SMALL = dict(channels=[8, 16], frame_dim=16, hidden_dim=16, mlp_hidden=16, f_dim=6, z_dim=3)
IMAGE, VECTOR = (3, 16, 16), (20,)
CASES = [  # (model name, config overrides, frame shape)
    ("dsae", {}, IMAGE),
    ("dsae", {"encoder": "full", "static_encoder": "mean", "dynamic_input": "luminance"}, IMAGE),
    (
        "dsae",
        {
            "static_encoder": "palette",
            "dynamic_input": "silhouette",
            "decoder_film": True,
            "film_mix": True,
            "decoder_colours": 4,
        },
        IMAGE,
    ),
    ("dsae", {"static_encoder": "local", "dynamic_input": "recolour"}, IMAGE),
    ("dsae", {"frame_net": "mlp", "likelihood": "laplace"}, VECTOR),
    ("dsae", {"likelihood": "bernoulli", "static_frames": 2, "decode_frames": 2}, IMAGE),
    ("dsae", {"p_f": "mixture", "p_f_components": 3, "p_z": "mixture", "p_z_components": 2}, IMAGE),
    ("lstm_f", {"rollout_dim": 12}, IMAGE),
    ("lstm_c", {"rollout_dim": 12, "frame_net": "mlp", "likelihood": "laplace"}, VECTOR),
    ("dvrnn", {}, IMAGE),
    ("dvrnn", {"likelihood": "bernoulli", "decode_frames": 2, "static_encoder": "mean"}, IMAGE),
    (
        "dvrnn",
        {"dvrnn_posterior": "factorized", "frame_net": "mlp", "likelihood": "laplace"},
        VECTOR,
    ),
    ("lds", {"f_dim": 0}, IMAGE),
    ("lds", {"f_dim": 0, "lds_rank": 2, "frame_net": "mlp", "likelihood": "laplace"}, VECTOR),
    ("lds", {"f_dim": 0, "likelihood": "bernoulli", "decode_frames": 2}, IMAGE),
    ("lstm_decoder", {}, IMAGE),
    ("lstm_decoder_seq", {}, VECTOR),
]


@pytest.fixture
def registered(monkeypatch):
    for name, family in TEST_FAMILIES.items():
        monkeypatch.setitem(MODELS, name, family)  # a new family: its module and this line


def _build(name: str, over: dict, shape: tuple[int, ...]):
    torch.manual_seed(0)
    return build_model(ModelConfig(name=name, **{**SMALL, **over}), shape)


def _data(shape: tuple[int, ...], b: int = 3, t: int = 4) -> torch.Tensor:
    return torch.rand(b, t, *shape, generator=torch.Generator().manual_seed(1))


def test_every_registered_family_has_a_case():
    assert set(MODELS) <= {name for name, _, _ in CASES}


class Recording:
    """A sampler that remembers what it drew."""

    def __init__(self, model):
        self.inner, self.drawn = LearntPrior(model), {}

    def sample_f(self, n, generator=None):
        self.drawn["f"] = self.inner.sample_f(n, generator)
        return self.drawn["f"]

    def sample_z(self, n, steps, generator=None):
        self.drawn["z"] = self.inner.sample_z(n, steps, generator)
        return self.drawn["z"]


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize("name, over, shape", CASES)
class TestContract:
    def test_encode_and_decode_shapes(self, name, over, shape):
        model = _build(name, over, shape).eval()
        x = _data(shape)
        e = model.encode(x)
        assert e.f_mean.shape == e.f_logvar.shape == (3, model.f_dim)
        assert e.z_mean.shape == e.z_logvar.shape == (3, 4, model.z_dim)
        assert model.decode(e.f_mean, e.z_mean).shape == x.shape
        assert model.reconstruct(x).shape == x.shape

    def test_loss_terms_are_finite_per_sequence_and_reach_every_parameter(self, name, over, shape):
        model = _build(name, over, shape).train()
        x = _data(shape)
        if over.get("likelihood") == "bernoulli":
            x = (x > 0.5).float()
        out = model(x)
        assert out.f.shape == (3, model.f_dim) and out.z.shape == (3, 4, model.z_dim)
        terms = model.loss_terms(x, out)
        for t in (terms.recon, terms.kl_f, terms.kl_z):
            assert t.shape == (3,) and torch.isfinite(t).all()
        (terms.recon + terms.kl_f + terms.kl_z).sum().backward()
        for n, p in model.named_parameters():
            if p.requires_grad:
                assert p.grad is not None and float(p.grad.abs().sum()) > 0, n

    def test_swap_decodes_f_of_one_with_z_of_the_other(self, name, over, shape):
        model = _build(name, over, shape).eval()
        a, b = _data(shape), _data(shape).flip(0)
        expected = model.decode(model.encode(a).f_mean, model.encode(b).z_mean)
        torch.testing.assert_close(model.swap(a, b), expected)

    @pytest.mark.parametrize("fix", ["static", "dynamic", "none"])
    def test_generate_shares_the_fixed_code(self, name, over, shape, fix):
        model = _build(name, over, shape).eval()
        rec = Recording(model)
        x = model.generate(3, 5, fix=fix, generator=torch.Generator().manual_seed(0), sampler=rec)
        assert x.shape == (3, 5, *shape)
        f, z = rec.drawn["f"], rec.drawn["z"]
        assert f.shape[0] == (1 if fix == "static" else 3)
        assert z.shape[0] == (1 if fix == "dynamic" else 3)
        torch.testing.assert_close(x, model.decode(f.expand(3, -1), z.expand(3, -1, -1)))
        # without a sampler: the model's own priors, drawn from the generator
        g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
        own = model.generate(2, 5, generator=g1)
        torch.testing.assert_close(
            own, model.decode(model.sample_f(2, g2), model.sample_z(2, 5, g2))
        )

    def test_prior_samples(self, name, over, shape):
        model = _build(name, over, shape).eval()
        f = model.sample_f(4, torch.Generator().manual_seed(0))
        z = model.sample_z(4, 6, torch.Generator().manual_seed(0))
        assert f.shape == (4, model.f_dim) and z.shape == (4, 6, model.z_dim)
        assert torch.equal(z, model.sample_z(4, 6, torch.Generator().manual_seed(0)))

    def test_state_dict_round_trip(self, name, over, shape):
        a = _build(name, over, shape).eval()
        torch.manual_seed(9)
        b = build_model(ModelConfig(name=name, **{**SMALL, **over}), shape).eval()
        b.load_state_dict(a.state_dict())
        x = _data(shape)
        ea, eb = a.encode(x), b.encode(x)
        torch.testing.assert_close(ea.f_mean, eb.f_mean)
        torch.testing.assert_close(a.decode(ea.f_mean, ea.z_mean), b.decode(eb.f_mean, eb.z_mean))


@pytest.mark.usefixtures("registered")
def test_a_test_family_trains_through_the_public_loop(tmp_path, tiny_config):
    cfg = dataclasses.replace(
        tiny_config,
        model=dataclasses.replace(tiny_config.model, name="lstm_decoder"),
        train=dataclasses.replace(tiny_config.train, max_steps=3, log_every=1),
    )
    res = train(cfg, tmp_path / "run")
    assert res.step == 3 and torch.isfinite(torch.tensor(res.last["loss"]))
    run = load_run(tmp_path / "run")
    assert isinstance(run.model, LSTMDecoderModel) and list(run.samplers) == ["learnt_prior"]
    assert run.model.generate(2, 4).shape == (2, 4, 3, 32, 32)
