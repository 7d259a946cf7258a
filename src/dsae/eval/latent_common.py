"""Shared input checks and sampling helpers of the latent metrics (:mod:`dsae.eval.latent_metrics`)."""

from __future__ import annotations

import numpy as np

from dsae.errors import DsaeError

MIN_SAMPLES = 10
DEFAULT_MAX_POINTS = 10_000


class MetricInputError(DsaeError, ValueError):
    """Codes or factors a metric cannot use (bad shape, NaN, non-integer or constant labels)."""


# --------------------------------------------------------------------------------------------
# Input checks and sampling helpers


def check_codes(codes: np.ndarray, name: str = "codes") -> np.ndarray:
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


def check_labels(labels: np.ndarray, name: str = "factors") -> np.ndarray:
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


def check_pair(codes: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate codes (N, D) and factors (N, K) together; rows must match."""
    codes = check_codes(codes)
    factors_arr = np.asarray(factors)
    if factors_arr.ndim < 1 or factors_arr.shape[0] != codes.shape[0]:
        raise MetricInputError(
            f"codes have {codes.shape[0]} rows but factors have shape {factors_arr.shape}"
        )
    return codes, check_labels(factors_arr)


def check_rng(rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise MetricInputError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def subsample(
    codes: np.ndarray, labels: np.ndarray, max_points: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Keep a uniform random subset of max_points rows (no-op when N <= max_points)."""
    n = codes.shape[0]
    if max_points is None or n <= max_points:
        return codes, labels
    keep = np.sort(rng.choice(n, size=max_points, replace=False))
    return codes[keep], labels[keep]


def split_indices(
    n: int, train_frac: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random train / held-out row indices with round(train_frac * n) training rows."""
    if not 0.0 < train_frac < 1.0:
        raise MetricInputError(f"train_frac must be in (0, 1), got {train_frac}")
    n_train = int(round(train_frac * n))
    n_train = min(max(n_train, 1), n - 1)
    perm = rng.permutation(n)
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


def seed_from(rng: np.random.Generator) -> int:
    """Integer seed for scikit-learn drawn from rng (keeps results a function of rng)."""
    return int(rng.integers(0, 2**31 - 1))


def spawn(rng: np.random.Generator, n: int) -> list[np.random.Generator]:
    """n independent child generators drawn from rng (Generator.spawn needs numpy >= 1.25)."""
    return [np.random.default_rng(seed) for seed in rng.integers(0, 2**63 - 1, size=n)]


def relabel(labels: np.ndarray) -> np.ndarray:
    """Map a 1-D label vector to 0..k-1 (k = number of distinct values present)."""
    return np.unique(labels, return_inverse=True)[1].reshape(-1)


def majority_rate(labels: np.ndarray) -> float:
    """Chance level of a discrete label: max_c P(y = c), the accuracy of always guessing the mode."""
    counts = np.bincount(relabel(np.asarray(labels).reshape(-1)))
    return float(counts.max() / counts.sum())


# --------------------------------------------------------------------------------------------
# DCI
