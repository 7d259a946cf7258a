"""``dsae report``: a self-contained HTML page about a run and its evaluation."""

from __future__ import annotations

import argparse
import sys

from dsae.cli.registry import command
from dsae.pipeline.report import build_report


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    p = sub.add_parser("report", help="write a self-contained HTML report of a run")
    p.add_argument("run", help="run directory")
    p.add_argument("--eval", dest="eval_dir", default=None, help="evaluation folder (metrics.json)")
    p.add_argument("--out", default=None, help="HTML file to write (default: RUN/report.html)")
    p.add_argument("--data", default=None, help="dataset directory (default: the run's)")
    p.add_argument(
        "--conversion",
        default=None,
        help="voice conversion folder of 'dsae convert --pairs' (default: RUN/conversion)",
    )
    p.add_argument("--impute", default=None, help="folder of 'dsae impute' (default: RUN/impute)")


@command("report")
def cmd_report(args: argparse.Namespace) -> int:
    """Write the report page and print where it is."""
    path = build_report(
        args.run,
        eval_dir=args.eval_dir,
        out=args.out,
        data=args.data,
        conversion_dir=args.conversion,
        impute_dir=args.impute,
        log=lambda line: print(line, file=sys.stderr),
    )
    print(f"wrote report to {path} (open it in a browser)")
    return 0
