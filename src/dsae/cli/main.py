"""The ``dsae`` command line: data, train, swap, generate, reconstruct, quickstart.

User errors (``DsaeError``: missing file, bad shape, bad config, corrupt checkpoint) print
one line to stderr and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dsae import __version__
from dsae.cli import (
    commands,
    convert_commands,
    data_commands,
    eval_commands,
    impute_commands,
    judge_commands,
    report_commands,
    study_commands,
)
from dsae.cli.registry import COMMANDS
from dsae.errors import DsaeError
from dsae.pipeline.quickstart import TRAIN_MINUTES

# Modules holding @command functions (importing one registers its commands); each may
# define add_parsers(subparsers) for subcommands it parses itself.
COMMAND_MODULES = (
    data_commands,
    commands,
    judge_commands,
    eval_commands,
    report_commands,
    convert_commands,
    impute_commands,
    study_commands,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dsae",
        description="Disentangled representations of sequences: static f, dynamic z_1:T.",
    )
    p.add_argument("--version", action="version", version=f"dsae {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    t = sub.add_parser("train", help="train a model from a YAML config")
    t.add_argument("config", help="YAML config (see configs/)")
    t.add_argument("--out", required=True, help="run directory")
    t.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. train.max_steps=200 (repeatable)",
    )
    t.add_argument("--resume", action="store_true", help="continue from RUN_DIR's checkpoint")
    t.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="end the steps within this wall time, the learning-rate schedule fitted to it "
        "at the measured pace (at most train.max_steps steps); the prior fits and final "
        "checkpoint follow",
    )
    t.add_argument("--no-progress", action="store_true")

    s = sub.add_parser("swap", help="decode f of one sequence with z_1:T of another")
    s.add_argument("run", help="run directory")
    s.add_argument("--data", default=None, help="dataset directory (default: the run's)")
    s.add_argument("--out", required=True)
    s.add_argument("--pairs", type=int, default=8, help="number of pairs")
    s.add_argument("--split", default="test")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--scale", type=int, default=2, help="pixel scale of the pictures")

    g = sub.add_parser("generate", help="sample sequences from the prior")
    g.add_argument("run", help="run directory")
    g.add_argument("--out", required=True)
    g.add_argument("--fix", choices=["static", "dynamic", "none"], default="none")
    g.add_argument("--n", type=int, default=8, help="sequences per group")
    g.add_argument("--groups", type=int, default=4, help="groups sharing the fixed code")
    g.add_argument("--steps", type=int, default=None, help="sequence length (default: data's)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--scale", type=int, default=2)
    g.add_argument(
        "--sampler",
        choices=["learnt_prior", "configured"],
        default=None,
        help="where f and z_1:T come from: the model's learnt prior, or the sampler the "
        "config fitted after training (default: configured when the run has one)",
    )

    r = sub.add_parser("reconstruct", help="reconstruct test sequences")
    r.add_argument("run", help="run directory")
    r.add_argument("--data", default=None)
    r.add_argument("--out", required=True)
    r.add_argument("--n", type=int, default=8)
    r.add_argument("--split", default="test")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--scale", type=int, default=2)

    q = sub.add_parser("quickstart", help="the main job: toy data, training, pictures")
    q.add_argument("--out", default="quickstart", help="output directory")
    q.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override the quickstart config, e.g. train.max_steps=100",
    )
    q.add_argument(
        "--train-minutes",
        type=float,
        default=TRAIN_MINUTES,
        help="wall time of the training, its schedule fitted to the steps that fit (at most "
        "train.max_steps), so the whole quickstart takes about 10 minutes on any CPU; 0: "
        "train.max_steps steps whatever they take (default: %(default)s)",
    )
    q.add_argument("--no-progress", action="store_true")

    for module in COMMAND_MODULES:
        if hasattr(module, "add_parsers"):
            module.add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(COMMANDS[args.command](args) or 0)
    except DsaeError as e:
        print(f"dsae: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dsae: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
