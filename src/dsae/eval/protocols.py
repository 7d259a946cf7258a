"""Evaluation protocols: what a trained model's f and z_1:T keep, as a judge sees it.

Each protocol is a function of (model, test split, judge, seed, ...) that returns a plain
dict of floats, ready for JSON; :func:`evaluate_run` runs them all on a run directory and
writes ``metrics.json`` beside the plots.

- :func:`table1_protocol`, Li & Mandt (2018), Sec. 4.1, Table 1 (and seed 000, Sec. 4):
  keep f = E[q(f | x_1:T)] and sample z_1:T ~ p(z), decode, and compare the judge's
  class probabilities on the data (p_data) and on the result (p_recon) for each static
  factor: disagreement of the most probable class (%), mean KL[p_recon || p_data] and
  KL-random = mean KL[uniform || p_data]. The dynamic rows do the converse (keep the
  posterior mean of z_1:T, sample f ~ p(f)). The paper does not say whether it kept a
  sample or the mean of q; dsae keeps the mean.
- :func:`generation_protocol`, the later literature (C-DSVAE, SPYL, SKD, DBSE): keep z_1:T,
  sample f ~ p(f), and score the action with the judge: accuracy against the true label,
  IS = exp(E_x KL[p(y|x) || p(y)]), H(y|x) and H(y) in nats, p(y) the mean of p(y|x) over
  the scored set, which is class-balanced (a random draw of the smallest class count from
  every class, so H(y) can reach log K). The converse (keep f, sample z_1:T) scores the
  accuracy of every static factor on all test sequences. Mean and (population, ddof=0)
  standard deviation over ``repeats`` seeds ``seed, seed + 1, ...``.
- :func:`trajectories_protocol`, Li & Mandt (2018), Fig. 4: the judge's class per frame
  of sequences sharing one f ~ p(f) (with z_1:T ~ p(z)), and of sequences sharing one
  z_1:T (with f ~ p(f)).
- :func:`latent_protocol`: the latent metrics of :mod:`dsae.eval.latent_metrics` on the
  posterior means (f for static factors, z_t averaged over t for dynamic ones).
- :func:`reconstruction_protocol`: MSE and PSNR of posterior-mean reconstructions, and
  whether the judge still reads the true labels off them.

Probabilities are floored at :data:`PROB_FLOOR` where a KL divides by them, so an exact
zero from a judge gives a large finite KL rather than infinity. Sampled latents are drawn
for the whole split at once, so results do not depend on the batch size.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from scipy.special import rel_entr, xlogy
from tqdm import tqdm

from dsae import __version__
from dsae.data.base import SequenceSplit, fingerprint, load_split
from dsae.errors import DsaeError
from dsae.eval.judge import (
    Judge,
    LoadedJudge,
    check_judge_matches,
    load_judge,
    predict_frame_proba,
    predict_proba,
)
from dsae.models import DSAE, Encoding
from dsae.train.loop import frames_to_tensor, load_run, tensor_to_frames
from dsae.utils import atomic_write_text

PROB_FLOOR = 1e-12  # smallest probability a KL divides by
MSE_FLOOR = 1e-10  # caps PSNR at 100 dB for a perfect reconstruction
MIN_REPEATS = 3
METRICS_FILE = "metrics.json"
TRAJECTORY_PLOTS = {"static": "trajectories_fixed_f.png", "dynamic": "trajectories_fixed_z.png"}


# -- the numeric core -----------------------------------------------------------------------
def _rows(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 1:
        p = p[None]
    if p.ndim != 2:
        raise ValueError(f"expected probabilities of shape (N, K), got {p.shape}")
    return p


def kl_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL[p || q] in nats per row of (N, K) probabilities; q floored at PROB_FLOOR."""
    p, q = _rows(p), _rows(q)
    q = np.clip(q, PROB_FLOOR, None)
    q = q / q.sum(axis=1, keepdims=True)
    return rel_entr(p, q).sum(axis=1)


def entropy(p: np.ndarray) -> np.ndarray:
    """H(p) = -sum_k p_k log p_k in nats per row of (N, K) probabilities (0 log 0 = 0)."""
    return -xlogy(_rows(p), _rows(p)).sum(axis=1)


