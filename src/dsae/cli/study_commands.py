"""``dsae study vem``: the variational-EM bias of the ELBO on a linear-Gaussian sequence
model (Turner & Sahani 2011), as replicated for the DSAE's encoders (Figs. 3 and 4)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dsae.cli.registry import command
from dsae.studies.vem import format_bias_table, write_vem_study
from dsae.utils import set_threads


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add ``study`` with its study ``vem``."""
    s = sub.add_parser("study", help="numerical studies of the objectives")
    ssub = s.add_subparsers(dest="study", metavar="STUDY")
    ssub.required = True
    v = ssub.add_parser(
        "vem",
        help="ELBO vs exact log-likelihood on a linear-Gaussian toy: the bias of variational "
        "EM for the factorised and full q encoders (Figs. 3 and 4)",
    )
    v.add_argument("--out", required=True, help="folder for vem.json, fig3.png, fig4.png")
    v.add_argument("--seeds", type=int, default=5, help="data sets per case (the table's spread)")
    v.add_argument("--grid", type=int, default=77, help="grid points over 0.1 ... 2.0")
    v.add_argument("--sequences", type=int, default=1000, help="sequences per data set")
    v.add_argument("--seed", type=int, default=0, help="seed of the data sets")
    v.add_argument("--threads", type=int, default=0, help="torch threads (0: one per core)")
    v.add_argument("--no-progress", action="store_true")


@command("study")
def cmd_study(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    results = write_vem_study(
        args.out, seeds=args.seeds, grid=args.grid, sequences=args.sequences, seed=args.seed,
        progress=not args.no_progress,
    )  # fmt: skip
    print(format_bias_table(results["bias"], args.seeds))
    out = Path(args.out)
    took = results["timing_s"]["total"]
    print(f"{took:.0f} s; curves and table: {out / 'vem.json'}; figures: {out / 'fig3.png'}, "
          f"{out / 'fig4.png'}")  # fmt: skip
    return 0
