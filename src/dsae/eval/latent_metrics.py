"""Latent disentanglement metrics: pure functions of (codes, factors, rng) returning dicts.

MIG lives in :mod:`dsae.eval.latent_mig`, the input checks in :mod:`dsae.eval.latent_common`
(both re-exported here) and the report over f and z_1:T in :mod:`dsae.eval.latent_summary`.

Every metric takes codes ``(N, D)`` float, factors ``(N, K)`` integer labels and a
``numpy.random.Generator``; it returns a dict of plain Python floats (JSON-ready). The numeric
core of each metric (entropies, mutual information, score matrices, vote counting) is a
separate function that the tests check against independent sources.

Definitions and where dsae departs from the papers or from disentanglement_lib:

- DCI (Eastwood & Williams, 2018): importance matrix R (D, K) from extremely randomised trees
  (``ExtraTreesClassifier``, ``max_features=None``) instead of disentanglement_lib's gradient
  boosted trees (too slow for D=256) or the paper's random forest. Every split sees every
  code dimension, so impurity importance does not leak to noise dimensions the way a random
  forest's ``sqrt`` feature subsampling does; random thresholds keep it fast. Informativeness
  is the trees' classification accuracy (train and held-out), averaged over factors.
- MIG (Chen et al., 2018): codes discretised into ``n_bins`` equal-width bins per dimension
  (as disentanglement_lib), ``MIG = mean_k (I_(1) - I_(2)) / H(v_k)`` in nats.
- SAP (Kumar et al., 2018), classification version: score ``S_dk`` is the held-out accuracy
  of a 1-D classifier on dimension d alone (Gaussian class-conditional, i.e. fitted
  thresholds; closed form, so all D x K classifiers are cheap), rescaled by chance so that an
  ideal code scores 1 for binary and many-class factors alike: ``S = clip((acc - chance) / (1 - chance), 0, 1)``, chance the
  majority-class rate of the held-out split. ``SAP = mean_k (S_(1)k - S_(2)k)``.
  disentanglement_lib uses a ``LinearSVC`` and raw accuracies (not rescaled).
- FactorVAE score (Kim & Mnih, 2018) on a finite labelled sample: a batch "with factor k
  fixed" is ``batch_size`` rows drawn (with replacement) from the rows sharing the value of
  factor k of a random anchor row. Dimensions whose std is below ``prune_threshold`` times the
  largest std are dropped as collapsed (disentanglement_lib uses an absolute 0.05, which
  assumes a unit-scale prior).

Large inputs are subsampled to ``max_points`` rows with the given rng before any work.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from dsae.eval.latent_common import (
    DEFAULT_MAX_POINTS,
    MetricInputError,
    check_codes,
    check_labels,
    check_pair,
    check_rng,
    majority_rate,
    seed_from,
    split_indices,
    subsample,
)
from dsae.eval.latent_mig import (
    discrete_entropy,
    discrete_mutual_info,
    histogram_discretize,
    mig,
    mig_from_mutual_info,
)

__all__ = [
    "MetricInputError",
    "completeness_from_importance",
    "dci",
    "dci_importance",
    "discrete_entropy",
    "discrete_mutual_info",
    "disentanglement_from_importance",
    "factor_vae_score",
    "factor_vae_votes",
    "histogram_discretize",
    "majority_rate",
    "majority_vote_accuracy",
    "mig",
    "mig_from_mutual_info",
    "predictability",
    "sap",
    "sap_from_score_matrix",
    "sap_score_matrix",
]


def _normalised_entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """Entropy of the normalised non-negative weights along axis, in base n (so in [0, 1])."""
    n = p.shape[axis]
    if n == 1:
        return np.zeros(p.shape[1 - axis])
    total = p.sum(axis=axis, keepdims=True)
    prob = np.divide(p, total, out=np.zeros_like(p, dtype=np.float64), where=total > 0)
    plogp = np.where(prob > 0, prob * np.log(np.where(prob > 0, prob, 1.0)), 0.0)
    ent = -plogp.sum(axis=axis) / np.log(n)
    # An all-zero row or column has no preference at all: treat as maximal entropy.
    return np.where(total.reshape(-1) > 0, ent, 1.0)


def disentanglement_from_importance(importance: np.ndarray) -> float:
    """D = sum_i rho_i (1 - H_K(P_i.)), P_ij = R_ij / sum_j R_ij, rho_i = sum_j R_ij / sum R."""
    r = np.abs(np.asarray(importance, dtype=np.float64))
    if r.ndim != 2:
        raise MetricInputError(f"importance must be (D, K), got shape {r.shape}")
    if r.sum() == 0:
        return 0.0
    per_code = 1.0 - _normalised_entropy(r, axis=1)
    weight = r.sum(axis=1) / r.sum()
    return float(np.sum(per_code * weight))


def completeness_from_importance(importance: np.ndarray) -> float:
    """C = sum_j rho_j (1 - H_D(P~_.j)), P~_ij = R_ij / sum_i R_ij, rho_j = sum_i R_ij / sum R."""
    r = np.abs(np.asarray(importance, dtype=np.float64))
    if r.ndim != 2:
        raise MetricInputError(f"importance must be (D, K), got shape {r.shape}")
    if r.sum() == 0:
        return 0.0
    per_factor = 1.0 - _normalised_entropy(r, axis=0)
    weight = r.sum(axis=0) / r.sum()
    return float(np.sum(per_factor * weight))


def dci_importance(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    seed: int,
    n_estimators: int = 10,
    min_samples_leaf: int = 20,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R (D, K) of tree impurity importances, and per-factor train / held-out accuracies (K,)."""
    n_codes, n_factors = codes_train.shape[1], factors_train.shape[1]
    importance = np.zeros((n_codes, n_factors))
    acc_train = np.zeros(n_factors)
    acc_test = np.zeros(n_factors)
    for k in range(n_factors):
        model = ExtraTreesClassifier(
            n_estimators=n_estimators,
            max_features=None,
            min_samples_leaf=min_samples_leaf,
            random_state=seed + k,
            n_jobs=1,
        )
        model.fit(codes_train, factors_train[:, k])
        importance[:, k] = np.abs(np.nan_to_num(model.feature_importances_))
        acc_train[k] = np.mean(model.predict(codes_train) == factors_train[:, k])
        acc_test[k] = np.mean(model.predict(codes_test) == factors_test[:, k])
    return importance, acc_train, acc_test


