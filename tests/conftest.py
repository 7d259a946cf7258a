"""Shared fixtures: tiny datasets and configs that keep the suite fast."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dsae.config import Config
from dsae.data import build_dataset, fingerprint, load_meta
from dsae.data.base import DatasetMeta, SequenceSplit, write_dataset_dir
from dsae.eval import save_judge, train_judge

REPO = Path(__file__).resolve().parents[1]
# the shared data beside the repository; DSAE_SHARED points elsewhere (e.g. from a worktree)
SHARED = Path(os.environ.get("DSAE_SHARED") or REPO.parent / "shared")


def _own_core() -> int:
    """Under pytest-xdist each worker owns one core (subprocesses inherit it): two workers
    on two cores run side by side without oversubscribing; alone, the suite uses two threads."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not worker.startswith("gw") or len(cores) < 2:
        return 2
    os.sched_setaffinity(0, {cores[int(worker[2:]) % len(cores)]})
    return 1


torch.set_num_threads(_own_core())


def random_split(n: int, size: int = 16, t: int = 8, seed: int = 0) -> SequenceSplit:
    """Labelled noise: the right shapes and nothing to learn."""
    rng = np.random.default_rng(seed)
    meta = DatasetMeta("noise", t, (size, size, 3), {"colour": 3, "shape": 2}, {"action": 4})
    return SequenceSplit(
        x=rng.integers(0, 256, (n, t, size, size, 3), dtype=np.uint8),
        static=np.stack([rng.integers(0, 3, n), rng.integers(0, 2, n)], axis=1),
        dynamic={"action": rng.integers(0, 4, n)},
        meta=meta,
    )


@pytest.fixture(scope="session")
def toy_dir(tmp_path_factory) -> Path:
    """A small 32 x 32 toy-sprites dataset, built once per test session."""
    from dsae.data.toy import build_toy

    out = tmp_path_factory.mktemp("toy") / "toy32"
    return build_toy(out, n_train=256, n_test=64, image_size=32, seed=0)


@pytest.fixture
def tiny_config(toy_dir) -> Config:
    """A model and schedule small enough to train a few steps in seconds."""
    return Config.from_dict(
        {
            "data": {"name": "toy_sprites", "root": str(toy_dir), "build_if_missing": False},
            "model": {
                "channels": [8, 16, 32],
                "frame_dim": 32,
                "hidden_dim": 32,
                "f_dim": 8,
                "z_dim": 4,
            },
            "train": {
                "max_steps": 12,
                "batch_size": 16,
                "log_every": 3,
                "ckpt_every": 5,
                "progress": False,
                "lr_warmup_steps": 2,
            },
        }
    )


@pytest.fixture
def noise_dir(tmp_path) -> Path:
    out = tmp_path / "noise"
    write_dataset_dir(out, {"train": random_split(48), "test": random_split(16, seed=1)})
    return out


@pytest.fixture(scope="module")
def benchlib_path():
    """benchmarks/ on sys.path for a module's tests: its scripts import ``benchlib`` and each
    other from there."""
    path = str(REPO / "benchmarks")
    sys.path.insert(0, path)
    try:
        yield
    finally:
        sys.path.remove(path)


__all__ = ["random_split", "REPO", "SHARED"]


@pytest.fixture(scope="session")
def judged_toy_sprites(tmp_path_factory) -> dict[str, Path]:
    """Tiny toy sprites (48 training, 16 test sequences of 32 x 32) and a judge trained on
    them for one epoch: ``{"root", "data", "judge"}`` (root: a folder for runs and JSONs)."""
    root = tmp_path_factory.mktemp("judged_toy")
    data = build_dataset("toy_sprites", root / "toy", n_train=48, n_test=16, image_size=32)
    judge, info = train_judge(data, epochs=1, progress=False)
    save_judge(root / "judge.pt", judge, load_meta(data), fingerprint(data), info)
    return {"root": root, "data": data, "judge": root / "judge.pt"}


def assert_same_weights(a: dict, b: dict) -> None:
    """Two checkpoints (plain dicts) hold the same parameters, bit for bit."""
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
