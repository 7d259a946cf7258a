"""Li & Mandt (2018), Fig. 4: the judge's class per frame along generated sequences.

Sequences sharing one sampled f (each with its own sampled z_1:T) should keep their static
classes and vary in their dynamic ones; sequences sharing one sampled z_1:T (each with its
own f) the converse. The summaries are numbers; the class arrays go to a caller's hook
(the run-level evaluation plots them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dsae.data.modality import Modality
from dsae.errors import DsaeError
from dsae.eval.judge import AnyJudge, LoadedJudge
from dsae.eval.protocols.base import (
    EvalContext,
    FactorClassifier,
    Sampler,
    as_classifier,
    check_batch,
    decode_and_judge,
)

TITLES = {
    "static": "one sampled f per colour, sampled z_1:T",
    "dynamic": "one sampled z_1:T per colour, sampled f",
}


def factor_trajectories(
    model: Any,
    judge: AnyJudge | LoadedJudge | FactorClassifier,
    modality: Modality,
    fix: str,
    seq_len: int,
    seed: int = 0,
    groups: int = 5,
    per_group: int = 40,
    batch_size: int = 128,
    *,
    sampler: Sampler | None = None,
) -> np.ndarray:
    """The judge's class per frame of generated sequences: (groups, per_group, T, K) int.

    ``fix="static"`` shares one sampled f per group and samples z_1:T per sequence;
    ``fix="dynamic"`` shares one z_1:T per group and samples f. K runs over the judge's
    factor names (static, then dynamic). ``sampler`` None samples the model's own priors.
    """
    if fix not in ("static", "dynamic"):
        raise ValueError(f"fix must be static or dynamic, got {fix!r}")
    if min(groups, per_group, seq_len) <= 0:
        raise DsaeError(f"groups, per_group and seq_len must be positive: {groups, per_group}")
    check_batch(batch_size)
    sampler = model if sampler is None else sampler
    classifier = as_classifier(judge)
    g = torch.Generator().manual_seed(seed)
    n = groups * per_group
    if fix == "static":
        f = sampler.sample_f(groups, g).repeat_interleave(per_group, dim=0)
        z = sampler.sample_z(n, seq_len, g)
    else:
        z = sampler.sample_z(groups, seq_len, g).repeat_interleave(per_group, dim=0)
        f = sampler.sample_f(n, g)
    _, frame = decode_and_judge(
        model, modality, classifier, f, z, batch_size, sequence=False, frame=True
    )
    classes = np.stack([frame[k].argmax(-1) for k in classifier.factor_names], axis=-1)
    return classes.reshape(groups, per_group, seq_len, -1).astype(np.int64)


def trajectory_summary(classes: np.ndarray, factor_names: list[str]) -> dict[str, dict]:
    """Per factor: ``agreement``, the share of frames showing their group's most common class,
    and ``constant_over_time``, the share of sequences whose class never changes."""
    agreement, constant = {}, {}
    for k, name in enumerate(factor_names):
        c = classes[..., k].reshape(classes.shape[0], -1)  # (G, S * T)
        modes = np.array([np.bincount(row).argmax() for row in c])
        agreement[name] = float(np.mean(c == modes[:, None]))
        seqs = classes[..., k]  # (G, S, T)
        constant[name] = float(np.mean(np.all(seqs == seqs[..., :1], axis=-1)))
    return {"agreement": agreement, "constant_over_time": constant}


def trajectories_protocol(
    model: Any,
    judge: AnyJudge | LoadedJudge | FactorClassifier,
    modality: Modality,
    seq_len: int,
    seed: int = 0,
    groups: int = 5,
    per_group: int = 40,
    batch_size: int = 128,
    *,
    sampler: Sampler | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Summaries of the classes along sequences sharing f (``fixed_f``) or z_1:T
    (``fixed_z``), and the class arrays {"static"|"dynamic": (groups, per_group, T, K)}."""
    classifier = as_classifier(judge)
    names = list(classifier.factor_names)
    out: dict[str, Any] = {}
    classes: dict[str, np.ndarray] = {}
    for fix, key in (("static", "fixed_f"), ("dynamic", "fixed_z")):
        classes[fix] = factor_trajectories(
            model, classifier, modality, fix, seq_len, seed, groups, per_group, batch_size,
            sampler=sampler,
        )  # fmt: skip
        out[key] = trajectory_summary(classes[fix], names)
    return out, classes


def run(ctx: EvalContext, name: str, sampler: Sampler) -> dict[str, Any]:
    """The protocol on an evaluation context, with one sampler; classes go to the hook."""
    summary, classes = trajectories_protocol(
        ctx.model,
        ctx.classifier,
        ctx.split.meta.modality,
        ctx.split.meta.seq_len,
        ctx.seed,
        batch_size=ctx.batch_size,
        sampler=sampler,
    )
    if ctx.on_trajectories is not None:
        ctx.on_trajectories(name, classes, list(ctx.classifier.factor_names))
    return summary


__all__ = [
    "TITLES",
    "factor_trajectories",
    "run",
    "trajectories_protocol",
    "trajectory_summary",
]
