"""``dsae evaluate``: every evaluation protocol on a trained run, into metrics.json and plots."""

from __future__ import annotations

import argparse
from pathlib import Path

from dsae.cli.registry import command
from dsae.eval.text import (
    format_generation,
    format_style,
    format_swap,
    format_table1,
    format_verification,
)
from dsae.pipeline.evaluate import METRICS_FILE, evaluate_run


@command("evaluate")
def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a run (with a judge, every protocol its data allows; without one, those
    that need no judge); print Table 1, the generation scores, the style scores, swaps,
    speaker verification and what was skipped."""
    metrics = evaluate_run(
        args.run,
        args.data,
        args.judge,
        args.out,
        repeats=args.repeats,
        seed=args.seed,
        progress=not args.no_progress,
    )
    if not metrics["data"]["same_as_training"]:
        print(f"note: {metrics['data']['root']} is not the dataset the model was trained on")
    for key, fmt in (("table1", format_table1), ("generation", format_generation)):
        if key in metrics:
            print(fmt(metrics[key], metrics["compared_with_published"]) + "\n")
    if "style" in metrics:
        print(format_style(metrics["style"]) + "\n")
    if "swap" in metrics:
        print(format_swap(metrics["swap"]) + "\n")
    if "verification" in metrics:
        print(format_verification(metrics["verification"]) + "\n")
    for name, reason in metrics["skipped"].items():
        print(f"skipped {name}: {reason}")
    out = Path(args.out)
    plots = "".join(f" and {p}" for p in metrics["plots"])
    print(f"wrote {out / METRICS_FILE}{plots} in {metrics['elapsed_s']:.1f} s")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    e = sub.add_parser(
        "evaluate",
        help="score a run: Table 1, generation, swaps, latent metrics, reconstructions, "
        "speaker verification",
    )
    e.add_argument("run", help="run directory")
    e.add_argument("--data", default=None, help="dataset directory (default: the run's)")
    e.add_argument(
        "--judge",
        default=None,
        help="judge file (from 'dsae judge train'); without one, only the protocols that "
        "need no judge run",
    )
    e.add_argument("--out", required=True, help="output directory for metrics.json and plots")
    e.add_argument("--repeats", type=int, default=3, help="seeds of the generation scores (>= 3)")
    e.add_argument("--seed", type=int, default=0, help="first seed")
    e.add_argument("--no-progress", action="store_true")
