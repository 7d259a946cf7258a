"""MIG (Chen et al., 2018): the mutual information gap of discretised codes, in nats.

Codes are discretised into ``n_bins`` equal-width bins per dimension (as disentanglement_lib);
``MIG = mean_k (I_(1) - I_(2)) / H(v_k)``.
"""

from __future__ import annotations

import numpy as np

from dsae.eval.latent_common import (
    MetricInputError,
    check_pair,
    check_rng,
    relabel,
    subsample,
)


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
        y = relabel(labels[:, k])
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
        p = np.bincount(relabel(labels[:, k])) / labels.shape[0]
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
    codes, factors = check_pair(codes, factors)
    if max_points is not None and codes.shape[0] > max_points:
        if rng is None:
            raise MetricInputError("mig needs an rng to subsample to max_points")
        codes, factors = subsample(codes, factors, max_points, check_rng(rng))
    mi = discrete_mutual_info(histogram_discretize(codes, n_bins), factors)
    per_factor = mig_from_mutual_info(mi, discrete_entropy(factors))
    return {"mig": float(per_factor.mean()), "per_factor": [float(v) for v in per_factor]}


# --------------------------------------------------------------------------------------------
# SAP
