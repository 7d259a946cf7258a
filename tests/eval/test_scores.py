"""The numeric core of the protocols (``dsae.eval.scores``) against hand-computed values and
scipy, and the JSON conversion of results."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy

from dsae.eval.evaluate import to_json_safe
from dsae.eval.scores import (
    accuracy,
    balanced_subset,
    compare_predictions,
    disagreement,
    entropy,
    inception_score,
    kl_divergence,
    label_entropies,
    mean_std,
)


# -- the numeric core ----------------------------------------------------------------------
def test_kl_and_entropy_against_hand_values_and_scipy():
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    assert kl_divergence(p, q)[0] == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3))
    rng = np.random.default_rng(0)
    a, b = rng.dirichlet(np.ones(5), 7), rng.dirichlet(np.ones(5), 7)
    np.testing.assert_allclose(kl_divergence(a, b), scipy_entropy(a, b, axis=1), rtol=1e-10)
    np.testing.assert_allclose(entropy(a), scipy_entropy(a, axis=1), rtol=1e-10)
    assert kl_divergence(a, a) == pytest.approx(np.zeros(7), abs=1e-12)
    assert entropy(np.full(6, 1 / 6))[0] == pytest.approx(math.log(6))
    assert entropy(np.eye(3)) == pytest.approx(np.zeros(3))
    # a judge's exact zero gives a large but finite KL
    assert np.isfinite(kl_divergence(np.array([0.5, 0.5]), np.array([1.0, 0.0]))).all()


def test_inception_score_and_label_entropies():
    k = 4
    confident = np.repeat(np.eye(k), 3, axis=0)  # perfectly confident, balanced
    assert inception_score(confident) == pytest.approx(k)
    assert label_entropies(confident) == pytest.approx((0.0, math.log(k)))
    uniform = np.full((12, k), 1 / k)
    assert inception_score(uniform) == pytest.approx(1.0)
    assert label_entropies(uniform) == pytest.approx((math.log(k), math.log(k)))
    collapsed = np.tile(np.eye(k)[0], (12, 1))  # confident but always the same class
    assert inception_score(collapsed) == pytest.approx(1.0)
    assert label_entropies(collapsed) == pytest.approx((0.0, 0.0), abs=1e-12)


def test_disagreement_and_table1_row():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(6), 20)
    assert disagreement(p, p) == 0.0
    assert disagreement(np.eye(3), np.roll(np.eye(3), 1, axis=0)) == 100.0
    row = compare_predictions(p, p)
    assert row["disagreement"] == 0.0 and row["kl_recon"] == pytest.approx(0.0, abs=1e-12)
    expected = np.mean([scipy_entropy(np.full(6, 1 / 6), pi) for pi in p])
    assert row["kl_random"] == pytest.approx(expected)


def test_balanced_subset():
    labels = np.array([0] * 5 + [2] * 2 + [1] * 3 + [3] * 4)
    idx = balanced_subset(labels, np.random.default_rng(0))
    assert np.all(np.diff(idx) > 0)  # sorted, no repeats
    assert np.bincount(labels[idx]).tolist() == [2, 2, 2, 2]
    assert np.array_equal(idx, balanced_subset(labels, np.random.default_rng(0)))
    assert balanced_subset(np.arange(4).repeat(3), np.random.default_rng(0)).size == 12


def test_json_safe_values():
    safe = to_json_safe({"a": np.float32("nan"), "b": [np.int64(3), np.inf], "c": Path("x")})
    assert safe == {"a": None, "b": [3, None], "c": "x"}
    assert type(safe["b"][0]) is int


def test_accuracy_and_mean_std():
    p = np.eye(4)[[0, 1, 2, 3, 0]]
    assert accuracy(p, np.array([0, 1, 2, 3, 1])) == pytest.approx(80.0)
    assert accuracy(p, np.array([[0, 1, 2, 3, 0]])) == 100.0  # labels of any shape, flattened
    assert mean_std([1.0, 3.0]) == {"mean": 2.0, "std": 1.0}  # population std
    assert mean_std([5.0]) == {"mean": 5.0, "std": 0.0}
