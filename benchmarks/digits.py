"""The digits benchmark: the Disentangled VRNN (Prasanna & Vidyasagar) and the DSAE (Li &
Mandt 2018) on sequences of 8 handwritten digits of one class, scored by what the VRNN paper
only shows in pictures.

One run of this script trains one config and scores it, in this order:

1. data: ``--data`` (default: the config's ``data.root``), built when missing;
2. judge: ``--judge`` (default: ``DATA/judge.pt``), trained when missing;
3. training: the config for ``--steps`` steps on ``--threads`` threads (a step budget, so
   that configs compare at the same optimisation budget on a loaded machine); a run folder
   that already holds exactly this run is scored as it is;
4. scoring on the test split, with the model's own priors (f ~ p(f), z_1:T ~ p(z_1:T)):
   the style protocol (f kept and z_1:T sampled: the judge's digit accuracy and how far the
   measured slant and thickness follow the source; z_1:T kept and f sampled: the same), Li &
   Mandt's Table 1, and the reconstructions' quality;
5. ``benchmarks/results/digits-<config stem>[-<tag>]-seed<k>.json``.

    python benchmarks/digits.py configs/digits_dvrnn.yaml --data data/digits --set train.seed=1
    python benchmarks/digits.py configs/digits_dvrnn.yaml --tag bf1-bz5 \\
        --set objective.beta_f=1 --set objective.beta_z=5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchlib.fixed_steps import train_or_reuse
from benchlib.inputs import bench_config, ensure_data, ensure_judge
from benchlib.machine import machine_record
from benchlib.record import recorded
from benchlib.runargs import RESULTS

from dsae.config import load_config
from dsae.data import load_split
from dsae.eval import load_judge, versions
from dsae.eval.protocols import reconstruction_protocol, table1_protocol
from dsae.eval.protocols.style import style_protocol
from dsae.train import load_run, resolve_autocast

STEPS = 600


def _say(msg: str) -> None:
    print(msg, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config", help="YAML config (configs/digits_*.yaml)")
    p.add_argument("--data", default=None, help="dataset directory (default: data.root)")
    p.add_argument("--judge", default=None, help="judge file (default: DATA/judge.pt)")
    p.add_argument("--judge-epochs", type=int, default=3, help="epochs of a new judge")
    p.add_argument("--steps", type=int, default=STEPS, help="training steps (train.max_steps)")
    p.add_argument("--threads", type=int, default=1, help="torch threads of the training")
    p.add_argument("--run-dir", default=None, help="run directory (default: runs/bench-...)")
    p.add_argument("--out", default=None, help="JSON (default: results/digits-<stem>...json)")
    p.add_argument("--tag", default="", help="added to the default JSON and run names")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="config override, as for 'dsae train' (repeatable)",
    )  # fmt: skip
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.steps < 1 or args.threads < 1:
        p.error("--steps and --threads must be >= 1")
    return args


def score(run_dir: Path, data_dir: Path, judge_path: Path, seed: int) -> tuple[dict, float]:
    """The style protocol, Table 1 and the reconstructions on the test split; (scores, s)."""
    t0 = time.perf_counter()
    loaded = load_run(run_dir)
    split = load_split(data_dir, "test")
    judge = load_judge(judge_path)
    scores = {
        "style": style_protocol(loaded.model, split, judge, seed),
        "table1": table1_protocol(loaded.model, split, judge, seed),
        "reconstruction": reconstruction_protocol(loaded.model, split, judge),
    }
    return scores, time.perf_counter() - t0


def benchmark(args: argparse.Namespace) -> tuple[dict, Path]:
    """Every step; (the record, the JSON path)."""
    t_start = time.perf_counter()
    progress = not args.no_progress
    cfg = load_config(args.config, args.overrides)
    data_dir = Path(args.data if args.data is not None else cfg.data.root)
    stem = Path(args.config).stem + (f"-{args.tag}" if args.tag else "")
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / f"bench-digits-{stem}"
    out = Path(args.out) if args.out else RESULTS / f"digits-{stem}-seed{cfg.train.seed}.json"
    fixed = (f"train.max_steps={args.steps}", f"train.threads={args.threads}")
    cfg = bench_config(args.config, args.overrides, data_dir, fixed)

    _say(f"[1/4] data: {data_dir}")
    data = ensure_data(cfg, data_dir, None, progress)
    judge_path = Path(args.judge) if args.judge else data_dir / "judge.pt"
    _say(f"[2/4] judge: {judge_path}")
    judge = ensure_judge(judge_path, data_dir, args.judge_epochs, progress)
    _say(f"[3/4] training: {args.steps} steps -> {run_dir}")
    training = train_or_reuse(cfg, run_dir, progress)
    _say("[4/4] scoring the test split")
    scores, t_score = score(run_dir, data_dir, judge_path, cfg.train.seed)
    record = {
        "benchmark": "digits",
        "config": str(args.config),
        "model": cfg.model.name,
        "posterior": cfg.model.dvrnn_posterior if cfg.model.name == "dvrnn" else None,
        "beta_f": cfg.objective.beta_f,
        "beta_z": cfg.objective.beta_z,
        "seed": cfg.train.seed,
        "overrides": args.overrides,
        "resolved_config": cfg.to_dict(),
        "machine": machine_record(resolve_autocast(cfg.train.autocast)),
        "versions": versions(),
        "data": data,
        "judge": judge,
        "training": training,
        "run_dir": str(run_dir.resolve()),
        **scores,
        "timing": {
            "training_s": training["wall_time_s"],
            "scoring_s": round(t_score, 3),
            "total_s": round(time.perf_counter() - t_start, 3),
        },
    }
    return record, out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    done = recorded("digits.py", argv, lambda: benchmark(args))
    if done is None:
        return 2
    result, out = done
    st = result["style"]
    _say(f"digit accuracy with f kept {st['f_kept']['accuracy']}, style correlation with z "
         f"kept {st['z_kept']['correlation']}; wrote {out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
