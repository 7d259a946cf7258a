"""The judges of the Sprites benchmark and the evaluations under them: the project's judge
(``--judge``) scores every protocol; a second judge of another architecture
(``--second-judge``, by default ``DATA/judge_tcn.pt`` when that file exists), trained
independently on the same training split (the same data fingerprint), scores the protocols
the quality targets need (generation and Table 1) at the same seeds and repeats, so that
both judges score the same generated sequences."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from benchlib.targets import quality_by_sampler
from dsae.errors import DsaeError
from dsae.eval import check_judge_matches, load_judge
from dsae.eval.judge_archs import judge_family
from dsae.pipeline.evaluate import evaluate_run
from dsae.train import CHECKPOINT_FILE

SECOND_JUDGE_FILE = "judge_tcn.pt"  # in the data directory: the default second judge
SECOND_JUDGE_PROTOCOLS = ["generation", "table1"]  # what the quality targets read


def add_second_judge_arguments(p: argparse.ArgumentParser) -> None:
    """--second-judge PATH and --no-second-judge."""
    p.add_argument(
        "--second-judge", default=None, metavar="PATH",
        help=f"a judge of another architecture, trained on the same data (default: "
        f"DATA/{SECOND_JUDGE_FILE} when it exists); the quality targets must hold under both",
    )  # fmt: skip
    p.add_argument("--no-second-judge", action="store_true", help="score with --judge only")


def second_judge_path(args: argparse.Namespace, data_dir: Path) -> Path | None:
    """The second judge's file: --second-judge, else ``DATA/judge_tcn.pt`` if it exists;
    None with --no-second-judge or without either."""
    if args.no_second_judge:
        return None
    if args.second_judge is not None:
        return Path(args.second_judge)
    default = data_dir / SECOND_JUDGE_FILE
    return default if default.is_file() else None


def second_judge_record(path: Path, data_dir: Path, first_family: str) -> dict[str, Any]:
    """Load the second judge and check it: trained on ``data_dir``'s data, of another
    family than the first judge's; its path, family and test accuracies (as its file
    records them), and ``evaluation`` None until the run is scored under it."""
    loaded = load_judge(path)
    check_judge_matches(loaded, data_dir)
    family = judge_family(loaded.judge.arch)
    if family == first_family:
        raise DsaeError(
            f"the second judge {path} is a {family} judge, as is the first: it must be of "
            "another architecture (e.g. 'dsae judge train --arch tcn')"
        )
    return {
        "path": str(path.resolve()),
        "family": family,
        "test_accuracy": loaded.info.get("test_accuracy", {}),
        "epochs": loaded.info.get("epochs"),
        "judge_train_time_s": loaded.info.get("train_time_s"),
        "evaluation": None,  # the record of evaluate_under once the run is scored
    }


def evaluate_under(
    run_dir: Path,
    data_dir: Path,
    judge_path: Path,
    out_dir: Path,
    repeats: int,
    seed: int,
    progress: bool,
    protocols: list[str] | None = None,
) -> tuple[dict | None, dict]:
    """``evaluate_run`` of the run's checkpoint under one judge (None without a checkpoint;
    ``protocols`` None: every protocol) and a summary record: its folder, time, repeats,
    step and the generation and Table 1 results."""
    metrics, eval_s = None, 0.0
    if (run_dir / CHECKPOINT_FILE).is_file():
        t0 = time.perf_counter()
        metrics = evaluate_run(
            run_dir, data_dir, judge_path, out_dir, repeats, seed, progress, protocols=protocols
        )
        eval_s = time.perf_counter() - t0
    record: dict[str, Any] = {
        "dir": None if metrics is None else str(out_dir.resolve()),
        "time_s": round(eval_s, 3),
        "repeats": repeats,
    }
    if protocols is not None:
        record["protocols"] = list(protocols)
    record.update(
        checkpoint_step=None if metrics is None else metrics["checkpoint_step"],
        table1=None if metrics is None else metrics.get("table1"),
        generation=None if metrics is None else metrics.get("generation"),
    )
    return metrics, record


def evaluate_under_judges(
    run_dir: Path,
    data_dir: Path,
    judge: dict[str, Any],
    second: dict[str, Any] | None,
    repeats: int,
    seed: int,
    progress: bool,
) -> tuple[dict | None, dict, dict[str, dict[str, dict[str, dict]]]]:
    """The run under the first judge (``ensure_judge``'s record; every protocol, into
    ``run_dir/eval``) and under the second, if any (``second_judge_record``'s record, whose
    ``evaluation`` this fills: the quality targets' protocols, into ``run_dir/eval-<family>``),
    with the same repeats and seed. Returns the first judge's metrics, its evaluation record
    and the quality targets under each judge that scored the run ({family: {sampler:
    targets}})."""
    how = (repeats, seed, progress)
    first = Path(judge["path"])
    metrics, evaluation = evaluate_under(run_dir, data_dir, first, run_dir / "eval", *how)
    by_judge = {judge["family"]: quality_by_sampler(metrics)}
    if second is not None and metrics is not None:
        out_dir = run_dir / f"eval-{second['family']}"
        scored, second["evaluation"] = evaluate_under(
            run_dir, data_dir, Path(second["path"]), out_dir, *how, SECOND_JUDGE_PROTOCOLS
        )
        by_judge[second["family"]] = quality_by_sampler(scored)
    return metrics, evaluation, by_judge