def dci(
    codes: np.ndarray,
    factors: np.ndarray,
    rng: np.random.Generator,
    train_frac: float = 0.8,
    n_estimators: int = 10,
    min_samples_leaf: int = 20,
    max_points: int | None = DEFAULT_MAX_POINTS,
) -> dict[str, float]:
    """DCI (Eastwood & Williams 2018): disentanglement, completeness and informativeness."""
    codes, factors = check_pair(codes, factors)
    rng = check_rng(rng)
    codes, factors = subsample(codes, factors, max_points, rng)
    train, test = split_indices(codes.shape[0], train_frac, rng)
    importance, acc_train, acc_test = dci_importance(
        codes[train],
        factors[train],
        codes[test],
        factors[test],
        seed=seed_from(rng),
        n_estimators=n_estimators,
        min_samples_leaf=min_samples_leaf,
    )
    return {
        "disentanglement": disentanglement_from_importance(importance),
        "completeness": completeness_from_importance(importance),
        "informativeness_train": float(acc_train.mean()),
        "informativeness_test": float(acc_test.mean()),
    }


# --------------------------------------------------------------------------------------------
# MIG


def _gaussian_1d_predict(
    codes_train: np.ndarray, labels_train: np.ndarray, codes_test: np.ndarray, n_classes: int
) -> np.ndarray:
    """Predictions (N_test, D) of one 1-D Gaussian class-conditional classifier per column.

    argmax_c log pi_c - log sigma_cd - (x_d - mu_cd)^2 / (2 sigma_cd^2), with class priors pi_c,
    means mu_cd and variances sigma_cd^2 fitted on the training rows; the decision regions of
    each column are intervals cut by at most 2 (C - 1) thresholds.
    """
    one_hot = np.eye(n_classes)[labels_train]  # (N, C)
    counts = one_hot.sum(axis=0)  # (C,)
    present = counts > 0
    safe = np.where(present, counts, 1.0)[:, None]
    mean = one_hot.T @ codes_train / safe  # (C, D)
    var = one_hot.T @ codes_train**2 / safe - mean**2
    # Variance floor relative to the column's spread keeps exact (noise-free) codes usable.
    floor = 1e-6 * codes_train.var(axis=0) + 1e-12
    var = np.maximum(var, floor[None, :])
    log_prior = np.where(present, np.log(safe[:, 0] / counts.sum()), -np.inf)
    predicted = np.empty(codes_test.shape, dtype=np.int64)
    step = max(1, 4_000_000 // max(1, codes_test.shape[0] * n_classes))
    for lo in range(0, codes_test.shape[1], step):
        x = codes_test[:, None, lo : lo + step]  # (N, 1, d)
        m, v = mean[None, :, lo : lo + step], var[None, :, lo : lo + step]
        log_lik = log_prior[None, :, None] - 0.5 * np.log(v) - (x - m) ** 2 / (2 * v)
        predicted[:, lo : lo + step] = log_lik.argmax(axis=1)
    return predicted


def sap_score_matrix(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
) -> np.ndarray:
    """S (D, K): chance-rescaled held-out accuracy of a 1-D classifier on code d for factor k.

    The classifier is a Gaussian class-conditional model of code d alone (a threshold
    classifier with fitted cut points). S = clip((acc - chance) / (1 - chance), 0, 1) with
    chance the held-out majority-class rate, so that S = 1 is perfect and S = 0 is no better
    than guessing the most frequent class.
    """
    scores = np.zeros((codes_train.shape[1], factors_train.shape[1]))
    for k in range(factors_train.shape[1]):
        n_classes = int(max(factors_train[:, k].max(), factors_test[:, k].max())) + 1
        predicted = _gaussian_1d_predict(codes_train, factors_train[:, k], codes_test, n_classes)
        accuracy = np.mean(predicted == factors_test[:, k][:, None], axis=0)
        chance = majority_rate(factors_test[:, k])
        if chance < 1.0:
            scores[:, k] = np.clip((accuracy - chance) / (1.0 - chance), 0.0, 1.0)
    return scores


def sap_from_score_matrix(scores: np.ndarray) -> np.ndarray:
    """Per-factor SAP gap S_(1)k - S_(2)k between the two best code dimensions (D, K) -> (K,)."""
    s = np.sort(np.asarray(scores, dtype=np.float64), axis=0)[::-1]
    second = s[1] if s.shape[0] > 1 else np.zeros(s.shape[1])
    return s[0] - second


def sap(
    codes: np.ndarray,
    factors: np.ndarray,
    rng: np.random.Generator,
    train_frac: float = 0.8,
    max_points: int | None = DEFAULT_MAX_POINTS,
) -> dict[str, float | list[float]]:
    """SAP (Kumar et al. 2018) = mean_k (S_(1)k - S_(2)k), S from 1-D held-out classifiers."""
    codes, factors = check_pair(codes, factors)
    rng = check_rng(rng)
    codes, factors = subsample(codes, factors, max_points, rng)
    train, test = split_indices(codes.shape[0], train_frac, rng)
    scores = sap_score_matrix(codes[train], factors[train], codes[test], factors[test])
    per_factor = sap_from_score_matrix(scores)
    return {"sap": float(per_factor.mean()), "per_factor": [float(v) for v in per_factor]}


# --------------------------------------------------------------------------------------------
# FactorVAE score


def factor_vae_votes(
    normalised_codes: np.ndarray,
    factors: np.ndarray,
    rng: np.random.Generator,
    n_votes: int,
    batch_size: int = 64,
    chunk: int = 128,
) -> np.ndarray:
    """Votes (K, D): for random k, argmin_d Var_batch(z_d / s_d) over a batch sharing v_k.

    Each vote picks a factor k uniformly, an anchor row uniformly among rows whose value of
    factor k occurs at least twice, then batch_size rows (with replacement) sharing that value.
    """
    n_codes = normalised_codes.shape[1]
    n_factors = factors.shape[1]
    votes = np.zeros((n_factors, n_codes), dtype=np.int64)
    groups = []  # per factor: rows sorted by value, group starts, sizes, anchor probabilities
    for k in range(n_factors):
        order = np.argsort(factors[:, k], kind="stable")
        sizes = np.bincount(factors[:, k])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        weight = np.where(sizes >= 2, sizes, 0).astype(np.float64)
        groups.append((order, starts, sizes, weight / weight.sum() if weight.sum() else None))
    usable = [k for k in range(n_factors) if groups[k][3] is not None]
    if not usable:
        raise MetricInputError("no factor value occurs twice; cannot form fixed-factor batches")
    usable_arr = np.asarray(usable)
    done = 0
    while done < n_votes:
        m = min(chunk, n_votes - done)
        ks = usable_arr[rng.integers(0, len(usable), size=m)]
        for k in np.unique(ks):
            order, starts, sizes, prob = groups[k]
            count = int(np.sum(ks == k))
            values = rng.choice(sizes.size, size=count, p=prob)
            offsets = rng.integers(0, sizes[values][:, None], size=(count, batch_size))
            rows = order[starts[values][:, None] + offsets]  # (count, batch)
            local_var = normalised_codes[rows].var(axis=1)  # (count, D)
            np.add.at(votes[k], local_var.argmin(axis=1), 1)
        done += m
    return votes


def majority_vote_accuracy(train_votes: np.ndarray, eval_votes: np.ndarray) -> tuple[float, float]:
    """Accuracy of the classifier dim d -> argmax_k train_votes[k, d] on train and eval votes."""
    train_votes = np.asarray(train_votes)
    eval_votes = np.asarray(eval_votes)
    classifier = train_votes.argmax(axis=0)  # (D,)
    cols = np.arange(train_votes.shape[1])
    train_acc = train_votes[classifier, cols].sum() / max(train_votes.sum(), 1)
    eval_acc = eval_votes[classifier, cols].sum() / max(eval_votes.sum(), 1)
    return float(train_acc), float(eval_acc)


def factor_vae_score(
    codes: np.ndarray,
    factors: np.ndarray,
    rng: np.random.Generator,
    n_train: int = 10_000,
    n_eval: int = 5_000,
    batch_size: int = 64,
    prune_threshold: float = 0.05,
) -> dict[str, float]:
    """FactorVAE metric (Kim & Mnih 2018): majority-vote accuracy of argmin_d Var(z_d / s_d) -> k.

    s_d is the std of code d over the whole sample; dimensions with s_d < prune_threshold *
    max_d s_d are dropped as collapsed. "chance" is 1/K (K factors that can be held fixed), so
    with a single factor the score is trivially 1.
    """
    codes, factors = check_pair(codes, factors)
    rng = check_rng(rng)
    if n_train < 1 or n_eval < 1 or batch_size < 2:
        raise MetricInputError("n_train and n_eval must be >= 1 and batch_size >= 2")
    scale = codes.std(axis=0, ddof=1)
    active = np.flatnonzero((scale > 0) & (scale >= prune_threshold * scale.max()))
    if active.size == 0:
        chance = 1.0 / factors.shape[1]
        return {
            "train_accuracy": 0.0,
            "eval_accuracy": 0.0,
            "num_active_dims": 0.0,
            "chance": chance,
        }
    normalised = codes[:, active] / scale[active]
    train_votes = factor_vae_votes(normalised, factors, rng, n_train, batch_size)
    eval_votes = factor_vae_votes(normalised, factors, rng, n_eval, batch_size)
    train_acc, eval_acc = majority_vote_accuracy(train_votes, eval_votes)
    n_usable = int(np.count_nonzero(train_votes.sum(axis=1) + eval_votes.sum(axis=1)))
    return {
        "train_accuracy": train_acc,
        "eval_accuracy": eval_acc,
        "num_active_dims": float(active.size),
        "chance": 1.0 / max(n_usable, 1),
    }


# --------------------------------------------------------------------------------------------
# Predictability and the static / dynamic report


def predictability(
    codes: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    train_frac: float = 0.8,
    max_points: int | None = DEFAULT_MAX_POINTS,
) -> float:
    """Held-out accuracy of a multinomial logistic regression predicting labels from codes."""
    codes = check_codes(codes)
    labels_arr = np.asarray(labels)
    if labels_arr.ndim != 1 or labels_arr.shape[0] != codes.shape[0]:
        raise MetricInputError(
            f"labels must be (N,) with N={codes.shape[0]} rows, got shape {labels_arr.shape}"
        )
    y = check_labels(labels_arr, name="labels")[:, 0]
    rng = check_rng(rng)
    codes, y = subsample(codes, y, max_points, rng)
    train, test = split_indices(codes.shape[0], train_frac, rng)
    if np.unique(y[train]).size < 2:
        return float(np.mean(y[test] == y[train][0]))
    mean = codes[train].mean(axis=0)
    std = codes[train].std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    x_train, x_test = (codes[train] - mean) / std, (codes[test] - mean) / std
    model = LogisticRegression(C=1.0, max_iter=500)
    with warnings.catch_warnings():
        # An unconverged fit still gives a usable accuracy; do not flood reports with warnings.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y[train])
    return float(np.mean(model.predict(x_test) == y[test]))
