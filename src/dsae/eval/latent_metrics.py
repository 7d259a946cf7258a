"""Latent disentanglement metrics: pure functions of (codes, factors, rng) returning dicts.

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

import importlib.metadata
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from dsae.errors import DsaeError

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
    "latent_report",
    "majority_rate",
    "majority_vote_accuracy",
    "mig",
    "mig_from_mutual_info",
    "predictability",
    "sap",
    "sap_from_score_matrix",
    "sap_score_matrix",
]

MIN_SAMPLES = 10
DEFAULT_MAX_POINTS = 10_000


class MetricInputError(DsaeError, ValueError):
    """Codes or factors a metric cannot use (bad shape, NaN, non-integer or constant labels)."""


# --------------------------------------------------------------------------------------------
# Input checks and sampling helpers


def _check_codes(codes: np.ndarray, name: str = "codes") -> np.ndarray:
    """Return codes as a finite float64 (N, D) array or raise MetricInputError."""
    arr = np.asarray(codes)
    if arr.ndim != 2:
        raise MetricInputError(f"{name} must be 2-D (N, D), got shape {arr.shape}")
    if arr.shape[0] < MIN_SAMPLES or arr.shape[1] < 1:
        raise MetricInputError(
            f"{name} needs at least {MIN_SAMPLES} rows and 1 column, got shape {arr.shape}"
        )
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise MetricInputError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise MetricInputError(f"{name} contains NaN or infinite values")
    return arr


def _check_labels(labels: np.ndarray, name: str = "factors") -> np.ndarray:
    """Return labels (N, K) relabelled to 0..k-1 per column, or raise MetricInputError."""
    arr = np.asarray(labels)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise MetricInputError(f"{name} must be (N,) or (N, K), got shape {np.shape(labels)}")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.number):
        raise MetricInputError(f"{name} must hold integer labels, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise MetricInputError(f"{name} contains NaN or infinite values")
        if not np.all(arr == np.round(arr)):
            raise MetricInputError(f"{name} must hold integer labels, got non-integer values")
    out = np.empty(arr.shape, dtype=np.int64)
    for k in range(arr.shape[1]):
        values, inverse = np.unique(arr[:, k], return_inverse=True)
        if values.size < 2:
            raise MetricInputError(f"{name} column {k} is constant; drop it before evaluating")
        out[:, k] = inverse.reshape(-1)
    return out


def _check_pair(codes: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate codes (N, D) and factors (N, K) together; rows must match."""
    codes = _check_codes(codes)
    factors_arr = np.asarray(factors)
    if factors_arr.ndim < 1 or factors_arr.shape[0] != codes.shape[0]:
        raise MetricInputError(
            f"codes have {codes.shape[0]} rows but factors have shape {factors_arr.shape}"
        )
    return codes, _check_labels(factors_arr)


