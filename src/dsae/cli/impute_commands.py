"""``dsae impute``: a model predicts the rest of test sequences from their first t frames
with its prior dynamics (Li & Mandt 2018, section 4.3, Fig. 7)."""

from __future__ import annotations

import argparse

from dsae.cli.registry import command
from dsae.pipeline.impute import IMPUTATION_NPZ, OVERLAYS_PNG, write_imputations
from dsae.utils import set_threads


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the ``impute`` subcommand."""
    p = sub.add_parser(
        "impute",
        help="predict the frames after the first t of test sequences (Li & Mandt 2018, Fig. 7)",
    )
    p.add_argument("run", help="run directory")
    p.add_argument("--observed", type=int, required=True, metavar="T", help="frames seen")
    p.add_argument("--out", required=True, help="output folder (replaced whole)")
    p.add_argument("--data", default=None, help="dataset directory (default: the run's)")
    p.add_argument("--n", type=int, default=8, help="number of sequences")
    p.add_argument("--samples", type=int, default=5, help="sampled predictions per sequence")
    p.add_argument("--split", default="test")
    p.add_argument("--seed", type=int, default=0, help="choice of sequences and samples")
    p.add_argument("--scale", type=int, default=4, help="pixel scale of the pictures")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: one per core)")


@command("impute")
def cmd_impute(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    s = write_imputations(
        args.run, args.data, args.out, args.observed, args.n, args.samples, args.split,
        args.seed, args.scale,
    )  # fmt: skip
    missing = f"{100 * s['wrong_missing_most_likely']:.2f}% (most likely), " + (
        f"{100 * s['wrong_missing_sampled']:.2f}% (sampled, mean of {s['samples']})"
    )
    print(
        f"imputed {s['sequences']} sequences from their first {s['observed']} frames; "
        f"wrong pixels over the predicted frames: {missing}"
    )
    print(f"pictures: {args.out}/{OVERLAYS_PNG}; arrays: {args.out}/{IMPUTATION_NPZ}")
    return 0
