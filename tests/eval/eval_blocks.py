"""Moving blocks: a tiny labelled image dataset whose factors a judge can see (shared by the
judge tests): static factors as colour blocks, the action as the direction a square moves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from dsae.data.base import DatasetMeta, SequenceSplit, write_dataset_dir

GRID, SIZE, T = 16, 32, 6  # drawn on a 16 x 16 grid, stored at 32 x 32
COLOURS = np.array([[230, 30, 30], [30, 200, 40], [40, 60, 230]], np.uint8)
SHADES = np.array([[90, 90, 90], [250, 220, 40]], np.uint8)
# action -> (dy, dx) per frame of a 3 x 3 white square: right, left, down, up
MOVES = [(0, 2), (0, -2), (2, 0), (-2, 0)]


def blocks_split(n: int, seed: int) -> SequenceSplit:
    """Static factors as colour blocks (background colour, corner patch), the action as the
    direction a white square moves in."""
    rng = np.random.default_rng(seed)
    colour = rng.integers(0, 3, n)
    shade = rng.integers(0, 2, n)
    action = rng.integers(0, 4, n)
    x = np.zeros((n, T, GRID, GRID, 3), np.uint8)
    x[:] = COLOURS[colour][:, None, None, None]
    x[:, :, :4, :4] = SHADES[shade][:, None, None, None]
    for i in range(n):
        dy, dx = MOVES[action[i]]
        y0 = 6 - 5 * dy // 2 if dy else rng.integers(5, 9)
        x0 = 6 - 5 * dx // 2 if dx else rng.integers(5, 9)
        for t in range(T):
            y, xx = y0 + dy * t, x0 + dx * t
            x[i, t, y : y + 3, xx : xx + 3] = 255
    x = x.repeat(SIZE // GRID, axis=2).repeat(SIZE // GRID, axis=3)
    meta = DatasetMeta("blocks", T, (SIZE, SIZE, 3), {"colour": 3, "shade": 2}, {"action": 4})
    return SequenceSplit(x, np.stack([colour, shade], 1), {"action": action}, meta)


def write_blocks(out: Path, seed: int = 0, n_train: int = 256, n_test: int = 96) -> Path:
    """A blocks dataset directory: train and test splits of independent draws."""
    return write_dataset_dir(
        out, {"train": blocks_split(n_train, seed), "test": blocks_split(n_test, seed + 1)}
    )


def dsae(*args: str) -> subprocess.CompletedProcess:
    """``python -m dsae.cli.main ARGS`` in a subprocess, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "dsae.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_same_judge_weights(a, b) -> None:
    """Two judges hold the same parameters, bit for bit."""
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(v, w), k
