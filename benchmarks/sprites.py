"""The Sprites benchmark: quality, time to quality, efficiency and memory of one config.

One run of this script, on one machine, in this order:

1. data: uses ``--data`` (default: the config's ``data.root``); a directory without
   ``meta.json`` is built first (``build_dataset(data.name, ...)``, Sprites from ``--source``)
   and the build is timed;
2. judges: uses ``--judge`` (default: ``DIR/judge.pt``); a missing judge is trained with
   ``train_judge`` and saved with ``save_judge``, and its test accuracies and time recorded;
   a second judge of another architecture, trained independently on the same data
   (``--second-judge``, default ``DIR/judge_tcn.pt`` when it exists; ``--no-second-judge``
   for none), is loaded and checked (``benchlib.judges``);
3. calibration: ~40 timed training steps of the config (the real loop, as in
   ``benchmarks/throughput.py``) give the time per step and the fixed start-up cost;
4. efficiency: the FLOPs of one training step (forward and backward), counted with
   ``torch.utils.flop_counter.FlopCounterMode`` (plus a formula for the fused CPU LSTM, which
   the counter does not know), against the float32 matmul peak measured here with a timed
   ``torch.mm`` loop at the same thread count (timed again after training; the faster
   counts); and the same figures for ``baseline_config``, a plain DSAE sized like the 2018
   paper's Sprites networks (a few timed steps, no training);
5. training: the config in a child process (so that its peak resident memory is its own),
   its learning-rate schedule fitted to the budget: the loop refits the schedule's last step
   (at most ``train.max_steps``) to the steps that fit at the pace it measures
   (``train(fit_schedule=True)``), since the pace of a shared machine drifts from the
   calibration's by +-30%; with ``--fixed-plan``, ``train.max_steps`` is lowered to the
   calibration's plan instead (unless it already asks for fewer); its loop takes no step
   that would leave too little of the budget for the prior fits and final checkpoint (twice
   their time in the calibration, at least its fixed cost), so a run slower than planned
   ends early and whole; a watchdog interrupts it (the loop then checkpoints) if it has not
   finished just before the budget ends;
6. evaluation: ``evaluate_run`` (judges and protocols of ``dsae.eval``) on the test split;
   then, under the second judge, generation and Table 1 again with the same seeds and
   repeats (the same generated sequences);
7. ``benchmarks/results/sprites-<config-stem>.json``: every figure, each target as
   ``{"value", "target", "op", "met"}``, the machine (CPU, instruction sets, whether the
   training pass ran in bfloat16), versions and commit; a table is printed.

The quality targets (generation, static factors kept, Table 1) are scored under each judge
(``targets_by_judge``: {family: {sampler: targets}}); a verdict counts one met only when
every judge that scored it meets it, with each judge's value in its ``by_judge`` and the
worst of them as its ``value``. Time, FLOP and memory targets belong to the run.

Targets that need a factor the data lacks (toy sprites have ``shirt``, not ``top``) are
recorded as missing (``value`` None, ``met`` false). Data build, judge training, calibration
and evaluation are timed and reported but not counted in the training wall time. The
calibration, the plan, the loop's deadline and the watchdog read one clock
(``benchlib.clock``): ``time.monotonic`` here, a fake clock in the tests.

    python benchmarks/sprites.py configs/sprites_dsae.yaml --data data/sprites \\
        --source ../shared/data/sprites_lpc
    python benchmarks/sprites.py configs/sprites_dsae_full.yaml --budget-minutes 20 --skip-baseline
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from benchlib.calibrate import baseline_config, measure_baseline, run_seq_per_s, time_steps
from benchlib.clock import MONOTONIC, Clock
from benchlib.flops import combine_peaks, efficiency, matmul_peak, step_flops
from benchlib.inputs import bench_config, ensure_data, ensure_judge
from benchlib.judges import (
    add_second_judge_arguments,
    evaluate_under_judges,
    second_judge_path,
    second_judge_record,
)
from benchlib.machine import machine_record
from benchlib.page_text import get
from benchlib.plan import plan_steps, run_training, warm_imports
from benchlib.record import recorded
from benchlib.targets import (
    LEARNT_PRIOR,
    configured_sampler,
    format_targets,
    judged_targets,
    targets_by_sampler,
)

from dsae.config import Config, load_config
from dsae.data import load_split
from dsae.errors import DsaeError
from dsae.eval import versions
from dsae.train import CHECKPOINT_FILE, resolve_autocast
from dsae.utils import set_threads

HERE = Path(__file__).resolve().parent


def _say(msg: str) -> None:
    print(msg, flush=True)


# -- the command line -----------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config", help="YAML config to train (e.g. configs/sprites_dsae.yaml)")
    p.add_argument("--data", default=None, help="dataset directory (default: data.root)")
    p.add_argument("--source", default=None, help="Sprites sheets: local folder or base URL")
    p.add_argument("--judge", default=None, help="judge file (default: DATA/judge.pt)")
    p.add_argument("--judge-epochs", type=int, default=3, help="epochs of a new judge")
    add_second_judge_arguments(p)
    p.add_argument("--budget-minutes", type=float, default=20.0, help="training wall time")
    p.add_argument("--run-dir", default=None, help="run directory (default: runs/bench-...)")
    p.add_argument("--out", default=None, help="JSON (default: results/sprites-<stem>.json)")
    p.add_argument("--repeats", type=int, default=3, help="seeds of the generation protocol")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="config override, as for 'dsae train' (repeatable)",
    )  # fmt: skip
    p.add_argument("--skip-baseline", action="store_true", help="do not time the baseline")
    p.add_argument(
        "--baseline-set", action="append", default=[], metavar="KEY=VALUE",
        help="overrides of the baseline's config (e.g. a smaller model for tests)",
    )  # fmt: skip
    p.add_argument(
        "--fixed-plan", action="store_true",
        help="train the calibration's planned steps (default: fit the schedule in the loop)",
    )  # fmt: skip
    p.add_argument("--calib-steps", type=int, default=40, help="timed steps of the config")
    p.add_argument("--baseline-steps", type=int, default=4, help="timed steps of the baseline")
    p.add_argument("--peak-size", type=int, default=2048, help="matrix size of the peak")
    p.add_argument("--peak-seconds", type=float, default=5.0, help="time of the peak loop")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.second_judge is not None and args.no_second_judge:
        p.error("--second-judge and --no-second-judge exclude each other")
    if args.budget_minutes <= 0 or args.calib_steps < 2 or args.baseline_steps < 1:
        p.error("--budget-minutes must be positive, --calib-steps >= 2, --baseline-steps >= 1")
    return args


def _paths(args: argparse.Namespace, cfg: Config) -> tuple[Path, Path, Path, Path]:
    """(data dir, judge file, run dir, output JSON) from the arguments and the config."""
    stem = Path(args.config).stem
    data = Path(args.data if args.data is not None else cfg.data.root)
    judge = Path(args.judge) if args.judge is not None else data / "judge.pt"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run = Path(args.run_dir) if args.run_dir else Path("runs") / f"bench-{stem}-{stamp}"
    out = Path(args.out) if args.out else HERE / "results" / f"sprites-{stem}.json"
    if (run / CHECKPOINT_FILE).is_file():
        raise DsaeError(f"{run} already holds a run: pass another --run-dir")
    return data, judge, run, out


# -- the phases -----------------------------------------------------------------------------
def _efficiency_phase(
    args: argparse.Namespace, cfg: Config, batch: int, clock: Clock
) -> tuple[dict, dict, dict]:
    """(FLOPs per step of the config, matmul peak, baseline figures or {"skipped": True})."""
    flops = {**step_flops(cfg), "autocast": resolve_autocast(cfg.train.autocast)}
    peak = matmul_peak(args.peak_size, args.peak_seconds)
    baseline: dict[str, Any] = {"skipped": True}
    if not args.skip_baseline:
        bcfg = baseline_config(cfg, args.baseline_set)
        baseline = measure_baseline(
            bcfg, args.baseline_steps, batch, peak["peak_flops_per_s"], clock
        )
    return flops, peak, baseline


def _training_phase(
    cfg: Config, run_dir: Path, plan: dict, progress: bool, fit_schedule: bool, clock: Clock
) -> dict:
    """Train under the deadline and the watchdog, the planned steps or a schedule fitted to
    the deadline; the child's report with the run's rate."""
    training = run_training(
        cfg,
        run_dir,
        plan["budget_s"],
        plan["watchdog_reserve_s"],
        progress,
        end_reserve_s=plan["end_reserve_s"],
        fit_schedule=fit_schedule,
        clock=clock,
    )
    training.update(
        run_dir=str(run_dir.resolve()),
        planned_steps=plan["planned_steps"],
        seq_per_s=run_seq_per_s(run_dir),
        peak_rss_mb=training["vm_hwm_mb"] or training["ru_maxrss_mb"],
    )
    return training


def _efficiency_record(
    flops: dict, batch: int, peak: dict, calib: dict, run_rate: float | None
) -> dict:
    """FLOPs, peak and the achieved rate, at the training run's sequences/s when it logged
    any (else the calibration's), with the calibration's rate beside it."""
    p = peak["peak_flops_per_s"]
    return {
        **flops,
        "batch": batch,
        "matmul_peak": peak,
        **efficiency(flops["flops_per_step"], run_rate or calib["seq_per_s"], batch, p),
        "seq_per_s_source": "training run" if run_rate else "calibration",
        "calibration": efficiency(flops["flops_per_step"], calib["seq_per_s"], batch, p),
        "note": "FLOPs of the matmuls, convolutions and LSTMs of one training step, forward "
        "and backward (optimizer and elementwise work not counted); peak = the fastest timed "
        "torch.mm, timed before and after training",
    }


def benchmark(
    args: argparse.Namespace,
    data_dir: Path,
    judge_path: Path,
    run_dir: Path,
    clock: Clock = MONOTONIC,
) -> dict:
    """Run every step; the record that is written as JSON. ``clock`` times the calibration
    and the training run (its deadline, wall time and watchdog)."""
    t_start = time.perf_counter()
    progress = not args.no_progress
    cfg = bench_config(args.config, args.overrides, data_dir)
    set_threads(cfg.train.threads)
    warm_imports()
    budget_s = round(60.0 * args.budget_minutes, 6)

    _say(f"[1/7] data: {data_dir}")
    data = ensure_data(cfg, data_dir, args.source, progress)
    _say(f"[2/7] judge: {judge_path}")
    judge = ensure_judge(judge_path, data_dir, args.judge_epochs, progress)
    second_path, second = second_judge_path(args, data_dir), None
    if second_path is not None:
        second = second_judge_record(second_path, data_dir, judge["family"])
        _say(f"      second judge: {second_path} ({second['family']})")
    n_train = len(load_split(data_dir, "train"))
    batch = min(cfg.train.batch_size, n_train)  # as the loop draws its batches

    _say(f"[3/7] calibration: {args.calib_steps} steps of {args.config}")
    calib = time_steps(cfg, args.calib_steps, batch, clock)
    plan = plan_steps(
        budget_s, cfg.train.max_steps, calib["step_s"], calib["overhead_s"], calib["finish_s"]
    )

    _say(
        "[4/7] efficiency: FLOPs per step, matmul peak"
        + ("" if args.skip_baseline else ", baseline")
    )
    flops, peak, baseline = _efficiency_phase(args, cfg, batch, clock)

    planned, fit = plan["planned_steps"], not args.fixed_plan
    plan["schedule"] = "fitted to the budget in the loop" if fit else "calibration's plan"
    steps = () if fit else (f"train.max_steps={planned}",)
    train_cfg = bench_config(
        args.config, args.overrides, data_dir, (*steps, f"train.progress={str(progress).lower()}")
    )
    how = (
        f"a schedule fitted to {budget_s:.0f} s (about {planned} steps by the calibration)"
        if fit
        else f"{planned} steps within {budget_s:.0f} s"
    )
    _say(f"[5/7] training: {how} -> {run_dir}")
    training = _training_phase(train_cfg, run_dir, plan, progress, fit, clock)

    # the peak again, now that training is over: the machine's pace drifts within a run
    peak = combine_peaks(peak, matmul_peak(args.peak_size, args.peak_seconds))
    if not baseline.get("skipped"):
        rate = efficiency(
            baseline["flops_per_step"], baseline["seq_per_s"], batch, peak["peak_flops_per_s"]
        )
        baseline.update(rate)

    _say("[6/7] evaluation" + ("" if second is None else f", then under {second['family']}"))
    metrics, evaluation, by_judge = evaluate_under_judges(
        run_dir, data_dir, judge, second, args.repeats, cfg.train.seed, progress
    )

    eff = _efficiency_record(flops, batch, peak, calib, training["seq_per_s"])
    by_sampler = targets_by_sampler(
        metrics, training["wall_time_s"], budget_s, eff["efficiency_pct"], training["peak_rss_mb"]
    )
    by_sampler = judged_targets(by_sampler, by_judge)
    sampler = configured_sampler(metrics)
    targets = by_sampler[sampler]
    return {
        "benchmark": "sprites",
        "config": str(args.config),
        "overrides": args.overrides,
        "resolved_config": train_cfg.to_dict(),
        "machine": machine_record(flops["autocast"]),
        "versions": versions(),
        "data": {**data, "n_train": n_train},
        "judge": judge,
        "second_judge": second,
        "calibration": calib,
        "plan": plan,
        "training": training,
        "evaluation": evaluation,
        "efficiency": eff,
        "baseline": baseline,
        "throughput": _throughput(calib, baseline, training["seq_per_s"]),
        # the verdict of the config as it generates (its post-hoc sampler, if any), and every
        # sampler's own: the learnt prior's is the one comparable with published tables
        "targets_sampler": sampler,
        "targets": targets,
        "all_met": all(t["met"] for t in targets.values()),
        "compared_with_published": LEARNT_PRIOR,
        "targets_by_sampler": by_sampler,
        "all_met_by_sampler": {
            s: all(t["met"] for t in ts.values()) for s, ts in by_sampler.items()
        },
        "targets_by_judge": by_judge,  # the quality targets under each judge alone
        "timing": {
            "data_build_s": data["build_time_s"],
            "judge_train_s": judge["train_time_s"],
            "calibration_s": calib["wall_time_s"],
            "baseline_s": baseline.get("time_s"),
            "training_s": round(training["wall_time_s"], 3),
            "evaluation_s": evaluation["time_s"],
            "second_judge_evaluation_s": get(second, "evaluation.time_s"),
            "total_s": round(time.perf_counter() - t_start, 3),
        },
    }


def _throughput(calib: dict, baseline: dict, run_rate: float | None) -> dict:
    """Sequences/s of the config and of the baseline, timed the same way in this run."""
    out: dict[str, Any] = {
        "config_seq_per_s": calib["seq_per_s"],
        "training_run_seq_per_s": run_rate,
    }
    if not baseline.get("skipped"):
        b = baseline["calibration"]["seq_per_s"]
        out["baseline_seq_per_s"] = b
        out["speedup_vs_baseline"] = calib["seq_per_s"] / b if b > 0 else None
    return out


def summary(result: dict) -> str:
    """Times, steps and memory in three lines."""
    tr, pl, tm = result["training"], result["plan"], result["timing"]
    second_s = tm.get("second_judge_evaluation_s")
    stop = ", stopped by the watchdog" if tr["watchdog_fired"] else ""
    return (
        f"training: {tr['steps']} steps (schedule {tr.get('schedule_steps')}, calibration's "
        f"plan {pl['planned_steps']}) in "
        f"{tr['wall_time_s']:.1f} s (budget {pl['budget_s']:.0f} s{stop}), "
        f"peak memory {tr['peak_rss_mb']:.0f} MiB\n"
        f"not counted: data build {tm['data_build_s']:.1f} s, judge {tm['judge_train_s']:.1f} s, "
        f"calibration {tm['calibration_s']:.1f} s, evaluation {tm['evaluation_s']:.1f} s"
        + ("" if second_s is None else f" (and {second_s:.1f} s under the second judge)")
        + "\n"
        f"FLOP rate: {result['efficiency']['achieved_flops_per_s'] / 1e9:.1f} GFLOP/s of a "
        f"{result['efficiency']['matmul_peak']['peak_flops_per_s'] / 1e9:.1f} GFLOP/s matmul peak"
    )


def main(argv: list[str] | None = None, clock: Clock = MONOTONIC) -> int:
    """The command; ``clock`` times the calibration and the training run (tests pass a
    ``benchlib.clock.FakeClock``)."""
    args = parse_args(argv)

    def run() -> tuple[dict, Path]:
        data_dir, judge_path, run_dir, out = _paths(args, load_config(args.config, args.overrides))
        return benchmark(args, data_dir, judge_path, run_dir, clock), out

    done = recorded("sprites.py", argv, run)
    if done is None:
        return 2
    result, out = done
    _say("[7/7] results")
    judges = [result["judge"], *([result["second_judge"]] if result["second_judge"] else [])]
    _say("judges: " + ", ".join(f"{j['family']} ({j['path']})" for j in judges))
    for name, targets in result["targets_by_sampler"].items():
        how = "the published protocol" if name == LEARNT_PRIOR else "post-hoc sampler"
        _say(f"generation from {name} ({how}):")
        _say(format_targets(targets))
    _say(summary(result))
    t = result["throughput"]
    line = f"throughput: {t['config_seq_per_s']:.1f} sequences/s"
    if "baseline_seq_per_s" in t:
        line += f", baseline {t['baseline_seq_per_s']:.1f} (x{t['speedup_vs_baseline']:.2f})"
    _say(line)
    _say(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
