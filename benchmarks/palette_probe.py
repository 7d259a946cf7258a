"""What does the palette view q(f | x) reads tell apart? Linear probes on the raw palette.

For each number of levels per colour channel, the palette of a sequence is the 0/1 presence
of each colour cell in its frames (``PaletteStaticEncoder.palette``, the input of the
recipe's static encoder). A logistic regression fitted on the palettes of ``--n-train``
training sequences is scored on ``--n-test`` test sequences for every static factor (what
f should be able to read) and for the action (what f should not; chance is 1 / classes).

    python benchmarks/palette_probe.py --data data/sprites --levels 8 16
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from dsae.data.base import load_split
from dsae.data.modality import modality_for
from dsae.models.views import PaletteStaticEncoder


def palettes(x: np.ndarray, levels: int, batch: int = 256) -> np.ndarray:
    """(N, T, H, W, C) uint8 -> (N, levels^C) float32 presence of each colour cell."""
    enc = PaletteStaticEncoder(x.shape[-1], 1, 1, levels)
    frames = modality_for(x.shape[2:])
    out = [enc.palette(frames.to_tensor(x[i : i + batch])) for i in range(0, len(x), batch)]
    return torch.cat(out).numpy()


def probe(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray) -> float:
    """Test accuracy (%) of a logistic regression on the columns seen in training."""
    keep = xtr.any(0)
    clf = LogisticRegression(max_iter=1000).fit(xtr[:, keep], ytr)
    return round(100.0 * float(clf.score(xte[:, keep], yte)), 2)


def _labels(split, idx: np.ndarray) -> dict[str, np.ndarray]:
    out = {name: split.static[idx, i] for i, name in enumerate(split.meta.static_factors)}
    for name, y in split.dynamic.items():
        out[name] = (y if y.ndim == 1 else y[:, 0])[idx]  # per-frame labels: the first frame's
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="data/sprites", help="built dataset directory")
    p.add_argument("--levels", type=int, nargs="+", default=[8, 16])
    p.add_argument("--n-train", type=int, default=3000)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    tr, te = load_split(args.data, "train"), load_split(args.data, "test")
    rng = np.random.default_rng(args.seed)
    itr = np.sort(rng.choice(len(tr), min(args.n_train, len(tr)), replace=False))
    ite = np.sort(rng.choice(len(te), min(args.n_test, len(te)), replace=False))
    ytr, yte = _labels(tr, itr), _labels(te, ite)
    for levels in args.levels:
        t0 = time.perf_counter()
        ptr, pte = palettes(tr.x[itr], levels), palettes(te.x[ite], levels)
        acc = {k: probe(ptr, ytr[k], pte, yte[k]) for k in ytr}
        row = {"levels": levels, "accuracy_pct": acc, "time_s": round(time.perf_counter() - t0, 1)}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
