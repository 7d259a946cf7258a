"""Imputation of the last frames (Li & Mandt 2018, section 4.3, Figs. 7 and 8): the model
sees the first t = T - k frames of each test sequence and predicts the other k with its
prior dynamics, for every k = 1..T-1; the error is the fraction of wrong pixels of the
predicted frames and, where the data record where the ball is, the distance in pixels from
the predicted ball's centre to the true one. Binary frames only (bouncing balls)."""

from __future__ import annotations

from typing import Any

from dsae.data.base import SequenceSplit
from dsae.errors import DsaeError
from dsae.eval.imputation import imputation_curve
from dsae.eval.protocols.base import EvalContext, check_batch

MAX_SEQUENCES = 200  # the first test sequences scored
SAMPLES = 3  # sampled predictions per sequence and missing count


def default_missing(seq_len: int) -> list[int]:
    """The missing counts scored by default: every k = 1..10, then every fifth, and T - 1
    (for T = 30: 14 counts)."""
    ks = set(range(1, min(11, seq_len))) | set(range(15, seq_len, 5)) | {seq_len - 1}
    return sorted(k for k in ks if 1 <= k < seq_len)


def imputation_protocol(
    model: Any,
    split: SequenceSplit,
    batch_size: int = 128,
    seed: int = 0,
    samples: int = SAMPLES,
    max_sequences: int = MAX_SEQUENCES,
    missing: list[int] | None = None,
) -> dict[str, Any]:
    """:func:`~dsae.eval.imputation.imputation_curve` over ``missing`` (default:
    :func:`default_missing`) missing frames on the first ``max_sequences`` sequences of ``split``
    (``sequences`` says how many were scored, ``sequences_in_split`` of how many), with the
    balls' positions from the split's states (``split.states["position"]``) when it has them.

    It costs len(missing) x (samples + 1) imputations of every sequence scored: 14 x 4 x 200
    for T = 30, each encoding the seen frames and decoding all T."""
    check_batch(batch_size)
    seq_len = split.meta.seq_len
    if seq_len < 2:
        raise DsaeError(f"imputation needs sequences of at least 2 frames, got {seq_len}")
    n = min(max_sequences, len(split))
    positions = split.states.get("position")
    out = imputation_curve(
        model,
        split.x[:n],
        split.meta.modality,
        default_missing(seq_len) if missing is None else missing,
        samples=samples,
        seed=seed,
        batch_size=batch_size,
        positions=None if positions is None else positions[:n],
    )
    out["sequences_in_split"] = len(split)
    return out


def run(ctx: EvalContext) -> dict[str, Any]:
    """The protocol on an evaluation context (no judge, no sampler: the model's own dynamics)."""
    return imputation_protocol(ctx.model, ctx.split, ctx.batch_size, ctx.seed)


__all__ = ["MAX_SEQUENCES", "SAMPLES", "default_missing", "imputation_protocol", "run"]
