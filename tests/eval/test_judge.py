"""Judges: they learn trivially visible factors, predict proper distributions, round-trip
through files, refuse foreign data, and work from the command line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from eval_blocks import SIZE, T, assert_same_judge_weights, blocks_split, dsae, write_blocks
from eval_vectors import vector_split

from dsae.data.base import DatasetMeta, SequenceSplit, fingerprint, load_split, write_dataset_dir
from dsae.data.modality import modality_for
from dsae.errors import DsaeError
from dsae.eval.judge import (
    Judge,
    check_judge_matches,
    evaluate_judge,
    load_judge,
    predict_frame_proba,
    predict_proba,
    save_judge,
)
from dsae.eval.judge_train import train_judge
from dsae.train.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def blocks_dir(tmp_path_factory) -> Path:
    return write_blocks(tmp_path_factory.mktemp("judge") / "blocks")


@pytest.fixture(scope="module")
def trained(blocks_dir) -> tuple[Judge, dict]:
    return train_judge(blocks_dir, epochs=10, batch_size=16, seed=0, progress=False)


@pytest.fixture(scope="module")
def judge_file(tmp_path_factory, blocks_dir, trained) -> Path:
    judge, info = trained
    out = tmp_path_factory.mktemp("judge") / "judge.pt"
    split = load_split(blocks_dir, "train")
    return save_judge(out, judge, split.meta, fingerprint(blocks_dir), info)


def test_judge_learns_visible_factors(trained):
    judge, info = trained
    assert judge.factor_names == ["colour", "shade", "action"]
    assert judge.n_classes == {"colour": 3, "shade": 2, "action": 4}
    assert set(info["test_accuracy"]) == {"colour", "shade", "action"}
    assert min(info["test_accuracy"].values()) >= 0.97, info["test_accuracy"]
    assert info["train_time_s"] > 0 and info["steps"] == 10 * (256 // 16)
    assert not judge.training


def test_probabilities_and_shapes(trained, blocks_dir):
    judge, _ = trained
    x = load_split(blocks_dir, "test").x[:10]
    probs = predict_proba(judge, x, batch_size=4)
    frames = predict_frame_proba(judge, x, batch_size=4)
    for k, n in judge.n_classes.items():
        assert probs[k].shape == (10, n)
        assert frames[k].shape == (10, T, n)
        np.testing.assert_allclose(probs[k].sum(-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(frames[k].sum(-1), 1.0, atol=1e-5)
        assert (probs[k] >= 0).all() and (frames[k] >= 0).all()
    assert not judge.training

    with torch.no_grad():
        seq = judge(modality_for(x.shape[2:]).to_tensor(x))
        per_frame = judge.frame_logits(
            modality_for(x.shape[2:]).to_tensor(x[:, :3])
        )  # any sequence length
    assert {k: tuple(v.shape) for k, v in seq.items()} == {
        k: (10, n) for k, n in judge.n_classes.items()
    }
    assert {k: tuple(v.shape) for k, v in per_frame.items()} == {
        k: (10, 3, n) for k, n in judge.n_classes.items()
    }
    assert predict_proba(judge, x[:0])["colour"].shape == (0, 3)


def test_static_frame_predictions_see_only_their_frame(trained, blocks_dir):
    judge, _ = trained
    x = load_split(blocks_dir, "test").x[:4].copy()
    before = predict_frame_proba(judge, x)
    x[:, 2] = 0
    after = predict_frame_proba(judge, x)
    keep = [t for t in range(T) if t != 2]
    for k in ("colour", "shade"):
        np.testing.assert_allclose(after[k][:, keep], before[k][:, keep], atol=1e-6)
        assert not np.allclose(after[k][:, 2], before[k][:, 2])


def test_per_frame_labels_are_scored_per_frame(trained, blocks_dir):
    judge, info = trained
    s = load_split(blocks_dir, "test")
    per_frame = SequenceSplit(
        s.x, s.static, {"action": np.repeat(s.dynamic["action"][:, None], T, 1)}, s.meta
    )
    pred = predict_frame_proba(judge, s.x)["action"].argmax(-1)
    acc = evaluate_judge(judge, per_frame)
    assert acc["action"] == pytest.approx(float((pred == per_frame.dynamic["action"]).mean()))
    assert acc["colour"] == pytest.approx(info["test_accuracy"]["colour"])


def test_save_load_round_trip(trained, judge_file, blocks_dir):
    judge, info = trained
    loaded = load_judge(judge_file)
    assert loaded.fingerprint == fingerprint(blocks_dir)
    assert loaded.meta.static_factors == {"colour": 3, "shade": 2}
    assert loaded.info["test_accuracy"] == info["test_accuracy"]
    assert not loaded.judge.training
    x = load_split(blocks_dir, "test").x
    a, b = predict_proba(judge, x), predict_proba(loaded.judge, x)
    for k in judge.factor_names:
        np.testing.assert_array_equal(a[k], b[k])
    check_judge_matches(loaded, blocks_dir)  # its own data is accepted


def test_bad_files_are_user_errors(tmp_path, judge_file):
    with pytest.raises(DsaeError, match="not found"):
        load_judge(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(judge_file.read_bytes()[:500])
    with pytest.raises(DsaeError, match="corrupt"):
        load_judge(corrupt)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(DsaeError):
        load_judge(garbage)
    model_ckpt = tmp_path / "checkpoint.pt"
    save_checkpoint(model_ckpt, {"model": {}, "config": {"model": {}}})
    with pytest.raises(DsaeError, match="not a judge"):
        load_judge(model_ckpt)


def test_refuses_other_data(tmp_path, judge_file, trained):
    loaded = load_judge(judge_file)
    other = write_blocks(tmp_path / "other", seed=5, n_train=16, n_test=8)
    with pytest.raises(DsaeError, match="another dataset"):
        check_judge_matches(loaded, other)
    judge, _ = trained
    s = blocks_split(4, seed=0)
    s.meta = DatasetMeta("blocks", T, (SIZE, SIZE, 3), {"colour": 3, "size": 2}, {"action": 4})
    with pytest.raises(DsaeError, match="factors"):
        evaluate_judge(judge, s)
    with pytest.raises(DsaeError, match="expects"):
        predict_proba(judge, np.zeros((2, T, 8, 8, 3), np.uint8))


def test_same_seed_same_judge(tmp_path):
    d = write_blocks(tmp_path / "small", n_train=16, n_test=4)
    a, _ = train_judge(d, epochs=1, batch_size=8, seed=3, progress=False)
    b, _ = train_judge(d, epochs=1, batch_size=8, seed=3, progress=False)
    assert_same_judge_weights(a, b)


def assert_user_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dsae: error:"), proc.stderr
    assert fragment in lines[0], lines[0]


def test_cli_train_then_test(tmp_path, blocks_dir):
    out = tmp_path / "j" / "judge.pt"
    proc = dsae(
        "judge", "train", "--data", str(blocks_dir), "--out", str(out),
        "--epochs", "10", "--seed", "0", "--no-progress", "--threads", "1",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
    assert "test accuracy" in proc.stdout and "action" in proc.stdout

    proc = dsae("judge", "test", str(out), "--data", str(blocks_dir), "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    rows = dict(line.split() for line in proc.stdout.strip().splitlines()[1:])
    assert list(rows) == ["colour", "shade", "action", "min"]
    assert float(rows["min"]) == min(float(rows[k]) for k in ("colour", "shade", "action"))
    assert float(rows["min"]) >= 0.97

    other = write_blocks(tmp_path / "other", seed=7, n_train=16, n_test=8)
    assert_user_error(dsae("judge", "test", str(out), "--data", str(other)), "another dataset")


def test_cli_user_errors(tmp_path, blocks_dir):
    missing = tmp_path / "nope.pt"
    assert_user_error(dsae("judge", "test", str(missing), "--data", str(blocks_dir)), "not found")
    assert_user_error(
        dsae("judge", "train", "--data", str(tmp_path / "nodata"), "--out", str(missing)),
        "no dataset",
    )


# -- vector frames (spectra): an MLP frame encoder -----------------------------------------
@pytest.fixture(scope="module")
def vectors_dir(tmp_path_factory) -> Path:
    # a speaker as a fixed offset pattern in every frame, a digit as a per-utterance pattern
    train, test = vector_split(100, seed=0), vector_split(40, seed=1)
    return write_dataset_dir(
        tmp_path_factory.mktemp("judge") / "vectors", {"train": train, "test": test}
    )


def test_judge_learns_vector_frames(vectors_dir):
    judge, info = train_judge(vectors_dir, epochs=8, batch_size=16, seed=0, progress=False)
    assert judge.factor_names == ["speaker", "digit"] and not judge.is_image
    assert info["n_train"] == 300 and info["n_test"] == 120
    assert min(info["test_accuracy"].values()) >= 0.95, info["test_accuracy"]
    x = load_split(vectors_dir, "test").x[:7]
    assert predict_proba(judge, x, batch_size=4)["digit"].shape == (7, 3)
    assert predict_frame_proba(judge, x, batch_size=4)["speaker"].shape == (7, 5, 4)


def test_cli_judge_on_vector_frames(tmp_path, vectors_dir):
    out = tmp_path / "judge.pt"
    proc = dsae(
        "judge", "train", "--data", str(vectors_dir), "--out", str(out),
        "--epochs", "8", "--seed", "0", "--no-progress", "--threads", "1",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    proc = dsae("judge", "test", str(out), "--data", str(vectors_dir), "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    rows = dict(line.split() for line in proc.stdout.strip().splitlines()[1:])
    assert list(rows) == ["speaker", "digit", "min"] and float(rows["min"]) >= 0.95
