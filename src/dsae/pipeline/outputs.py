"""Files a trained model produces: reconstructions, swaps and generations as PNG grids,
GIFs and npz arrays, for the CLI, the quickstart and the report.

The array functions take a model, the data's frame modality (which converts stored frames
to model tensors and back) and numpy arrays; the ``write_*`` functions load a run, call
them and draw the results through :mod:`dsae.viz`. Generations draw f and z_1:T from a
generation sampler: the model's learnt prior p(f) p(z_1:T), or the sampler the run's config
fitted after training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dsae.data import fingerprint, load_split
from dsae.data.base import SequenceSplit
from dsae.data.modality import Modality
from dsae.errors import DsaeError
from dsae.train import LoadedRun, load_run
from dsae.utils import atomic_write
from dsae.viz.gif import animates, save_gif
from dsae.viz.grid import save_png, sequence_grid, swap_grid

LEARNT_PRIOR = "learnt_prior"
SAMPLER_CHOICES = (LEARNT_PRIOR, "configured")


def check_positive(name: str, v: int) -> None:
    if v <= 0:
        raise DsaeError(f"{name} must be positive, got {v}")


# --- arrays ------------------------------------------------------------------------------


def _batched(
    model_fn, modality: Modality, *arrays: np.ndarray, batch_size: int = 128
) -> np.ndarray:
    outs = []
    for i in range(0, arrays[0].shape[0], batch_size):
        xs = [modality.to_tensor(a[i : i + batch_size]) for a in arrays]
        outs.append(modality.to_frames(model_fn(*xs)))
    return np.concatenate(outs, axis=0)


def reconstruct(model, modality: Modality, x: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Decode the posterior means of f and z_1:T; same layout and dtype as the data."""
    return _batched(model.reconstruct, modality, x, batch_size=batch_size)


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
    model, modality: Modality, split: SequenceSplit, pairs: np.ndarray, batch_size: int = 128
) -> Swaps:
    """Decode f of ``pairs[:, 0]`` with z_1:T of ``pairs[:, 1]`` (Li & Mandt 2018, Fig. 3)."""
    ci, mi = pairs[:, 0], pairs[:, 1]
    content, motion = split.x[ci], split.x[mi]
    result = _batched(model.swap, modality, content, motion, batch_size=batch_size)
    return Swaps(
        content_index=ci,
        motion_index=mi,
        content=content,
        motion=motion,
        result=result,
        static=split.static[ci],
        dynamic={k: v[mi] for k, v in split.dynamic.items()},
    )


@torch.no_grad()
def generate(
    model, sampler, modality: Modality, n: int, steps: int, fix: str, seed: int, groups: int = 1
) -> np.ndarray:
    """``groups`` x ``n`` generated sequences: (groups, n, T, ...).

    f and z_1:T come from ``sampler`` (anything with ``sample_f(n, generator=...)`` and
    ``sample_z(n, steps, generator=...)``, the model itself for its own priors) and are
    decoded by the model. Within a group the fixed part (f for ``static``, z_1:T for
    ``dynamic``) is shared (Li & Mandt 2018, Fig. 3); ``none`` samples both for every
    sequence.
    """
    if fix not in ("none", "static", "dynamic"):
        raise DsaeError(f"fix must be none, static or dynamic, got {fix!r}")
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(groups):
        f = sampler.sample_f(1 if fix == "static" else n, generator=g)
        z = sampler.sample_z(1 if fix == "dynamic" else n, steps, generator=g)
        f = f.expand(n, -1) if f.shape[0] == 1 else f
        z = z.expand(n, -1, -1) if z.shape[0] == 1 else z
        out.append(modality.to_frames(model.decode(f, z)))
    return np.stack(out)


def choose_sampler(loaded: LoadedRun, choice: str | None = None) -> tuple[str, Any]:
    """(name, sampler) for generations: ``learnt_prior`` (the model's own p(f) p(z_1:T)) or
    ``configured`` (the sampler the config fitted after training); ``None`` is the
    configured one when the run has one, else the learnt prior."""
    samplers = dict(getattr(loaded, "samplers", None) or {})
    learnt = samplers.pop(LEARNT_PRIOR, loaded.model)  # a model samples its own priors
    configured = next(iter(samplers.items()), None)
    if choice is None:
        choice = "configured" if configured is not None else LEARNT_PRIOR
    if choice == LEARNT_PRIOR:
        return LEARNT_PRIOR, learnt
    if choice == "configured":
        if configured is None:
            raise DsaeError(
                "this run has no configured sampler (model.f_prior normal, model.z_prior "
                "lstm): use --sampler learnt_prior"
            )
        return configured
    raise DsaeError(f"unknown sampler {choice!r}; choose from {', '.join(SAMPLER_CHOICES)}")


