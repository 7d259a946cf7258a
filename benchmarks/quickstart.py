"""The quickstart as a benchmark: ``dsae quickstart`` from an empty folder, timed, its
figures set against the quickstart's targets and recorded with the machine and the commit.

    python benchmarks/quickstart.py --seed 0 [--out-dir runs/quickstart-seed0] [--docs docs]

Writes ``benchmarks/results/quickstart-seed<k>.json``: the wall time of the whole quickstart
(data, training, pictures, judge, evaluation, report) and of its training, the
reconstruction PSNR, the swap accuracies, the generation scores with the model's own priors
(z_1:T kept with f ~ p(f); f kept with z_1:T ~ p(z_1:T), over the sequence and frame by
frame), the targets, the machine, versions and the command. With ``--docs``, also
``docs/img/quickstart_swaps.png``: three test pairs of the run's swaps.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from benchlib.machine import machine_record, peak_memory_mb
from benchlib.record import recorded
from benchlib.targets import target

from dsae.data.base import load_split
from dsae.errors import DsaeError
from dsae.eval import versions
from dsae.eval.judge import load_judge
from dsae.eval.judge_model import predict_frame_proba
from dsae.pipeline.outputs import write_swaps
from dsae.pipeline.quickstart import TRAIN_MINUTES, quickstart_config, run_quickstart
from dsae.train import load_checkpoint

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SWAPS_PICTURE = "img/quickstart_swaps.png"
WALL_TARGET_S = 600.0  # the whole quickstart, on 2 cores without bfloat16 instructions
PSNR_TARGET = 28.0  # dB, test reconstructions
SWAP_STATIC_TARGET = 95.0  # % of swaps whose static factor the judge reads as the content's
SWAP_ACTION_TARGET = 99.0  # % of swaps whose action the judge reads as the motion source's
FRAME_TARGET = 95.0  # % per frame: f kept, z_1:T ~ p(z_1:T), every frame's static factors


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0, help="train.seed of the quickstart")
    p.add_argument(
        "--out-dir", default=None, help="quickstart folder (default: runs/quickstart-seed<k>)"
    )
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config overrides (tests make the run small)")  # fmt: skip
    p.add_argument("--train-minutes", type=float, default=TRAIN_MINUTES,
                   help="the quickstart's training wall time (0: train.max_steps steps)")  # fmt: skip
    p.add_argument("--out", default=None, help="JSON (default: results/quickstart-seed<k>.json)")
    p.add_argument("--docs", type=Path, default=None, help="docs folder for the swap picture")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def learnt_prior_scores(metrics: dict) -> dict:
    """The generation scores of the model's own priors from an evaluation's metrics."""
    gen = metrics.get("generation", {})
    return gen.get("learnt_prior", {}) if isinstance(gen, dict) else {}


def quickstart_targets(metrics: dict, wall_s: float) -> dict[str, dict]:
    """Each target of the quickstart with its value and whether it is met."""
    swap = metrics.get("swap", {})
    gen = learnt_prior_scores(metrics)
    out = {
        "wall_time_s": target(wall_s, WALL_TARGET_S, "<="),
        "psnr_db": target(metrics.get("reconstruction", {}).get("psnr"), PSNR_TARGET, ">="),
    }
    for k, v in swap.get("static", {}).items():
        out[f"swap_{k}"] = target(v.get("acc"), SWAP_STATIC_TARGET, ">=")
    for k, v in swap.get("dynamic", {}).items():
        out[f"swap_{k}"] = target(v.get("acc"), SWAP_ACTION_TARGET, ">=")
    for k, v in gen.get("f_kept_z_sampled_by_frame", {}).items():
        frames = v.get("mean") or []
        worst = min(frames) if frames else None
        note = f"frame t = {frames.index(worst) + 1}" if frames else ""
        out[f"weakest_frame_{k}"] = target(worst, FRAME_TARGET, ">=", note)
    return out


def judge_frames_on_data(judge_path: Path, data_dir: Path) -> dict[str, list[float]]:
    """The judge's accuracy (%) on each frame of the real test sequences, per static
    factor: the ceiling of the per-frame scores of generated ones."""
    split = load_split(data_dir, "test")
    probs = predict_frame_proba(load_judge(judge_path).judge, split.x)
    labels = np.asarray(split.static)
    return {
        k: (100.0 * (probs[k].argmax(-1) == labels[:, i, None]).mean(0)).tolist()
        for i, k in enumerate(split.meta.static_factors)
    }


def benchmark(args: argparse.Namespace, out_dir: Path) -> dict:
    if out_dir.exists() and any(out_dir.iterdir()):
        raise DsaeError(f"{out_dir} is not empty: the benchmark times a quickstart from nothing")
    overrides = [f"train.seed={args.seed}", *args.overrides]
    cfg = quickstart_config(out_dir, overrides)
    t0 = time.perf_counter()
    run_quickstart(
        out_dir,
        overrides,
        progress=not args.no_progress,
        say=lambda _: None,
        train_minutes=args.train_minutes,
    )
    wall = time.perf_counter() - t0
    metrics = json.loads((out_dir / "eval" / "metrics.json").read_text())
    trained = load_checkpoint(out_dir / "run")
    if args.docs is not None:
        with tempfile.TemporaryDirectory() as tmp:
            scale = max(1, 128 // cfg.data.image_size)
            write_swaps(out_dir / "run", None, tmp, 3, "test", args.seed, scale)
            (args.docs / SWAPS_PICTURE).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(tmp) / "swaps.png", args.docs / SWAPS_PICTURE)
    targets = quickstart_targets(metrics, wall)
    return {
        "benchmark": "quickstart",
        "config": "configs/quickstart.yaml",
        "overrides": overrides,
        "resolved_config": cfg.to_dict(),
        "timing": {
            "quickstart_s": round(wall, 3),
            "training_s": round(float(trained["wall_time"]), 3),
            "steps": int(trained["step"]),
            "train_minutes": args.train_minutes,
        },
        "reconstruction": metrics.get("reconstruction"),
        "swap": metrics.get("swap"),
        "generation": learnt_prior_scores(metrics),
        "judge": metrics.get("judge"),
        "judge_frames_on_data": judge_frames_on_data(out_dir / "judge.pt", out_dir / "data"),
        "targets": targets,
        "targets_met": sum(t["met"] for t in targets.values()),
        "targets_total": len(targets),
        "machine": machine_record(cfg.train.autocast),
        "memory": peak_memory_mb(),
        "versions": versions(),
        "quickstart_dir": str(out_dir.resolve()),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out) if args.out else RESULTS / f"quickstart-seed{args.seed}.json"
    out_dir = Path(args.out_dir or f"runs/quickstart-seed{args.seed}")
    done = recorded("quickstart.py", argv, lambda: (benchmark(args, out_dir), out))
    if done is None:
        return 2
    result = done[0]
    print(
        f"quickstart in {result['timing']['quickstart_s']:.0f} s, "
        f"{result['targets_met']} of {result['targets_total']} targets; wrote {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
