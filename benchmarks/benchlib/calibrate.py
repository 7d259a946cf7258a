"""Timed training steps of a config: its pace and fixed cost, which plan the training run,
and the paper-sized baseline the config's pace is compared with.

The steps are timed on the benchmark's clock (:mod:`benchlib.clock`) through the loop's own
readings: a loop with a deadline reads the clock before every step.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import tempfile
import time
from pathlib import Path

from benchlib.clock import MONOTONIC, Clock, Laps
from benchlib.flops import efficiency, step_flops
from dsae.config import Config, ModelConfig, apply_overrides
from dsae.train import METRICS_FILE, train

# The 2018 paper's Sprites networks, as public reproductions describe them: four conv layers
# of 256 channels (kernel 5, batch norm), dense layers 4096 -> 2048, LSTMs of 512 units,
# f of 256 and z_t of 32 dimensions.
PAPER_SPRITES = {
    "channels": [256, 256, 256, 256],
    "frame_dim": 2048,
    "hidden_dim": 512,
    "f_dim": 256,
    "z_dim": 32,
    "norm": "batch",
}


def median_rate(rates: list[float]) -> tuple[float, list[float]]:
    """Median sequences/s over the windows after the first (warm-up) one, and those rates."""
    kept = rates[1:] or rates[-1:]
    return float(statistics.median(kept)), kept


def step_starts(readings: list[float], steps: int) -> list[float]:
    """The time each step started, from the loop's clock readings (the same number of
    readings at every step, the first before it)."""
    per_step = max(1, len(readings) // max(1, steps))
    return readings[::per_step][:steps]


def window_rates(starts: list[float], batch: int, window: int) -> list[float]:
    """Sequences/s over consecutive windows of ``window`` steps whose ends were read."""
    durations = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    rates = []
    for i in range(0, len(durations), window):
        part = durations[i : i + window]
        rates.append(batch * len(part) / max(sum(part), 1e-12))
    return rates


def time_steps(cfg: Config, steps: int, batch: int, clock: Clock = MONOTONIC) -> dict:
    """Train ``steps`` steps of ``cfg`` into a temporary run: time per step (median window
    after the first) and the fixed cost of a run, the time the steps at that pace do not
    explain (data loading, model, warm-up, final checkpoint)."""
    trial = dataclasses.replace(
        cfg,
        train=dataclasses.replace(
            cfg.train,
            max_steps=steps,
            log_every=max(1, steps // 4),
            ckpt_every=steps + 1,
            progress=False,
        ),
    )
    laps = Laps(clock)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = clock.now()
        # an endless deadline: the loop reads the clock before every step and never stops
        res = train(trial, Path(tmp) / "run", progress=False, deadline=math.inf, clock=laps)
        call_s = clock.now() - t0
    starts = step_starts(laps.readings, res.step)
    rates = window_rates(starts, batch, max(1, steps // 4))
    if rates:
        seq_s, kept = median_rate(rates)
    else:  # a single step: the whole call
        seq_s, kept = batch / max(call_s, 1e-12), []
    step_s = batch / seq_s
    last_end = starts[-1] + step_s if starts else t0 + res.step * step_s
    return {
        "steps": res.step,
        "batch": batch,
        "seq_per_s": round(seq_s, 3),
        "seq_per_s_windows": kept,
        "step_s": step_s,
        "overhead_s": max(0.0, call_s - res.step * step_s),
        "finish_s": max(0.0, t0 + call_s - last_end),  # after the last step: prior fits, checkpoint
        "wall_time_s": round(call_s, 3),
    }


def run_seq_per_s(run_dir: Path) -> float | None:
    """Median sequences/s of a training run's logged windows after the first."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return None
    records = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return median_rate([r["seq_per_s"] for r in records])[0] if records else None


def baseline_config(cfg: Config, overrides: list[str] | None = None) -> Config:
    """The baseline: a plain DSAE (every optional bias off) sized like the 2018 paper's
    Sprites networks, with the config's data, objective, likelihood and training settings.

    An approximation: dsae's blocks are 4 x 4 stride-2 convolutions (each halving the frame)
    and a single dense layer, so the paper's kernel-5 convolutions, its first full-resolution
    layer and its 4096-unit dense layer are not reproduced; the widths (channels, frame
    feature, LSTMs, f and z) are. It is timed for a few steps only, never trained.
    ``overrides`` (``model.channels=[...]``, ...) resize it, e.g. for tests.
    """
    m = cfg.model
    model = ModelConfig(
        name=m.name,
        encoder=m.encoder,
        frame_net=m.frame_net,
        likelihood=m.likelihood,
        sigma_x=m.sigma_x,
        learn_sigma=m.learn_sigma,
        **PAPER_SPRITES,
    )
    base = Config(data=cfg.data, model=model, objective=cfg.objective, train=cfg.train)
    if overrides:
        base = Config.from_dict(apply_overrides(base.to_dict(), overrides))
    return base


def measure_baseline(
    cfg: Config, steps: int, batch: int, peak: float, clock: Clock = MONOTONIC
) -> dict:
    """The paper-sized baseline: a few timed training steps and its FLOPs per step."""
    t0 = time.perf_counter()
    timing = time_steps(cfg, steps, batch, clock)
    flops = step_flops(cfg)
    rate = efficiency(flops["flops_per_step"], timing["seq_per_s"], batch, peak)
    return {
        "model": dataclasses.asdict(cfg.model),
        "approximation": "plain DSAE with the 2018 paper's Sprites widths (see docstring)",
        "calibration": timing,
        **flops,
        **rate,
        "time_s": round(time.perf_counter() - t0, 3),
    }
