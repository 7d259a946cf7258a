"""Imputation of the last frames of a sequence (Li & Mandt 2018, section 4.3, Figs. 7 and 8).

A model sees the first t = T - k frames of a test sequence and predicts the k missing ones
with its prior dynamics (``model.impute``): f and z_1:t from the observed frames,
z_t+1:T drawn from p(z_t+1:T | z_1:t) (or its mean at every step, ``most_likely``). On
binary frames (bouncing balls) the error is the fraction of wrongly predicted pixels, and,
where the data record where the ball is, the distance in pixels between the centre of the
predicted ball and the true one.

Predictions are compared in the stored layout: they go through ``modality.to_frames``
(uint8, rounded: the frames that are saved and drawn) and a pixel is on where its value
divided by 255 exceeds ``threshold``. The numbers count what the pictures show.

Sampled predictions draw from one ``torch.Generator`` seeded with ``seed`` for the whole
call, consumed in a fixed order (missing counts in the order given, then samples, then
batches), so a call is reproducible; with a stochastic model the draws of one sequence
depend on the batch it falls in, so sampled numbers change with ``batch_size`` (those of a
deterministic model and of ``most_likely`` do not).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from dsae.data.modality import Modality
from dsae.errors import DsaeError
from dsae.eval.encode import eval_mode

__all__ = [
    "centroids",
    "impute_sequences",
    "imputation_curve",
    "position_error",
    "wrong_pixel_fraction",
]


# -- pure measures ------------------------------------------------------------------------
def _on(x: np.ndarray, threshold: float) -> np.ndarray:
    """Which pixels are on: value in [0, 1] above ``threshold`` (uint8 read as value / 255)."""
    x = np.asarray(x)
    return x > threshold * 255.0 if x.dtype == np.uint8 else x > threshold


def wrong_pixel_fraction(
    x_true: np.ndarray, x_pred: np.ndarray, threshold: float = 0.5
) -> np.ndarray:
    """(N, T, ...) frames in [0, 1] (or uint8), same shape -> (N, T): the fraction of pixels
    of each frame that are on in one and off in the other."""
    a, b = np.asarray(x_true), np.asarray(x_pred)
    if a.shape != b.shape or a.ndim < 3:
        raise DsaeError(f"cannot compare frames of shapes {a.shape} and {b.shape}")
    wrong = _on(a, threshold) != _on(b, threshold)
    return wrong.reshape(a.shape[0], a.shape[1], -1).mean(axis=-1)


def _planes(frames: np.ndarray) -> np.ndarray:
    """(N, T, H, W), (N, T, 1, H, W) or (N, T, H, W, 1) -> (N, T, H, W)."""
    x = np.asarray(frames)
    if x.ndim == 4:
        return x
    if x.ndim == 5 and x.shape[2] == 1 and x.shape[-1] != 1:
        return x[:, :, 0]
    if x.ndim == 5 and x.shape[-1] == 1:
        return x[..., 0]
    raise DsaeError(
        f"frames have shape {x.shape}, expected (N, T, H, W), (N, T, 1, H, W) or (N, T, H, W, 1)"
    )


def centroids(frames: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """(N, T, H, W) (or with a channel axis of 1 first or last) -> (N, T, 2): the (row, col)
    mean of the centres (r + 0.5, c + 0.5) of the pixels above ``threshold``; NaN where no
    pixel is on."""
    on = _on(_planes(frames), threshold)
    h, w = on.shape[-2:]
    count = on.sum(axis=(-2, -1)).astype(np.float64)
    rows = (on.sum(axis=-1) * (np.arange(h) + 0.5)).sum(axis=-1)
    cols = (on.sum(axis=-2) * (np.arange(w) + 0.5)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([rows / count, cols / count], axis=-1)


def position_error(frames: np.ndarray, positions: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """(N, T) distance in pixels between each frame's centroid and the true position
    (``positions`` (N, T, 2), (row, col) in pixel units); NaN where the frame is empty."""
    c = centroids(frames, threshold)
    p = np.asarray(positions, dtype=np.float64)
    if p.shape != c.shape:
        raise DsaeError(f"positions have shape {p.shape}, expected {c.shape}")
    return np.linalg.norm(c - p, axis=-1)


# -- running a model ------------------------------------------------------------------------
def _check(x: np.ndarray, samples: int, batch_size: int, positions: np.ndarray | None) -> None:
    if np.ndim(x) < 3 or len(x) == 0:
        raise DsaeError(f"expected (N, T, ...) frames with N >= 1, got shape {np.shape(x)}")
    if samples < 1:
        raise DsaeError(f"samples must be at least 1, got {samples}")
    if batch_size <= 0:
        raise DsaeError(f"batch size must be positive, got {batch_size}")
    if positions is not None and np.shape(positions) != (*np.shape(x)[:2], 2):
        raise DsaeError(
            f"positions have shape {np.shape(positions)}, expected {(*np.shape(x)[:2], 2)}"
        )


def _impute(
    model: Any,
    x: np.ndarray,
    modality: Modality,
    observed: int,
    generator: torch.Generator | None,
    most_likely: bool,
    batch_size: int,
) -> np.ndarray:
    """All T frames of every sequence given its first ``observed``: (N, T, *stored)."""
    steps = x.shape[1]
    out = []
    for lo in range(0, len(x), batch_size):
        seen = modality.to_tensor(x[lo : lo + batch_size, :observed])
        pred = model.impute(seen, steps, generator=generator, most_likely=most_likely)
        if tuple(pred.shape[:2]) != (seen.shape[0], steps):
            raise DsaeError(
                f"impute returned shape {tuple(pred.shape)}, expected ({seen.shape[0]}, {steps}, ...)"
            )
        out.append(modality.to_frames(pred.cpu()))
    return np.concatenate(out)


def _reconstruct(model: Any, x: np.ndarray, modality: Modality, batch_size: int) -> np.ndarray:
    """Posterior-mean reconstructions of every sequence: (N, T, *stored)."""
    out = []
    for lo in range(0, len(x), batch_size):
        x_hat = model.reconstruct(modality.to_tensor(x[lo : lo + batch_size]))
        out.append(modality.to_frames(x_hat.cpu()))
    return np.concatenate(out)


# -- summaries ------------------------------------------------------------------------------
def _num(v: float) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    v = float(v)
    return v if math.isfinite(v) else None


def _nan_stat(fn, a: np.ndarray) -> float | None:
    a = a[np.isfinite(a)]
    return _num(fn(a)) if a.size else None


def _positions(errors: np.ndarray) -> dict[str, float | None]:
    """Position errors (any shape; NaN = empty prediction) -> mean, median, empty fraction."""
    return {
        "position_error": _nan_stat(np.mean, errors),
        "position_error_median": _nan_stat(np.median, errors),
        "position_empty": _num(np.isnan(errors).mean()),
    }


def _wrong_and_errors(
    x: np.ndarray, preds: list[np.ndarray], positions: np.ndarray | None, threshold: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """(S, N, T) wrong-pixel fractions and position errors (or None) of S predictions."""
    wrong = np.stack([wrong_pixel_fraction(x, p, threshold) for p in preds])
    if positions is None:
        return wrong, None
    return wrong, np.stack([position_error(p, positions, threshold) for p in preds])


def _summary(wrong: np.ndarray, errors: np.ndarray | None, observed: int) -> dict[str, Any]:
    """Means over sequences, samples and frames, spreads over sequences (population std)."""
    missing = wrong[:, :, observed:]
    out: dict[str, Any] = {
        "wrong_missing": _num(missing.mean()),
        "wrong_missing_std": _num(missing.mean(axis=(0, 2)).std()),
        "wrong_all": _num(wrong.mean()),
        "wrong_all_std": _num(wrong.mean(axis=(0, 2)).std()),
    }
    if errors is not None:
        out.update(_positions(errors[:, :, observed:]))
    return out


def _by_step(wrong: np.ndarray, errors: np.ndarray | None, observed: int) -> dict[str, list]:
    """Per predicted step 1..k: the wrong-pixel fraction (and mean position error)."""
    out: dict[str, list] = {"wrong": [_num(v) for v in wrong[:, :, observed:].mean(axis=(0, 1))]}
    if errors is not None:
        e = errors[:, :, observed:]
        out["position_error"] = [_nan_stat(np.mean, e[:, :, j]) for j in range(e.shape[2])]
    return out


def imputation_curve(
    model: Any,
    x: np.ndarray,
    modality: Modality,
    missing: list[int],
    samples: int = 5,
    seed: int = 0,
    batch_size: int = 100,
    positions: np.ndarray | None = None,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Imputation error against the number k of missing frames at the end (Li & Mandt 2018,
    Fig. 8), for stored frames ``x`` (N, T, *stored) and each k in ``missing`` (1 <= k < T).

    For each k the model sees x[:, :T - k] and predicts all T frames, ``samples`` times with
    sampled dynamics and once with ``most_likely``. Returns plain JSON values:

    - ``missing``, ``observed`` (T - k), ``samples``, ``sequences`` (N), ``seq_len``,
      ``seed``, ``threshold``;
    - ``sampled`` and ``most_likely``: lists with one value per k:
      ``wrong_missing`` (wrong-pixel fraction over the missing frames, mean over sequences,
      frames and samples), ``wrong_missing_std`` (its standard deviation over sequences, each
      sequence's value averaged over its samples and missing frames), ``wrong_all`` and
      ``wrong_all_std`` (the same over all T frames), and with ``positions`` (N, T, 2)
      ``position_error`` / ``position_error_median`` (pixels, between the centroid of a
      predicted missing frame and the true position, over non-empty predictions) and
      ``position_empty`` (the fraction of predicted missing frames with no pixel on);
    - ``reconstruction`` (k = 0, ``model.reconstruct``): ``wrong``, ``wrong_std`` and the
      position measures over all T frames;
    - ``by_step``: for the largest k, ``{"missing": k, "sampled": {"wrong": [...],
      "position_error": [...]}, "most_likely": {...}}``, one value per step ahead 1..k.

    Values that do not exist (a position error where every prediction is empty) are None.
    """
    x = np.asarray(x)
    _check(x, samples, batch_size, positions)
    n, seq_len = x.shape[:2]
    ks = [int(k) for k in missing]
    if not ks or any(not 1 <= k < seq_len for k in ks):
        raise DsaeError(f"missing frame counts must be in 1..{seq_len - 1}, got {missing}")
    generator = torch.Generator().manual_seed(int(seed))
    modes = ("sampled", "most_likely")
    out: dict[str, Any] = {
        "missing": ks,
        "observed": [seq_len - k for k in ks],
        "samples": int(samples),
        "sequences": int(n),
        "seq_len": int(seq_len),
        "seed": int(seed),
        "threshold": float(threshold),
        **{m: {} for m in modes},
    }
    k_max = max(ks)
    by_step: dict[str, Any] = {"missing": k_max}
    with eval_mode(model), torch.no_grad():
        recon = _reconstruct(model, x, modality, batch_size)
        wrong, errors = _wrong_and_errors(x, [recon], positions, threshold)
        out["reconstruction"] = {
            "wrong": _num(wrong.mean()),
            "wrong_std": _num(wrong.mean(axis=(0, 2)).std()),
            **(_positions(errors) if errors is not None else {}),
        }
        for k in ks:
            t = seq_len - k
            preds = {
                "sampled": [
                    _impute(model, x, modality, t, generator, False, batch_size)
                    for _ in range(samples)
                ],
                "most_likely": [_impute(model, x, modality, t, generator, True, batch_size)],
            }
            for mode in modes:
                wrong, errors = _wrong_and_errors(x, preds[mode], positions, threshold)
                for key, v in _summary(wrong, errors, t).items():
                    out[mode].setdefault(key, []).append(v)
                if k == k_max:
                    by_step[mode] = _by_step(wrong, errors, t)
    out["by_step"] = by_step
    return out


