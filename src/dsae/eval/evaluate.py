"""Every protocol the data and the model allow, on one test split: the metrics.json structure.

A pure library function (no files): :func:`evaluate` returns plain JSON-ready values;
``dsae.pipeline.evaluate.evaluate_run`` loads a run and a judge, adds what it knows of them
(checkpoint step, paths, config) and writes the result and the plots.

Protocols that sample (table 1, generation, style, trajectories) run once per sampler, their
results keyed by sampler name. ``learnt_prior`` (the model's own p(f) and p(z_1:T), as in
the reference code of C-DSVAE, DBSE and SPYL) comes first and is the row that compares with
the published tables.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy
import sklearn
import torch
from tqdm import tqdm

from dsae import __version__
from dsae.data.base import SequenceSplit
from dsae.errors import DsaeError
from dsae.eval.protocols import PROTOCOLS, select_protocols
from dsae.eval.protocols.base import (
    EvalContext,
    Sampler,
    as_classifier,
    can_sample,
    has_frame_labels,
    prepare,
)

LEARNT_PRIOR = "learnt_prior"

__all__ = ["LEARNT_PRIOR", "evaluate", "order_samplers", "to_json_safe", "versions"]


def versions() -> dict[str, str]:
    """Versions of everything the numbers depend on."""
    return {
        "dsae": __version__,
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "python": platform.python_version(),
    }


def to_json_safe(obj: Any) -> Any:
    """Plain JSON types: numpy scalars and arrays unwrapped, NaN and infinities as None,
    other objects as their text."""
    if isinstance(obj, dict):
        return {str(k): to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_json_safe(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)  # anything else (paths, version objects) by its text


def order_samplers(model: Any, samplers: dict[str, Sampler] | None) -> dict[str, Sampler]:
    """The samplers to report, ``learnt_prior`` first; None means the model's own priors."""
    if samplers is None:
        samplers = {LEARNT_PRIOR: model}
    for name, s in samplers.items():
        if not can_sample(s):
            raise DsaeError(f"sampler {name!r} has no sample_f and sample_z")
    first = {LEARNT_PRIOR: samplers[LEARNT_PRIOR]} if LEARNT_PRIOR in samplers else {}
    return {**first, **{k: v for k, v in samplers.items() if k != LEARNT_PRIOR}}


def evaluate(
    model: Any,
    split: SequenceSplit,
    judge: Any = None,
    samplers: dict[str, Sampler] | None = None,
    seed: int = 0,
    repeats: int = 3,
    batch_size: int = 128,
    *,
    protocols: list[str] | None = None,
    on_trajectories: Callable[[str, dict[str, np.ndarray], list[str]], None] | None = None,
    train: Callable[[], SequenceSplit] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Run every protocol the split and the model allow; return the metrics.json structure.

    ``judge``: a judge of any family, a LoadedJudge, any FactorClassifier, or None
    (label-free parts only).
    ``samplers``: {name: object with sample_f/sample_z}; None = {"learnt_prior": model}.
    ``protocols``: restrict to these names (others are skipped as "not asked for").
    ``on_trajectories(sampler_name, {"static"|"dynamic": classes}, factor_names)`` receives
    the class arrays of the trajectories protocol (to plot them).
    ``train()`` loads the training split, for the verification protocol's probes (None: they
    are fitted on half of the test utterances).

    Keys: ``data``, ``versions``, ``samplers`` (names, ``learnt_prior`` first),
    ``compared_with_published`` ("learnt_prior" or None), ``judge``, ``skipped``
    ({protocol: reason}), ``seeds``, ``timing`` (s per step), then one key per protocol that
    ran: ``table1``, ``generation``, ``style``, ``trajectories`` as {sampler name: result},
    ``swap``, ``latent``, ``reconstruction``, ``verification`` as plain results.
    """
    if repeats < 1:
        raise DsaeError(f"repeats must be at least 1, got {repeats}")
    unknown = sorted(set(protocols or []) - set(PROTOCOLS))
    if unknown:
        raise DsaeError(f"unknown protocols {unknown}; known: {', '.join(PROTOCOLS)}")
    ordered = order_samplers(model, samplers)
    frame_labels = has_frame_labels(split)
    chosen, skipped = select_protocols(split.meta, judge is not None, model, frame_labels)
    if protocols is not None:
        skipped.update({n: "not asked for" for n in chosen if n not in protocols})
        chosen = [n for n in chosen if n in protocols]
    if not ordered:
        skipped.update({n: "no sampler given" for n in chosen if PROTOCOLS[n].sampler})
        chosen = [n for n in chosen if not PROTOCOLS[n].sampler]

    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    classifier = as_classifier(judge) if judge is not None else None
    classifier, encoding = prepare(model, split, classifier, None, batch_size)
    data_proba = classifier.predict_proba(split.x) if classifier is not None else None
    timing["encode"] = round(time.perf_counter() - t0, 3)
    ctx = EvalContext(
        model,
        split,
        classifier,
        encoding,
        data_proba,
        seed,
        repeats,
        batch_size,
        on_trajectories,
        train,
    )
    m = split.meta
    out: dict[str, Any] = {
        "data": {
            "name": m.name,
            "n_test": len(split),
            "seq_len": m.seq_len,
            "frame_shape": list(m.frame_shape),
            "modality": m.modality.name,
            "static_factors": dict(m.static_factors),
            "dynamic_factors": dict(m.dynamic_factors),
            "frame_labels": frame_labels,
        },
        "versions": versions(),
        "samplers": list(ordered),
        "compared_with_published": LEARNT_PRIOR if LEARNT_PRIOR in ordered else None,
        "judge": None if classifier is None else {"factors": dict(classifier.n_classes)},
        "skipped": skipped,
        "seeds": {
            n: [seed + r for r in range(repeats)] if n == "generation" else seed for n in chosen
        },
        "timing": timing,
    }
    bar = tqdm(chosen, desc="evaluate", unit="protocol", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        spec = PROTOCOLS[name]
        t0 = time.perf_counter()
        if spec.sampler:
            out[name] = {s: spec.run(ctx, s, sampler) for s, sampler in ordered.items()}
        else:
            out[name] = spec.run(ctx)
        timing[name] = round(time.perf_counter() - t0, 3)
    bar.close()
    return to_json_safe(out)