def _check_rng(rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise MetricInputError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _subsample(
    codes: np.ndarray, labels: np.ndarray, max_points: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Keep a uniform random subset of max_points rows (no-op when N <= max_points)."""
    n = codes.shape[0]
    if max_points is None or n <= max_points:
        return codes, labels
    keep = np.sort(rng.choice(n, size=max_points, replace=False))
    return codes[keep], labels[keep]


def _split(n: int, train_frac: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random train / held-out row indices with round(train_frac * n) training rows."""
    if not 0.0 < train_frac < 1.0:
        raise MetricInputError(f"train_frac must be in (0, 1), got {train_frac}")
    n_train = int(round(train_frac * n))
    n_train = min(max(n_train, 1), n - 1)
    perm = rng.permutation(n)
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


def _seed_from(rng: np.random.Generator) -> int:
    """Integer seed for scikit-learn drawn from rng (keeps results a function of rng)."""
    return int(rng.integers(0, 2**31 - 1))


def _spawn(rng: np.random.Generator, n: int) -> list[np.random.Generator]:
    """n independent child generators drawn from rng (Generator.spawn needs numpy >= 1.25)."""
    return [np.random.default_rng(seed) for seed in rng.integers(0, 2**63 - 1, size=n)]


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Map a 1-D label vector to 0..k-1 (k = number of distinct values present)."""
    return np.unique(labels, return_inverse=True)[1].reshape(-1)


def majority_rate(labels: np.ndarray) -> float:
    """Chance level of a discrete label: max_c P(y = c), the accuracy of always guessing the mode."""
    counts = np.bincount(_relabel(np.asarray(labels).reshape(-1)))
    return float(counts.max() / counts.sum())


# --------------------------------------------------------------------------------------------
# DCI


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
    codes, factors = _check_pair(codes, factors)
    rng = _check_rng(rng)
    codes, factors = _subsample(codes, factors, max_points, rng)
    train, test = _split(codes.shape[0], train_frac, rng)
    importance, acc_train, acc_test = dci_importance(
        codes[train],
        factors[train],
        codes[test],
        factors[test],
        seed=_seed_from(rng),
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


def histogram_discretize(codes: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Bin each column into n_bins equal-width bins over its [min, max] (np.histogram edges)."""
    if n_bins < 1:
        raise MetricInputError(f"n_bins must be >= 1, got {n_bins}")
    codes = np.asarray(codes, dtype=np.float64)
    low = codes.min(axis=0)
    width = (codes.max(axis=0) - low) / n_bins
    safe = np.where(width > 0, width, 1.0)
    bins = np.floor((codes - low) / safe).astype(np.int64)
    bins = np.clip(bins, 0, n_bins - 1)  # the maximum falls in the last (closed) bin
    return np.where(width > 0, bins, 0)


def _joint_counts(binned: np.ndarray, labels: np.ndarray, n_bins: int, n_classes: int):
    """Counts (D, n_bins, n_classes) of (bin of code d, label) pairs, all d at once."""
    n_codes = binned.shape[1]
    cell = binned * n_classes + labels[:, None]
    cell = cell + (np.arange(n_codes) * (n_bins * n_classes))[None, :]
    counts = np.bincount(cell.ravel(), minlength=n_codes * n_bins * n_classes)
    return counts.reshape(n_codes, n_bins, n_classes)


def discrete_mutual_info(binned: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """I(c_d; v_k) in nats for discrete codes (N, D) and labels (N, K): sum p log p / (p p)."""
    binned = np.asarray(binned, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim == 1:
        labels = labels[:, None]
    n = binned.shape[0]
    n_bins = int(binned.max()) + 1
    mi = np.zeros((binned.shape[1], labels.shape[1]))
    for k in range(labels.shape[1]):
        y = _relabel(labels[:, k])
        joint = _joint_counts(binned, y, n_bins, int(y.max()) + 1) / n
        p_code = joint.sum(axis=2, keepdims=True)
        p_label = joint.sum(axis=1, keepdims=True)
        ratio = np.divide(joint, p_code * p_label, out=np.ones_like(joint), where=joint > 0)
        mi[:, k] = np.sum(joint * np.log(ratio), axis=(1, 2))
    return np.maximum(mi, 0.0)


def discrete_entropy(labels: np.ndarray) -> np.ndarray:
    """H(v_k) = -sum_c p_c log p_c in nats, one per column of labels (N, K)."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim == 1:
        labels = labels[:, None]
    out = np.zeros(labels.shape[1])
    for k in range(labels.shape[1]):
        p = np.bincount(_relabel(labels[:, k])) / labels.shape[0]
        p = p[p > 0]
        out[k] = -np.sum(p * np.log(p))
    return out


def mig_from_mutual_info(mutual_info: np.ndarray, entropy: np.ndarray) -> np.ndarray:
    """Per-factor gap (I_(1)k - I_(2)k) / H(v_k) from MI (D, K) and entropies (K,)."""
    mi = np.asarray(mutual_info, dtype=np.float64)
    entropy = np.asarray(entropy, dtype=np.float64)
    top = np.sort(mi, axis=0)[::-1]
    second = top[1] if top.shape[0] > 1 else np.zeros(top.shape[1])
    return np.divide(top[0] - second, entropy, out=np.zeros_like(entropy), where=entropy > 0)


def mig(
    codes: np.ndarray,
    factors: np.ndarray,
    rng: np.random.Generator | None = None,
    n_bins: int = 20,
    max_points: int | None = None,
) -> dict[str, float | list[float]]:
    """MIG (Chen et al. 2018) = mean_k (I(c_(1); v_k) - I(c_(2); v_k)) / H(v_k), binned codes."""
    codes, factors = _check_pair(codes, factors)
    if max_points is not None and codes.shape[0] > max_points:
        if rng is None:
            raise MetricInputError("mig needs an rng to subsample to max_points")
        codes, factors = _subsample(codes, factors, max_points, _check_rng(rng))
    mi = discrete_mutual_info(histogram_discretize(codes, n_bins), factors)
    per_factor = mig_from_mutual_info(mi, discrete_entropy(factors))
    return {"mig": float(per_factor.mean()), "per_factor": [float(v) for v in per_factor]}


# --------------------------------------------------------------------------------------------
# SAP


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
    codes, factors = _check_pair(codes, factors)
    rng = _check_rng(rng)
    codes, factors = _subsample(codes, factors, max_points, rng)
    train, test = _split(codes.shape[0], train_frac, rng)
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
    codes, factors = _check_pair(codes, factors)
    rng = _check_rng(rng)
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
    codes = _check_codes(codes)
    labels_arr = np.asarray(labels)
    if labels_arr.ndim != 1 or labels_arr.shape[0] != codes.shape[0]:
        raise MetricInputError(
            f"labels must be (N,) with N={codes.shape[0]} rows, got shape {labels_arr.shape}"
        )
    y = _check_labels(labels_arr, name="labels")[:, 0]
    rng = _check_rng(rng)
    codes, y = _subsample(codes, y, max_points, rng)
    train, test = _split(codes.shape[0], train_frac, rng)
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


def _library_versions() -> dict[str, str]:
    """Versions of the libraries the metrics depend on (results shift when they change)."""
    out = {}
    for name in ("dsae", "numpy", "scipy", "scikit-learn"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _group_metrics(
    codes: np.ndarray, factors: np.ndarray, names: Sequence[str], rng: np.random.Generator
) -> dict:
    """All disentanglement metrics plus per-factor predictability for one code group."""
    dci_rng, mig_rng, sap_rng, fvae_rng, pred_rng = _spawn(rng, 5)
    return {
        "dci": dci(codes, factors, dci_rng),
        "mig": mig(codes, factors, mig_rng),
        "sap": sap(codes, factors, sap_rng),
        "factor_vae": factor_vae_score(codes, factors, fvae_rng),
        "predictability": _predict_each(codes, factors, names, pred_rng),
    }


def _predict_each(
    codes: np.ndarray, factors: np.ndarray, names: Sequence[str], rng: np.random.Generator
) -> dict[str, dict[str, float]]:
    """{name: {"accuracy", "chance"}} for every factor column predicted from codes."""
    out = {}
    for k, (name, child) in enumerate(zip(names, _spawn(rng, len(names)), strict=True)):
        column = factors[:, k]
        out[name] = {
            "accuracy": predictability(codes, column, child),
            "chance": majority_rate(column),
        }
    return out


def latent_report(
    static_codes: np.ndarray,
    static_factors: np.ndarray,
    dynamic_codes: np.ndarray,
    dynamic_factors: np.ndarray,
    rng: np.random.Generator,
    static_names: Sequence[str],
    dynamic_names: Sequence[str],
) -> dict:
    """All metrics for f vs static factors and z vs dynamic factors, plus cross-predictability.

    Rows are sequences and must align across the four arrays (N rows each): static codes f
    (N, D_f), dynamic codes (N, D_z), e.g. z_1:T flattened to T * z_dim or pooled over time,
    and one label per sequence for every factor. ``cross`` holds how well f predicts each
    dynamic factor and how well z predicts each static factor (both should be near chance
    for a disentangled model). All values are floats except ``meta``.
    """
    rng = _check_rng(rng)
    static_codes, static_factors = _check_pair(static_codes, static_factors)
    dynamic_codes, dynamic_factors = _check_pair(dynamic_codes, dynamic_factors)
    if static_codes.shape[0] != dynamic_codes.shape[0]:
        raise MetricInputError(
            f"static and dynamic arrays must have the same rows (one per sequence), got "
            f"{static_codes.shape[0]} and {dynamic_codes.shape[0]}"
        )
    static_names, dynamic_names = list(static_names), list(dynamic_names)
    for names, factors, group in (
        (static_names, static_factors, "static"),
        (dynamic_names, dynamic_factors, "dynamic"),
    ):
        if len(names) != factors.shape[1] or len(set(names)) != len(names):
            raise MetricInputError(
                f"{group}_names must be {factors.shape[1]} distinct names, got {names}"
            )
    static_rng, dynamic_rng, s2d_rng, d2s_rng = _spawn(rng, 4)
    return {
        "static": _group_metrics(static_codes, static_factors, static_names, static_rng),
        "dynamic": _group_metrics(dynamic_codes, dynamic_factors, dynamic_names, dynamic_rng),
        "cross": {
            "static_to_dynamic": _predict_each(
                static_codes, dynamic_factors, dynamic_names, s2d_rng
            ),
            "dynamic_to_static": _predict_each(
                dynamic_codes, static_factors, static_names, d2s_rng
            ),
        },
        "meta": {
            "n_sequences": int(static_codes.shape[0]),
            "static_dim": int(static_codes.shape[1]),
            "dynamic_dim": int(dynamic_codes.shape[1]),
            "versions": _library_versions(),
        },
    }
