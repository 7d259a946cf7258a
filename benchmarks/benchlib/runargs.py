"""The command line that the one-config benchmarks share: the config, its data, the training
budget, where the run and its JSON go, config overrides; and the paths they resolve to."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from dsae.config import Config
from dsae.errors import DsaeError
from dsae.train import CHECKPOINT_FILE

RESULTS = Path(__file__).resolve().parents[1] / "results"


def add_run_arguments(p: argparse.ArgumentParser, benchmark: str, budget_minutes: float) -> None:
    """config, --data, --budget-minutes, --run-dir, --out, --tag, --calib-steps, --set and
    --no-progress; the JSON is ``results/<benchmark>-<config stem>[-<tag>]-seed<k>.json``."""
    p.add_argument("config", help="YAML config (see configs/)")
    p.add_argument("--data", default=None, help="dataset directory (default: data.root)")
    p.add_argument(
        "--budget-minutes", type=float, default=budget_minutes, help="training wall time"
    )
    p.add_argument("--run-dir", default=None, help="run directory (default: runs/bench-...)")
    p.add_argument("--out", default=None, help=f"JSON (default: results/{benchmark}-<stem>...json)")
    p.add_argument("--tag", default="", help="added to the default JSON name")
    p.add_argument("--calib-steps", type=int, default=20, help="timed steps of the config")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="config override, as for 'dsae train' (repeatable)",
    )  # fmt: skip
    p.add_argument("--no-progress", action="store_true")


def check_run_arguments(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A positive budget and at least two calibration steps, else a usage error."""
    if args.budget_minutes <= 0 or args.calib_steps < 2:
        p.error("--budget-minutes must be positive and --calib-steps >= 2")


def run_paths(args: argparse.Namespace, cfg: Config, benchmark: str) -> tuple[Path, Path, Path]:
    """(data dir, run dir, output JSON) from the arguments and the config; a run directory
    that already holds a run is refused."""
    stem = Path(args.config).stem + (f"-{args.tag}" if args.tag else "")
    data = Path(args.data if args.data is not None else cfg.data.root)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run = Path(args.run_dir) if args.run_dir else Path("runs") / f"bench-{stem}-{stamp}"
    name = f"{benchmark}-{stem}-seed{cfg.train.seed}.json"
    out = Path(args.out) if args.out else RESULTS / name
    if (run / CHECKPOINT_FILE).is_file():
        raise DsaeError(f"{run} already holds a run: pass another --run-dir")
    return data, run, out