# --- files -------------------------------------------------------------------------------


def run_and_split(
    run: str | Path, data: str | Path | None, split: str
) -> tuple[LoadedRun, SequenceSplit]:
    """The trained run and a split of its dataset (or of ``data``, with the same frames)."""
    loaded = load_run(run)
    data_dir = data or loaded.state["data"]["root"]
    s = load_split(data_dir, split)
    if tuple(s.meta.frame_shape) != tuple(loaded.meta.frame_shape):
        raise DsaeError(
            f"data frames {s.meta.frame_shape} do not match the model's {loaded.meta.frame_shape}"
        )
    if data is not None and fingerprint(data_dir) != loaded.state["data"]["fingerprint"]:
        print(f"note: {data_dir} is not the dataset the model was trained on")
    return loaded, s


def write_swaps(
    run: str | Path,
    data: str | Path | None,
    out: str | Path,
    n_pairs: int,
    split: str,
    seed: int,
    scale: int,
) -> Path:
    """Swap grid PNG, one GIF per pair and swaps.npz (decoded sequences + labels to keep)."""
    check_positive("--pairs", n_pairs)
    loaded, s = run_and_split(run, data, split)
    modality = loaded.meta.modality
    pairs = choose_pairs(s, n_pairs, np.random.default_rng(seed))
    sw = swap_pairs(loaded.model, modality, s, pairs)
    outp = Path(out)
    grid = swap_grid(sw.content, sw.motion, sw.result, scale=scale, modality=modality)
    save_png(grid, outp / "swaps.png")
    if animates(modality):
        for i in range(len(pairs)):
            triple = np.stack([sw.content[i], sw.motion[i], sw.result[i]])
            save_gif(triple, outp / f"swap_{i:02d}.gif", scale=scale, modality=modality)
    arrays = {
        "x": sw.result,
        "content_index": sw.content_index,
        "motion_index": sw.motion_index,
        "static": sw.static,
        "static_names": np.array(list(s.meta.static_factors)),
        **sw.dynamic,
    }
    atomic_write(outp / "swaps.npz", lambda fh: np.savez(fh, **arrays))
    return outp


def write_generations(
    run: str | Path,
    out: str | Path,
    fix: str,
    n: int,
    groups: int,
    steps: int | None,
    seed: int,
    scale: int,
    sampler: str | None = None,
) -> Path:
    """Grid PNG (one row per sequence, groups share the fixed code), GIF per group, npz
    (``x``, ``fix`` and the ``sampler``'s name). ``sampler``: see :func:`choose_sampler`."""
    check_positive("--n", n)
    check_positive("--groups", groups)
    loaded = load_run(run)
    name, chosen = choose_sampler(loaded, sampler)
    t = steps or loaded.meta.seq_len
    check_positive("--steps", t)
    modality = loaded.meta.modality
    x = generate(loaded.model, chosen, modality, n, t, fix, seed, groups=groups)  # (G, n, T, ...)
    outp = Path(out)
    labels = [f"g{g} #{i}" for g in range(groups) for i in range(n)]
    grid = sequence_grid(
        x.reshape(-1, *x.shape[2:]), scale=scale, row_labels=labels, modality=modality
    )
    save_png(grid, outp / f"generate_{fix}.png")
    if animates(modality):
        for g in range(groups):
            save_gif(x[g], outp / f"generate_{fix}_{g:02d}.gif", scale=scale, modality=modality)
    atomic_write(
        outp / f"generate_{fix}.npz",
        lambda fh: np.savez(fh, x=x, fix=np.array(fix), sampler=np.array(name)),
    )
    return outp


def write_reconstructions(
    run: str | Path,
    data: str | Path | None,
    out: str | Path,
    n: int,
    split: str,
    seed: int,
    scale: int,
) -> Path:
    """Originals and reconstructions, alternating rows, as PNG and GIF, plus recon.npz."""
    check_positive("--n", n)
    loaded, s = run_and_split(run, data, split)
    modality = loaded.meta.modality
    idx = np.sort(np.random.default_rng(seed).choice(len(s), size=min(n, len(s)), replace=False))
    x = s.x[idx]
    r = reconstruct(loaded.model, modality, x)
    rows = np.stack([x, r], axis=1).reshape(-1, *x.shape[1:])
    labels = [lab for i in idx for lab in (f"data {i}", "recon")]
    outp = Path(out)
    grid = sequence_grid(rows, scale=scale, row_labels=labels, modality=modality)
    save_png(grid, outp / "reconstructions.png")
    if animates(modality):
        save_gif(rows, outp / "reconstructions.gif", scale=scale, modality=modality)
    atomic_write(outp / "reconstructions.npz", lambda fh: np.savez(fh, x=r, index=idx))
    return outp
