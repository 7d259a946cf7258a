"""Swap accuracy (Li & Mandt 2018, Fig. 3 e, f, scored): f of one sequence with z_1:T of another.

Posterior means only, so it measures what f and z carry and whether the decoder obeys them,
independent of how well any sampler fits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dsae.data.base import SequenceSplit
from dsae.errors import DsaeError
from dsae.eval.judge import AnyJudge, LoadedJudge
from dsae.eval.protocols.base import (
    EvalContext,
    FactorClassifier,
    decode_and_judge,
    has_frame_labels,
    labels_by_factor,
    prepare,
    scored,
)
from dsae.eval.scores import accuracy
from dsae.models import Encoding


def swap_partners(n: int, seed: int) -> np.ndarray:
    """A random partner j != i for each of n >= 2 sequences (a seeded random offset)."""
    rng = np.random.default_rng(seed)
    return (np.arange(n) + rng.integers(1, n, size=n)) % n


def swap_protocol(
    model: Any,
    split: SequenceSplit,
    judge: AnyJudge | LoadedJudge | FactorClassifier,
    seed: int = 0,
    batch_size: int = 128,
    *,
    encoding: Encoding | None = None,
) -> dict[str, Any]:
    """Decode f_i with z_1:T of a partner sequence j (a random derangement of the split) and
    ask the judge whether the result keeps i's static factors and j's dynamic factors.

    ``differs`` scores the pairs whose two labels differ for that factor (there, keeping the
    wrong source's value is an error a plain accuracy can miss); ``other_source`` is how
    often, on those pairs, the judge sees the other source's value instead.
    """
    classifier, enc = prepare(model, split, judge, encoding, batch_size)
    n = len(split)
    if n < 2:
        raise DsaeError("swap scoring needs at least two sequences")
    partner = swap_partners(n, seed)
    f = enc.f_mean
    z = enc.z_mean[torch.from_numpy(partner)]
    seq, frame = decode_and_judge(
        model, split.meta.modality, classifier, f, z, batch_size, frame=has_frame_labels(split)
    )
    labels = labels_by_factor(split)
    out: dict[str, Any] = {"n_pairs": n, "static": {}, "dynamic": {}}
    for group, names, keep, other in (
        ("static", split.meta.static_factors, np.arange(n), partner),
        ("dynamic", split.meta.dynamic_factors, partner, np.arange(n)),
    ):
        for k in names:
            want, alt = labels[k][keep], labels[k][other]
            p, y = scored(seq, frame, k, want)
            y_alt = alt.reshape(-1)
            pred = p.argmax(-1)
            diff = y != y_alt
            out[group][k] = {
                "acc": accuracy(p, y),
                "differs": 100.0 * float(np.mean(pred[diff] == y[diff])) if diff.any() else None,
                "other_source": 100.0 * float(np.mean(pred[diff] == y_alt[diff]))
                if diff.any()
                else None,
            }
    return out


def run(ctx: EvalContext) -> dict[str, Any]:
    """The protocol on an evaluation context."""
    return swap_protocol(
        ctx.model, ctx.split, ctx.classifier, ctx.seed, ctx.batch_size, encoding=ctx.encoding
    )


__all__ = ["run", "swap_partners", "swap_protocol"]
