"""Speaker verification as in Li & Mandt (2018), Sec. 4.2 (after Hsu et al. 2017): pure
functions of features and labels.

A claimed identity is accepted when the cosine similarity of two utterances' features is at
least a threshold; sweeping the threshold trades false acceptances (pairs of different
speakers accepted) against false rejections (pairs of one speaker rejected). The equal error
rate (EER) is where the two rates meet.

An utterance of N segments x^(n)_1:T has two features (the paper's equations):
``mu_f = 1/N sum_n E_q(f^n | x^n)[f^n]`` and ``mu_z = 1/(TN) sum_n sum_t E_q(z_t^n | x^n)[z_t^n]``.

Definitions:

- ROC: one point per distinct score (accept when score >= threshold), from (0, 0) (threshold
  +inf) to (1, 1) (the lowest score); tied scores move both rates at once.
- EER: the point where the ROC's piecewise-linear curve crosses FAR = FRR (FAR = false
  positive rate, FRR = 1 - true positive rate), interpolated linearly between the two
  thresholds around the crossing. Identical scores give exactly 0.5, perfectly separated
  ones 0 and perfectly reversed ones 1. It depends on the order of the scores only.
- Linear probe: a logistic regression on standardised features, fitted on one set of
  utterances and scored (accuracy) on another.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dsae.errors import DsaeError

__all__ = [
    "eer",
    "eer_from_roc",
    "group_labels",
    "linear_probe",
    "pair_scores",
    "pool",
    "roc_curve",
    "subsample_curve",
    "utterance_features",
]

_NORM_FLOOR = 1e-12  # a zero feature vector has cosine 0 with everything


def _check_scores(scores: Any, same: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(same).reshape(-1)
    if s.shape != y.shape:
        raise DsaeError(f"{s.size} scores but {y.size} same/different labels")
    if not np.all(np.isfinite(s)):
        raise DsaeError("verification scores contain NaN or infinite values")
    y = y.astype(bool)
    if not y.any() or y.all():
        kind = "same-speaker" if not y.any() else "different-speaker"
        raise DsaeError(f"verification needs pairs of both kinds, and there are no {kind} pairs")
    return s, y


def roc_curve(scores: Any, same: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rates, true positive rates, thresholds), thresholds decreasing from
    +inf: one point per distinct score, from (0, 0) to (1, 1). Fastest on scores already
    sorted in decreasing order (as :func:`pair_scores`' callers may keep them)."""
    s, y = _check_scores(scores, same)
    order = np.argsort(-s, kind="stable")  # fast on sorted scores
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]  # last index of each distinct score
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    fpr = np.r_[0.0, fp / (~y).sum()]
    tpr = np.r_[0.0, tp / y.sum()]
    return fpr, tpr, np.r_[np.inf, s[last]]


def eer(scores: Any, same: Any) -> float:
    """Equal error rate in [0, 1]: where false acceptance and false rejection rates meet.

    ``scores`` (P,) higher means more alike; ``same`` (P,) whether each pair shares a label.
    """
    fpr, tpr, _ = roc_curve(scores, same)
    return eer_from_roc(fpr, tpr)


def eer_from_roc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """The equal error rate of a ROC curve from :func:`roc_curve` (from (0, 0) to (1, 1))."""
    gap = (1.0 - tpr) - fpr  # FRR - FAR: 1 at (0, 0), falls to -1 at (1, 1)
    k = int(np.argmax(gap <= 0))  # first point at or past the crossing (k >= 1)
    w = gap[k - 1] / (gap[k - 1] - gap[k])
    return float(fpr[k - 1] + w * (fpr[k] - fpr[k - 1]))


def subsample_curve(fpr: np.ndarray, tpr: np.ndarray, n: int = 101) -> tuple[list, list]:
    """At most ``n`` points of a curve, evenly spaced along its length (ends kept), as lists."""
    fpr, tpr = np.asarray(fpr, np.float64), np.asarray(tpr, np.float64)
    if fpr.size <= n:
        return fpr.tolist(), tpr.tolist()
    arc = np.r_[0.0, np.cumsum(np.hypot(np.diff(fpr), np.diff(tpr)))]
    idx = np.searchsorted(arc, np.linspace(0.0, arc[-1], n))
    idx = np.unique(np.clip(idx, 0, fpr.size - 1))
    idx[0], idx[-1] = 0, fpr.size - 1
    return fpr[idx].tolist(), tpr[idx].tolist()


