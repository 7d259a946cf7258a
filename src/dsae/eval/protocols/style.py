"""Style measured from generated frames: which part of the code carries the class, which the
per-frame style.

On data whose per-frame states dsae can measure from the pixels
(:data:`dsae.data.measures.MEASURES`: the slant, stroke thickness and ink box of digits and
fashion items), decode three kinds of sequences from every test sequence and score each:

- ``f_kept``: f = E[q(f | x_1:T)] of the sequence, z_1:T drawn from the sampler;
- ``z_kept``: z_1:T = E[q(z_1:T | x_1:T)] of the sequence, f drawn from the sampler;
- ``reconstruction``: both posterior means (the ceiling of both scores).

Scores: ``accuracy`` is the fraction (in [0, 1]) of sequences whose static factor the judge
reads as the source's true label; ``correlation`` is Pearson's r, over all frames, between
a state measured on the generated frame and the source frame's stored state. A disentangled
model keeps the class and forgets the style with f kept (high accuracy, r near 0) and does
the converse with z_1:T kept (chance accuracy, high r). r is None (JSON null) when either
side is constant, where it is undefined (e.g. a model that draws blank frames).

The Disentangled VRNN (Prasanna & Vidyasagar) shows such generations as pictures; these
are numbers for them. Latents are drawn for the whole split at once, as in Table 1, so the
result does not depend on the batch size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from dsae.data.base import SequenceSplit
from dsae.data.measures import MEASURES, frame_measure, measured_states
from dsae.data.modality import Modality
from dsae.errors import DsaeError
from dsae.eval.encode import eval_mode
from dsae.eval.judge import AnyJudge, LoadedJudge
from dsae.eval.protocols.base import EvalContext, FactorClassifier, Sampler, prepare
from dsae.models import Encoding

KINDS = ("f_kept", "z_kept", "reconstruction")


def pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson's r of two equally long arrays (flattened); None when either is constant."""
    a = np.asarray(a, np.float64).reshape(-1)
    b = np.asarray(b, np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"cannot correlate {a.size} values with {b.size}")
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    da, db = a - a.mean(), b - b.mean()
    r = float((da * db).sum() / np.sqrt((da * da).sum() * (db * db).sum()))
    return float(np.clip(r, -1.0, 1.0))


def stored_states(split: SequenceSplit, states: list[str]) -> dict[str, np.ndarray]:
    """{state: (N, T)} of the split's stored one-dimensional states."""
    out = {}
    for s in states:
        v = np.asarray(split.states[s])
        if v.ndim == 3 and v.shape[-1] == 1:
            v = v[..., 0]
        if v.shape != split.x.shape[:2]:
            raise DsaeError(f"state {s!r} has shape {split.states[s].shape}, expected (N, T, 1)")
        out[s] = v
    return out


def decode_and_measure(
    model: Any,
    modality: Modality,
    classifier: FactorClassifier | None,
    measure: Callable[[np.ndarray], dict[str, np.ndarray]],
    f: torch.Tensor,  # (N, f_dim)
    z: torch.Tensor,  # (N, T, z_dim)
    batch_size: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Decode every (f_i, z_i) in batches: the judge's (N, K) per factor (empty without a
    judge) and the measured states (N, T) of the decoded frames, stored as the data is."""
    proba: dict[str, list[np.ndarray]] = {}
    measured: dict[str, list[np.ndarray]] = {}
    with eval_mode(model), torch.no_grad():
        for lo in range(0, f.shape[0], batch_size):
            x = modality.to_frames(model.decode(f[lo : lo + batch_size], z[lo : lo + batch_size]))
            if classifier is not None:
                for k, v in classifier.predict_proba(x).items():
                    proba.setdefault(k, []).append(v)
            for k, v in measure(x).items():
                measured.setdefault(k, []).append(np.asarray(v))
    return (
        {k: np.concatenate(v) for k, v in proba.items()},
        {k: np.concatenate(v) for k, v in measured.items()},
    )


def style_protocol(
    model: Any,
    split: SequenceSplit,
    judge: AnyJudge | LoadedJudge | FactorClassifier | None,
    seed: int = 0,
    batch_size: int = 128,
    *,
    sampler: Sampler | None = None,
    encoding: Encoding | None = None,
) -> dict[str, Any]:
    """{"n_sequences", "states", "f_kept"|"z_kept"|"reconstruction": {"accuracy": {static
    factor: fraction}, "correlation": {state: r or None}}}.

    ``sampler`` None samples from the model's own priors; ``judge`` None leaves every
    ``accuracy`` empty.
    """
    classifier, enc = prepare(model, split, judge, encoding, batch_size)
    m = split.meta
    fm, states = frame_measure(m), measured_states(m)
    if fm is None or not states:
        raise DsaeError(
            f"dsae cannot measure the states of {m.name}'s frames "
            f"(it can for {', '.join(MEASURES)})"
        )
    sampler = model if sampler is None else sampler
    n, t = len(split), split.x.shape[1]
    g = torch.Generator().manual_seed(seed)
    z_prior = sampler.sample_z(n, t, g)
    f_prior = sampler.sample_f(n, g)
    truth = stored_states(split, states)
    labels = {k: split.static[:, j] for j, k in enumerate(m.static_factors)}
    latents = {
        "f_kept": (enc.f_mean, z_prior),
        "z_kept": (f_prior, enc.z_mean),
        "reconstruction": (enc.f_mean, enc.z_mean),
    }
    out: dict[str, Any] = {"n_sequences": n, "states": states}
    for kind in KINDS:
        f, z = latents[kind]
        proba, measured = decode_and_measure(
            model, m.modality, classifier, fm.measure, f, z, batch_size
        )
        out[kind] = {
            "accuracy": {
                k: float(np.mean(proba[k].argmax(axis=1) == y))
                for k, y in labels.items()
                if k in proba
            },
            "correlation": {s: pearson(measured[s], truth[s]) for s in states},
        }
    return out


def run(ctx: EvalContext, name: str, sampler: Sampler) -> dict[str, Any]:
    """The protocol on an evaluation context, with one sampler."""
    return style_protocol(
        ctx.model,
        ctx.split,
        ctx.classifier,
        ctx.seed,
        ctx.batch_size,
        sampler=sampler,
        encoding=ctx.encoding,
    )


__all__ = ["KINDS", "decode_and_measure", "pearson", "run", "stored_states", "style_protocol"]
