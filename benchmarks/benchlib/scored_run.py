"""What the fixed-step benchmarks that train one run and score it share (the objective
ablation, the slow-latents benchmark): their command line, the overrides every run gets, the
test sequences they score and the common part of their JSON record."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchlib.fixed_steps import train_command
from benchlib.machine import machine_record
from dsae.config import Config
from dsae.data import SequenceSplit, fingerprint, load_split
from dsae.eval import versions
from dsae.train import resolve_autocast


def add_scored_run_arguments(
    p: argparse.ArgumentParser, steps: int, sequences: int, folder: str, what: str
) -> None:
    """--seed, --steps, --data, --judge, --judge-epochs, --run-dir, --out, --sequences,
    --batch-size, --tag and --set; ``what`` names the run in the default paths (e.g. ARM)."""
    p.add_argument("--seed", type=int, default=0, help="train.seed (and the scoring's seed)")
    p.add_argument("--steps", type=int, default=steps, help="training steps (train.max_steps)")
    p.add_argument("--data", default=None, help="Sprites directory (default: data.root)")
    p.add_argument("--judge", default=None, help="judge file (default: DATA/judge.pt)")
    p.add_argument("--judge-epochs", type=int, default=20, help="epochs of a new judge")
    p.add_argument("--run-dir", default=None,
                   help=f"run folder (default: runs/{folder}/{what}-seedK)")  # fmt: skip
    p.add_argument("--out", default=None,
                   help=f"JSON (default: results/{folder}-{what}-seedK.json)")  # fmt: skip
    p.add_argument("--sequences", type=int, default=sequences,
                   help="first test sequences (0: all)")  # fmt: skip
    p.add_argument("--batch-size", type=int, default=128, help="batch of the scoring")
    p.add_argument("--tag", default="", help=f"names a variant: {what}-TAG in the default paths")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="further config override (repeatable; e.g. a smaller model)",
    )  # fmt: skip


def check_scored_run_arguments(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Positive steps and batch, non-negative sequences, else a usage error."""
    if args.steps < 1 or args.sequences < 0 or args.batch_size < 1:
        p.error("--steps and --batch-size must be >= 1 and --sequences >= 0")


def run_paths(args: argparse.Namespace, folder: str, what: str) -> tuple[Path, Path]:
    """(run folder, JSON) from --run-dir / --out or the defaults."""
    tag = getattr(args, "tag", "")
    stem = f"{what}-{tag}-seed{args.seed}" if tag else f"{what}-seed{args.seed}"
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / folder / stem
    out = (
        Path(args.out)
        if args.out
        else Path(__file__).resolve().parents[1] / "results" / (f"{folder}-{stem}.json")
    )
    return run_dir, out


def fixed_overrides(data_dir: Path, steps: int, seed: int, *more: str) -> list[str]:
    """The overrides every run gets (one thread, no progress bar), ``more`` after the step
    budget, in the order ``dsae train`` is given them."""
    return [
        f"data.root={data_dir}",
        f"train.max_steps={steps}",
        *more,
        "train.threads=1",
        f"train.seed={seed}",
        "train.progress=false",
    ]


def first_test_sequences(data_dir: Path, n: int) -> SequenceSplit:
    """The test split, cut to its first ``n`` sequences (0: all)."""
    split = load_split(data_dir, "test")
    n = len(split) if n == 0 else min(n, len(split))
    return split if n == len(split) else split.subset(np.arange(n))


def run_record(
    cfg: Config,
    config: str,
    overrides: list[str],
    run_dir: Path,
    data_dir: Path,
    metrics: dict[str, Any],
    judge: dict | None,
    training: dict[str, Any],
    t_score: float,
    t_start: float,
) -> dict[str, Any]:
    """The JSON fields every such run has: config and overrides, the ``dsae train`` command,
    machine, versions, data, judge, training record, skipped protocols and timing."""
    return {
        "config": config,
        "overrides": overrides,
        "train_command": train_command(config, run_dir, overrides),
        "resolved_config": cfg.to_dict(),
        "machine": machine_record(resolve_autocast(cfg.train.autocast)),
        "versions": versions(),
        "data": {
            "dir": str(data_dir.resolve()),
            "fingerprint": fingerprint(data_dir),
            **metrics["data"],
        },
        "judge": judge,
        "run_dir": str(run_dir.resolve()),
        "training": training,
        "skipped": metrics["skipped"],
        "timing": {
            "training_s": 0.0 if training["reused"] else training["wall_time_s"],
            "scoring_s": round(t_score, 3),
            "scoring_parts_s": metrics["timing"],
            "total_s": round(time.perf_counter() - t_start, 3),
        },
    }
