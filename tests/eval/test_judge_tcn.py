"""The second judge (family ``tcn``: residual CNN frames, temporal convolutions): the same
interface as the rnn judge, it learns what the rnn judge learns, files name their family
(older files without one are rnn judges), and ``dsae judge train --arch tcn`` works."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from eval_blocks import SIZE, T, assert_same_judge_weights, dsae, write_blocks
from eval_vectors import vector_split

from dsae.data.base import fingerprint, load_meta, load_split, write_dataset_dir
from dsae.data.modality import modality_for
from dsae.errors import DsaeError
from dsae.eval.judge import (
    JUDGE_ARCHS,
    Judge,
    TemporalConvJudge,
    load_judge,
    predict_frame_proba,
    predict_proba,
    save_judge,
)
from dsae.eval.judge_archs import build_judge, judge_from_arch
from dsae.eval.judge_train import train_judge
from dsae.eval.protocols import JudgeClassifier, as_classifier

STATIC, DYNAMIC = {"colour": 3, "shade": 2}, {"action": 4}


@pytest.fixture(scope="module")
def blocks_dir(tmp_path_factory) -> Path:
    return write_blocks(tmp_path_factory.mktemp("tcn") / "blocks")


@pytest.fixture(scope="module")
def trained(blocks_dir) -> tuple[TemporalConvJudge, dict]:
    return train_judge(blocks_dir, epochs=8, batch_size=16, seed=0, progress=False, arch="tcn")


@pytest.fixture(scope="module")
def judge_file(tmp_path_factory, blocks_dir, trained) -> Path:
    judge, info = trained
    out = tmp_path_factory.mktemp("tcn") / "judge.pt"
    return save_judge(out, judge, load_meta(blocks_dir), fingerprint(blocks_dir), info)


def test_registry_names_both_families():
    assert JUDGE_ARCHS == {"rnn": Judge, "tcn": TemporalConvJudge}
    judge = build_judge("tcn", (SIZE, SIZE, 3), STATIC, DYNAMIC)
    assert isinstance(judge, TemporalConvJudge) and judge.arch["family"] == "tcn"
    assert Judge((SIZE, SIZE, 3), STATIC, DYNAMIC).arch["family"] == "rnn"
    with pytest.raises(DsaeError, match="unknown judge architecture 'lstm'"):
        build_judge("lstm", (SIZE, SIZE, 3), STATIC, DYNAMIC)


@pytest.mark.parametrize(
    "frame_shape, image", [((SIZE, SIZE, 3), True), ((20, 24, 1), True), ((12,), False)]
)
def test_shapes_for_image_and_vector_frames(frame_shape, image):
    torch.manual_seed(0)
    judge = TemporalConvJudge(frame_shape, STATIC, DYNAMIC).eval()
    assert judge.is_image == image and judge.frame_shape == frame_shape
    assert judge.factor_names == ["colour", "shade", "action"]
    assert judge.static_names == ["colour", "shade"] and judge.dynamic_names == ["action"]
    assert judge.n_classes == {"colour": 3, "shade": 2, "action": 4}
    model_shape = modality_for(frame_shape).model_shape
    for t in (1, 3, T):  # any sequence length
        x = torch.rand(5, t, *model_shape)
        with torch.no_grad():
            frames, seq = judge.frame_logits(x), judge(x)
        assert {k: tuple(v.shape) for k, v in frames.items()} == {
            "colour": (5, t, 3), "shade": (5, t, 2), "action": (5, t, 4)
        }  # fmt: skip
        for k, v in seq.items():  # a sequence's logits: the average of its frames'
            assert tuple(v.shape) == (5, judge.n_classes[k])
            torch.testing.assert_close(v, frames[k].mean(dim=1))


def test_static_logits_see_only_their_frame_and_dynamic_ones_seven_frames():
    torch.manual_seed(0)
    judge = TemporalConvJudge((SIZE, SIZE, 3), STATIC, DYNAMIC).eval()
    x = torch.rand(2, 10, 3, SIZE, SIZE)
    with torch.no_grad():
        before = judge.frame_logits(x)
        x[:, 2] = 0
        after = judge.frame_logits(x)
    keep = [t for t in range(10) if t != 2]
    for k in ("colour", "shade"):
        torch.testing.assert_close(after[k][:, keep], before[k][:, keep])
    # kernel 3 with dilations 1 and 2: frame 2 reaches frames 0..5 and no further
    changed = (after["action"] - before["action"]).abs().amax(dim=(0, 2))
    assert (changed[:6] > 0).all() and (changed[6:] == 0).all(), changed


def test_tcn_judge_learns_visible_factors(trained):
    judge, info = trained
    assert isinstance(judge, TemporalConvJudge) and not judge.training
    assert info["arch"] == "tcn" and info["steps"] == 8 * (256 // 16)
    assert min(info["test_accuracy"].values()) >= 0.95, info["test_accuracy"]


def test_tcn_judge_learns_vector_frames(tmp_path):
    d = write_dataset_dir(
        tmp_path / "vectors", {"train": vector_split(100, seed=0), "test": vector_split(40, 1)}
    )
    judge, info = train_judge(d, epochs=8, batch_size=16, seed=0, progress=False, arch="tcn")
    assert isinstance(judge, TemporalConvJudge) and not judge.is_image
    assert min(info["test_accuracy"].values()) >= 0.95, info["test_accuracy"]
    x = load_split(d, "test").x[:7]
    assert predict_frame_proba(judge, x, batch_size=4)["speaker"].shape == (7, 5, 4)


def test_save_load_round_trip(trained, judge_file, blocks_dir):
    judge, info = trained
    loaded = load_judge(judge_file)
    assert type(loaded.judge) is TemporalConvJudge and not loaded.judge.training
    assert loaded.judge.arch == judge.arch and loaded.info["arch"] == "tcn"
    x = load_split(blocks_dir, "test").x
    a, b = predict_proba(judge, x), predict_proba(loaded.judge, x)
    for k in judge.factor_names:
        np.testing.assert_array_equal(a[k], b[k])
    # the protocols read it like any judge
    classifier = as_classifier(loaded)
    assert isinstance(classifier, JudgeClassifier)
    np.testing.assert_array_equal(classifier.predict_proba(x)["action"], a["action"])


def rewrite_arch(src: Path, dst: Path, change) -> Path:
    """A copy of a judge file with its arch dict changed by ``change(arch)``."""
    state = torch.load(src, map_location="cpu", weights_only=True)
    change(state["config"]["arch"])
    torch.save(state, dst)
    return dst


def test_old_file_without_family_loads_as_rnn_judge(tmp_path, blocks_dir):
    torch.manual_seed(0)
    judge = Judge((SIZE, SIZE, 3), STATIC, DYNAMIC, channels=[8, 16]).eval()
    new = save_judge(tmp_path / "new.pt", judge, load_meta(blocks_dir), "fp", {})
    old = rewrite_arch(new, tmp_path / "old.pt", lambda arch: arch.pop("family"))
    loaded = load_judge(old)
    assert type(loaded.judge) is Judge and loaded.judge.arch["family"] == "rnn"
    x = load_split(blocks_dir, "test").x[:8]
    a, b = predict_proba(judge, x), predict_proba(loaded.judge, x)
    for k in judge.factor_names:
        np.testing.assert_array_equal(a[k], b[k])
    assert type(judge_from_arch({k: v for k, v in judge.arch.items() if k != "family"})) is Judge


def test_unknown_family_is_a_one_line_user_error(tmp_path, judge_file):
    bad = rewrite_arch(judge_file, tmp_path / "bad.pt", lambda arch: arch.update(family="vit"))
    with pytest.raises(DsaeError, match="unknown architecture 'vit'") as e:
        load_judge(bad)
    assert "\n" not in str(e.value)
    # an unknown family fails before the data is read
    with pytest.raises(DsaeError, match="unknown judge architecture 'vit'"):
        train_judge(tmp_path / "no data", arch="vit", progress=False)


def test_same_seed_same_tcn_judge(tmp_path):
    d = write_blocks(tmp_path / "small", n_train=16, n_test=4)
    a, _ = train_judge(d, epochs=1, batch_size=8, seed=3, progress=False, arch="tcn")
    b, _ = train_judge(d, epochs=1, batch_size=8, seed=3, progress=False, arch="tcn")
    assert_same_judge_weights(a, b)


def test_cli_train_tcn_then_test(tmp_path):
    data = write_blocks(tmp_path / "blocks", n_train=32, n_test=16)
    out = tmp_path / "judge_tcn.pt"
    proc = dsae(
        "judge", "train", "--data", str(data), "--out", str(out), "--arch", "tcn",
        "--epochs", "1", "--batch-size", "16", "--no-progress", "--threads", "1",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "trained a tcn judge" in proc.stdout and "test accuracy" in proc.stdout
    loaded = load_judge(out)
    assert type(loaded.judge) is TemporalConvJudge and loaded.info["arch"] == "tcn"

    proc = dsae("judge", "test", str(out), "--data", str(data), "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert "(tcn judge)" in lines[0]
    rows = dict(line.split() for line in lines[1:])
    assert list(rows) == ["colour", "shade", "action", "min"]
    assert all(0.0 <= float(v) <= 1.0 for v in rows.values())

    proc = dsae("judge", "train", "--data", str(data), "--out", str(out), "--arch", "vit")
    assert proc.returncode == 2 and "invalid choice: 'vit'" in proc.stderr
