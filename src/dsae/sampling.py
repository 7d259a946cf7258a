"""Swaps, generations and reconstructions of a trained model, as arrays with labels.

These are library functions: they take a model and a data split and return numpy arrays;
the CLI turns them into pictures and files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dsae.data.base import SequenceSplit
from dsae.models import SequentialVAE
from dsae.samplers import Sampler
from dsae.train import frames_to_tensor, tensor_to_frames


def _batched(model_fn, *arrays: np.ndarray, batch_size: int = 128) -> np.ndarray:
    outs = []
    n = arrays[0].shape[0]
    for i in range(0, n, batch_size):
        xs = [frames_to_tensor(a[i : i + batch_size]) for a in arrays]
        outs.append(tensor_to_frames(model_fn(*xs)))
    return np.concatenate(outs, axis=0)


def reconstruct(model: SequentialVAE, x: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Decode the posterior means of f and z_1:T; same layout and dtype as the data."""
    return _batched(model.reconstruct, x, batch_size=batch_size)


@dataclass
class Swaps:
    """Decoded swaps: f from ``content`` sequences, z_1:T from ``motion`` sequences."""

    content_index: np.ndarray  # (P,) indices into the split
    motion_index: np.ndarray  # (P,)
    content: np.ndarray  # (P, T, ...) the content sources
    motion: np.ndarray  # (P, T, ...) the motion sources
    result: np.ndarray  # (P, T, ...) decoded swaps
    static: np.ndarray  # (P, n_static) labels the result should keep (from content)
    dynamic: dict[str, np.ndarray]  # labels the result should keep (from motion)


def choose_pairs(split: SequenceSplit, n_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """(P, 2) index pairs (content, motion) that differ in every labelled factor if possible."""
    n = len(split)
    content = rng.choice(n, size=min(n_pairs, n), replace=n_pairs > n)
    pairs = []
    for a in content:
        differ = np.all(split.static != split.static[a], axis=1)
        for lab in split.dynamic.values():
            la = lab.reshape(n, -1)
            differ &= np.any(la != la[a], axis=1)
        candidates = np.flatnonzero(differ)
        if candidates.size == 0:
            candidates = np.setdiff1d(np.arange(n), [a]) if n > 1 else np.arange(n)
        pairs.append((a, int(rng.choice(candidates))))
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def swap_pairs(
    model: SequentialVAE, split: SequenceSplit, pairs: np.ndarray, batch_size: int = 128
) -> Swaps:
    """Decode f of ``pairs[:, 0]`` with z_1:T of ``pairs[:, 1]`` (Li & Mandt 2018, fig. 3)."""
    ci, mi = pairs[:, 0], pairs[:, 1]
    content, motion = split.x[ci], split.x[mi]
    result = _batched(model.swap, content, motion, batch_size=batch_size)
    return Swaps(
        content_index=ci,
        motion_index=mi,
        content=content,
        motion=motion,
        result=result,
        static=split.static[ci],
        dynamic={k: v[mi] for k, v in split.dynamic.items()},
    )


def generate(
    model: SequentialVAE,
    n: int,
    steps: int,
    fix: str,
    seed: int,
    groups: int = 1,
    sampler: Sampler | None = None,
) -> np.ndarray:
    """``groups`` x ``n`` generated sequences: (groups, n, T, ...).

    Within a group the fixed part (f for ``static``, z_1:T for ``dynamic``) is shared
    (Li & Mandt 2018, fig. 3); ``none`` samples both for every sequence. ``sampler`` draws
    the codes (None: the model's own priors).
    """
    g = torch.Generator().manual_seed(seed)
    out = [
        tensor_to_frames(model.generate(n, steps, fix=fix, generator=g, sampler=sampler))
        for _ in range(groups)
    ]
    return np.stack(out)
