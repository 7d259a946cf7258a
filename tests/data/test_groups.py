"""Groupings of sequences (e.g. the recording each segment was cut from) round-trip."""

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
