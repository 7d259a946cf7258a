"""Speaker-verification metrics: EER, ROC, cosine pairs, pooling over utterances, probes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from dsae.errors import DsaeError
from dsae.eval.verification import (
    eer,
    group_labels,
    linear_probe,
    pair_scores,
    pool,
    roc_curve,
    subsample_curve,
    utterance_features,
)
from dsae.models import Encoding


def test_identical_scores_give_half():
    same = np.array([1, 0, 1, 1, 0, 0, 0], bool)
    assert eer(np.full(7, 0.3), same) == 0.5


def test_perfectly_separated_scores_give_zero_and_reversed_give_one():
    rng = np.random.default_rng(0)
    same = rng.random(200) < 0.3
    scores = np.where(same, rng.uniform(0.6, 1.0, 200), rng.uniform(-1.0, 0.5, 200))
    assert eer(scores, same) == 0.0
    assert eer(-scores, same) == 1.0


def test_a_case_computed_by_hand():
    # same-speaker scores {0.9, 0.8, 0.5, 0.4}, different-speaker scores {0.7, 0.3, 0.2}.
    # Accept when score >= threshold; FAR = accepted different / 3, FRR = rejected same / 4:
    #   threshold 0.7: FAR 1/3, FRR 2/4 = 1/2 (FRR - FAR = +1/6)
    #   threshold 0.5: FAR 1/3, FRR 1/4       (FRR - FAR = -1/12)
    # Linear interpolation: w = (1/6) / (1/6 + 1/12) = 2/3 of the way from 0.7 to 0.5, where
    # FAR = 1/3 and FRR = 1/2 - (2/3)(1/4) = 1/3: EER = 1/3.
    scores = [0.9, 0.7, 0.8, 0.3, 0.5, 0.2, 0.4]
    same = [True, False, True, False, True, False, True]
    assert eer(scores, same) == pytest.approx(1 / 3, abs=1e-12)
    # A tie of a same and a different pair: same {0.9, 0.5}, different {0.5, 0.1}.
    # threshold 0.9: FAR 0, FRR 1/2; threshold 0.5: FAR 1/2, FRR 0. Halfway: EER = 1/4.
    assert eer([0.9, 0.5, 0.5, 0.1], [True, True, False, False]) == pytest.approx(0.25)


def test_eer_is_invariant_to_a_monotone_transform():
    rng = np.random.default_rng(1)
    same = rng.random(500) < 0.2
    scores = rng.normal(size=500) + 1.2 * same
    scores[::7] = scores[0]  # some ties
    e = eer(scores, same)
    assert 0.05 < e < 0.6
    assert eer(np.exp(3 * scores) - 5, same) == pytest.approx(e, abs=1e-12)
    assert eer(np.tanh(scores / 4), same) == pytest.approx(e, abs=1e-12)


def test_eer_is_where_far_meets_frr():
    rng = np.random.default_rng(2)
    same = rng.random(4000) < 0.5
    scores = rng.normal(size=4000) + 1.5 * same
    # two unit Gaussians 1.5 apart: EER = Phi(-0.75) = 0.2266
    assert eer(scores, same) == pytest.approx(0.2266, abs=0.02)


def test_roc_endpoints_and_agreement_with_sklearn():
    rng = np.random.default_rng(3)
    same = rng.random(300) < 0.4
    scores = np.round(rng.normal(size=300) + same, 1)  # many ties
    fpr, tpr, thr = roc_curve(scores, same)
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0) and np.all(np.diff(thr) < 0)
    ref_fpr, ref_tpr, ref_thr = skm.roc_curve(same, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, ref_fpr)
    np.testing.assert_allclose(tpr, ref_tpr)
    np.testing.assert_allclose(thr[1:], ref_thr[1:])


def test_subsampled_curve_keeps_its_ends_and_corner():
    fpr = np.r_[np.zeros(500), np.linspace(0, 1, 501)]
    tpr = np.r_[np.linspace(0, 1, 500), np.ones(501)]
    f, t = subsample_curve(fpr, tpr, 101)
    assert len(f) <= 101 and (f[0], t[0]) == (0.0, 0.0) and (f[-1], t[-1]) == (1.0, 1.0)
    assert any(a < 0.02 and b > 0.98 for a, b in zip(f, t, strict=True))
    assert subsample_curve([0, 1], [0, 1]) == ([0.0, 1.0], [0.0, 1.0])


def test_bad_scores_are_one_line_user_errors():
    with pytest.raises(DsaeError, match="no same-speaker pairs"):
        eer([0.1, 0.2], [False, False])
    with pytest.raises(DsaeError, match="no different-speaker pairs"):
        eer([0.1, 0.2], [True, True])
    with pytest.raises(DsaeError, match="NaN"):
        eer([0.1, np.nan], [True, False])
    with pytest.raises(DsaeError, match="3 scores but 2"):
        roc_curve([0.1, 0.2, 0.3], [True, False])


def test_pair_scores_are_cosines_of_every_pair():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(6, 3))
    labels = np.array([0, 1, 0, 2, 1, 0])
    scores, same = pair_scores(x, labels)
    assert scores.shape == same.shape == (15,)
    k = 0
    for i in range(6):
        for j in range(i + 1, 6):
            cos = x[i] @ x[j] / np.linalg.norm(x[i]) / np.linalg.norm(x[j])
            assert scores[k] == pytest.approx(cos)
            assert same[k] == (labels[i] == labels[j])
            k += 1
    zero, _ = pair_scores(np.r_[np.zeros((1, 3)), x[:2]], [0, 0, 1])
    assert zero[0] == 0.0 and zero[1] == 0.0
    with pytest.raises(DsaeError, match="NaN"):
        pair_scores(np.full((3, 2), np.nan), [0, 1, 2])
    both, same2 = pair_scores(x, np.stack([labels, labels % 2], axis=1))
    np.testing.assert_array_equal(both, scores)
    np.testing.assert_array_equal(same2[:, 0], same)
    assert same2[:, 1].sum() == 7  # labels % 2 = [0, 1, 0, 0, 1, 0]: C(4, 2) + C(2, 2) pairs
    with pytest.raises(DsaeError, match="3 feature rows but labels of shape"):
        pair_scores(x[:3], [0, 1])
    with pytest.raises(DsaeError, match="at least 2"):
        pair_scores(x[:1], [0])


def test_pool_against_a_loop():
    rng = np.random.default_rng(5)
    values = rng.normal(size=(40, 3, 2))
    groups = rng.choice([7, 3, 11, 42], size=40)
    pooled, ids = pool(values, groups)
    assert ids.tolist() == [3, 7, 11, 42]
    for g, row in zip(ids, pooled, strict=True):
        np.testing.assert_allclose(row, values[groups == g].mean(axis=0))
    one, ids1 = pool(np.arange(5.0), np.arange(5))  # every row its own group
    np.testing.assert_array_equal(one, np.arange(5.0))
    with pytest.raises(DsaeError, match="rows but"):
        pool(values, groups[:-1])


def test_group_labels_of_constant_and_varying_labels():
    groups = np.array([5, 1, 5, 1, 9])
    assert group_labels([2, 0, 2, 0, 4], groups).tolist() == [0, 2, 4]
    assert group_labels([2, 0, 3, 0, 4], groups) is None


def test_utterance_features_follow_the_paper():
    rng = np.random.default_rng(6)
    n, t = 9, 5
    f = torch.tensor(rng.normal(size=(n, 4)), dtype=torch.float32)
    z = torch.tensor(rng.normal(size=(n, t, 3)), dtype=torch.float32)
    enc = Encoding(f, torch.zeros_like(f), z, torch.zeros_like(z))
    groups = np.array([2, 0, 2, 1, 0, 2, 1, 1, 0])
    out = utterance_features(enc, groups)
    assert out["mu_f"].shape == (3, 4) and out["mu_z"].shape == (3, 3)
    for g in range(3):
        rows = np.flatnonzero(groups == g)
        big_n = rows.size
        mu_f = sum(f[r].double().numpy() for r in rows) / big_n
        mu_z = sum(z[r, s].double().numpy() for r in rows for s in range(t)) / (t * big_n)
        np.testing.assert_allclose(out["mu_f"][g], mu_f, atol=1e-12)
        np.testing.assert_allclose(out["mu_z"][g], mu_z, atol=1e-12)


def test_linear_probe_reads_a_linear_code_and_not_noise():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 4, 400)
    code = np.eye(4)[y] * 3 + rng.normal(scale=0.3, size=(400, 4))
    noise = rng.normal(size=(400, 4))
    assert linear_probe(code[:300], y[:300], code[300:], y[300:]) > 0.95
    assert linear_probe(noise[:300], y[:300], noise[300:], y[300:]) < 0.45
    assert linear_probe(code[:5], np.zeros(5), code[5:9], np.array([0, 0, 1, 0])) == 0.75
