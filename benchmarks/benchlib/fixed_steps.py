"""Train one config for a fixed number of steps, or reuse a run folder that already holds
exactly that run: what the benchmarks that compare configs at the same step budget share
(a budget in steps, unlike a wall-time budget, gives the same run on a loaded machine).

A finished run is one whose checkpoint is at ``train.max_steps`` and whose config is the
one asked for (``train.progress`` aside); anything else in the folder is an error, never
silently retrained over.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from dsae.config import Config
from dsae.errors import DsaeError
from dsae.train import CHECKPOINT_FILE, METRICS_FILE, load_checkpoint, train

# settings that do not change what is trained, and the step count (checked on its own)
IGNORED = {("train", "progress"), ("data", "build_if_missing"), ("train", "max_steps")}


def _comparable(d: dict[str, Any]) -> dict[str, Any]:
    return {
        part: {k: v for k, v in values.items() if (part, k) not in IGNORED}
        for part, values in d.items()
    }


def _last_metrics(run_dir: Path) -> dict[str, Any]:
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return {}
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else {}


def finished_run(run_dir: Path, cfg: Config) -> dict[str, Any] | None:
    """The checkpoint of ``run_dir`` if it holds ``cfg`` trained to its last step; None if
    the folder holds no run; a one-line error if it holds another run or an unfinished one."""
    if not (run_dir / CHECKPOINT_FILE).is_file():
        return None
    state = load_checkpoint(run_dir)
    saved = Config.from_dict(state.get("config"))
    if _comparable(saved.to_dict()) != _comparable(cfg.to_dict()):
        raise DsaeError(f"{run_dir} holds a run of another config: pass another --run-dir")
    if int(state.get("step", -1)) != cfg.train.max_steps:
        raise DsaeError(
            f"{run_dir} holds a run at step {state.get('step')}, not {cfg.train.max_steps}: "
            "pass another --run-dir"
        )
    return state


def train_or_reuse(cfg: Config, run_dir: Path, progress: bool) -> dict[str, Any]:
    """Train ``cfg`` into ``run_dir`` for ``train.max_steps`` steps unless it holds that run
    already; the training record: steps, wall time (the run's own), last logged terms,
    whether it was reused."""
    state = finished_run(run_dir, cfg)
    reused = state is not None
    t0 = time.perf_counter()
    if state is None:
        train(cfg, run_dir, progress=progress)
        state = finished_run(run_dir, cfg)
        assert state is not None
    last = _last_metrics(run_dir)
    return {
        "steps": int(state["step"]),
        "wall_time_s": round(float(state.get("wall_time", 0.0)), 3),
        "seq_per_s": last.get("seq_per_s"),
        "last": {k: v for k, v in last.items() if k not in ("step", "wall_time", "epoch")},
        "reused": reused,
        "this_call_s": round(time.perf_counter() - t0, 3),
    }
