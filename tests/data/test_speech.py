"""build_speech_dataset on synthetic utterances: features, normalisation fitted on the
training frames only, segments, labels, groups and metadata."""

from __future__ import annotations

import numpy as np
import pytest

from dsae.data.audio import FSDD_SPECTRUM, SpeechFeatures, log_spectrum, segment_starts
from dsae.data.base import load_meta, load_split
from dsae.data.speech import Utterance, build_speech_dataset
from dsae.errors import DsaeError


def tone(f0: float, seconds: float, sr: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.2 * np.sin(2 * np.pi * f0 * t) + 0.1 * np.sin(4 * np.pi * f0 * t)).astype(np.float32)


def utterances() -> list[Utterance]:
    return [
        Utterance("ann_a_0", tone(220, 0.5), 8000, "ann", "a", "train", "female"),
        Utterance("bob_b_0", tone(110, 0.35), 8000, "bob", "b", "train", "male"),
        Utterance("bob_a_1", tone(115, 0.1), 8000, "bob", "a", "train", "male"),  # < 1 segment
        Utterance("ann_b_1", tone(230, 0.3, sr=16000), 16000, "ann", "b", "test", "female"),
        Utterance("bob_a_2", tone(105, 0.6), 8000, "bob", "a", "test", "male"),
    ]


@pytest.fixture
def built(tmp_path):
    return build_speech_dataset(
        utterances(), tmp_path / "speech", "synthetic", FSDD_SPECTRUM, "word", {"x": 1}, False
    )


def test_segments_labels_groups_and_metadata(built):
    meta = load_meta(built)
    assert meta.seq_len == 20 and meta.frame_shape == (200,)
    assert meta.static_factors == {"speaker": 2} and meta.dynamic_factors == {"word": 2}
    assert meta.groups == ["utterance"]
    assert meta.info["x"] == 1
    assert meta.info["classes"] == {"speaker": ["ann", "bob"], "word": ["a", "b"]}
    assert meta.info["speaker_sex"] == {"ann": "female", "bob": "male"}
    assert meta.info["utterances"] == {
        "train": ["ann_a_0", "bob_b_0", "bob_a_1"],
        "test": ["ann_b_1", "bob_a_2"],
    }
    train, test = load_split(built, "train"), load_split(built, "test")
    # frames: 1 + samples // 80, the 0.1 s one padded to 20; segments every 10, the last at the end
    counts = [len(segment_starts(f, 20, 10)) for f in (51, 36, 20)]
    assert counts == [5, 3, 1] and len(train) == 9
    np.testing.assert_array_equal(train.group_ids("utterance"), np.repeat([0, 1, 2], counts))
    np.testing.assert_array_equal(train.static[:, 0], np.repeat([0, 1, 1], counts))
    np.testing.assert_array_equal(train.dynamic["word"], np.repeat([0, 1, 0], counts))
    assert len(test) == 3 + 6  # the 16 kHz utterance is resampled to 8 kHz: 31 frames
    np.testing.assert_array_equal(test.group_ids("utterance"), np.repeat([0, 1], [3, 6]))
    assert train.x.dtype == np.float32 and train.x.shape[1:] == (20, 200)


def test_normalisation_is_fitted_on_training_frames_only(built):
    feats = SpeechFeatures.from_meta(load_meta(built))
    train_waves = [u.wave for u in utterances() if u.split == "train"]
    padded = [np.pad(w, (0, max(0, 19 * 80 - len(w)))) for w in train_waves]
    frames = np.concatenate([log_spectrum(w, FSDD_SPECTRUM) for w in padded]).astype(np.float64)
    np.testing.assert_allclose(feats.mean, frames.mean(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(feats.std, np.maximum(frames.std(axis=0), 1e-3), rtol=1e-4)
    # the stored segments are the features' own segments of each utterance
    train = load_split(built, "train")
    np.testing.assert_array_equal(train.x[:5], feats.segments(train_waves[0]))


def test_the_same_utterances_give_identical_files(built, tmp_path):
    again = build_speech_dataset(
        utterances(), tmp_path / "again", "synthetic", FSDD_SPECTRUM, "word", {"x": 1}, False
    )
    for name in ("train.npz", "test.npz", "meta.json"):
        assert (built / name).read_bytes() == (again / name).read_bytes()


def test_given_classes_fix_the_order(tmp_path):
    out = build_speech_dataset(
        utterances(), tmp_path / "d", "s", FSDD_SPECTRUM, "word", progress=False,
        classes={"speaker": ["bob", "ann", "cat"], "word": ["b", "a"]},
    )  # fmt: skip
    meta = load_meta(out)
    assert meta.static_factors == {"speaker": 3}
    assert load_split(out, "train").static[0, 0] == 1  # ann


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda us: us[0].__setattr__("split", "valid"), "split 'valid'"),
        (lambda us: us[1].__setattr__("name", "ann_a_0"), "occurs twice"),
        (lambda us: us[1].__setattr__("sex", "female"), "both female and male"),
        (lambda us: [u.__setattr__("split", "train") for u in us], "no utterances in the test"),
    ],
)
def test_bad_utterances_are_refused_with_nothing_written(tmp_path, change, message):
    us = utterances()
    change(us)
    with pytest.raises(DsaeError, match=message):
        build_speech_dataset(us, tmp_path / "d", "s", FSDD_SPECTRUM, "word", progress=False)
    assert not (tmp_path / "d").exists()


def test_a_label_outside_the_given_classes_is_refused(tmp_path):
    with pytest.raises(DsaeError, match=r"word labels \['b'\]"):
        build_speech_dataset(
            utterances(), tmp_path / "d", "s", FSDD_SPECTRUM, "word", progress=False,
            classes={"word": ["a"]},
        )  # fmt: skip
