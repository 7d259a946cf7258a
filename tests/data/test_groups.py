"""Groupings of sequences (e.g. the recording each segment was cut from) and continuous
per-frame states (e.g. a simulated position) round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dsae.data.base import DatasetMeta, SequenceSplit, load_split, write_dataset_dir
from dsae.errors import DsaeError


def _split(groups: dict[str, np.ndarray], names: list[str]) -> SequenceSplit:
    rng = np.random.default_rng(0)
    meta = DatasetMeta("vec", 5, (3,), {"speaker": 2}, {"digit": 4}, groups=names)
    n = 6
    return SequenceSplit(
        x=rng.normal(size=(n, 5, 3)).astype(np.float32),
        static=rng.integers(0, 2, (n, 1)),
        dynamic={"digit": rng.integers(0, 4, n)},
        meta=meta,
        groups=groups,
    )


def test_groups_round_trip_and_subset(tmp_path):
    utt = np.array([0, 0, 1, 1, 1, 2])
    out = write_dataset_dir(tmp_path / "d", {"train": _split({"utterance": utt}, ["utterance"])})
    back = load_split(out, "train")
    np.testing.assert_array_equal(back.group_ids("utterance"), utt)
    np.testing.assert_array_equal(back.subset(np.array([5, 2])).group_ids("utterance"), [2, 1])
    assert json.loads((out / "meta.json").read_text())["groups"] == ["utterance"]


def test_without_groups_each_sequence_is_its_own_group(tmp_path):
    out = write_dataset_dir(tmp_path / "d", {"train": _split({}, [])})
    assert "groups" not in json.loads((out / "meta.json").read_text())
    np.testing.assert_array_equal(load_split(out, "train").group_ids("utterance"), np.arange(6))


def test_groups_must_match_the_metadata():
    with pytest.raises(DsaeError, match="grouping 'utterance' is missing"):
        _split({}, ["utterance"]).validate()
    with pytest.raises(DsaeError, match="has shape"):
        _split({"utterance": np.zeros(2, np.int64)}, ["utterance"]).validate()
    with pytest.raises(DsaeError, match="not named in the metadata"):
        _split({"utterance": np.zeros(6, np.int64)}, []).validate()


def _with_states(states: dict[str, np.ndarray], names: list[str]) -> SequenceSplit:
    split = _split({}, [])
    split.meta.states = names
    split.states = states
    return split


def test_states_round_trip_and_subset(tmp_path):
    pos = np.random.default_rng(1).normal(size=(6, 5, 2)).astype(np.float32)
    split = _with_states({"position": pos}, ["position"])
    out = write_dataset_dir(tmp_path / "d", {"train": split})
    back = load_split(out, "train")
    assert back.meta.states == ["position"]
    assert back.states["position"].dtype == np.float32
    np.testing.assert_array_equal(back.states["position"], pos)
    np.testing.assert_array_equal(back.subset(np.array([4, 1])).states["position"], pos[[4, 1]])
    assert json.loads((out / "meta.json").read_text())["states"] == ["position"]
    with np.load(out / "train.npz") as z:
        assert "state_position" in z.files


def test_without_states_the_metadata_is_unchanged(tmp_path):
    out = write_dataset_dir(tmp_path / "d", {"train": _split({}, [])})
    assert "states" not in json.loads((out / "meta.json").read_text())
    assert load_split(out, "train").states == {}


def test_states_must_match_the_metadata():
    pos = np.zeros((6, 5, 2), np.float32)
    with pytest.raises(DsaeError, match="state 'position' is missing"):
        _with_states({}, ["position"]).validate()
    with pytest.raises(DsaeError, match="has shape"):
        _with_states({"position": pos[:, :4]}, ["position"]).validate()
    with pytest.raises(DsaeError, match="has shape"):
        _with_states({"position": pos[..., 0]}, ["position"]).validate()
    with pytest.raises(DsaeError, match="expected float"):
        _with_states({"position": pos.astype(np.int64)}, ["position"]).validate()
    bad = pos.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(DsaeError, match="NaN"):
        _with_states({"position": bad}, ["position"]).validate()
    with pytest.raises(DsaeError, match="not named in the metadata"):
        _with_states({"position": pos}, []).validate()
