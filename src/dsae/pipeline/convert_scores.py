"""Scores of voice conversions (Li & Mandt 2018, Sec. 4.2), as fractions in [0, 1].

Each converted pair is a row of ``conversion.json`` (see
:mod:`dsae.pipeline.convert_pairs`): who the source (A) and target (B) are, the judge's
verdicts on the converted and on the resynthesised source audio, and median F0s.

- ``speaker``: share of pairs where a judge (``dsae judge train`` on the speech data), fed
  features re-extracted from the converted *wave* and averaging its class probabilities
  over the segments, names B; ``content``: share where it names A's word or digit;
- ``f0_within_15pct``: share of pairs whose converted median F0 is within 15% of B's
  resynthesised audio's (an unvoiced conversion counts as a miss); ``f0_median_rel_error``:
  the median of |F0_converted - F0_B| / F0_B over the voiced ones;
- the same for the unconverted resynthesised sources GL(A) as a reference row
  (``source``): the judge naming A's speaker and word measures the vocoder's own effect;
  F0 shows how far apart the voices were before conversion.

Scores are given overall and per sex pair (``male->female``, ...) when the data says.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["F0_TOLERANCE", "TARGETS", "f0_scores", "scores", "summarise"]

TARGETS = {"speaker": 0.90, "content": 0.90, "f0_within_15pct": 0.90}
F0_TOLERANCE = 0.15


def f0_scores(f0: np.ndarray, reference: np.ndarray) -> dict[str, float | None]:
    """Share of ``f0`` within 15% of ``reference`` (NaN: a miss) and the median relative
    error of the finite ones (None when there is none)."""
    rel = np.abs(np.asarray(f0, np.float64) - reference) / np.asarray(reference, np.float64)
    ok = np.isfinite(rel)
    within = ok & (np.where(ok, rel, np.inf) <= F0_TOLERANCE)
    return {
        "f0_within_15pct": float(within.mean()) if rel.size else None,
        "f0_median_rel_error": float(np.median(rel[ok])) if ok.any() else None,
    }


def scores(rows: Sequence[dict[str, Any]], audio: str, judged: bool) -> dict[str, Any]:
    """Scores of the ``converted`` or the ``source`` audio of ``rows``."""
    out: dict[str, Any] = {"n": len(rows)}
    if judged:
        speaker_of = "target" if audio == "converted" else "source"
        verdicts = [r["judged"][audio] for r in rows]
        out["speaker"] = float(
            np.mean(
                [
                    v["speaker"] == r[speaker_of]["speaker"]
                    for v, r in zip(verdicts, rows, strict=True)
                ]
            )
        )
        out["content"] = float(
            np.mean(
                [v["content"] == r["source"]["label"] for v, r in zip(verdicts, rows, strict=True)]
            )
        )
    f0 = np.array([r["f0"][audio] for r in rows], dtype=np.float64)
    target = np.array([r["f0"]["target"] for r in rows], dtype=np.float64)
    out.update(f0_scores(f0, target))
    return out


def summarise(rows: Sequence[dict[str, Any]], judged: bool) -> dict[str, Any]:
    """``targets`` (each {min, value, met}), ``converted``, ``source`` and ``by_sex_pair``."""
    converted = scores(rows, "converted", judged)
    by_sex = {}
    for kind in sorted({r["sex_pair"] for r in rows if r["sex_pair"]}):
        chosen = [r for r in rows if r["sex_pair"] == kind]
        by_sex[kind] = {
            "converted": scores(chosen, "converted", judged),
            "source": scores(chosen, "source", judged),
        }
    targets = {}
    for key, goal in TARGETS.items():
        value = converted.get(key)
        met = None if value is None else bool(value >= goal)
        targets[key] = {"min": goal, "value": value, "met": met}
    return {
        "targets": targets,
        "converted": converted,
        "source": scores(rows, "source", judged),
        "by_sex_pair": by_sex,
    }
