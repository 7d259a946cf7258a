import dataclasses

import pytest
import torch

from dsae.errors import DsaeError
from dsae.train import train
from dsae.train.checkpoint import load_checkpoint
from dsae.train.warm_start import pick_weights


def _with(cfg, **train_kw):
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **train_kw))


def test_pick_weights_takes_the_named_prefixes_and_checks_them():
    own = {"enc.w": torch.zeros(2), "enc.b": torch.zeros(1), "dec.w": torch.zeros(3)}
    src = {"enc.w": torch.ones(2), "enc.b": torch.ones(1), "dec.w": torch.ones(4)}
    assert set(pick_weights(own, src, ["enc"])) == {"enc.w", "enc.b"}
    assert set(pick_weights(own, src, ["enc.w"])) == {"enc.w"}
    assert set(pick_weights(own, src, [])) == {"enc.w", "enc.b"}  # dec.w's shape differs
    with pytest.raises(DsaeError, match="'en' names no parameter"):
        pick_weights(own, src, ["en"])  # a prefix is a whole name part, not any string start
    with pytest.raises(DsaeError, match=r"'dec.w' is \(4,\) there and \(3,\) here"):
        pick_weights(own, src, ["dec"])
    with pytest.raises(DsaeError, match="no parameter of that run fits"):
        pick_weights(own, {"other": torch.ones(2)}, [])


def test_a_warm_started_run_begins_from_the_other_runs_weights(tmp_path, tiny_config):
    train(tiny_config, tmp_path / "a")
    a = load_checkpoint(tmp_path / "a")["model"]
    # stopped before the first step, a run's checkpoint holds its starting weights
    fresh = _with(tiny_config, seed=5)
    cfg = _with(fresh, init_from=str(tmp_path / "a"), init_params=["frame_encoder"])
    train(cfg, tmp_path / "b", stop_at=0)
    train(fresh, tmp_path / "c", stop_at=0)
    b = load_checkpoint(tmp_path / "b")["model"]
    c = load_checkpoint(tmp_path / "c")["model"]
    taken = [k for k in b if k.startswith("frame_encoder.")]
    assert taken
    for k in b:
        expected = a[k] if k in taken else c[k]  # the rest as a fresh run of that seed
        assert torch.equal(b[k], expected), k
    assert any(not torch.equal(a[k], c[k]) for k in taken)


def test_a_warm_start_from_nothing_is_a_user_error(tmp_path, tiny_config):
    with pytest.raises(DsaeError, match="checkpoint not found"):
        train(_with(tiny_config, init_from=str(tmp_path / "none")), tmp_path / "b")
    assert not (tmp_path / "b").exists()
