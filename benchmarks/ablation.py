"""The Sprites objective ablation: Li & Mandt (2018)'s DSAE (``configs/sprites_dsae.yaml``)
trained under one of five objectives, the same step budget for all, and scored.

The arms (``ARMS``, the only place their overrides are written): the plain ELBO (``none``);
beta = 6 on both KL terms (``beta6``, the Li & Mandt replication's beta-weighted objective);
capacity annealing (``capacity``, Burgess et al. 2018); FactorVAE's total correlation of
[f, z_t] (``tc``, Kim & Mnih 2018); DIP-VAE-I (``dip``, Kumar et al. 2018).

One run of this script, in this order:

1. training: ``dsae.train`` in this process on the config with ``data.root``,
   ``train.max_steps`` (``--steps``), ``train.lr_warmup_steps=50``, ``train.threads=1``,
   ``train.seed``, ``train.progress=false`` and the arm's overrides, exactly what
   ``dsae train CONFIG --out RUN --set ...`` with those overrides does (the record holds that
   command); a run folder that already holds a finished run of that config at ``--steps``
   is scored as it is, any other run there is refused;
2. scoring on the test split (the first ``--sequences`` of it, or all): Li & Mandt (2018)
   Table 1 with the model's own priors (disagreement %, KL-recon, KL-random per factor), the
   latent metrics of the posterior means (DCI, MIG, SAP, FactorVAE score of f against the
   static factors and of z against the action) and the reconstructions' PSNR;
3. ``benchmarks/results/ablation-<arm>-seed<k>.json``: the scores, the training's steps,
   wall time and last logged loss terms, the machine, versions, the commit and the command.

    python benchmarks/ablation.py --arm tc --seed 0 --data /work/data/sprites
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
from dsae.eval import LEARNT_PRIOR, evaluate, load_judge
from dsae.train import load_run
from dsae.utils import set_threads

CONFIG = "configs/sprites_dsae.yaml"
ARMS: dict[str, list[str]] = {
    "none": [],
    "beta6": ["objective.beta_f=6", "objective.beta_z=6"],
    "capacity": [
        "objective.capacity_gamma=1000",
        "objective.capacity_f=25",
        "objective.capacity_z=25",
        "objective.capacity_steps=250",
    ],
    "tc": ["objective.tc_weight=10"],
    "dip": ["objective.dip=i"],
}
WARMUP_STEPS = 50  # the learning rate's linear warm-up, the same for every arm
PROTOCOLS = ["table1", "latent", "reconstruction"]


def _say(msg: str) -> None:
    print(msg, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arm", required=True, choices=list(ARMS), help="the objective")
    p.add_argument("--config", default=CONFIG, help=f"YAML config (default: {CONFIG})")
    add_scored_run_arguments(p, 500, 0, "ablation", "ARM")
    args = p.parse_args(argv)
    check_scored_run_arguments(p, args)
    return args


def run_overrides(arm: str, seed: int, steps: int, data_dir: Path, extra: list[str]) -> list[str]:
    """Every override of an arm's run, in the order ``dsae train`` is given them."""
    warmup = f"train.lr_warmup_steps={WARMUP_STEPS}"
    return [*fixed_overrides(data_dir, steps, seed, warmup), *ARMS[arm], *extra]


def benchmark(args: argparse.Namespace, data_dir: Path, judge_path: Path, run_dir: Path) -> dict:
    """Train (or reuse) the run and score it; the record written as JSON."""
    t_start = time.perf_counter()
    overrides = run_overrides(args.arm, args.seed, args.steps, data_dir, args.overrides)
    cfg = load_config(args.config, overrides)
    set_threads(cfg.train.threads)
    judge = ensure_judge(judge_path, data_dir, args.judge_epochs, progress=False)
    _say(f"[1/3] training: {args.arm}, seed {args.seed}, {args.steps} steps in {run_dir}")
    training = train_or_reuse(cfg, run_dir, progress=False)
    _say(f"[2/3] scoring: {', '.join(PROTOCOLS)}")
    t0 = time.perf_counter()
    metrics = evaluate(
        load_run(run_dir).model, first_test_sequences(data_dir, args.sequences),
        load_judge(judge_path), None, args.seed, 1, args.batch_size, protocols=PROTOCOLS,
    )  # fmt: skip
    t_score = time.perf_counter() - t0
    record = run_record(cfg, args.config, overrides, run_dir, data_dir, metrics, judge,
                        training, t_score, t_start)  # fmt: skip
    return {
        "benchmark": "ablation",
        "arm": args.arm,
        "arm_overrides": ARMS[args.arm],
        **record,
        "sampler": LEARNT_PRIOR,
        "table1": metrics["table1"][LEARNT_PRIOR],
        "latent": metrics.get("latent"),
        "reconstruction": metrics.get("reconstruction"),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def run() -> tuple[dict, Path]:
        cfg = load_config(args.config)
        data_dir = Path(args.data if args.data is not None else cfg.data.root)
        judge_path = Path(args.judge) if args.judge is not None else data_dir / "judge.pt"
        run_dir, out = run_paths(args, "ablation", args.arm)
        return benchmark(args, data_dir, judge_path, run_dir), out

    done = recorded("ablation.py", argv, run)
    if done is None:
        return 2
    result, out = done
    t1 = result["table1"]
    rows = {**t1.get("static", {}), **t1.get("dynamic", {})}
    dis = ", ".join(f"{k} {v['disagreement']:.1f}%" for k, v in rows.items())
    psnr = (result["reconstruction"] or {}).get("psnr")
    quality = "" if psnr is None else f"; PSNR {psnr:.2f} dB"
    _say(f"[3/3] Table 1 disagreement: {dis}{quality}; scored in "
         f"{result['timing']['scoring_s']:.0f} s; wrote {out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
