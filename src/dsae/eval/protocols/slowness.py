"""Slow latents (Benjamin & Andrew, "Disentangling via dynamics", section 2): in a model with
linear latent dynamics and no static code, does a latent's eigenvalue say what it carries?

For a model with ``eigenvalues(x)`` (the ``lds`` family), on the test split:

- eigenvalues per latent i: the prior's lambda_i and the posterior's lambda_t,i over every
  sequence and step (mean, spread, histogram on shared bins); the latent's *slowness* is
  mean_t,n |lambda_t,i - 1| (0: the latent never changes but by noise), the order below;
- what each latent predicts: the held-out accuracy of a logistic regression of every
  labelled factor from the latent's posterior-mean trajectory z_1:T,i (T features; per-frame
  labels from z_t,i alone), as a score (acc - chance) / (1 - chance), 0 at chance, 1 perfect;
- for continuous per-frame states (``meta.states``, e.g. a ball's position and velocity):
  each latent's R^2 = r^2 of z_t,i with every state component over all frames;
- the answer in one number per group: Spearman's rank correlation over latents of the
  slowness with the mean score of the static factors and with that of the dynamic ones (the
  proposal expects slow latents static: a negative correlation with the static scores, a
  positive one with the dynamic ones), and with each state's best R^2 over its components;
- slow-block swaps: the k slowest latents of sequence i with the other D - k of a partner j
  (the swap protocol's derangement), decoded and judged: how often the static factors are
  i's and the dynamic ones j's, for k on a grid from 0 to D; ``best_k`` maximises the mean
  of the two group means.

The order, the correlations and the swaps come twice: under ``posterior`` by the slowness
of q's lambda_t (what the regulariser acts on), under ``prior`` by |lambda_i - 1| of the
prior's eigenvalues (what generation follows; learnt through the KL alone).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from dsae.data.base import SequenceSplit
from dsae.errors import DsaeError
from dsae.eval.encode import eval_mode
from dsae.eval.latent_common import majority_rate, spawn
from dsae.eval.latent_metrics import predictability
from dsae.eval.protocols.base import (
    EvalContext,
    FactorClassifier,
    decode_and_judge,
    has_frame_labels,
    labels_by_factor,
    prepare,
    scored,
)
from dsae.eval.protocols.swap import swap_partners
from dsae.eval.scores import accuracy
from dsae.models import Encoding

N_BINS = 40


def has_eigenvalues(model: Any) -> bool:
    """Whether ``model`` reports the eigenvalues of linear latent dynamics."""
    return callable(getattr(model, "eigenvalues", None))


def posterior_eigenvalues(model: Any, split: SequenceSplit, batch_size: int) -> np.ndarray:
    """lambda_t,i of q for every test sequence: (N, T-1, D)."""
    to_tensor = split.meta.modality.to_tensor
    parts = []
    with eval_mode(model), torch.no_grad():
        for lo in range(0, len(split), batch_size):
            x = to_tensor(split.x[lo : lo + batch_size])
            parts.append(model.eigenvalues(x)["posterior"].double().numpy())
    return np.concatenate(parts)


def eigenvalue_summary(posterior: np.ndarray, prior: np.ndarray, n_bins: int = N_BINS) -> dict:
    """Per latent: prior lambda_i, mean / std / slowness of lambda_t,i and its histogram on
    bins shared by all latents (from the 0.5th to the 99.5th percentile, with 1 inside)."""
    lam = posterior.reshape(-1, posterior.shape[-1])  # (N (T-1), D)
    lo, hi = np.percentile(lam, [0.5, 99.5])
    lo, hi = min(lo, prior.min(), 1.0 - 1e-3), max(hi, prior.max(), 1.0 + 1e-3)
    edges = np.linspace(lo, hi, n_bins + 1)
    counts = np.stack([np.histogram(np.clip(c, lo, hi), edges)[0] for c in lam.T])
    return {
        "prior": prior.tolist(),
        "mean": lam.mean(0).tolist(),
        "std": lam.std(0).tolist(),
        "slowness": np.abs(lam - 1.0).mean(0).tolist(),
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def latent_scores(
    z: np.ndarray, labels: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, dict[str, Any]]:
    """{factor: {"accuracy": [D], "chance", "score": [D]}}: each latent's trajectory
    z_1:T,i (N, T) predicting the factor (per-frame labels: z_t,i predicting the frame's)."""
    n, t, d = z.shape
    out = {}
    for (name, y), child in zip(labels.items(), spawn(rng, len(labels)), strict=True):
        rngs = spawn(child, d)
        if y.ndim == 2:
            codes, y = [z[:, :, i].reshape(-1, 1) for i in range(d)], y.reshape(-1)
        else:
            codes = [z[:, :, i] for i in range(d)]
        acc = np.array([predictability(c, y, r) for c, r in zip(codes, rngs, strict=True)])
        chance = majority_rate(y)
        score = np.clip((acc - chance) / max(1.0 - chance, 1e-12), 0.0, 1.0)
        out[name] = {"accuracy": acc.tolist(), "chance": chance, "score": score.tolist()}
    return out


def state_r2(z: np.ndarray, states: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """{"<state>[<k>]": [D]}: r^2 of z_t,i with component k of the state over all frames."""
    n, t, d = z.shape
    codes = z.reshape(n * t, d)
    codes = codes - codes.mean(0)
    out = {}
    for name, values in states.items():
        flat = values.reshape(n * t, -1).astype(np.float64)
        for k in range(flat.shape[1]):
            y = flat[:, k] - flat[:, k].mean()
            denom = np.sqrt((codes**2).sum(0) * (y**2).sum())
            r = np.divide(codes.T @ y, denom, out=np.zeros(d), where=denom > 0)
            out[f"{name}[{k}]"] = (r**2).tolist()
    return out


def rank_correlation(slowness: np.ndarray, score: np.ndarray) -> float | None:
    """Spearman's rho over latents; None when either side is constant."""
    if np.ptp(slowness) == 0 or np.ptp(score) == 0:
        return None
    return float(spearmanr(slowness, score).statistic)


def swap_grid(d: int) -> list[int]:
    """k = 0, 1, 2, 4, ... and every eighth of D, up to D."""
    ks = {0, d, *(2**j for j in range(d.bit_length()) if 2**j < d)}
    ks.update(range(0, d + 1, max(1, d // 8)))
    return sorted(ks)


def slow_block_swaps(
    model: Any,
    split: SequenceSplit,
    classifier: FactorClassifier,
    z: torch.Tensor,
    order: np.ndarray,
    seed: int,
    batch_size: int,
) -> dict[str, Any]:
    """For each k of :func:`swap_grid`: the first k latents of ``order`` from sequence i, the
    rest from its partner j; the judge's accuracy of i's static and j's dynamic labels."""
    n, _, d = z.shape
    partner = torch.from_numpy(swap_partners(n, seed))
    labels = labels_by_factor(split)
    frame = has_frame_labels(split)
    f = z.new_zeros(n, getattr(model, "f_dim", 0))
    m = split.meta
    curve = []
    for k in swap_grid(d):
        mixed = z[partner].clone()
        slow = torch.from_numpy(order[:k].copy())
        mixed[:, :, slow] = z[:, :, slow]
        seq, per_frame = decode_and_judge(model, m.modality, classifier, f, mixed, batch_size,
                                          frame=frame)  # fmt: skip
        row: dict[str, Any] = {"k": k, "static": {}, "dynamic": {}}
        for group, names, rows in (
            ("static", m.static_factors, np.arange(n)),
            ("dynamic", m.dynamic_factors, partner.numpy()),
        ):
            for name in names:
                row[group][name] = accuracy(*scored(seq, per_frame, name, labels[name][rows]))
        for group in ("static", "dynamic"):
            vals = list(row[group].values())
            row[f"{group}_mean"] = float(np.mean(vals)) if vals else None
        curve.append(row)
    return {"n_pairs": n, "curve": curve, "best_k": _best(curve)}


def _best(curve: list[dict[str, Any]]) -> int:
    def balance(row: dict[str, Any]) -> float:
        means = [row[g] for g in ("static_mean", "dynamic_mean") if row[g] is not None]
        return float(np.mean(means)) if means else 0.0

    return max(curve, key=balance)["k"]


def slowness_protocol(
    model: Any,
    split: SequenceSplit,
    judge: Any,
    seed: int = 0,
    batch_size: int = 128,
    *,
    encoding: Encoding | None = None,
) -> dict[str, Any]:
    """Eigenvalues per latent, what each latent predicts, their rank correlation and (with a
    judge) the slow-block swaps; see the module docstring."""
    if not has_eigenvalues(model):
        raise DsaeError(f"a {type(model).__name__} has no eigenvalues of linear dynamics")
    classifier, enc = prepare(model, split, judge, encoding, batch_size)
    if split.meta.seq_len < 2:
        raise DsaeError("eigenvalues of the dynamics need sequences of at least 2 frames")
    posterior = posterior_eigenvalues(model, split, batch_size)
    prior = model.eigenvalues()["prior"].double().numpy()
    eig = eigenvalue_summary(posterior, prior)
    slowness = np.asarray(eig["slowness"])
    z = enc.z_mean.double().numpy()
    labels = labels_by_factor(split)
    scores = latent_scores(z, labels, np.random.default_rng(seed))
    r2 = state_r2(z, split.states)
    out: dict[str, Any] = {
        "n_sequences": len(split),
        "z_dim": int(z.shape[-1]),
        "eigenvalues": eig,
        "scores": scores,
        "state_r2": r2,
    }
    by_prior = np.abs(prior - 1.0)
    for key, slow in (("posterior", slowness), ("prior", by_prior)):
        order = np.argsort(slow, kind="stable")
        part: dict[str, Any] = {
            "order": order.tolist(),
            "rank_correlation": _correlations(slow, scores, r2, split),
        }
        if classifier is not None:
            part["swaps"] = slow_block_swaps(model, split, classifier, enc.z_mean, order, seed,
                                             batch_size)  # fmt: skip
        out[key] = part
    return out


def _correlations(
    slowness: np.ndarray, scores: dict[str, Any], r2: dict[str, list[float]], split: SequenceSplit
) -> dict[str, float | None]:
    """Spearman's rho of the slowness with the mean score of each labelled group and with
    each state's best R^2."""
    out = {}
    m = split.meta
    for group, names in (("static", m.static_factors), ("dynamic", m.dynamic_factors)):
        if names:
            mean_score = np.mean([scores[k]["score"] for k in names], axis=0)
            out[group] = rank_correlation(slowness, mean_score)
    for name in split.states:
        best = np.max([v for k, v in r2.items() if k.startswith(f"{name}[")], axis=0)
        out[f"state {name}"] = rank_correlation(slowness, best)
    return out


def run(ctx: EvalContext) -> dict[str, Any]:
    """The protocol on an evaluation context."""
    return slowness_protocol(
        ctx.model, ctx.split, ctx.classifier, ctx.seed, ctx.batch_size, encoding=ctx.encoding
    )


__all__ = [
    "eigenvalue_summary",
    "has_eigenvalues",
    "latent_scores",
    "rank_correlation",
    "run",
    "slow_block_swaps",
    "slowness_protocol",
    "state_r2",
    "swap_grid",
]
