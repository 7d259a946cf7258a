"""The speech benchmark: Li & Mandt (2018), section 4.2, on FSDD or the synthetic voices.

One run of this script, on one machine, in this order:

1. data: ``--data`` (default: the config's ``data.root``); a directory without
   ``meta.json`` is built first (``build_dataset(data.name, ...)``, FSDD from ``--source``);
2. judge: ``--judge`` (default: ``DATA/judge.pt``), trained when missing: it names the
   speaker and what is said in converted audio;
3. calibration: a few timed training steps give the time per step and the fixed costs;
4. training: the config in a child process under a wall-time budget (15 minutes by
   default), its schedule fitted to the budget in the loop, as ``benchmarks/sprites.py``
   does;
5. evaluation: ``evaluate_run`` (its ``verification`` protocol gives the EERs with mu_f and
   mu_z and the linear probes of the content) on the test split;
6. voice conversion: ``convert_pairs`` over test utterance pairs, scored by the judge on the
   re-analysed converted audio and by median F0;
7. ``benchmarks/results/speech-<config-stem>[-<tag>]-seed<k>.json``: every figure, each
   target as ``{"value", "target", "op", "met"}``, the machine, versions and the commit.

    python benchmarks/speech.py configs/fsdd_dsae.yaml --data data/fsdd --source ../shared/data/fsdd
    python benchmarks/speech.py configs/voices_dsae.yaml --data data/voices --set model.encoder=full --tag full
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchlib.budgeted import train_on_budget
from benchlib.clock import MONOTONIC, Clock
from benchlib.inputs import bench_config, ensure_data, ensure_judge
from benchlib.machine import machine_record
from benchlib.plan import warm_imports
from benchlib.record import recorded
from benchlib.runargs import add_run_arguments, check_run_arguments, run_paths
from benchlib.speech_targets import speech_targets
from benchlib.targets import format_targets

from dsae.config import Config, load_config
from dsae.data import load_meta, load_split
from dsae.eval import load_judge, versions
from dsae.pipeline.convert_pairs import convert_pairs
from dsae.pipeline.evaluate import evaluate_run
from dsae.train import CHECKPOINT_FILE, load_run, resolve_autocast
from dsae.utils import set_threads


def _say(msg: str) -> None:
    print(msg, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(p, "speech", budget_minutes=15.0)
    p.add_argument("--source", default=None, help="FSDD recordings: local folder or base URL")
    p.add_argument("--judge", default=None, help="judge file (default: DATA/judge.pt)")
    p.add_argument("--judge-epochs", type=int, default=20, help="epochs of a new judge")
    p.add_argument("--pairs", type=int, default=60, help="test pairs converted and scored")
    p.add_argument("--repeats", type=int, default=3, help="seeds of the sampling protocols")
    args = p.parse_args(argv)
    check_run_arguments(p, args)
    if args.pairs < 1:
        p.error("--pairs must be >= 1")
    return args


def _paths(args: argparse.Namespace, cfg: Config) -> tuple[Path, Path, Path, Path]:
    """(data dir, judge file, run dir, output JSON) from the arguments and the config."""
    data, run, out = run_paths(args, cfg, "speech")
    judge = Path(args.judge) if args.judge is not None else data / "judge.pt"
    return data, judge, run, out


def benchmark(
    args: argparse.Namespace, data_dir: Path, judge_path: Path, run_dir: Path, clock: Clock
) -> dict:
    """Every step; the record written as JSON."""
    t_start = time.perf_counter()
    progress = not args.no_progress
    cfg = bench_config(args.config, args.overrides, data_dir)
    set_threads(cfg.train.threads)
    warm_imports()

    _say(f"[1/7] data: {data_dir}")
    data = ensure_data(cfg, data_dir, args.source, progress)
    meta = load_meta(data_dir)
    content = next(iter(meta.dynamic_factors))
    _say(f"[2/7] judge: {judge_path}")
    judge = ensure_judge(judge_path, data_dir, args.judge_epochs, progress)
    train_split = load_split(data_dir, "train")
    n_train = len(train_split)
    # a judge cannot name speakers it never heard: no conversion scores on unseen speakers
    test_speakers = set(load_split(data_dir, "test").static[:, 0].tolist())
    unseen = not test_speakers <= set(train_split.static[:, 0].tolist())
    batch = min(cfg.train.batch_size, n_train)

    calib, plan, train_cfg, training = train_on_budget(
        args, cfg, data_dir, run_dir, batch, clock, _say, ("[3/7]", "[4/7]")
    )

    metrics, conversion, t_eval, t_conv = None, None, 0.0, 0.0
    if (run_dir / CHECKPOINT_FILE).is_file():
        _say("[5/7] evaluation")
        t0 = time.perf_counter()
        metrics = evaluate_run(
            run_dir, data_dir, judge_path, run_dir / "eval", args.repeats, cfg.train.seed,
            progress,
        )  # fmt: skip
        t_eval = time.perf_counter() - t0
        if unseen:
            _say("[6/7] voice conversion: skipped (test speakers unseen in training)")
        else:
            _say(f"[6/7] voice conversion: {args.pairs} test pairs")
            t0 = time.perf_counter()
            conversion = convert_pairs(
                load_run(run_dir), data_dir, run_dir / "conversion", args.pairs,
                judge=load_judge(judge_path), seed=cfg.train.seed,
            )  # fmt: skip
            t_conv = time.perf_counter() - t0
    targets = speech_targets(
        metrics, conversion, content, training["wall_time_s"], convert=not unseen
    )
    return {
        "benchmark": "speech",
        "config": str(args.config),
        "overrides": args.overrides,
        "resolved_config": train_cfg.to_dict(),
        "machine": machine_record(resolve_autocast(cfg.train.autocast)),
        "versions": versions(),
        "data": {**data, "n_train": n_train, "split": meta.info.get("split")},
        "content_factor": content,
        "judge": judge,
        "calibration": calib,
        "plan": plan,
        "training": training,
        "verification": None if metrics is None else metrics.get("verification"),
        "reconstruction": None if metrics is None else metrics.get("reconstruction"),
        "conversion": conversion,
        "conversion_skipped": "test speakers unseen in training" if unseen else None,
        "targets": targets,
        "all_met": all(t["met"] for t in targets.values()),
        "timing": {
            "data_build_s": data["build_time_s"],
            "judge_train_s": judge["train_time_s"],
            "calibration_s": calib["wall_time_s"],
            "training_s": round(training["wall_time_s"], 3),
            "evaluation_s": round(t_eval, 3),
            "conversion_s": round(t_conv, 3),
            "total_s": round(time.perf_counter() - t_start, 3),
        },
    }


def main(argv: list[str] | None = None, clock: Clock = MONOTONIC) -> int:
    """The command; ``clock`` times the calibration and the training run (tests pass a
    ``benchlib.clock.FakeClock``)."""
    args = parse_args(argv)

    def run() -> tuple[dict, Path]:
        data_dir, judge_path, run_dir, out = _paths(args, load_config(args.config, args.overrides))
        return benchmark(args, data_dir, judge_path, run_dir, clock), out

    done = recorded("speech.py", argv, run)
    if done is None:
        return 2
    result, out = done
    _say("[7/7] results")
    _say(format_targets(result["targets"]))
    tr = result["training"]
    _say(f"training: {tr['steps']} steps in {tr['wall_time_s']:.0f} s, "
         f"peak memory {tr['peak_rss_mb']:.0f} MiB")  # fmt: skip
    _say(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