def disagreement(p: np.ndarray, q: np.ndarray) -> float:
    """Percentage of rows whose most probable classes under p and q differ."""
    p, q = _rows(p), _rows(q)
    if p.shape[0] == 0:
        return float("nan")
    return float(100.0 * np.mean(p.argmax(axis=1) != q.argmax(axis=1)))


def inception_score(p_yx: np.ndarray) -> float:
    """IS = exp(E_x KL[p(y|x) || p(y)]), with p(y) the mean of p(y|x) over the rows."""
    p = _rows(p_yx)
    p_y = p.mean(axis=0, keepdims=True)
    return float(np.exp(kl_divergence(p, np.broadcast_to(p_y, p.shape)).mean()))


def label_entropies(p_yx: np.ndarray) -> tuple[float, float]:
    """(H(y|x), H(y)) in nats: mean entropy of p(y|x), entropy of p(y) = mean of p(y|x)."""
    p = _rows(p_yx)
    return float(entropy(p).mean()), float(entropy(p.mean(axis=0))[0])


def accuracy(p: np.ndarray, labels: np.ndarray) -> float:
    """Percentage of rows whose most probable class is the label."""
    p = _rows(p)
    return float(100.0 * np.mean(p.argmax(axis=1) == np.asarray(labels).reshape(-1)))


