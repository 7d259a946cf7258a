"""``dsae evaluate``: every evaluation protocol on a trained run, into metrics.json and plots."""

from __future__ import annotations

import argparse
from pathlib import Path

from dsae.cli.registry import command


@command("evaluate")
def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a run with a judge; print Table 1 and the generation scores."""
    from dsae.eval.protocols import (
        METRICS_FILE,
        evaluate_run,
        format_generation,
        format_swap,
        format_table1,
    )

    metrics = evaluate_run(
        args.run,
        args.data,
        args.judge,
        args.out,
        repeats=args.repeats,
        seed=args.seed,
        progress=not args.no_progress,
    )
    if not metrics["dataset"]["same_as_training"]:
        print(f"note: {metrics['dataset']['root']} is not the dataset the model was trained on")
    print(format_table1(metrics["table1"]))
    print()
    print(format_generation(metrics["generation"]))
    print()
    print(format_swap(metrics["swap"]))
    print()
    out = Path(args.out)
    plots = ", ".join(metrics["plots"])
    print(f"wrote {out / METRICS_FILE} and {plots} in {sum(metrics['timing'].values()):.1f} s")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    e = sub.add_parser(
        "evaluate",
        help="score a run with a judge: Table 1, generation, latent metrics, reconstructions",
    )
    e.add_argument("run", help="run directory")
    e.add_argument("--data", default=None, help="dataset directory (default: the run's)")
    e.add_argument("--judge", required=True, help="judge file (from 'dsae judge train')")
    e.add_argument("--out", required=True, help="output directory for metrics.json and plots")
    e.add_argument("--repeats", type=int, default=3, help="seeds of the generation scores (>= 3)")
    e.add_argument("--seed", type=int, default=0, help="first seed")
    e.add_argument("--no-progress", action="store_true")
