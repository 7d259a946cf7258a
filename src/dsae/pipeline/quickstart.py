"""The quickstart: toy data, a trained DSAE, its pictures, a judge, an evaluation and the
report, all under one folder, reusing what an earlier quickstart there already made."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import yaml

from dsae.config import Config, apply_overrides
from dsae.data.base import fingerprint, load_meta
from dsae.errors import DsaeError
from dsae.eval.judge import load_judge, save_judge, train_judge
from dsae.eval.text import format_generation, format_swap
from dsae.pipeline.evaluate import evaluate_run
from dsae.pipeline.outputs import write_generations, write_reconstructions, write_swaps
from dsae.pipeline.report import build_report
from dsae.train import load_checkpoint, prepare_data, train
from dsae.utils import atomic_write_text
from dsae.viz.plots import plot_training_curves
from dsae.viz.report_samplers import sampler_results

__all__ = ["quickstart_config", "run_quickstart"]

SUMMARY_FILE = "SUMMARY.txt"
# the training's wall time: with the data, pictures, judge, evaluation and report (under a
# minute on a 2-core CPU) the whole quickstart stays within 10 minutes on any CPU; a faster
# one trains more of train.max_steps in it
TRAIN_MINUTES = 8.5


def quickstart_config(out: str | Path, overrides: list[str] | None = None) -> Config:
    """configs/quickstart.yaml with the data placed under ``out``."""
    text = resources.files("dsae").joinpath("configs/quickstart.yaml").read_text()
    d = yaml.safe_load(text)
    d["data"]["root"] = str(Path(out) / "data")
    return Config.from_dict(apply_overrides(d, overrides or []))


def _compared(metrics: dict, protocol: str) -> dict | None:
    """The result of ``protocol`` set beside published numbers (any metrics.json layout)."""
    if protocol not in metrics:
        return None
    result = sampler_results(metrics, protocol)[0].result
    return result if isinstance(result, dict) else None


def _finished(run: Path, max_steps: int) -> int | None:
    """The step of a finished training in ``run`` (all its steps, or those of its budget);
    None when there is none."""
    if not (run / "checkpoint.pt").is_file():
        return None
    state = load_checkpoint(run)
    step = int(state["step"])
    done = (
        step >= max_steps
        or bool(state.get("out_of_time"))
        or ("schedule_steps" in state and step >= int(state["schedule_steps"]))
    )
    return step if done else None


def run_quickstart(
    out: str | Path,
    overrides: list[str] | None = None,
    progress: bool = True,
    say: Callable[[str], None] = print,
    train_minutes: float = TRAIN_MINUTES,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Run every step into ``out``; returns the summary (also written to SUMMARY.txt).

    The training ends within ``train_minutes`` of wall time (on ``clock``), its learning-rate
    schedule fitted to the steps that fit at the measured pace, at most train.max_steps;
    0 trains train.max_steps steps whatever they take."""
    if not (math.isfinite(train_minutes) and train_minutes >= 0):
        raise DsaeError(f"the training minutes must be a number >= 0, got {train_minutes}")
    t_start = time.perf_counter()
    out = Path(out)
    cfg = quickstart_config(out, overrides)
    run = out / "run"
    say(f"[1/8] toy sprites -> {cfg.data.root}")
    data_dir = prepare_data(cfg.data, progress=progress)
    within = f", at most {train_minutes:g} minutes" if train_minutes else ""
    say(f"[2/8] training the DSAE (at most {cfg.train.max_steps} steps{within}) -> {run}")
    trained_step = _finished(run, cfg.train.max_steps)
    if trained_step is not None:
        say("      (already trained; reusing it)")
    else:
        deadline = clock() + 60.0 * train_minutes if train_minutes else None
        trained_step = train(
            cfg,
            run,
            resume=(run / "checkpoint.pt").is_file(),
            progress=progress,
            deadline=deadline,
            fit_schedule=deadline is not None,
            clock=clock,
        ).step
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    plot_training_curves(records, out / "training_curves.png")
    scale = max(1, 128 // cfg.data.image_size)  # pictures show frames at 128 pixels
    say("[3/8] reconstructions")
    write_reconstructions(run, None, out / "reconstructions", 8, "test", 0, scale)
    say("[4/8] swaps")
    write_swaps(run, None, out / "swaps", 8, "test", 0, scale)
    say("[5/8] generations")
    for fix in ("static", "dynamic"):
        write_generations(run, out / "generate", fix, 6, 3, None, 0, scale)
    judge_path = out / "judge.pt"
    fp = fingerprint(data_dir)
    existing = load_judge(judge_path) if judge_path.is_file() else None
    if existing is not None and existing.fingerprint == fp:
        say(f"[6/8] judge: reusing {judge_path}")
        info = existing.info
    else:
        say(f"[6/8] training a judge of the toy factors -> {judge_path}")
        judge, info = train_judge(data_dir, seed=cfg.train.seed, progress=progress)
        save_judge(judge_path, judge, load_meta(data_dir), fp, info)
    judge_acc = info.get("test_accuracy", {})
    say(f"[7/8] evaluating the model with the judge -> {out / 'eval'}")
    metrics = evaluate_run(
        run, data_dir, judge_path, out / "eval", seed=cfg.train.seed, progress=progress
    )
    say("[8/8] report")
    report = build_report(run, eval_dir=out / "eval", out=out / "report.html", assets=out)
    last = records[-1] if records else {}
    acc = ", ".join(f"{k} {v:.3f}" for k, v in judge_acc.items())
    lines = [
        f"dsae quickstart finished in {time.perf_counter() - t_start:.0f} s",
        f"  model:           {run}/checkpoint.pt (step {trained_step}, "
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
    ]
    swap = _compared(metrics, "swap")
    if swap is not None:
        lines += ["", format_swap(swap)]
    if "generation" in metrics:  # one row per sampler, the learnt prior's first
        lines += ["", format_generation(metrics["generation"])]
    summary = "\n".join(lines)
    atomic_write_text(out / SUMMARY_FILE, summary + "\n")
    return summary
