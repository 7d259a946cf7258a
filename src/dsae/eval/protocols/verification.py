"""Speaker verification with mu_f and mu_z (Li & Mandt 2018, Sec. 4.2 and Table 2, after
Hsu et al. 2017), and linear probes of what each feature holds.

Segments are pooled per utterance (``split.group_ids("utterance")``; a dataset without that
grouping pools nothing, each sequence is its own utterance) into the paper's mu_f and mu_z
(:func:`dsae.eval.verification.utterance_features`). For every static factor (the speaker on
speech; skin, pants, ... on Sprites) every pair of test utterances is scored by the cosine of
their features, and the EER says how well the feature tells same from different. A good
disentangled model has a low EER with mu_f and a high one (near 0.5) with mu_z.

Probes: a logistic regression per per-sequence factor (static factors, and dynamic ones with
one label per sequence) and feature, fitted on the training split's utterances and scored on
the test split's (without a training split: fitted on a seeded half of the test utterances,
scored on the other half). A factor whose label varies within an utterance is left out.

Large test sets are capped to ``MAX_PAIR_GROUPS`` utterances for the pairs (and the training
split to ``MAX_PROBE_GROUPS`` for the probes) by a seeded choice, recorded in the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from dsae.data.base import SequenceSplit
from dsae.errors import DsaeError
from dsae.eval.encode import encode_split
from dsae.eval.protocols.base import EvalContext, check_model_matches, prepare
from dsae.eval.verification import (
    eer_from_roc,
    group_labels,
    linear_probe,
    pair_scores,
    roc_curve,
    subsample_curve,
    utterance_features,
)
from dsae.models import Encoding

GROUPING = "utterance"
FEATURES = ("mu_f", "mu_z")
MAX_PAIR_GROUPS = 2000
MAX_PROBE_GROUPS = 4000
ROC_POINTS = 101
_ENCODE_CHUNK = 1024  # sequences copied out of a split at a time

__all__ = ["MAX_PAIR_GROUPS", "MAX_PROBE_GROUPS", "run", "verification_protocol"]


def sequence_labels(split: SequenceSplit) -> dict[str, np.ndarray]:
    """Labels with one value per sequence (N,): static factors, then per-sequence dynamic ones."""
    out = {k: split.static[:, j] for j, k in enumerate(split.meta.static_factors)}
    out.update({k: v for k, v in split.dynamic.items() if np.ndim(v) == 1})
    return out


def _encode_rows(model: Any, split: SequenceSplit, rows: np.ndarray, batch_size: int) -> Encoding:
    """Posterior means of the sequences ``rows`` of ``split``, copying a chunk at a time."""
    parts = [
        encode_split(model, split.meta.modality, split.x[rows[lo : lo + _ENCODE_CHUNK]], batch_size)
        for lo in range(0, rows.size, _ENCODE_CHUNK)
    ]
    return Encoding(*(torch.cat([getattr(e, fl.name) for e in parts]) for fl in fields(Encoding)))


@dataclass
class _Utterances:
    """The pooled features {"mu_f", "mu_z"}: (G, dim) and per-utterance labels (G,) of some
    sequences (a label is None when it varies within an utterance)."""

    features: dict[str, np.ndarray]
    labels: dict[str, np.ndarray | None]

    @classmethod
    def pooled(
        cls, enc: Encoding, groups: np.ndarray, labels: dict[str, np.ndarray]
    ) -> _Utterances:
        return cls(
            utterance_features(enc, groups), {k: group_labels(v, groups) for k, v in labels.items()}
        )

    @property
    def n(self) -> int:
        return self.features["mu_f"].shape[0]

    def take(self, idx: np.ndarray) -> _Utterances:
        return _Utterances(
            {k: v[idx] for k, v in self.features.items()},
            {k: None if v is None else v[idx] for k, v in self.labels.items()},
        )


def _choose(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """All of 0..n-1, or a sorted seeded choice of ``cap`` of them."""
    return np.arange(n) if n <= cap else np.sort(rng.choice(n, cap, replace=False))


def _verify(utt: _Utterances, factors: list[str], notes: list[str]) -> tuple[dict, dict]:
    """EER and subsampled ROC per static factor and feature (scores sorted once per feature)."""
    usable = []
    for name in factors:
        labels = utt.labels[name]
        if labels is None:
            notes.append(f"{name}: the label varies within an utterance, no EER")
        elif np.unique(labels).size < 2 or np.unique(labels).size == labels.size:
            notes.append(f"{name}: no pairs of one kind among the test utterances, no EER")
        else:
            usable.append(name)
    eers: dict[str, dict[str, float]] = {k: {} for k in usable}
    rocs: dict[str, dict[str, dict[str, list]]] = {k: {} for k in usable}
    if not usable:
        return eers, rocs
    labels = np.stack([utt.labels[k] for k in usable], axis=1)  # (G, K)
    for feat in FEATURES:
        scores, same = pair_scores(utt.features[feat], labels)  # (P,), (P, K)
        order = np.argsort(-scores)
        scores, same = scores[order], same[order]
        for k, name in enumerate(usable):
            fpr, tpr, _ = roc_curve(scores, same[:, k])
            eers[name][feat] = eer_from_roc(fpr, tpr)
            fpr, tpr = subsample_curve(fpr, tpr, ROC_POINTS)
            rocs[name][feat] = {"fpr": fpr, "tpr": tpr}
    return eers, rocs


def _probe(fit: _Utterances, test: _Utterances, seed: int, notes: list[str]) -> tuple[dict, dict]:
    """Probe accuracy per factor and feature, and the majority-class accuracy (chance)."""
    probes: dict[str, dict[str, float]] = {}
    chance: dict[str, float] = {}
    for name, y_test in test.labels.items():
        if name not in fit.labels:
            notes.append(f"{name}: not labelled where the probes are fitted, no probe")
            continue
        y_fit = fit.labels[name]
        if y_test is None or y_fit is None:
            notes.append(f"{name}: the label varies within an utterance, no probe")
            continue
        unseen = float(np.mean(~np.isin(y_test, y_fit)))
        if unseen > 0:
            notes.append(
                f"{name}: {100 * unseen:.1f}% of the test utterances have a class the probe "
                "never saw fitted (no probe can name it)"
            )
        classes, counts = np.unique(y_fit, return_counts=True)
        chance[name] = float(np.mean(y_test == classes[np.argmax(counts)]))
        probes[name] = {
            feat: linear_probe(fit.features[feat], y_fit, test.features[feat], y_test, seed)
            for feat in FEATURES
        }
    return probes, chance


def verification_protocol(
    model: Any,
    split: SequenceSplit,
    seed: int = 0,
    batch_size: int = 128,
    *,
    encoding: Encoding | None = None,
    train: SequenceSplit | None = None,
    max_groups: int = MAX_PAIR_GROUPS,
    max_probe_groups: int = MAX_PROBE_GROUPS,
) -> dict[str, Any]:
    """EER of mu_f and mu_z per static factor over pairs of test utterances, and linear probes
    of every per-sequence factor from each (fitted on ``train``'s utterances when given)."""
    _, enc = prepare(model, split, None, encoding, batch_size)
    m = split.meta
    if not m.static_factors:
        raise DsaeError("speaker verification needs a labelled static factor (e.g. the speaker)")
    if max_groups < 2 or max_probe_groups < 2:
        raise DsaeError(f"group caps must be at least 2, got {max_groups}, {max_probe_groups}")
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    grouping = GROUPING if GROUPING in split.groups else "sequence"
    test = _Utterances.pooled(enc, split.group_ids(GROUPING), sequence_labels(split))
    paired = test.take(_choose(test.n, max_groups, rng))
    if paired.n < test.n:
        notes.append(f"pairs from a seeded choice of {paired.n} of the {test.n} test utterances")
    eers, rocs = _verify(paired, list(m.static_factors), notes)

    if train is not None:
        check_model_matches(model, train)
        tr_groups = train.group_ids(GROUPING)
        ids = np.unique(tr_groups)
        chosen = ids[_choose(ids.size, max_probe_groups, rng)]
        rows = np.flatnonzero(np.isin(tr_groups, chosen))
        tr_labels = {k: v[rows] for k, v in sequence_labels(train).items()}
        fit = _Utterances.pooled(
            _encode_rows(model, train, rows, batch_size), tr_groups[rows], tr_labels
        )
        scored, fit_on = test, "training split"
        if chosen.size < ids.size:
            notes.append(
                f"probes fitted on a seeded choice of {chosen.size} of {ids.size} training "
                "utterances"
            )
    else:
        order = rng.permutation(test.n)
        half = test.n // 2
        fit, scored = test.take(np.sort(order[:half])), test.take(np.sort(order[half:]))
        fit_on = "half of the test utterances"
    if fit.n and scored.n:
        probes, chance = _probe(fit, scored, seed, notes)
    else:
        probes, chance = {}, {}
        notes.append("too few utterances to fit and score probes")
    return {
        "grouping": grouping,
        "n_groups": test.n,
        "n_test_groups": paired.n,
        "n_pairs": paired.n * (paired.n - 1) // 2,
        "eer": eers,
        "dims": {k: int(v.shape[1]) for k, v in test.features.items()},
        "probe": probes,
        "probe_chance": chance,
        "probe_fit": {"on": fit_on, "n_fit": fit.n, "n_test": scored.n},
        "roc": rocs,
        "notes": notes,
    }


def run(ctx: EvalContext) -> dict[str, Any]:
    """The protocol on an evaluation context (the training split, when it has a loader)."""
    load_train: Callable[[], SequenceSplit] | None = ctx.train
    return verification_protocol(
        ctx.model,
        ctx.split,
        ctx.seed,
        ctx.batch_size,
        encoding=ctx.encoding,
        train=None if load_train is None else load_train(),
    )
