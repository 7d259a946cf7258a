"""Calibrate, plan and train one config under a wall-time budget: what the one-config
benchmarks (speech, dynamics) share between preparing their data and scoring the run."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from benchlib.calibrate import time_steps
from benchlib.clock import Clock
from benchlib.inputs import bench_config
from benchlib.plan import plan_steps, run_training
from dsae.config import Config


def train_on_budget(
    args: argparse.Namespace,
    cfg: Config,
    data_dir: Path,
    run_dir: Path,
    batch: int,
    clock: Clock,
    say: Callable[[str], None],
    labels: tuple[str, str],
) -> tuple[dict, dict, Config, dict]:
    """Time ``args.calib_steps`` steps, plan the steps that fit ``args.budget_minutes`` and
    train in a child process with the schedule fitted to them; (calibration, plan, the
    config trained, the training record with ``peak_rss_mb``). ``labels`` head the two
    progress lines, e.g. ("[2/5]", "[3/5]")."""
    progress = not args.no_progress
    budget_s = round(60.0 * args.budget_minutes, 6)
    say(f"{labels[0]} calibration: {args.calib_steps} steps")
    calib = time_steps(cfg, args.calib_steps, batch, clock)
    plan = plan_steps(
        budget_s, cfg.train.max_steps, calib["step_s"], calib["overhead_s"], calib["finish_s"]
    )
    train_cfg = bench_config(
        args.config, args.overrides, data_dir, (f"train.progress={str(progress).lower()}",)
    )
    say(f"{labels[1]} training: a schedule fitted to {budget_s:.0f} s -> {run_dir}")
    training = run_training(
        train_cfg, run_dir, plan["budget_s"], plan["watchdog_reserve_s"], progress,
        end_reserve_s=plan["end_reserve_s"], fit_schedule=True, clock=clock,
    )  # fmt: skip
    training["peak_rss_mb"] = training["vm_hwm_mb"] or training["ru_maxrss_mb"]
    return calib, plan, train_cfg, training
