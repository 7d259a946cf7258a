"""Conditional generation scores of the later literature (C-DSVAE, SPYL, SKD, DBSE).

Keep z_1:T = E[q(z_1:T | x_1:T)] of a real test sequence, sample f from the sampler, and
score the action with the judge: accuracy against the true label, IS = exp(E_x KL[p(y|x) ||
p(y)]), H(y|x) and H(y) in nats, p(y) the mean of p(y|x) over the scored set, which is
class-balanced (a random draw of the smallest class count from every class, so H(y) can
reach log K). The converse (keep the posterior mean of f, sample z_1:T) scores the accuracy
of every static factor on all test sequences, also frame by frame (the judge's per-frame
class of each generated frame against the kept f's label: a sampled z_1:T that starts off
the data draws no figure in its first frames), with the confusion of each static factor (which
class the judge reads for which kept class: what a miss looks like). Mean and (population,
ddof=0) standard deviation over ``repeats`` seeds ``seed, seed + 1, ...``.

In the reference code of C-DSVAE, DBSE and SPYL the sampled f is N(0, I) and the sampled
z_1:T comes from the learnt LSTM prior: the model's own priors, dsae's ``learnt_prior``
sampler, the one whose numbers compare with the published tables.
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
    Sampler,
    decode_and_judge,
    labels_by_factor,
    prepare,
    scored,
)
from dsae.eval.scores import accuracy, balanced_subset, inception_score, label_entropies, mean_std
from dsae.models import Encoding


def generation_protocol(
    model: Any,
    split: SequenceSplit,
    judge: AnyJudge | LoadedJudge | FactorClassifier,
    repeats: int = 3,
    seed: int = 0,
    batch_size: int = 128,
    *,
    sampler: Sampler | None = None,
    encoding: Encoding | None = None,
) -> dict[str, dict]:
    """Conditional generation scores: z kept with f sampled (Acc, IS, H(y|x), H(y)) and f kept
    with z sampled (accuracy per static factor); mean and std over ``repeats`` seeds.

    The flat keys of ``z_kept_f_sampled`` score the first dynamic factor (named in
    ``factor``), on a subset balanced by its labels; with several dynamic factors,
    ``by_factor`` holds every one's scores on that same subset. Per-frame labels are scored
    frame by frame on all sequences. ``sampler`` None samples from the model's own priors.
    """
    if repeats < 1:
        raise DsaeError(f"repeats must be at least 1, got {repeats}")
    classifier, enc = prepare(model, split, judge, encoding, batch_size)
    sampler = model if sampler is None else sampler
    m = split.meta
    if not m.dynamic_factors:
        raise DsaeError("the data has no dynamic factor to score")
    modality = m.modality
    labels = labels_by_factor(split)
    dynamic = list(m.dynamic_factors)
    primary = dynamic[0]
    per_frame = any(labels[k].ndim == 2 for k in dynamic)
    n, t = len(split), split.x.shape[1]
    runs: dict[str, dict[str, list[float]]] = {k: {} for k in dynamic}
    static_acc: dict[str, list[float]] = {k: [] for k in m.static_factors}
    static_by_frame: dict[str, list[np.ndarray]] = {k: [] for k in m.static_factors}
    confusion = {k: np.zeros((c, c), dtype=np.int64) for k, c in m.static_factors.items()}
    n_scored = n
    for r in range(repeats):
        g = torch.Generator().manual_seed(seed + r)
        rng = np.random.default_rng(seed + r)
        idx = np.arange(n) if labels[primary].ndim == 2 else balanced_subset(labels[primary], rng)
        n_scored = int(idx.size)
        f_prior = sampler.sample_f(idx.size, g)
        seq, frame = decode_and_judge(
            model,
            modality,
            classifier,
            f_prior,
            enc.z_mean[torch.from_numpy(idx)],
            batch_size,
            sequence=any(labels[k].ndim == 1 for k in dynamic),
            frame=per_frame,
        )
        for k in dynamic:
            p, y = scored(seq, frame, k, labels[k][idx])
            h_yx, h_y = label_entropies(p)
            for key, v in (
                ("acc", accuracy(p, y)),
                ("is", inception_score(p)),
                ("h_yx", h_yx),
                ("h_y", h_y),
            ):
                runs[k].setdefault(key, []).append(v)
        z_prior = sampler.sample_z(n, t, g)
        seq, frame = decode_and_judge(
            model, modality, classifier, enc.f_mean, z_prior, batch_size, frame=True
        )
        for k in m.static_factors:
            static_acc[k].append(accuracy(seq[k], labels[k]))
            np.add.at(confusion[k], (labels[k], seq[k].argmax(-1)), 1)
            hit = frame[k].argmax(-1) == labels[k][:, None]  # (N, T)
            static_by_frame[k].append(100.0 * hit.mean(0))

    def summary(k: str) -> dict[str, Any]:
        return {
            **{key: mean_std(v) for key, v in runs[k].items()},
            "n": n_scored,
            "n_classes": int(m.dynamic_factors[k]),
        }

    z_kept = {"factor": primary, **summary(primary), "balanced": labels[primary].ndim == 1}
    if len(dynamic) > 1:
        z_kept["by_factor"] = {k: summary(k) for k in dynamic}
    return {
        "z_kept_f_sampled": z_kept,
        "f_kept_z_sampled": {k: mean_std(v) for k, v in static_acc.items()},
        "f_kept_z_sampled_by_frame": {
            k: {
                "mean": np.mean(v, axis=0).tolist(),
                "std": np.std(v, axis=0).tolist(),
                "min_frame": int(np.argmin(np.mean(v, axis=0))),
            }
            for k, v in static_by_frame.items()
        },
        # rows: the kept f's class, columns: the judge's, counts summed over the repeats
        "f_kept_z_sampled_confusion": {k: v.tolist() for k, v in confusion.items()},
    }


def run(ctx: EvalContext, name: str, sampler: Sampler) -> dict[str, Any]:
    """The protocol on an evaluation context, with one sampler."""
    return generation_protocol(
        ctx.model,
        ctx.split,
        ctx.classifier,
        ctx.repeats,
        ctx.seed,
        ctx.batch_size,
        sampler=sampler,
        encoding=ctx.encoding,
    )


__all__ = ["generation_protocol", "run"]
