"""Train one config for a fixed number of steps, or reuse a run folder that already holds
exactly that run: what the benchmarks that compare configs at the same step budget share
(a budget in steps, unlike a wall-time budget, gives the same run on a loaded machine).

A finished run is one whose checkpoint is at ``train.max_steps`` and whose config is the
one asked for (settings that do not change what is trained aside, data roots compared as
resolved paths); anything else in the folder is refused with one line, never silently
trained over.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import numpy as np

from dsae.config import Config
from dsae.errors import DsaeError
from dsae.train import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, load_checkpoint, train

IGNORED = ("train.progress", "data.build_if_missing", "train.log_every", "train.ckpt_every")
BOOKKEEPING = ("step", "lr", "seq_per_s", "wall_time", "epoch", "schedule_steps")


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_difference(saved: Config, asked: Config) -> str | None:
    """The first setting where two configs differ (``IGNORED`` aside; data roots compared as
    resolved paths) as text, None when they agree."""
    a, b = _flat(saved.to_dict()), _flat(asked.to_dict())
    for d in (a, b):
        d["data.root"] = str(Path(d["data.root"]).resolve())
    for key in sorted(set(a) | set(b)):
        if key not in IGNORED and a.get(key) != b.get(key):
            return f"{key} is {a.get(key)!r} there, {b.get(key)!r} here"
    return None


def finished_run(run_dir: Path, cfg: Config) -> dict[str, Any] | None:
    """The checkpoint of ``run_dir`` if it holds ``cfg`` trained to ``train.max_steps``;
    None if the folder holds no run; a one-line error for any other run."""
    if not (run_dir / CHECKPOINT_FILE).is_file():
        if (run_dir / CONFIG_FILE).is_file():
            raise DsaeError(f"{run_dir} holds an unfinished run (no checkpoint): pass another "
                            "--run-dir or wait for it to finish")  # fmt: skip
        return None
    state = load_checkpoint(run_dir / CHECKPOINT_FILE)
    diff = config_difference(Config.from_dict(state.get("config")), cfg)
    if diff is not None:
        raise DsaeError(f"{run_dir} holds a run of another config ({diff}): pass another --run-dir")
    if int(state.get("step", -1)) != cfg.train.max_steps:
        raise DsaeError(
            f"{run_dir} holds a run at step {state.get('step')}, not {cfg.train.max_steps}: "
            "pass another --run-dir"
        )
    return state


def training_record(run_dir: Path, state: dict, reused: bool) -> dict[str, Any]:
    """Steps, wall time (the run's own), mean pace and the last logged loss terms."""
    logged = []
    path = run_dir / METRICS_FILE
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                logged.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    last = logged[-1] if logged else {}
    paces = [r["seq_per_s"] for r in logged if isinstance(r.get("seq_per_s"), int | float)]
    return {
        "steps": int(state["step"]),
        "wall_time_s": round(float(state.get("wall_time", 0.0)), 3),
        "seq_per_s": round(float(np.mean(paces)), 3) if paces else None,
        "reused": reused,
        "final_step_logged": last.get("step"),
        "final": {k: v for k, v in last.items() if k not in BOOKKEEPING},
    }


def train_command(config: str, run_dir: Path, overrides: list[str]) -> str:
    """The ``dsae train`` command that trains the same run."""
    sets = [a for o in overrides for a in ("--set", o)]
    return shlex.join(["python", "-m", "dsae", "train", config, "--out", str(run_dir), *sets])


def train_or_reuse(cfg: Config, run_dir: Path, progress: bool) -> dict[str, Any]:
    """Train ``cfg`` into ``run_dir`` for ``train.max_steps`` steps unless it holds that run
    already; the training record (:func:`training_record`)."""
    state = finished_run(run_dir, cfg)
    reused = state is not None
    if state is None:
        train(cfg, run_dir, progress=progress)
        state = load_checkpoint(run_dir / CHECKPOINT_FILE)
    return training_record(run_dir, state, reused)