def impute_sequences(
    model: Any,
    x: np.ndarray,
    modality: Modality,
    observed: int,
    samples: int = 5,
    seed: int = 0,
    batch_size: int = 100,
    positions: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Imputations of the sequences ``x`` (N, T, *stored) from their first ``observed``
    frames, for pictures and npz files, all in the stored layout (uint8 images):
    ``truth`` (N, T, ...), ``reconstruction``, ``most_likely``, ``samples`` (S, N, T, ...),
    ``observed`` (a 0-d int array) and ``positions`` (N, T, 2) when given. Sampled with one
    generator seeded with ``seed``, samples first, then the most likely prediction."""
    x = np.asarray(x)
    _check(x, samples, batch_size, positions)
    if not 1 <= observed <= x.shape[1]:
        raise DsaeError(f"observed must be in 1..{x.shape[1]}, got {observed}")
    generator = torch.Generator().manual_seed(int(seed))
    with eval_mode(model), torch.no_grad():
        drawn = [
            _impute(model, x, modality, observed, generator, False, batch_size)
            for _ in range(samples)
        ]
        out = {
            "truth": x,
            "reconstruction": _reconstruct(model, x, modality, batch_size),
            "most_likely": _impute(model, x, modality, observed, generator, True, batch_size),
            "samples": np.stack(drawn),
            "observed": np.array(int(observed)),
        }
    if positions is not None:
        out["positions"] = np.asarray(positions, dtype=np.float32)
    return out
