"""The numeric core of the protocols: pure functions of class probabilities and labels.

Probabilities are (N, K) rows. Where a KL divides by a probability it is floored at
:data:`PROB_FLOOR`, so an exact zero from a judge gives a large finite KL rather than infinity.
"""

from __future__ import annotations

import numpy as np
from scipy.special import rel_entr, xlogy

PROB_FLOOR = 1e-12  # smallest probability a KL divides by

__all__ = [
    "PROB_FLOOR",
    "accuracy",
    "balanced_subset",
    "compare_predictions",
    "disagreement",
    "entropy",
    "inception_score",
    "kl_divergence",
    "label_entropies",
    "mean_std",
]


def _rows(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 1:
        p = p[None]
    if p.ndim != 2:
        raise ValueError(f"expected probabilities of shape (N, K), got {p.shape}")
    return p


def kl_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL[p || q] in nats per row of (N, K) probabilities; q floored at PROB_FLOOR."""
    p, q = _rows(p), _rows(q)
    q = np.clip(q, PROB_FLOOR, None)
    q = q / q.sum(axis=1, keepdims=True)
    return rel_entr(p, q).sum(axis=1)


def entropy(p: np.ndarray) -> np.ndarray:
    """H(p) = -sum_k p_k log p_k in nats per row of (N, K) probabilities (0 log 0 = 0)."""
    return -xlogy(_rows(p), _rows(p)).sum(axis=1)


def disagreement(p: np.ndarray, q: np.ndarray) -> float:
    """Percentage of rows whose most probable classes under p and q differ."""
    p, q = _rows(p), _rows(q)
    if p.shape[0] == 0:
        return float("nan")
    return float(100.0 * np.mean(p.argmax(axis=1) != q.argmax(axis=1)))


def inception_score(p_yx: np.ndarray) -> float:
    """IS = exp(E_x KL[p(y|x) || p(y)]), with p(y) the mean of p(y|x) over the rows."""
    p = _rows(p_yx)
    p_y = p.mean(axis=0, keepdims=True)
    return float(np.exp(kl_divergence(p, np.broadcast_to(p_y, p.shape)).mean()))


def label_entropies(p_yx: np.ndarray) -> tuple[float, float]:
    """(H(y|x), H(y)) in nats: mean entropy of p(y|x), entropy of p(y) = mean of p(y|x)."""
    p = _rows(p_yx)
    return float(entropy(p).mean()), float(entropy(p.mean(axis=0))[0])


def accuracy(p: np.ndarray, labels: np.ndarray) -> float:
    """Percentage of rows whose most probable class is the label."""
    p = _rows(p)
    return float(100.0 * np.mean(p.argmax(axis=1) == np.asarray(labels).reshape(-1)))


def balanced_subset(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices with the same number of rows, the smallest class count, per class present."""
    labels = np.asarray(labels).reshape(-1)
    classes, counts = np.unique(labels, return_counts=True)
    if classes.size == 0:
        return np.zeros(0, dtype=np.int64)
    m = int(counts.min())
    picks = [rng.choice(np.flatnonzero(labels == c), size=m, replace=False) for c in classes]
    return np.sort(np.concatenate(picks)).astype(np.int64)


def mean_std(values: list[float]) -> dict[str, float]:
    """{"mean", "std"} of repeated measurements (population std, ddof=0)."""
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std())}


def compare_predictions(p_recon: np.ndarray, p_data: np.ndarray) -> dict[str, float]:
    """Table 1's row: disagreement (%), mean KL[p_recon || p_data], mean KL[uniform || p_data]."""
    p_recon, p_data = _rows(p_recon), _rows(p_data)
    uniform = np.full_like(p_data, 1.0 / p_data.shape[1])
    return {
        "disagreement": disagreement(p_recon, p_data),
        "kl_recon": float(kl_divergence(p_recon, p_data).mean()),
        "kl_random": float(kl_divergence(uniform, p_data).mean()),
    }
