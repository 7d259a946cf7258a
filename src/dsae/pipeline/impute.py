"""Imputation files of a trained run (Li & Mandt 2018, section 4.3, Fig. 7): the model sees
the first t frames of test sequences and predicts the rest with its prior dynamics.

``write_imputations`` writes a folder, whole or not at all:

- ``overlays.png``: each sequence as one picture (colour intensity rising with time, the
  predicted frames in green): the truth, the reconstruction, the most likely prediction
  (the prior's mean at each step) and one sampled prediction, one column per sequence;
- ``frames.png``: the same sequences frame by frame (truth, most likely, sampled);
- ``imputation.npz``: ``index``, ``observed``, ``truth``, ``reconstruction``,
  ``most_likely``, ``samples`` (S, N, T, ...) and ``position`` when the data has it;
- ``imputation.json``: the wrong-pixel fraction and position error of these sequences over
  the predicted frames, per sequence and on average.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dsae.errors import DsaeError
from dsae.eval.imputation import impute_sequences, position_error, wrong_pixel_fraction
from dsae.pipeline.outputs import check_positive, run_and_split
from dsae.utils import atomic_write, atomic_write_text, replace_dir
from dsae.viz.dynamics import overlay, overlay_figure
from dsae.viz.grid import save_png, sequence_grid
from dsae.viz.report_dynamics import FRAMES_PNG, OVERLAYS_PNG

IMPUTATION_FILE = "imputation.json"
IMPUTATION_NPZ = "imputation.npz"
FRAME_ROWS = 4  # sequences shown frame by frame

__all__ = [
    "FRAMES_PNG",
    "IMPUTATION_FILE",
    "IMPUTATION_NPZ",
    "OVERLAYS_PNG",
    "read_imputation",
    "write_imputations",
]


def check_observed(observed: int, seq_len: int) -> None:
    """1 <= t < T, else a one-line user error."""
    if not 1 <= observed < seq_len:
        raise DsaeError(
            f"--observed must be between 1 and {seq_len - 1} (the sequences have {seq_len} "
            f"frames), got {observed}"
        )


def _unit(frames: np.ndarray) -> np.ndarray:
    """Stored frames (uint8 0..255 or floats in [0, 1]) as floats in [0, 1]."""
    return frames.astype(np.float32) / 255.0 if frames.dtype == np.uint8 else frames


def summarise(arrays: dict[str, np.ndarray], observed: int) -> dict[str, Any]:
    """Wrong-pixel fraction (and position error) over the predicted frames, per sequence."""
    truth = _unit(arrays["truth"])
    seen = slice(None, observed)
    ahead = slice(observed, None)
    recon = wrong_pixel_fraction(truth, _unit(arrays["reconstruction"]))
    likely = wrong_pixel_fraction(truth, _unit(arrays["most_likely"]))
    sampled = np.stack([wrong_pixel_fraction(truth, _unit(s)) for s in arrays["samples"]])
    out: dict[str, Any] = {
        "observed": observed,
        "sequences": int(truth.shape[0]),
        "samples": int(sampled.shape[0]),
        "wrong_reconstruction": float(recon.mean()),
        "wrong_seen_most_likely": float(likely[:, seen].mean()),
        "wrong_missing_most_likely": float(likely[:, ahead].mean()),
        "wrong_missing_sampled": float(sampled[:, :, ahead].mean()),
        "per_sequence": {
            "wrong_missing_most_likely": likely[:, ahead].mean(1).round(6).tolist(),
            "wrong_missing_sampled": sampled[:, :, ahead].mean((0, 2)).round(6).tolist(),
        },
    }
    if "position" in arrays:
        err = position_error(_unit(arrays["most_likely"]), arrays["position"])[:, ahead]
        found = np.isfinite(err)
        out["position_error_most_likely"] = float(err[found].mean()) if found.any() else None
        out["empty_predictions_most_likely"] = float(1.0 - found.mean())
    return out


def _draw(folder: Path, arrays: dict[str, np.ndarray], observed: int, scale: int, modality) -> None:
    n = arrays["truth"].shape[0]
    rows = [
        ("truth", [overlay(_unit(arrays["truth"][i]), None) for i in range(n)]),
        ("reconstruction", [overlay(_unit(arrays["reconstruction"][i]), None) for i in range(n)]),
        (
            f"most likely, t={observed}",
            [overlay(_unit(arrays["most_likely"][i]), observed) for i in range(n)],
        ),  # fmt: skip
        (
            f"sampled, t={observed}",
            [overlay(_unit(arrays["samples"][0][i]), observed) for i in range(n)],
        ),  # fmt: skip
    ]
    titles = [f"#{int(i)}" for i in arrays["index"]]
    overlay_figure(rows, folder / OVERLAYS_PNG, scale=scale, titles=titles)
    k = min(FRAME_ROWS, n)
    seqs, labels = [], []
    for i in range(k):
        for name, x in (("truth", arrays["truth"]), ("likely", arrays["most_likely"]),
                        ("sampled", arrays["samples"][0])):  # fmt: skip
            seqs.append(x[i])
            labels.append(f"#{int(arrays['index'][i])} {name}")
    grid = sequence_grid(np.stack(seqs), scale=scale, row_labels=labels, modality=modality)
    save_png(grid, folder / FRAMES_PNG)


def write_imputations(
    run: str | Path,
    data: str | Path | None,
    out: str | Path,
    observed: int,
    n: int = 8,
    samples: int = 5,
    split: str = "test",
    seed: int = 0,
    scale: int = 4,
) -> dict[str, Any]:
    """Impute ``n`` sequences of ``split`` (chosen by ``seed``) from their first ``observed``
    frames; write the folder ``out`` (see the module docstring); returns the summary."""
    check_positive("--n", n)
    check_positive("--samples", samples)
    check_positive("--scale", scale)
    loaded, s = run_and_split(run, data, split)
    check_observed(observed, s.meta.seq_len)
    modality = loaded.meta.modality
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(s), size=min(n, len(s)), replace=False))
    arrays = impute_sequences(loaded.model, s.x[idx], modality, observed, samples, seed)
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    arrays["index"] = idx
    arrays["observed"] = np.asarray(observed)
    positions = s.states.get("position")
    if positions is not None:
        arrays["position"] = positions[idx]
    summary = {"run": str(Path(run).resolve()), "split": split, "seed": seed,
               **summarise(arrays, observed)}  # fmt: skip

    def fill(folder: Path) -> None:
        _draw(folder, arrays, observed, scale, modality)
        atomic_write(folder / IMPUTATION_NPZ, lambda fh: np.savez(fh, **arrays))
        atomic_write_text(folder / IMPUTATION_FILE, json.dumps(summary, indent=2) + "\n")

    replace_dir(out, fill)
    return summary


def read_imputation(folder: str | Path) -> dict[str, Any] | None:
    """The summary of an imputation folder, or None when there is none."""
    path = Path(folder) / IMPUTATION_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DsaeError(f"cannot read {path}: {e}") from None
