"""Reconstruction quality: how close the decoded posterior means are to the data, by the
modality's own measure (images: MSE and PSNR; vectors: MSE and SNR in dB), and whether a
judge still reads the true labels off them."""

from __future__ import annotations

from typing import Any

import numpy as np

from dsae.data.base import SequenceSplit
from dsae.eval.encode import eval_mode
from dsae.eval.judge import AnyJudge, LoadedJudge
from dsae.eval.protocols.base import (
    EvalContext,
    FactorClassifier,
    has_frame_labels,
    labels_by_factor,
    prepare,
    scored,
)
from dsae.eval.scores import accuracy
from dsae.models import Encoding


def reconstruction_protocol(
    model: Any,
    split: SequenceSplit,
    judge: AnyJudge | LoadedJudge | FactorClassifier | None = None,
    batch_size: int = 128,
    *,
    encoding: Encoding | None = None,
    data_proba: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Quality of posterior-mean reconstructions, and the judge's accuracy on them.

    Every measure of ``split.meta.modality.quality`` is computed per sequence (on the
    reconstruction in the stored layout, e.g. uint8 images) and averaged over the sequences:
    for images ``mse`` and ``psnr`` (mean over sequences of 10 log10(1 / MSE_seq), capped
    at 100 dB) and ``psnr_global`` (the PSNR of the mean MSE). ``judge_accuracy`` (%) is the judge's accuracy on the reconstructions
    against the true labels, ``judge_accuracy_data`` on the data themselves, per factor.
    """
    classifier, enc = prepare(model, split, judge, encoding, batch_size)
    modality = split.meta.modality
    labels = labels_by_factor(split)
    per_frame = has_frame_labels(split)
    quality: dict[str, list[float]] = {}
    seq: dict[str, list[np.ndarray]] = {}
    frame: dict[str, list[np.ndarray]] = {}
    with eval_mode(model):
        for lo in range(0, len(split), batch_size):
            x_hat = model.decode(enc.f_mean[lo : lo + batch_size], enc.z_mean[lo : lo + batch_size])
            frames = modality.to_frames(x_hat)
            x = split.x[lo : lo + batch_size]
            for i in range(len(x)):
                for k, v in modality.quality(x[i : i + 1], frames[i : i + 1]).items():
                    quality.setdefault(k, []).append(v)
            if classifier is None:
                continue
            for k, v in classifier.predict_proba(frames).items():
                seq.setdefault(k, []).append(v)
            if per_frame:
                for k, v in classifier.predict_frame_proba(frames).items():
                    frame.setdefault(k, []).append(v)
    out: dict[str, Any] = modality.pool(quality)
    out.update({"modality": modality.name, "averaged_over": "sequences", "n": len(split)})
    if classifier is None:
        return out
    seq_p = {k: np.concatenate(v) for k, v in seq.items()}
    frame_p = {k: np.concatenate(v) for k, v in frame.items()}
    if data_proba is None:
        data_proba = classifier.predict_proba(split.x)
    data_frame = classifier.predict_frame_proba(split.x) if per_frame else {}
    out["judge_accuracy"] = {k: accuracy(*scored(seq_p, frame_p, k, y)) for k, y in labels.items()}
    out["judge_accuracy_data"] = {
        k: accuracy(*scored(data_proba, data_frame, k, y)) for k, y in labels.items()
    }
    return out


def run(ctx: EvalContext) -> dict[str, Any]:
    """The protocol on an evaluation context (the judge is optional here)."""
    return reconstruction_protocol(
        ctx.model,
        ctx.split,
        ctx.classifier,
        ctx.batch_size,
        encoding=ctx.encoding,
        data_proba=ctx.data_proba,
    )


__all__ = ["reconstruction_protocol", "run"]
