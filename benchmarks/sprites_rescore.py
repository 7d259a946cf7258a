"""Score a finished Sprites benchmark run under a second judge, trained after the run.

Reads the JSON record that ``benchmarks/sprites.py`` wrote, evaluates the run's checkpoint
(``training.run_dir``) under the second judge with the record's repeats and seed (the
generation and Table 1 protocols, into ``RUN/eval-<family>``: the sequences the first judge
scored), and writes the record again with that judge's quality targets beside the first
judge's, each verdict taken over both (``benchlib.targets.judged_targets``). The training,
time, FLOP and memory figures and the first judge's scores are kept as they were; the
record's ``command`` stays the benchmark's, and ``rescored`` says when, at which commit and
with which command the second judge was added.

    python benchmarks/sprites_rescore.py benchmarks/results/sprites-sprites_own-avx2-seed0.json \\
        --second-judge data/sprites/judge_tcn.pt
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchlib.judges import (
    SECOND_JUDGE_FILE,
    SECOND_JUDGE_PROTOCOLS,
    evaluate_under,
    second_judge_record,
)
from benchlib.machine import machine
from benchlib.page_text import get
from benchlib.record import command_line, recorded
from benchlib.targets import format_targets, judged_targets, quality_by_sampler

from dsae.errors import DsaeError

SCRIPT = "sprites_rescore.py"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("record", help="a JSON record of benchmarks/sprites.py")
    p.add_argument(
        "--second-judge", default=None, metavar="PATH",
        help=f"the judge to add (default: DATA/{SECOND_JUDGE_FILE} of the record's data)",
    )  # fmt: skip
    p.add_argument("--out", default=None, help="JSON to write (default: the record itself)")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def read_record(path: Path) -> dict:
    """The benchmark's record, checked for what rescoring reads."""
    try:
        record = json.loads(path.read_text())
    except OSError as e:
        raise DsaeError(f"cannot read {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise DsaeError(f"{path} is not JSON: {e.msg} at line {e.lineno}") from None
    needed = ("training.run_dir", "data.dir", "judge.family", "evaluation.repeats")
    missing = [k for k in needed if get(record, k) is None]
    if record.get("benchmark") != "sprites" or missing or "targets_by_sampler" not in record:
        raise DsaeError(f"{path} is not a record of benchmarks/sprites.py")
    return record


def rescore(record: dict, judge_path: Path | None, progress: bool, command: str) -> dict:
    """``record`` with the run scored under the judge at ``judge_path`` as its second;
    ``command`` is the rescoring command line, kept in ``rescored``."""
    run_dir, data_dir = Path(record["training"]["run_dir"]), Path(record["data"]["dir"])
    if not run_dir.is_dir():
        raise DsaeError(f"the record's run {run_dir} is gone: it cannot be scored again")
    path = judge_path if judge_path is not None else data_dir / SECOND_JUDGE_FILE
    if not path.is_file():
        raise DsaeError(f"no judge at {path}: train one with 'dsae judge train --arch tcn'")
    second = second_judge_record(path, data_dir, record["judge"]["family"])
    seed = int(get(record, "resolved_config.train.seed") or 0)
    scored, second["evaluation"] = evaluate_under(
        run_dir,
        data_dir,
        path,
        run_dir / f"eval-{second['family']}",
        int(record["evaluation"]["repeats"]),
        seed,
        progress,
        SECOND_JUDGE_PROTOCOLS,
    )
    if scored is None:
        raise DsaeError(f"the record's run {run_dir} holds no checkpoint")
    first = record["judge"]["family"]
    if first not in record.get("targets_by_judge", {}):
        raise DsaeError("the record has no quality targets by judge: run the benchmark again")
    by_judge = {
        first: record["targets_by_judge"][first],
        second["family"]: quality_by_sampler(scored),
    }
    by_sampler = judged_targets(record["targets_by_sampler"], by_judge)
    sampler = record["targets_sampler"]
    out = dict(record)
    out.update(
        second_judge=second,
        targets_by_judge=by_judge,
        targets_by_sampler=by_sampler,
        targets=by_sampler[sampler],
        all_met=all(t["met"] for t in by_sampler[sampler].values()),
        all_met_by_sampler={s: all(t["met"] for t in ts.values()) for s, ts in by_sampler.items()},
    )
    out["timing"] = {
        **record["timing"],
        "second_judge_evaluation_s": second["evaluation"]["time_s"],
    }
    m = machine()
    out["rescored"] = {
        "commit": m["commit"],
        "date": m["date"],
        "judge": second["path"],
        "command": command,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    record_path = Path(args.record)
    out_path = Path(args.out) if args.out else record_path

    def run() -> tuple[dict, Path]:
        record = read_record(record_path)
        judge = None if args.second_judge is None else Path(args.second_judge)
        command = command_line(SCRIPT, argv)
        return rescore(record, judge, not args.no_progress, command), out_path

    done = recorded(SCRIPT, argv, run)  # the record keeps the benchmark's own command
    if done is None:
        return 2
    result, out = done
    print(format_targets(result["targets_by_sampler"][result["compared_with_published"]]))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
