"""Implementations of the ``dsae`` subcommands (they call train and the pipeline)."""

from __future__ import annotations

import argparse
import math
import time

from dsae.cli.registry import command
from dsae.config import load_config
from dsae.errors import DsaeError
from dsae.pipeline.outputs import write_generations, write_reconstructions, write_swaps
from dsae.pipeline.quickstart import run_quickstart
from dsae.train import train


@command("train")
def cmd_train(args: argparse.Namespace) -> int:
    minutes = args.max_minutes
    if minutes is not None and not (math.isfinite(minutes) and minutes > 0):
        raise DsaeError(f"--max-minutes must be a positive number, got {minutes}")
    cfg = load_config(args.config, args.overrides)
    deadline = None if minutes is None else time.monotonic() + 60.0 * minutes
    res = train(
        cfg,
        args.out,
        resume=args.resume,
        progress=not args.no_progress,
        deadline=deadline,
        fit_schedule=deadline is not None,
    )
    terms = ", ".join(
        f"{k} {v:.2f}" for k, v in res.last.items() if k in ("loss", "recon", "kl_f", "kl_z")
    )
    fitted = "" if minutes is None else f", schedule fitted to {minutes:g} min"
    print(f"trained {res.step} steps in {res.wall_time:.1f} s{fitted} ({terms}): {res.run_dir}")
    return 0


@command("swap")
def cmd_swap(args: argparse.Namespace) -> int:
    outp = write_swaps(args.run, args.data, args.out, args.pairs, args.split, args.seed, args.scale)
    print(f"wrote {args.pairs} swaps (rows: content, motion, swap) to {outp / 'swaps.png'}")
    return 0


@command("generate")
def cmd_generate(args: argparse.Namespace) -> int:
    outp = write_generations(
        args.run,
        args.out,
        args.fix,
        args.n,
        args.groups,
        args.steps,
        args.seed,
        args.scale,
        sampler=args.sampler,
    )
    print(f"wrote {args.groups} x {args.n} sequences (fix={args.fix}) to {outp}")
    return 0


@command("reconstruct")
def cmd_reconstruct(args: argparse.Namespace) -> int:
    outp = write_reconstructions(
        args.run, args.data, args.out, args.n, args.split, args.seed, args.scale
    )
    print(f"wrote reconstructions to {outp / 'reconstructions.png'}")
    return 0


@command("quickstart")
def cmd_quickstart(args: argparse.Namespace) -> int:
    print(
        run_quickstart(
            args.out,
            args.overrides,
            progress=not args.no_progress,
            train_minutes=args.train_minutes,
        )
    )
    return 0