def balanced_subset(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices with the same number of rows, the smallest class count, per class present."""
    labels = np.asarray(labels).reshape(-1)
    classes, counts = np.unique(labels, return_counts=True)
    if classes.size == 0:
        return np.zeros(0, dtype=np.int64)
    m = int(counts.min())
    picks = [rng.choice(np.flatnonzero(labels == c), size=m, replace=False) for c in classes]
    return np.sort(np.concatenate(picks)).astype(np.int64)


def mean_std(values: list[float]) -> dict[str, float]:
    """{"mean", "std"} of repeated measurements (population std, ddof=0)."""
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std())}


def compare_predictions(p_recon: np.ndarray, p_data: np.ndarray) -> dict[str, float]:
    """Table 1's row: disagreement (%), mean KL[p_recon || p_data], mean KL[uniform || p_data]."""
    p_recon, p_data = _rows(p_recon), _rows(p_data)
    uniform = np.full_like(p_data, 1.0 / p_data.shape[1])
    return {
        "disagreement": disagreement(p_recon, p_data),
        "kl_recon": float(kl_divergence(p_recon, p_data).mean()),
        "kl_random": float(kl_divergence(uniform, p_data).mean()),
    }


# -- judges ---------------------------------------------------------------------------------
class FactorClassifier(Protocol):
    """What the protocols need of a judge: class probabilities per factor for uint8 frames."""

    factor_names: list[str]
    n_classes: dict[str, int]

    def predict_proba(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """(N, T, H, W, C) uint8 -> (N, K) per factor."""
        ...

    def predict_frame_proba(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """(N, T, H, W, C) uint8 -> (N, T, K) per factor."""
        ...


@dataclass
class JudgeClassifier:
    """A trained :class:`~dsae.eval.judge.Judge` seen through :class:`FactorClassifier`."""

    judge: Judge
    batch_size: int = 256

    @property
    def factor_names(self) -> list[str]:
        """Static factor names, then dynamic ones."""
        return self.judge.factor_names

    @property
    def n_classes(self) -> dict[str, int]:
        """Number of classes per factor."""
        return self.judge.n_classes

    def predict_proba(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """(N, T, H, W, C) uint8 -> (N, K) per factor."""
        return predict_proba(self.judge, x, self.batch_size)

    def predict_frame_proba(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """(N, T, H, W, C) uint8 -> (N, T, K) per factor."""
        return predict_frame_proba(self.judge, x, self.batch_size)


def as_classifier(judge: Judge | LoadedJudge | FactorClassifier) -> FactorClassifier:
    """A Judge, a LoadedJudge or anything with the FactorClassifier methods, as a classifier."""
    if isinstance(judge, LoadedJudge):
        judge = judge.judge
    if isinstance(judge, Judge):
        return JudgeClassifier(judge)
    if callable(getattr(judge, "predict_proba", None)) and callable(
        getattr(judge, "predict_frame_proba", None)
    ):
        return judge
    raise TypeError(f"not a judge: {type(judge).__name__}")


# -- shared steps ---------------------------------------------------------------------------
@contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def check_model_matches(model: DSAE, split: SequenceSplit) -> None:
    """Raise DsaeError unless the split's frames have the shape the model was built for."""
    if tuple(split.meta.frame_shape) != tuple(model.frame_shape):
        raise DsaeError(
            f"the data's frames {tuple(split.meta.frame_shape)} do not match the model's "
            f"{tuple(model.frame_shape)}"
        )


def _check_classifier(classifier: FactorClassifier, split: SequenceSplit) -> None:
    m = split.meta
    for name, k in {**m.static_factors, **m.dynamic_factors}.items():
        if name not in classifier.factor_names or classifier.n_classes.get(name) != k:
            raise DsaeError(
                f"the judge does not classify factor {name!r} with {k} classes "
                f"(it knows {dict(classifier.n_classes)}): it was trained on other data"
            )


def _check_batch(batch_size: int) -> None:
    if batch_size <= 0:
        raise DsaeError(f"batch size must be positive, got {batch_size}")


def labels_by_factor(split: SequenceSplit) -> dict[str, np.ndarray]:
    """True labels per factor: static columns (N,), dynamic (N,) or per frame (N, T)."""
    out = {k: split.static[:, j] for j, k in enumerate(split.meta.static_factors)}
    out.update({k: split.dynamic[k] for k in split.meta.dynamic_factors})
    return out


def encode_split(model: DSAE, x: np.ndarray, batch_size: int = 128) -> Encoding:
    """Posterior parameters of f and z_1:T for every sequence of ``x``, in batches."""
    _check_batch(batch_size)
    parts = []
    with _eval_mode(model):
        for lo in range(0, x.shape[0], batch_size):
            parts.append(model.encode(frames_to_tensor(x[lo : lo + batch_size])))
    if not parts:
        raise DsaeError("the split is empty")
    return Encoding(*(torch.cat([getattr(e, fl.name) for e in parts]) for fl in fields(Encoding)))


def _decode_and_judge(
    model: DSAE,
    classifier: FactorClassifier,
    f: torch.Tensor,  # (N, f_dim)
    z: torch.Tensor,  # (N, T, z_dim)
    batch_size: int,
    sequence: bool = True,
    frame: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Decode every (f_i, z_i) in batches and judge each batch: (N, K) and (N, T, K) per factor."""
    seq: dict[str, list[np.ndarray]] = {}
    per_frame: dict[str, list[np.ndarray]] = {}
    with _eval_mode(model):
        for lo in range(0, f.shape[0], batch_size):
            x = tensor_to_frames(model.decode(f[lo : lo + batch_size], z[lo : lo + batch_size]))
            if sequence:
                for k, v in classifier.predict_proba(x).items():
                    seq.setdefault(k, []).append(v)
            if frame:
                for k, v in classifier.predict_frame_proba(x).items():
                    per_frame.setdefault(k, []).append(v)
    return (
        {k: np.concatenate(v) for k, v in seq.items()},
        {k: np.concatenate(v) for k, v in per_frame.items()},
    )


def _scored(
    seq: dict[str, np.ndarray], frame: dict[str, np.ndarray], name: str, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (M, K), labels (M,)): per sequence, or per frame for per-frame labels."""
    if labels.ndim == 1:
        return seq[name], labels
    p = frame[name]
    return p.reshape(-1, p.shape[-1]), labels.reshape(-1)


def _prepare(
    model: DSAE, split: SequenceSplit, judge: Any, encoding: Encoding | None, batch_size: int
) -> tuple[FactorClassifier | None, Encoding]:
    _check_batch(batch_size)
    check_model_matches(model, split)
    if len(split) == 0:
        raise DsaeError("the split is empty")
    classifier = None
    if judge is not None:
        classifier = as_classifier(judge)
        _check_classifier(classifier, split)
    if encoding is None:
        encoding = encode_split(model, split.x, batch_size)
    elif encoding.f_mean.shape[0] != len(split):
        raise ValueError(f"encoding has {encoding.f_mean.shape[0]} rows, split {len(split)}")
    return classifier, encoding


# -- the protocols --------------------------------------------------------------------------
def table1_protocol(
    model: DSAE,
    split: SequenceSplit,
    judge: Judge | LoadedJudge | FactorClassifier,
    seed: int = 0,
    batch_size: int = 128,
    *,
    encoding: Encoding | None = None,
    data_proba: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Seed 002 Table 1: {"static"|"dynamic": {factor: {disagreement, kl_recon, kl_random}}}."""
    classifier, enc = _prepare(model, split, judge, encoding, batch_size)
    if data_proba is None:
        data_proba = classifier.predict_proba(split.x)
    n, t = len(split), split.x.shape[1]
    g = torch.Generator().manual_seed(seed)
    z_prior = model.sample_z(n, t, g)
    f_prior = model.sample_f(n, g)
    kept_f, _ = _decode_and_judge(model, classifier, enc.f_mean, z_prior, batch_size)
    kept_z, _ = _decode_and_judge(model, classifier, f_prior, enc.z_mean, batch_size)
    m = split.meta
    return {
        "static": {k: compare_predictions(kept_f[k], data_proba[k]) for k in m.static_factors},
        "dynamic": {k: compare_predictions(kept_z[k], data_proba[k]) for k in m.dynamic_factors},
    }


def generation_protocol(
    model: DSAE,
    split: SequenceSplit,
    judge: Judge | LoadedJudge | FactorClassifier,
    repeats: int = 3,
    seed: int = 0,
    batch_size: int = 128,
    *,
    encoding: Encoding | None = None,
) -> dict[str, dict]:
    """Conditional generation scores: z kept with f ~ p(f) (Acc, IS, H(y|x), H(y)) and f kept
    with z ~ p(z) (accuracy per static factor); mean and std over ``repeats`` seeds.

    The flat keys of ``z_kept_f_sampled`` score the first dynamic factor (named in
    ``factor``), on a subset balanced by its labels; with several dynamic factors,
    ``by_factor`` holds every one's scores on that same subset. Per-frame labels are scored
    frame by frame on all sequences.
    """
    if repeats < 1:
        raise DsaeError(f"repeats must be at least 1, got {repeats}")
    classifier, enc = _prepare(model, split, judge, encoding, batch_size)
    m = split.meta
    if not m.dynamic_factors:
        raise DsaeError("the data has no dynamic factor to score")
    labels = labels_by_factor(split)
    dynamic = list(m.dynamic_factors)
    primary = dynamic[0]
    per_frame = any(labels[k].ndim == 2 for k in dynamic)
    n, t = len(split), split.x.shape[1]
    runs: dict[str, dict[str, list[float]]] = {k: {} for k in dynamic}
    static_acc: dict[str, list[float]] = {k: [] for k in m.static_factors}
    n_scored = n
    for r in range(repeats):
        g = torch.Generator().manual_seed(seed + r)
        rng = np.random.default_rng(seed + r)
        idx = np.arange(n) if labels[primary].ndim == 2 else balanced_subset(labels[primary], rng)
        n_scored = int(idx.size)
        f_prior = model.sample_f(idx.size, g)
        seq, frame = _decode_and_judge(
            model,
            classifier,
            f_prior,
            enc.z_mean[torch.from_numpy(idx)],
            batch_size,
            sequence=any(labels[k].ndim == 1 for k in dynamic),
            frame=per_frame,
        )
        for k in dynamic:
            p, y = _scored(seq, frame, k, labels[k][idx])
            h_yx, h_y = label_entropies(p)
            for key, v in (
                ("acc", accuracy(p, y)),
                ("is", inception_score(p)),
                ("h_yx", h_yx),
                ("h_y", h_y),
            ):
                runs[k].setdefault(key, []).append(v)
        z_prior = model.sample_z(n, t, g)
        seq, _ = _decode_and_judge(model, classifier, enc.f_mean, z_prior, batch_size)
        for k in m.static_factors:
            static_acc[k].append(accuracy(seq[k], labels[k]))

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
    }


def swap_partners(n: int, seed: int) -> np.ndarray:
    """A random partner j != i for each of n >= 2 sequences (a seeded random offset)."""
    rng = np.random.default_rng(seed)
    return (np.arange(n) + rng.integers(1, n, size=n)) % n


def swap_protocol(
    model: DSAE,
    split: SequenceSplit,
    judge: Judge | LoadedJudge | FactorClassifier,
    seed: int = 0,
    batch_size: int = 128,
    *,
    encoding: Encoding | None = None,
) -> dict[str, Any]:
    """Swap accuracy (seed 002 Fig. 3 e, f, scored): decode f_i with z_1:T of a partner
    sequence j (a random derangement of the split) and ask the judge whether the result
    keeps i's static factors and j's dynamic factors.

    Posterior means only, so it measures what f and z carry and whether the decoder obeys
    them, independent of how well the priors fit. ``differs`` scores the pairs whose two
    labels differ for that factor (there, keeping the wrong source's value is an error a
    plain accuracy can miss); ``other_source`` is how often, on those pairs, the judge sees
    the other source's value instead.
    """
    classifier, enc = _prepare(model, split, judge, encoding, batch_size)
    n = len(split)
    if n < 2:
        raise DsaeError("swap scoring needs at least two sequences")
    partner = swap_partners(n, seed)
    f = enc.f_mean
    z = enc.z_mean[torch.from_numpy(partner)]
    per_frame = any(split.dynamic[k].ndim == 2 for k in split.meta.dynamic_factors)
    seq, frame = _decode_and_judge(model, classifier, f, z, batch_size, frame=per_frame)
    labels = labels_by_factor(split)
    out: dict[str, Any] = {"n_pairs": n, "static": {}, "dynamic": {}}
    for group, names, keep, other in (
        ("static", split.meta.static_factors, np.arange(n), partner),
        ("dynamic", split.meta.dynamic_factors, partner, np.arange(n)),
    ):
        for k in names:
            want, alt = labels[k][keep], labels[k][other]
            p, y = _scored(seq, frame, k, want)
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


def format_swap(result: dict[str, Any]) -> str:
    """Swap accuracy as text: per factor, all pairs and pairs whose labels differ."""
    lines = [f"swaps: f from one sequence, z_1:T from another ({result['n_pairs']} pairs)"]
    for group, src in (("static", "content"), ("dynamic", "motion")):
        for k, r in result[group].items():
            d = r["differs"]
            o = r["other_source"]
            extra = "" if d is None else f"   differing pairs {d:.2f} % (other source {o:.2f} %)"
            lines.append(f"  {k} kept from the {src} source: {r['acc']:.2f} %{extra}")
    return "\n".join(lines)


def factor_trajectories(
    model: DSAE,
    judge: Judge | LoadedJudge | FactorClassifier,
    fix: str,
    seq_len: int,
    seed: int = 0,
    groups: int = 5,
    per_group: int = 40,
    batch_size: int = 128,
) -> np.ndarray:
    """The judge's class per frame of generated sequences: (groups, per_group, T, K) int.

    ``fix="static"`` shares one f ~ p(f) per group and samples z_1:T ~ p(z) per sequence;
    ``fix="dynamic"`` shares one z_1:T per group and samples f. K runs over the judge's
    factor names (static, then dynamic).
    """
    if fix not in ("static", "dynamic"):
        raise ValueError(f"fix must be static or dynamic, got {fix!r}")
    if min(groups, per_group, seq_len) <= 0:
        raise DsaeError(f"groups, per_group and seq_len must be positive: {groups, per_group}")
    _check_batch(batch_size)
    classifier = as_classifier(judge)
    g = torch.Generator().manual_seed(seed)
    n = groups * per_group
    if fix == "static":
        f = model.sample_f(groups, g).repeat_interleave(per_group, dim=0)
        z = model.sample_z(n, seq_len, g)
    else:
        z = model.sample_z(groups, seq_len, g).repeat_interleave(per_group, dim=0)
        f = model.sample_f(n, g)
    _, frame = _decode_and_judge(model, classifier, f, z, batch_size, sequence=False, frame=True)
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
    model: DSAE,
    judge: Judge | LoadedJudge | FactorClassifier,
    seq_len: int,
    seed: int = 0,
    groups: int = 5,
    per_group: int = 40,
    out_dir: str | os.PathLike | None = None,
    batch_size: int = 128,
) -> dict[str, Any]:
    """Seed 002 Fig. 4: summaries of classes along sequences sharing f or z_1:T, and plots.

    With ``out_dir`` the two figures are saved there (``plots`` lists their file names).
    """
    from dsae.viz.plots import plot_factor_trajectories

    classifier = as_classifier(judge)
    names = list(classifier.factor_names)
    out: dict[str, Any] = {"plots": []}
    titles = {
        "static": "one f ~ p(f) per colour, z_1:T ~ p(z)",
        "dynamic": "one z_1:T ~ p(z) per colour, f ~ p(f)",
    }
    for fix, key in (("static", "fixed_f"), ("dynamic", "fixed_z")):
        classes = factor_trajectories(
            model, classifier, fix, seq_len, seed, groups, per_group, batch_size
        )
        out[key] = trajectory_summary(classes, names)
        if out_dir is not None:
            plot_factor_trajectories(
                classes,
                Path(out_dir) / TRAJECTORY_PLOTS[fix],
                names,
                [int(classifier.n_classes[k]) for k in names],
                title=titles[fix],
            )
            out["plots"].append(TRAJECTORY_PLOTS[fix])
    return out


def latent_protocol(
    model: DSAE,
    split: SequenceSplit,
    seed: int = 0,
    batch_size: int = 128,
    *,
    encoding: Encoding | None = None,
) -> dict[str, Any]:
    """Latent metrics (DCI, MIG, SAP, FactorVAE, cross-predictability) of the posterior means.

    One row per sequence: f against the static labels and z_t averaged over t against the
    dynamic ones. When a dynamic factor is labelled per frame, one row per frame instead
    (f and per-sequence labels repeated over the frames, z_t itself as the dynamic code).
    """
    from dsae.eval.latent_metrics import latent_report

    _, enc = _prepare(model, split, None, encoding, batch_size)
    m = split.meta
    if not m.static_factors or not m.dynamic_factors:
        raise DsaeError("latent metrics need both static and dynamic labelled factors")
    f = enc.f_mean.numpy().astype(np.float64)  # (N, f_dim)
    z = enc.z_mean.numpy().astype(np.float64)  # (N, T, z_dim)
    n, t = z.shape[:2]
    dyn = [split.dynamic[k] for k in m.dynamic_factors]
    if all(d.ndim == 1 for d in dyn):
        rows = "sequences"
        static_codes, static_factors = f, split.static
        dynamic_codes = z.mean(axis=1)
        dynamic_factors = np.stack(dyn, axis=1)
    else:
        rows = "frames"
        static_codes = np.repeat(f, t, axis=0)
        static_factors = np.repeat(split.static, t, axis=0)
        dynamic_codes = z.reshape(n * t, -1)
        dynamic_factors = np.stack(
            [d.reshape(-1) if d.ndim == 2 else np.repeat(d, t) for d in dyn], axis=1
        )
    report = latent_report(
        static_codes,
        static_factors,
        dynamic_codes,
        dynamic_factors,
        np.random.default_rng(seed),
        list(m.static_factors),
        list(m.dynamic_factors),
    )
    report.setdefault("meta", {}).update(
        {
            "rows": rows,
            "static_code": "posterior mean of f",
            "dynamic_code": "posterior mean of z_t averaged over t"
            if rows == "sequences"
            else "posterior mean of z_t",
        }
    )
    return report


def reconstruction_protocol(
    model: DSAE,
    split: SequenceSplit,
    judge: Judge | LoadedJudge | FactorClassifier | None = None,
    batch_size: int = 128,
    *,
    encoding: Encoding | None = None,
    data_proba: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """MSE and PSNR of posterior-mean reconstructions, and the judge's accuracy on them.

    Pixels in [0, 1], the model's mean against the data, before rounding to uint8.
    ``mse`` averages over all pixels; ``psnr`` = mean over sequences of 10 log10(1 / MSE_seq)
    and ``psnr_global`` = 10 log10(1 / mse) (both capped at 100 dB; None for vector frames).
    ``judge_accuracy`` (%) is the judge's accuracy on the reconstructions against the true
    labels, ``judge_accuracy_data`` on the data themselves, per factor.
    """
    classifier, enc = _prepare(model, split, judge, encoding, batch_size)
    labels = labels_by_factor(split)
    per_frame = any(v.ndim == 2 for v in labels.values())
    mse_seq: list[np.ndarray] = []
    seq: dict[str, list[np.ndarray]] = {}
    frame: dict[str, list[np.ndarray]] = {}
    with _eval_mode(model):
        for lo in range(0, len(split), batch_size):
            x_hat = model.decode(enc.f_mean[lo : lo + batch_size], enc.z_mean[lo : lo + batch_size])
            x = frames_to_tensor(split.x[lo : lo + batch_size])
            mse_seq.append((x_hat - x).pow(2).flatten(1).mean(dim=1).double().numpy())
            if classifier is None:
                continue
            frames = tensor_to_frames(x_hat)
            for k, v in classifier.predict_proba(frames).items():
                seq.setdefault(k, []).append(v)
            if per_frame:
                for k, v in classifier.predict_frame_proba(frames).items():
                    frame.setdefault(k, []).append(v)
    mse = np.concatenate(mse_seq)

    def psnr(e: np.ndarray | float) -> np.ndarray:
        return 10.0 * np.log10(1.0 / np.maximum(e, MSE_FLOOR))

    out: dict[str, Any] = {
        "mse": float(mse.mean()),
        "psnr": float(psnr(mse).mean()) if model.is_image else None,
        "psnr_global": float(psnr(mse.mean())) if model.is_image else None,
        "n": len(split),
    }
    if classifier is None:
        return out
    seq_p = {k: np.concatenate(v) for k, v in seq.items()}
    frame_p = {k: np.concatenate(v) for k, v in frame.items()}
    if data_proba is None:
        data_proba = classifier.predict_proba(split.x)
    data_frame = classifier.predict_frame_proba(split.x) if per_frame else {}
    out["judge_accuracy"] = {k: accuracy(*_scored(seq_p, frame_p, k, y)) for k, y in labels.items()}
    out["judge_accuracy_data"] = {
        k: accuracy(*_scored(data_proba, data_frame, k, y)) for k, y in labels.items()
    }
    return out


# -- tables ---------------------------------------------------------------------------------
def format_table1(result: dict[str, dict[str, dict[str, float]]]) -> str:
    """Table 1 as text: attribute, disagreement, KL-recon, KL-random (as in seed 002)."""
    rows = [*result.get("static", {}).items(), *result.get("dynamic", {}).items()]
    width = max([len("attributes"), *(len(k) for k, _ in rows)])
    lines = [
        "Table 1 (static rows: f kept, z_1:T ~ p(z); dynamic rows: z_1:T kept, f ~ p(f))",
        f"{'attributes':<{width}}  {'disagreement':>12}  {'KL-recon':>9}  {'KL-random':>9}",
    ]
    for name, r in rows:
        lines.append(
            f"{name:<{width}}  {_num(r['disagreement'], '.2f', '%'):>12}  "
            f"{_num(r['kl_recon'], '.4f'):>9}  {_num(r['kl_random'], '.4f'):>9}"
        )
    return "\n".join(lines)


def format_generation(result: dict[str, dict]) -> str:
    """The generation scores as text, mean +- std over the repeats."""
    z = result["z_kept_f_sampled"]

    def ms(d: dict[str, float], fmt: str) -> str:
        return f"{_num(d['mean'], fmt)} +- {_num(d['std'], fmt)}"

    lines = [
        f"z_1:T kept, f ~ p(f): {z['factor']} on {z['n']} sequences"
        f"{' (class-balanced)' if z.get('balanced') else ''}",
        f"  Acc {ms(z['acc'], '.2f')} %   IS {ms(z['is'], '.3f')}   "
        f"H(y|x) {ms(z['h_yx'], '.3f')}   H(y) {ms(z['h_y'], '.3f')}"
        f"   (log K = {math.log(z['n_classes']):.3f})",
        "f kept, z_1:T ~ p(z): accuracy per static factor",
    ]
    lines += [f"  {k}: {ms(v, '.2f')} %" for k, v in result["f_kept_z_sampled"].items()]
    return "\n".join(lines)


def _num(v: float | None, fmt: str, suffix: str = "") -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:{fmt}}{suffix}"


# -- a whole run ----------------------------------------------------------------------------
def versions() -> dict[str, str]:
    """Versions of everything the numbers depend on."""
    import scipy
    import sklearn

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


def evaluate_run(
    run_dir: str | os.PathLike,
    data_dir: str | os.PathLike | None,
    judge_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    repeats: int = 3,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every protocol on a run's test split; write ``out_dir/metrics.json`` and plots.

    ``data_dir`` None means the dataset the run was trained on. The judge must have been
    trained on exactly that dataset (same fingerprint), and the frames must fit the model.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise DsaeError(f"run directory not found: {run}")
    if repeats < MIN_REPEATS:
        raise DsaeError(f"repeats must be at least {MIN_REPEATS} for a spread, got {repeats}")
    loaded = load_run(run)
    model, state = loaded.model, loaded.state
    data = Path(data_dir) if data_dir is not None else Path(state["data"]["root"])
    judge_file = Path(judge_path)
    if not judge_file.is_file():
        raise DsaeError(f"judge not found: {judge_file} (train one with 'dsae judge train')")
    lj = load_judge(judge_file)
    split = load_split(data, "test")
    check_judge_matches(lj, data)
    check_model_matches(model, split)
    m = split.meta
    if not m.static_factors or not m.dynamic_factors:
        raise DsaeError(f"{m.name} needs labelled static and dynamic factors to be evaluated")
    classifier = JudgeClassifier(lj.judge)
    _check_classifier(classifier, split)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seeds = {
        "table1": seed,
        "generation": [seed + r for r in range(repeats)],
        "swap": seed,
        "trajectories": seed,
        "latent": seed,
    }

    cache: dict[str, Any] = {}

    def prepare() -> None:
        cache["encoding"] = encode_split(model, split.x)
        cache["data_proba"] = classifier.predict_proba(split.x)

    results: dict[str, Any] = {}
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("encode", prepare),
        (
            "reconstruction",
            lambda: reconstruction_protocol(
                model, split, classifier, encoding=cache["encoding"], data_proba=cache["data_proba"]
            ),
        ),
        (
            "table1",
            lambda: table1_protocol(
                model,
                split,
                classifier,
                seed,
                encoding=cache["encoding"],
                data_proba=cache["data_proba"],
            ),
        ),
        (
            "generation",
            lambda: generation_protocol(
                model, split, classifier, repeats, seed, encoding=cache["encoding"]
            ),
        ),
        (
            "swap",
            lambda: swap_protocol(model, split, classifier, seed, encoding=cache["encoding"]),
        ),
        (
            "trajectories",
            lambda: trajectories_protocol(model, classifier, m.seq_len, seed, out_dir=out),
        ),
        ("latent", lambda: latent_protocol(model, split, seed, encoding=cache["encoding"])),
    ]
    timing: dict[str, float] = {}
    bar = tqdm(steps, desc="evaluate", unit="protocol", disable=not progress)
    for name, step in bar:
        bar.set_postfix_str(name)
        t0 = time.perf_counter()
        results[name] = step()
        timing[name] = round(time.perf_counter() - t0, 3)
    bar.close()

    data_fp = fingerprint(data)
    metrics = {
        "run": str(run.resolve()),
        "checkpoint_step": int(state.get("step", 0)),
        "dataset": {
            "name": m.name,
            "fingerprint": data_fp,
            "root": str(data.resolve()),
            "n_test": len(split),
            "seq_len": m.seq_len,
            "same_as_training": data_fp == state["data"].get("fingerprint"),
        },
        "config": loaded.config.to_dict(),
        "judge": {"path": str(judge_file.resolve()), "info": lj.info},
        "seeds": seeds,
        "versions": versions(),
        "timing": timing,
        "plots": results["trajectories"]["plots"],
        "reconstruction": results["reconstruction"],
        "table1": results["table1"],
        "generation": results["generation"],
        "swap": results["swap"],
        "latent": results["latent"],
    }
    metrics = to_json_safe(metrics)
    text = json.dumps(metrics, indent=2, allow_nan=False)
    atomic_write_text(out / METRICS_FILE, text + "\n")
    return metrics


__all__ = [
    "FactorClassifier",
    "JudgeClassifier",
    "PROB_FLOOR",
    "accuracy",
    "as_classifier",
    "balanced_subset",
    "check_model_matches",
    "compare_predictions",
    "disagreement",
    "encode_split",
    "entropy",
    "evaluate_run",
    "factor_trajectories",
    "format_generation",
    "format_table1",
    "generation_protocol",
    "inception_score",
    "kl_divergence",
    "label_entropies",
    "labels_by_factor",
    "latent_protocol",
    "mean_std",
    "reconstruction_protocol",
    "table1_protocol",
    "to_json_safe",
    "trajectories_protocol",
    "trajectory_summary",
    "versions",
]
