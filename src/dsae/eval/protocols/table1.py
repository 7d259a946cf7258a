"""Li & Mandt (2018), Sec. 4.1, Table 1: what the judge sees change when one part is resampled.

Keep f = E[q(f | x_1:T)] and sample z_1:T from the sampler, decode, and compare the judge's
class probabilities on the data (p_data) and on the result (p_recon) for each static factor:
disagreement of the most probable class (%), mean KL[p_recon || p_data] and KL-random =
mean KL[uniform || p_data]. The dynamic rows do the converse (keep the posterior mean of
z_1:T, sample f). The paper does not say whether it kept a sample or the mean of q; dsae
keeps the mean. Latents are drawn for the whole split at once, so results do not depend on
the batch size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dsae.data.base import SequenceSplit
from dsae.eval.judge import AnyJudge, LoadedJudge
from dsae.eval.protocols.base import (
    EvalContext,
    FactorClassifier,
    Sampler,
    decode_and_judge,
    prepare,
)
from dsae.eval.scores import compare_predictions
from dsae.models import Encoding


def table1_protocol(
    model: Any,
    split: SequenceSplit,
    judge: AnyJudge | LoadedJudge | FactorClassifier,
    seed: int = 0,
    batch_size: int = 128,
    *,
    sampler: Sampler | None = None,
    encoding: Encoding | None = None,
    data_proba: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Table 1: {"static"|"dynamic": {factor: {disagreement, kl_recon, kl_random}}}.

    ``sampler`` None samples from the model's own priors.
    """
    classifier, enc = prepare(model, split, judge, encoding, batch_size)
    sampler = model if sampler is None else sampler
    if data_proba is None:
        data_proba = classifier.predict_proba(split.x)
    n, t = len(split), split.x.shape[1]
    g = torch.Generator().manual_seed(seed)
    z_prior = sampler.sample_z(n, t, g)
    f_prior = sampler.sample_f(n, g)
    modality = split.meta.modality
    kept_f, _ = decode_and_judge(model, modality, classifier, enc.f_mean, z_prior, batch_size)
    kept_z, _ = decode_and_judge(model, modality, classifier, f_prior, enc.z_mean, batch_size)
    m = split.meta
    return {
        "static": {k: compare_predictions(kept_f[k], data_proba[k]) for k in m.static_factors},
        "dynamic": {k: compare_predictions(kept_z[k], data_proba[k]) for k in m.dynamic_factors},
    }


def run(ctx: EvalContext, name: str, sampler: Sampler) -> dict[str, Any]:
    """The protocol on an evaluation context, with one sampler."""
    return table1_protocol(
        ctx.model,
        ctx.split,
        ctx.classifier,
        ctx.seed,
        ctx.batch_size,
        sampler=sampler,
        encoding=ctx.encoding,
        data_proba=ctx.data_proba,
    )


__all__ = ["run", "table1_protocol"]
