"""Outputs of a trained run: reconstructions, swaps and generations as pictures and arrays,
image and vector frames alike, and the choice of generation sampler."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from dsae.config import Config
from dsae.data.base import DatasetMeta, SequenceSplit, write_dataset_dir
from dsae.errors import DsaeError
from dsae.pipeline.outputs import (
    choose_sampler,
    generate,
    write_generations,
    write_reconstructions,
    write_swaps,
)
from dsae.train import load_run, train

MODEL = {"channels": [8, 16, 32], "frame_dim": 32, "hidden_dim": 32, "f_dim": 8, "z_dim": 4}
TRAIN = {"max_steps": 4, "batch_size": 16, "log_every": 2, "ckpt_every": 5, "progress": False}


@pytest.fixture(scope="module")
def image_run(tmp_path_factory, toy_dir) -> Path:
    run = tmp_path_factory.mktemp("outputs") / "run"
    data = {"name": "toy_sprites", "root": str(toy_dir), "build_if_missing": False}
    train(Config.from_dict({"data": data, "model": MODEL, "train": TRAIN}), run)
    return run


@pytest.fixture(scope="module")
def vector_run(tmp_path_factory) -> Path:
    """A run on (D,) vector frames (e.g. spectra): an MLP frame network."""
    root = tmp_path_factory.mktemp("vector")
    rng = np.random.default_rng(0)
    meta = DatasetMeta("vec", 6, (5,), {"a": 2}, {"b": 3})

    def split(n: int) -> SequenceSplit:
        return SequenceSplit(
            rng.normal(size=(n, 6, 5)).astype(np.float32),
            rng.integers(0, 2, (n, 1)),
            {"b": rng.integers(0, 3, n)},
            meta,
        )

    write_dataset_dir(root / "data", {"train": split(32), "test": split(12)})
    cfg = Config.from_dict(
        {
            "data": {"name": "vec", "root": str(root / "data"), "build_if_missing": False},
            "model": {**MODEL, "frame_net": "mlp", "channels": [16]},
            "train": TRAIN,
        }
    )
    train(cfg, root / "run")
    return root / "run"


def test_image_outputs(image_run, tmp_path):
    rec = write_reconstructions(image_run, None, tmp_path / "rec", 3, "test", 0, 2)
    with np.load(rec / "reconstructions.npz") as z:
        assert z["x"].shape == (3, 8, 32, 32, 3) and z["x"].dtype == np.uint8
    assert (rec / "reconstructions.gif").is_file()
    with Image.open(rec / "reconstructions.png") as im:
        assert im.height > 6 * 64  # six rows of frames drawn at scale 2

    sw = write_swaps(image_run, None, tmp_path / "sw", 2, "test", 0, 1)
    assert sorted(p.name for p in sw.glob("swap_*.gif")) == ["swap_00.gif", "swap_01.gif"]
    with np.load(sw / "swaps.npz") as z:
        assert z["x"].shape == (2, 8, 32, 32, 3)

    gen = write_generations(image_run, tmp_path / "gen", "static", 2, 3, 5, 0, 1)
    with np.load(gen / "generate_static.npz") as z:
        assert z["x"].shape == (3, 2, 5, 32, 32, 3)
        assert str(z["sampler"]) == "learnt_prior"  # the run has no configured sampler
        # f fixed within a group, z_1:T drawn per row: rows of a group differ
        assert not np.array_equal(z["x"][0, 0], z["x"][0, 1])
    assert len(list(gen.glob("generate_static_*.gif"))) == 3


def test_vector_outputs_are_heat_maps_without_animations(vector_run, tmp_path):
    rec = write_reconstructions(vector_run, None, tmp_path / "rec", 2, "test", 0, 1)
    with np.load(rec / "reconstructions.npz") as z:
        assert z["x"].shape == (2, 6, 5) and z["x"].dtype == np.float32
    with Image.open(rec / "reconstructions.png") as im:
        assert im.mode == "RGB" and im.width > 6
    assert not list(rec.glob("*.gif"))
    sw = write_swaps(vector_run, None, tmp_path / "sw", 2, "test", 0, 1)
    assert (sw / "swaps.png").is_file() and not list(sw.glob("*.gif"))
    gen = write_generations(vector_run, tmp_path / "gen", "dynamic", 2, 2, None, 0, 1)
    with np.load(gen / "generate_dynamic.npz") as z:
        assert z["x"].shape == (2, 2, 6, 5) and np.isfinite(z["x"]).all()


class _Recorder:
    """A sampler that returns zeros and records the sizes asked of it."""

    def __init__(self, f_dim: int, z_dim: int):
        self.f_dim, self.z_dim, self.calls = f_dim, z_dim, []

    def sample_f(self, n, generator=None):
        self.calls.append(("f", n))
        return torch.zeros(n, self.f_dim)

    def sample_z(self, n, steps, generator=None):
        self.calls.append(("z", n, steps))
        return torch.zeros(n, steps, self.z_dim)


def test_generate_decodes_what_the_sampler_draws(image_run):
    loaded = load_run(image_run)
    model, modality = loaded.model, loaded.meta.modality
    sampler = _Recorder(model.cfg.f_dim, model.cfg.z_dim)
    x = generate(model, sampler, modality, 3, 4, "static", seed=0, groups=2)
    assert x.shape == (2, 3, 4, 32, 32, 3)
    assert sampler.calls == [("f", 1), ("z", 3, 4)] * 2
    expected = modality.to_frames(
        model.decode(torch.zeros(3, model.cfg.f_dim), torch.zeros(3, 4, model.cfg.z_dim))
    )
    np.testing.assert_array_equal(x[0], expected)
    sampler.calls.clear()
    generate(model, sampler, modality, 3, 4, "dynamic", seed=0)
    assert sampler.calls == [("f", 3), ("z", 1, 4)]
    with pytest.raises(DsaeError, match="fix"):
        generate(model, sampler, modality, 3, 4, "both", seed=0)
    # the model samples its own priors: the same seed gives the same sequences
    a = generate(model, model, modality, 2, 4, "none", seed=3)
    b = generate(model, model, modality, 2, 4, "none", seed=3)
    np.testing.assert_array_equal(a, b)


def test_choose_sampler():
    model, learnt, fitted = object(), object(), object()
    plain = SimpleNamespace(model=model)  # a run without saved samplers
    assert choose_sampler(plain) == ("learnt_prior", model)
    assert choose_sampler(plain, "learnt_prior") == ("learnt_prior", model)
    with pytest.raises(DsaeError, match="no configured sampler"):
        choose_sampler(plain, "configured")
    fitted_run = SimpleNamespace(
        model=model, samplers={"learnt_prior": learnt, "aggregate": fitted}
    )
    assert choose_sampler(fitted_run) == ("aggregate", fitted)
    assert choose_sampler(fitted_run, "configured") == ("aggregate", fitted)
    assert choose_sampler(fitted_run, "learnt_prior") == ("learnt_prior", learnt)
    with pytest.raises(DsaeError, match="unknown sampler"):
        choose_sampler(fitted_run, "posterior")


def test_write_errors_are_user_errors(image_run, tmp_path):
    with pytest.raises(DsaeError, match="--n must be positive"):
        write_generations(image_run, tmp_path / "g", "static", 0, 1, None, 0, 1)
    with pytest.raises(DsaeError, match="no configured sampler"):
        write_generations(
            image_run, tmp_path / "g", "static", 1, 1, None, 0, 1, sampler="configured"
        )
    with pytest.raises(DsaeError, match="not found"):
        write_swaps(tmp_path / "missing", None, tmp_path / "s", 1, "test", 0, 1)