def pair_scores(features: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity of every pair i < j of rows of ``features`` (G, D), and whether
    their ``labels`` (G,) are equal: ((P,), (P,)) with P = G (G - 1) / 2, row-major pairs.
    Labels (G, K) of K factors give (P, K), one column per factor."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2:
        raise DsaeError(f"features have shape {x.shape}, expected (groups, dims)")
    if y.ndim not in (1, 2) or x.shape[0] != y.shape[0]:
        raise DsaeError(f"{x.shape[0]} feature rows but labels of shape {y.shape}")
    if x.shape[0] < 2:
        raise DsaeError(f"verification needs at least 2 utterances, got {x.shape[0]}")
    if not np.all(np.isfinite(x)):
        raise DsaeError("features contain NaN or infinite values")
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), _NORM_FLOOR)
    i, j = np.triu_indices(x.shape[0], k=1)
    cos = unit @ unit.T
    return np.clip(cos[i, j], -1.0, 1.0), y[i] == y[j]


def pool(values: Any, groups: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``values`` (N, ...) over the rows of each group: ((G, ...), sorted group ids (G,))."""
    v = np.asarray(values, dtype=np.float64)
    g = np.asarray(groups).reshape(-1)
    if v.ndim == 0 or v.shape[0] != g.size:
        raise DsaeError(f"{v.shape[0] if v.ndim else 0} rows but {g.size} group ids")
    if g.size == 0:
        raise DsaeError("nothing to pool: no rows")
    ids, inverse = np.unique(g, return_inverse=True)
    sums = np.zeros((ids.size, *v.shape[1:]))
    np.add.at(sums, inverse, v)
    counts = np.bincount(inverse, minlength=ids.size).reshape(-1, *([1] * (v.ndim - 1)))
    return sums / counts, ids


def group_labels(labels: Any, groups: Any) -> np.ndarray | None:
    """The label of each group (G,), in the order of :func:`pool`; None when a label varies
    within some group."""
    y = np.asarray(labels).reshape(-1)
    g = np.asarray(groups).reshape(-1)
    if y.size != g.size:
        raise DsaeError(f"{y.size} labels but {g.size} group ids")
    ids, first, inverse = np.unique(g, return_index=True, return_inverse=True)
    out = y[first]
    return out if np.array_equal(out[inverse], y) else None


def utterance_features(encoding: Any, groups: Any) -> dict[str, np.ndarray]:
    """The paper's mu_f (G, f_dim) and mu_z (G, z_dim) of every group of segments.

    ``encoding``: posterior means ``f_mean`` (N, f_dim) and ``z_mean`` (N, T, z_dim) (tensors
    or arrays); ``groups`` (N,) the utterance of each segment. Groups in sorted id order.
    """
    f = np.asarray(encoding.f_mean, dtype=np.float64)
    z = np.asarray(encoding.z_mean, dtype=np.float64)
    if f.ndim != 2 or z.ndim != 3 or f.shape[0] != z.shape[0]:
        raise DsaeError(f"posterior means of shapes {f.shape} and {z.shape} do not match")
    # every segment has T steps, so the mean over segments of the time-means is 1/(TN) sum
    mu_f, _ = pool(f, groups)
    mu_z, _ = pool(z.mean(axis=1), groups)
    return {"mu_f": mu_f, "mu_z": mu_z}


def linear_probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    seed: int = 0,
    max_iter: int = 2000,
) -> float:
    """Test accuracy in [0, 1] of a logistic regression on standardised features, fitted on
    (train_x, train_y); one class alone in training predicts that class."""
    if len(train_y) == 0 or len(test_y) == 0:
        raise DsaeError("a linear probe needs training and test rows")
    classes = np.unique(train_y)
    if classes.size == 1:
        return float(np.mean(np.asarray(test_y) == classes[0]))
    model = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=max_iter, random_state=seed)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(np.asarray(train_x, np.float64), np.asarray(train_y))
    return float(np.mean(model.predict(np.asarray(test_x, np.float64)) == np.asarray(test_y)))
