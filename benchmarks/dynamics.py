"""The dynamics benchmark: Li & Mandt (2018), section 4.3, on simulated bouncing balls.

One run of this script trains one model (the stochastic DSAE, LSTM-f or LSTM-c) and
measures how well it imputes the end of test sequences, in this order:

1. data: ``--data`` (default: the config's ``data.root``), built when missing;
2. calibration: a few timed training steps give the time per step and the fixed costs;
3. training: the config in a child process under a wall-time budget, its schedule fitted
   to the budget in the loop, as ``benchmarks/sprites.py`` does;
4. imputation (Fig. 8): for k = 1..10, 15, 20, 25 and 29 missing frames, the model sees
   the first T - k frames of each of the first ``--sequences`` test sequences and predicts
   the rest with its prior dynamics; the wrong-pixel fraction over the missing frames
   (sampled predictions averaged over ``--samples``, and the most likely one) and the
   ball's position error;
5. Fig. 7's arrays: a few test sequences imputed from t = 20 (``RUN/fig7.npz``, drawn with
   the other models' by ``benchmarks/dynamics_figures.py``);
6. ``benchmarks/results/dynamics-<config-stem>-seed<k>.json``: the curve, the training
   record, the machine, versions and the commit.

    python benchmarks/dynamics.py configs/balls_dsae.yaml --data data/balls --set train.seed=1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from benchlib.budgeted import train_on_budget
from benchlib.clock import MONOTONIC, Clock
from benchlib.inputs import bench_config, ensure_data
from benchlib.machine import machine_record
from benchlib.plan import warm_imports
from benchlib.record import recorded
from benchlib.runargs import add_run_arguments, check_run_arguments, run_paths

from dsae.config import load_config
from dsae.data import load_split
from dsae.eval import versions
from dsae.eval.imputation import imputation_curve, impute_sequences
from dsae.eval.protocols.imputation import default_missing
from dsae.train import CHECKPOINT_FILE, load_run, resolve_autocast
from dsae.utils import atomic_write, set_threads

FIG7_OBSERVED = 20  # Li & Mandt (2018), Fig. 7: predictions from t = 20
FIG7_FILE = "fig7.npz"


def _say(msg: str) -> None:
    print(msg, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(p, "dynamics", budget_minutes=8.0)
    p.add_argument("--sequences", type=int, default=500, help="first test sequences imputed")
    p.add_argument("--samples", type=int, default=3, help="sampled predictions per sequence")
    p.add_argument("--fig7", type=int, default=6, help="test sequences of the Fig. 7 arrays")
    args = p.parse_args(argv)
    check_run_arguments(p, args)
    if min(args.sequences, args.samples, args.fig7) < 1:
        p.error("--sequences, --samples and --fig7 must be >= 1")
    return args


def impute_test(
    run_dir: Path, data_dir: Path, sequences: int, samples: int, seed: int, fig7: int
) -> tuple[dict, float]:
    """The imputation curve over k = 1..T-1 missing frames on the first ``sequences`` test
    sequences, and Fig. 7's arrays written to ``RUN/fig7.npz``; (curve, seconds)."""
    t0 = time.perf_counter()
    loaded = load_run(run_dir)
    split = load_split(data_dir, "test")
    n = min(sequences, len(split))
    positions = split.states.get("position")
    missing = default_missing(split.meta.seq_len)
    curve = imputation_curve(
        loaded.model, split.x[:n], loaded.meta.modality, missing, samples=samples, seed=seed,
        positions=None if positions is None else positions[:n],
    )  # fmt: skip
    k = min(fig7, len(split))
    arrays = impute_sequences(
        loaded.model, split.x[:k], loaded.meta.modality, FIG7_OBSERVED, samples, seed
    )
    arrays = {key: np.asarray(v) for key, v in arrays.items()}
    atomic_write(run_dir / FIG7_FILE, lambda fh: np.savez(fh, index=np.arange(k), **arrays))
    return curve, time.perf_counter() - t0


def benchmark(args: argparse.Namespace, data_dir: Path, run_dir: Path, clock: Clock) -> dict:
    """Every step; the record written as JSON."""
    t_start = time.perf_counter()
    progress = not args.no_progress
    cfg = bench_config(args.config, args.overrides, data_dir)
    set_threads(cfg.train.threads)
    warm_imports()

    _say(f"[1/5] data: {data_dir}")
    data = ensure_data(cfg, data_dir, None, progress)
    n_train = len(load_split(data_dir, "train"))
    batch = min(cfg.train.batch_size, n_train)
    calib, plan, train_cfg, training = train_on_budget(
        args, cfg, data_dir, run_dir, batch, clock, _say, ("[2/5]", "[3/5]")
    )
    curve, t_impute = None, 0.0
    if (run_dir / CHECKPOINT_FILE).is_file():
        _say(f"[4/5] imputation: {args.sequences} test sequences, {args.samples} samples")
        curve, t_impute = impute_test(
            run_dir, data_dir, args.sequences, args.samples, cfg.train.seed, args.fig7
        )
    return {
        "benchmark": "dynamics",
        "config": str(args.config),
        "model": train_cfg.model.name,
        "overrides": args.overrides,
        "resolved_config": train_cfg.to_dict(),
        "machine": machine_record(resolve_autocast(cfg.train.autocast)),
        "versions": versions(),
        "data": {**data, "n_train": n_train},
        "calibration": calib,
        "plan": plan,
        "training": training,
        "run_dir": str(run_dir.resolve()),
        "imputation": curve,
        "timing": {
            "data_build_s": data["build_time_s"],
            "calibration_s": calib["wall_time_s"],
            "training_s": round(training["wall_time_s"], 3),
            "imputation_s": round(t_impute, 3),
            "total_s": round(time.perf_counter() - t_start, 3),
        },
    }


def main(argv: list[str] | None = None, clock: Clock = MONOTONIC) -> int:
    """The command; ``clock`` times the calibration and the training run (tests pass a
    ``benchlib.clock.FakeClock``)."""
    args = parse_args(argv)

    def run() -> tuple[dict, Path]:
        cfg = load_config(args.config, args.overrides)
        data_dir, run_dir, out = run_paths(args, cfg, "dynamics")
        return benchmark(args, data_dir, run_dir, clock), out

    done = recorded("dynamics.py", argv, run)
    if done is None:
        return 2
    result, out = done
    tr = result["training"]
    _say(f"[5/5] training: {tr['steps']} steps in {tr['wall_time_s']:.0f} s, "
         f"peak memory {tr['peak_rss_mb']:.0f} MiB; wrote {out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
