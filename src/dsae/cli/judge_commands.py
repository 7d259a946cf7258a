"""``dsae judge train|test``: classifiers of the labelled factors, used to score samples."""

from __future__ import annotations

import argparse
from pathlib import Path

from dsae.cli.registry import command
from dsae.data.base import fingerprint, load_meta, load_split
from dsae.errors import DsaeError
from dsae.eval.judge import (
    DEFAULT_ARCH,
    JUDGE_ARCHS,
    check_judge_matches,
    evaluate_judge,
    judge_family,
    load_judge,
    min_accuracy,
    save_judge,
    train_judge,
)
from dsae.utils import set_threads


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add ``judge`` with its actions ``train`` and ``test``."""
    j = sub.add_parser("judge", help="train or test a judge (a classifier of the factors)")
    jsub = j.add_subparsers(dest="judge_command", metavar="ACTION")
    jsub.required = True

    t = jsub.add_parser("train", help="train a judge on a dataset's training split")
    t.add_argument("--data", required=True, help="dataset directory")
    t.add_argument("--out", required=True, help="judge file to write, e.g. judge.pt")
    t.add_argument(
        "--arch",
        choices=list(JUDGE_ARCHS),
        default=DEFAULT_ARCH,
        help="architecture: rnn (conv frames, bi-GRU over time) or tcn (residual CNN frames, "
        "temporal convolutions; a second, independent judge)",
    )
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--max-minutes", type=float, default=None, help="stop training after this")
    t.add_argument("--threads", type=int, default=0, help="torch threads (0: one per core)")
    t.add_argument("--no-progress", action="store_true")

    e = jsub.add_parser("test", help="a judge's accuracy per factor on a dataset's test split")
    e.add_argument("judge", help="judge file")
    e.add_argument("--data", required=True, help="dataset directory (the judge's own data)")
    e.add_argument("--split", default="test")
    e.add_argument("--threads", type=int, default=0, help="torch threads (0: one per core)")


def _print_accuracy(acc: dict[str, float]) -> None:
    width = max([len(k) for k in acc] + [3])
    for k, v in acc.items():
        print(f"  {k:<{width}}  {v:.4f}")
    print(f"  {'min':<{width}}  {min_accuracy(acc):.4f}")


@command("judge")
def cmd_judge(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    if args.judge_command == "train":
        return _train(args)
    return _test(args)


def _train(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.is_dir():
        raise DsaeError(f"--out {out} is a directory, expected a file path such as judge.pt")
    meta = load_meta(args.data)
    fp = fingerprint(args.data)
    judge, info = train_judge(
        args.data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        progress=not args.no_progress,
        max_minutes=args.max_minutes,
        arch=args.arch,
    )
    if fingerprint(args.data) != fp:
        raise DsaeError(f"{args.data} changed while the judge was training; train again")
    save_judge(out, judge, meta, fp, info)
    early = " (stopped at --max-minutes)" if info["stopped_early"] else ""
    took = f"{info['train_time_s']:.1f} s, {info['steps']} steps{early}"
    print(f"trained a {args.arch} judge in {took}: {out}")
    if info["test_accuracy"]:
        print(f"test accuracy ({info['n_test']} sequences):")
        _print_accuracy(info["test_accuracy"])
    return 0


def _test(args: argparse.Namespace) -> int:
    loaded = load_judge(args.judge)
    check_judge_matches(loaded, args.data)
    split = load_split(args.data, args.split)
    acc = evaluate_judge(loaded.judge, split)
    what = f"{args.judge} ({judge_family(loaded.judge.arch)} judge)"
    print(f"{args.split} accuracy of {what} on {args.data} ({len(split)} sequences):")
    _print_accuracy(acc)
    return 0
