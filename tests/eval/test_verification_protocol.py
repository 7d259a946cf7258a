"""The verification protocol on a tiny speech-like vector dataset: an ideal representation
verifies speakers with mu_f and not with mu_z, and probes read each factor from its own code."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from eval_coded import LabelCodec, balanced_labels, coded_split
from eval_vectors import IdealCodec, RandomCodec, SwappedCodec, vector_split

from dsae.errors import DsaeError
from dsae.eval import evaluate
from dsae.eval.protocols import verification_protocol
from dsae.eval.text import format_verification

KEYS = {
    "grouping", "n_groups", "n_test_groups", "n_pairs", "eer", "dims", "probe", "probe_chance",
    "probe_fit", "roc", "notes",
}  # fmt: skip


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def splits():
    return vector_split(120, seed=1), vector_split(60, seed=2)  # (train, test)


def test_ideal_representation_verifies_with_mu_f_only(splits):
    train, test = splits
    out = verification_protocol(IdealCodec(), test, seed=0, train=train)
    assert set(out) == KEYS
    assert out["grouping"] == "utterance"
    assert out["n_groups"] == out["n_test_groups"] == 60 and out["n_pairs"] == 60 * 59 // 2
    assert out["dims"] == {"mu_f": 4, "mu_z": 3}
    assert out["eer"]["speaker"]["mu_f"] < 0.01
    assert 0.35 < out["eer"]["speaker"]["mu_z"] < 0.65
    probe = out["probe"]
    assert probe["speaker"]["mu_f"] > 0.95 and probe["digit"]["mu_z"] > 0.95
    assert probe["speaker"]["mu_z"] < 0.6 and probe["digit"]["mu_f"] < 0.6
    assert out["probe_fit"] == {"on": "training split", "n_fit": 120, "n_test": 60}
    assert set(out["probe_chance"]) == {"speaker", "digit"}
    for feature in ("mu_f", "mu_z"):
        curve = out["roc"]["speaker"][feature]
        assert 2 <= len(curve["fpr"]) == len(curve["tpr"]) <= 101
        assert (curve["fpr"][0], curve["tpr"][0]) == (0.0, 0.0)
        assert (curve["fpr"][-1], curve["tpr"][-1]) == (1.0, 1.0)
    assert out["notes"] == []
    assert json.loads(json.dumps(out)) == out  # plain JSON already


def test_swapped_and_random_representations(splits):
    train, test = splits
    swapped = verification_protocol(SwappedCodec(), test, seed=0, train=train)
    assert swapped["eer"]["speaker"]["mu_z"] < 0.01 < 0.35 < swapped["eer"]["speaker"]["mu_f"]
    assert swapped["probe"]["speaker"]["mu_z"] > 0.95 and swapped["probe"]["digit"]["mu_f"] > 0.95
    rand = verification_protocol(RandomCodec(), test, seed=0, train=train)
    for feature in ("mu_f", "mu_z"):
        assert 0.35 < rand["eer"]["speaker"][feature] < 0.65
        assert rand["probe"]["speaker"][feature] < 0.6


def test_without_utterances_or_training_split():
    test = vector_split(80, seed=3, segments=1, grouped=False)
    out = verification_protocol(IdealCodec(), test, seed=0, max_groups=30)
    assert out["grouping"] == "sequence" and out["n_groups"] == 80
    assert out["n_test_groups"] == 30 and out["n_pairs"] == 435
    assert out["notes"] == ["pairs from a seeded choice of 30 of the 80 test utterances"]
    assert out["probe_fit"] == {"on": "half of the test utterances", "n_fit": 40, "n_test": 40}
    assert out["eer"]["speaker"]["mu_f"] < 0.01 and out["probe"]["digit"]["mu_z"] > 0.9
    again = verification_protocol(IdealCodec(), test, seed=0, max_groups=30)
    assert again == out
    other = verification_protocol(IdealCodec(), test, seed=1, max_groups=30)
    assert other["roc"] != out["roc"]


def test_every_static_factor_is_scored_as_on_sprites():
    split = coded_split(*balanced_labels(6, seed=1), seed=1)  # colour, shape; action
    out = verification_protocol(LabelCodec(), split, seed=0)
    assert set(out["eer"]) == {"colour", "shape"} and set(out["probe"]) == {
        "colour",
        "shape",
        "action",
    }
    # f holds one level per static factor: same-colour pairs are not always the most alike
    assert all(0.0 <= v <= 1.0 for r in out["eer"].values() for v in r.values())


def test_labels_that_vary_within_an_utterance_are_left_out(splits):
    train, test = splits
    test = vector_split(20, seed=4)
    test.dynamic["digit"] = np.arange(len(test)) % 3  # a digit per segment, not per utterance
    out = verification_protocol(IdealCodec(), test, seed=0, train=train)
    assert set(out["probe"]) == {"speaker"}
    assert any("digit" in n and "varies" in n for n in out["notes"])


def test_bad_inputs_are_user_errors(splits):
    _, test = splits
    no_static = vector_split(10, seed=5)
    no_static.meta.static_factors.clear()
    no_static.static = no_static.static[:, :0]
    with pytest.raises(DsaeError, match="static factor"):
        verification_protocol(IdealCodec(), no_static)
    with pytest.raises(DsaeError, match="at least 2"):
        verification_protocol(IdealCodec(), test, max_groups=1)
    with pytest.raises(DsaeError, match="do not match"):
        verification_protocol(LabelCodec(), test)
    one = verification_protocol(IdealCodec(), vector_split(1, seed=6))  # a lone utterance
    assert one["eer"] == {} and one["probe"] == {} and one["n_pairs"] == 0
    assert any("no pairs of one kind" in n for n in one["notes"])
    assert "too few utterances to fit and score probes" in one["notes"]


def test_evaluate_runs_it_with_the_training_split(splits):
    train, test = splits
    loads = []

    def load_train():
        loads.append(1)
        return train

    out = evaluate(IdealCodec(), test, samplers={}, train=load_train)
    assert loads == [1] and "verification" in out and "verification" in out["timing"]
    assert out["verification"]["probe_fit"]["on"] == "training split"
    text = format_verification(out["verification"])
    assert text.startswith("verification (60 utterances, 1770 pairs): EER speaker mu_f ")
    assert "probe" in text and "digit from mu_z" in text and "speaker from mu_f" in text
    skipped = evaluate(
        IdealCodec(), test, samplers={}, protocols=["reconstruction"], train=load_train
    )
    assert loads == [1] and skipped["skipped"]["verification"] == "not asked for"
