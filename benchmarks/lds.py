"""The slow-latents benchmark: on Sprites, do the latents of the linear-dynamics model
(``configs/sprites_lds.yaml``, no f) whose eigenvalues sit near 1 carry the static factors,
and how does that compare with the DSAE (``configs/sprites_dsae.yaml``) on the same budget?

One run of this script trains one of the two models and scores it, in this order:

1. training: the model's config for ``--steps`` steps on one thread (``train.threads=1``,
   ``train.seed``, ``data.root``, ``train.progress=false``; two runs side by side fill a
   2-core machine), exactly what the recorded ``dsae train`` command does; a run folder that
   already holds that finished run is scored as it is, any other run there is refused;
2. scoring on the first ``--sequences`` test sequences: for ``lds`` the slowness protocol
   (eigenvalues per latent against what each latent predicts, the rank correlations, the
   slow-block swaps judged), for ``dsae`` the swap protocol (f of one sequence with z_1:T of
   another, judged) and the latent metrics; the reconstructions' quality for both.
   ``lds_balls`` is the lds family on the bouncing balls (``configs/balls_lds.yaml``): no
   labels and no judge, each latent's R^2 with the ball's position and velocity instead;
3. ``benchmarks/results/lds-<model>-seed<k>.json``; with ``--figure PATH`` the slowness
   figure of an ``lds`` run as well.

    python benchmarks/lds.py --model lds --seed 0 --data data/sprites --figure docs/img/lds_slowness.png
    python benchmarks/lds.py --model dsae --seed 0 --data data/sprites
    python benchmarks/lds.py --model lds_balls --seed 0 --data data/balls --steps 800
    python benchmarks/lds.py --model lds --tag sw1 --set objective.slow_weight=1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchlib.fixed_steps import train_or_reuse
from benchlib.inputs import ensure_judge
from benchlib.record import recorded
from benchlib.scored_run import (
    add_scored_run_arguments,
    check_scored_run_arguments,
    first_test_sequences,
    fixed_overrides,
    run_paths,
    run_record,
)

from dsae.config import load_config
from dsae.eval import evaluate, load_judge
from dsae.train import load_run
from dsae.utils import set_threads
from dsae.viz.slowness import plot_slowness

CONFIGS = {
    "lds": "configs/sprites_lds.yaml",
    "dsae": "configs/sprites_dsae.yaml",
    "lds_balls": "configs/balls_lds.yaml",
}
PROTOCOLS = {
    "lds": ["reconstruction", "slowness"],
    "dsae": ["reconstruction", "swap", "latent"],
    "lds_balls": ["reconstruction", "slowness"],
}
JUDGED = ("lds", "dsae")  # the balls have no labelled factors to judge
STEPS = 1350  # about 20 minutes per run on one core of a 2-core AMD EPYC (AVX2)


def _say(msg: str) -> None:
    print(msg, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, choices=list(CONFIGS), help="which model")
    p.add_argument("--config", default=None, help="YAML config (default: the model's)")
    p.add_argument("--figure", default=None, help="also draw the slowness figure here (lds)")
    add_scored_run_arguments(p, STEPS, 1000, "lds", "MODEL")
    args = p.parse_args(argv)
    check_scored_run_arguments(p, args)
    if args.figure and args.model == "dsae":
        p.error("--figure draws the slowness of an lds run")
    return args


def benchmark(args: argparse.Namespace, config: str, data_dir: Path, run_dir: Path) -> dict:
    """Train (or reuse) the run and score it; the record written as JSON."""
    t_start = time.perf_counter()
    overrides = [*fixed_overrides(data_dir, args.steps, args.seed), *args.overrides]
    cfg = load_config(config, overrides)
    set_threads(cfg.train.threads)
    judge_path, judge = None, None
    if args.model in JUDGED:
        judge_path = Path(args.judge) if args.judge is not None else data_dir / "judge.pt"
        judge = ensure_judge(judge_path, data_dir, args.judge_epochs, progress=False)
    _say(f"[1/3] training: {args.model}, seed {args.seed}, {args.steps} steps in {run_dir}")
    training = train_or_reuse(cfg, run_dir, progress=False)
    _say(f"[2/3] scoring: {', '.join(PROTOCOLS[args.model])}")
    t0 = time.perf_counter()
    metrics = evaluate(
        load_run(run_dir).model, first_test_sequences(data_dir, args.sequences),
        load_judge(judge_path) if judge_path is not None else None, None, args.seed, 1,
        args.batch_size, protocols=PROTOCOLS[args.model],
    )  # fmt: skip
    t_score = time.perf_counter() - t0
    record = run_record(cfg, config, overrides, run_dir, data_dir, metrics, judge, training,
                        t_score, t_start)  # fmt: skip
    return {
        "benchmark": "lds",
        "model": args.model,
        "tag": args.tag,
        "seed": args.seed,
        **record,
        **{k: metrics.get(k) for k in PROTOCOLS[args.model]},
    }


def _summary(result: dict) -> str:
    psnr = (result.get("reconstruction") or {}).get("psnr")
    out = "" if psnr is None else f"PSNR {psnr:.2f} dB"
    slow = result.get("slowness") or {}
    swap = result.get("swap") or {}
    for group, rows in swap.items() if isinstance(swap, dict) else ():
        if group in ("static", "dynamic"):
            out += f"; {group} kept in f/z swaps: " + ", ".join(
                f"{k} {v['acc']:.1f}%" for k, v in rows.items()
            )
    for key in ("posterior", "prior") if slow else ():
        part = slow.get(key) or {}
        rho = ", ".join(f"{g} {v:+.2f}" for g, v in part.get("rank_correlation", {}).items()
                        if v is not None)  # fmt: skip
        out += f"; {key} order: rho {rho or 'n/a'}"
        swaps = part.get("swaps")
        if swaps:
            best = next(r for r in swaps["curve"] if r["k"] == swaps["best_k"])
            out += (f", best k = {best['k']}: static kept {best['static_mean']:.1f}%, dynamic "
                    f"kept {best['dynamic_mean']:.1f}%")  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def run() -> tuple[dict, Path]:
        config = args.config or CONFIGS[args.model]
        cfg = load_config(config)
        data_dir = Path(args.data if args.data is not None else cfg.data.root)
        run_dir, out = run_paths(args, "lds", args.model)
        result = benchmark(args, config, data_dir, run_dir)
        if args.figure:
            title = f"Slow latents of {config}, seed {args.seed}, {args.steps} steps"
            plot_slowness(result["slowness"], args.figure, title)
        return result, out

    done = recorded("lds.py", argv, run)
    if done is None:
        return 2
    result, out = done
    _say(f"[3/3] {_summary(result)}; scored in {result['timing']['scoring_s']:.0f} s; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
