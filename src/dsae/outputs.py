"""Files a trained model produces: reconstructions, swaps and generations as PNG grids,
GIFs and npz arrays. Used by the CLI, the quickstart and the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dsae.data import load_split
from dsae.errors import DsaeError
from dsae.utils import atomic_write


def check_positive(name: str, v: int) -> None:
    if v <= 0:
        raise DsaeError(f"{name} must be positive, got {v}")


def run_and_split(run: str, data: str | None, split: str):
    from dsae.data.base import fingerprint
    from dsae.train import load_run

    loaded = load_run(run)
    data_dir = data or loaded.state["data"]["root"]
    s = load_split(data_dir, split)
    if tuple(s.meta.frame_shape) != tuple(loaded.meta.frame_shape):
        raise DsaeError(
            f"data frames {s.meta.frame_shape} do not match the model's {loaded.meta.frame_shape}"
        )
    if fingerprint(data_dir) != loaded.state["data"]["fingerprint"] and data is not None:
        print(f"note: {data_dir} is not the dataset the model was trained on")
    return loaded, s


def write_swaps(
    run: str, data: str | None, out: str, n_pairs: int, split: str, seed: int, scale: int
) -> Path:
    """Swap grid PNG, one GIF per pair and swaps.npz (decoded sequences + labels to keep)."""
    from dsae.sampling import choose_pairs, swap_pairs
    from dsae.viz.gif import save_gif
    from dsae.viz.grid import save_png, swap_grid

    check_positive("--pairs", n_pairs)
    loaded, s = run_and_split(run, data, split)
    pairs = choose_pairs(s, n_pairs, np.random.default_rng(seed))
    sw = swap_pairs(loaded.model, s, pairs)
    outp = Path(out)
    save_png(swap_grid(sw.content, sw.motion, sw.result, scale=scale), outp / "swaps.png")
    for i in range(len(pairs)):
        save_gif(
            np.stack([sw.content[i], sw.motion[i], sw.result[i]]),
            outp / f"swap_{i:02d}.gif",
            scale=scale,
        )
    arrays = {
        "x": sw.result,
        "content_index": sw.content_index,
        "motion_index": sw.motion_index,
        "static": sw.static,
        "static_names": np.array(list(s.meta.static_factors)),
        **{k: v for k, v in sw.dynamic.items()},
    }
    atomic_write(outp / "swaps.npz", lambda fh: np.savez(fh, **arrays))
    return outp


def write_generations(
    run: str, out: str, fix: str, n: int, groups: int, steps: int | None, seed: int, scale: int
) -> Path:
    """Grid PNG (one row per sequence, groups share the fixed code), GIF per group, npz."""
    from dsae.sampling import generate
    from dsae.train import load_run
    from dsae.viz.gif import save_gif
    from dsae.viz.grid import save_png, sequence_grid

    check_positive("--n", n)
    check_positive("--groups", groups)
    loaded = load_run(run)
    t = steps or loaded.meta.seq_len
    check_positive("--steps", t)
    x = generate(loaded.model, n, t, fix, seed, groups=groups)  # (G, n, T, ...)
    outp = Path(out)
    labels = [f"g{g} #{i}" for g in range(groups) for i in range(n)]
    save_png(
        sequence_grid(x.reshape(-1, *x.shape[2:]), scale=scale, row_labels=labels),
        outp / f"generate_{fix}.png",
    )
    for g in range(groups):
        save_gif(x[g], outp / f"generate_{fix}_{g:02d}.gif", scale=scale)
    atomic_write(outp / f"generate_{fix}.npz", lambda fh: np.savez(fh, x=x, fix=np.array(fix)))
    return outp


def write_reconstructions(
    run: str, data: str | None, out: str, n: int, split: str, seed: int, scale: int
) -> Path:
    """Originals and reconstructions, alternating rows, as PNG and GIF, plus recon.npz."""
    from dsae.sampling import reconstruct
    from dsae.viz.gif import save_gif
    from dsae.viz.grid import save_png, sequence_grid

    check_positive("--n", n)
    loaded, s = run_and_split(run, data, split)
    idx = np.sort(np.random.default_rng(seed).choice(len(s), size=min(n, len(s)), replace=False))
    x = s.x[idx]
    r = reconstruct(loaded.model, x)
    rows = np.stack([x, r], axis=1).reshape(-1, *x.shape[1:])
    labels = [lab for i in idx for lab in (f"data {i}", "recon")]
    outp = Path(out)
    save_png(sequence_grid(rows, scale=scale, row_labels=labels), outp / "reconstructions.png")
    save_gif(rows, outp / "reconstructions.gif", scale=scale)
    atomic_write(outp / "reconstructions.npz", lambda fh: np.savez(fh, x=r, index=idx))
    return outp
