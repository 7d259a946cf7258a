"""Implementations of the ``dsae`` subcommands (they call train, eval and viz)."""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from dsae.cli.main import command
from dsae.config import Config, apply_overrides, load_config
from dsae.errors import DsaeError
from dsae.outputs import write_generations, write_reconstructions, write_swaps
from dsae.utils import atomic_write_text


@command("train")
def cmd_train(args: argparse.Namespace) -> int:
    from dsae.train import train

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
        args.run, args.out, args.fix, args.n, args.groups, args.steps, args.seed, args.scale
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


def quickstart_config(out: str | Path, overrides: list[str] | None = None) -> Config:
    """configs/quickstart.yaml with the data placed under ``out``."""
    from importlib import resources

    text = resources.files("dsae").joinpath("configs/quickstart.yaml").read_text()
    import yaml

    d = yaml.safe_load(text)
    d["data"]["root"] = str(Path(out) / "data")
    return Config.from_dict(apply_overrides(d, overrides or []))


@command("quickstart")
def cmd_quickstart(args: argparse.Namespace) -> int:
    from dsae.data.base import fingerprint, load_meta
    from dsae.eval.judge import load_judge, save_judge, train_judge
    from dsae.eval.protocols import evaluate_run, format_generation, format_swap
    from dsae.train import load_checkpoint, prepare_data, train
    from dsae.viz.plots import plot_training_curves
    from dsae.viz.report import build_report

    t_start = time.perf_counter()
    out = Path(args.out)
    progress = not args.no_progress
    cfg = quickstart_config(out, args.overrides)
    run = out / "run"
    print(f"[1/8] toy sprites -> {cfg.data.root}")
    data_dir = prepare_data(cfg.data, progress=progress)
    print(f"[2/8] training the DSAE ({cfg.train.max_steps} steps) -> {run}")
    resume = (run / "checkpoint.pt").is_file()
    if resume and int(load_checkpoint(run)["step"]) >= cfg.train.max_steps:
        print("      (already trained; reusing it)")
    else:
        train(cfg, run, resume=resume, progress=progress)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    plot_training_curves(records, out / "training_curves.png")
    scale = max(1, 128 // cfg.data.image_size)  # pictures show frames at 128 pixels
    print("[3/8] reconstructions")
    write_reconstructions(str(run), None, str(out / "reconstructions"), 8, "test", 0, scale)
    print("[4/8] swaps")
    write_swaps(str(run), None, str(out / "swaps"), 8, "test", 0, scale)
    print("[5/8] generations")
    for fix in ("static", "dynamic"):
        write_generations(str(run), str(out / "generate"), fix, 6, 3, None, 0, scale)
    judge_path = out / "judge.pt"
    fp = fingerprint(data_dir)
    existing = load_judge(judge_path) if judge_path.is_file() else None
    if existing is not None and existing.fingerprint == fp:
        print(f"[6/8] judge: reusing {judge_path}")
        info = existing.info
    else:
        print(f"[6/8] training a judge of the toy factors -> {judge_path}")
        judge, info = train_judge(data_dir, seed=cfg.train.seed, progress=progress)
        save_judge(judge_path, judge, load_meta(data_dir), fp, info)
    judge_acc = info.get("test_accuracy", {})
    print(f"[7/8] evaluating the model with the judge -> {out / 'eval'}")
    metrics = evaluate_run(
        run, data_dir, judge_path, out / "eval", seed=cfg.train.seed, progress=progress
    )
    print("[8/8] report")
    report = build_report(run, eval_dir=out / "eval", out=out / "report.html", assets=out)
    last = records[-1] if records else {}
    acc = ", ".join(f"{k} {v:.3f}" for k, v in judge_acc.items())
    summary = "\n".join(
        [
            f"dsae quickstart finished in {time.perf_counter() - t_start:.0f} s",
            f"  model:           {run}/checkpoint.pt (step {last.get('step')}, "
            f"recon {last.get('recon', float('nan')):.1f}, kl_f {last.get('kl_f', float('nan')):.1f}, "
            f"kl_z {last.get('kl_z', float('nan')):.1f})",
            f"  training curves: {out / 'training_curves.png'}",
            f"  reconstructions: {out / 'reconstructions' / 'reconstructions.png'}",
            f"  swaps:           {out / 'swaps' / 'swaps.png'}  (rows: content, motion, swap)",
            f"  generations:     {out / 'generate'}/generate_static.png (shared f), "
            "generate_dynamic.png (shared z)",
            f"  judge:           {judge_path} (test accuracy: {acc})",
            f"  evaluation:      {out / 'eval' / 'metrics.json'}",
            f"  report:          {report}  (open it in a browser)",
            "",
            format_swap(metrics["swap"]),
            "",
            format_generation(metrics["generation"]),
        ]
    )
    atomic_write_text(out / "SUMMARY.txt", summary + "\n")
    print(summary)
    return 0
