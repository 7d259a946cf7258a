"""benchmarks/make_results.py: docs/RESULTS.md generated from the result JSONs."""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "benchmarks") not in sys.path:  # the script's own folder, as when it is run
    sys.path.insert(0, str(REPO / "benchmarks"))
_SPEC = importlib.util.spec_from_file_location(
    "make_results", REPO / "benchmarks" / "make_results.py"
)
make_results = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(make_results)


def _target(value, goal, op):
    met = value is not None and (value >= goal if op == ">=" else value <= goal)
    return {"value": value, "target": goal, "op": op, "met": met}


def _run(seed: int, acc: float, pants: float, wall: float, **extra) -> dict:
    """A benchmark JSON in the format of benchmarks/sprites.py (one generation result)."""
    return {
        "config": "configs/sprites_fast.yaml",
        "overrides": [f"train.seed={seed}"] if seed else [],
        "resolved_config": {
            "model": {"f_prior": "aggregate", "z_prior": "aggregate"},
            "train": {"seed": seed, "autocast": "auto"},
        },
        "machine": {"cpu": "AMD EPYC", "cores": 2, "threads": 2, "commit": "abc1234",
                    "date": "2026-12-01", "amx": False, "bf16_instructions": True},
        "data": {"dir": "/somewhere/data/sprites"},
        "judge": {"path": "/somewhere/runs/judge_sprites.pt"},
        "plan": {"budget_s": 1200.0},
        "baseline": {"skipped": True},
        "efficiency": {"autocast": "bf16", "efficiency_pct": 80.0},
        "training": {"wall_time_s": wall, "steps": 3000},
        "evaluation": {
            "generation": {
                "z_kept_f_sampled": {"acc": {"mean": acc, "std": 0.0}, "is": {"mean": 8.9}},
                "f_kept_z_sampled": {"pants": {"mean": pants, "std": 0.0}},
            },
            "table1": {"static": {"pants": {"disagreement": 100 - pants}}, "dynamic": {}},
        },
        "targets": {
            "generation.acc": _target(acc, 99.9, ">="),
            "f_kept.pants": _target(pants, 99.5, ">="),
            "train_wall_time_s": _target(wall, 1200.0, "<="),
        },
        **extra,
    }  # fmt: skip


def _write(folder: Path, runs: dict[str, dict]) -> Path:
    folder.mkdir()
    for name, run in runs.items():
        (folder / name).write_text(json.dumps(run))
    return folder


def _row(text: str, start: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(start))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_mean_spread_and_targets_met(tmp_path: Path) -> None:
    accs, pants, walls = [100.0, 99.0, 98.0], [99.9, 99.6, 99.0], [1100.0, 1150.0, 1190.0]
    results = _write(tmp_path / "results", {
        f"run{i}.json": _run(i, accs[i], pants[i], walls[i]) for i in range(3)
    })  # fmt: skip
    text = make_results.render(results)
    assert text.count("\n## ") == 1  # one config on one machine: one group
    std = statistics.stdev(accs)
    assert f"99.00 ± {std:.2f} (98.00-100.00)" in text
    acc_target = _row(text, "| Acc % (z kept, f sampled) [aggregate]")
    assert acc_target[1:] == [">= 99.9", f"99.00 ± {std:.2f} (98.00-100.00)", "1 of 3"]
    pants_target = _row(text, "| f kept, z sampled: pants % [aggregate]")
    assert pants_target[-1] == "2 of 3"
    wall = _row(text, "| training wall time, s |")  # the target row, then the cost row
    assert wall[1:] == ["<= 1200", f"1147 ± {statistics.stdev(walls):.0f} (1100-1190)", "3 of 3"]
    assert f"| training wall time, s | {wall[2]} |" in text
    assert "seeds 0, 1, 2" in text and "AVX512-BF16, no AMX" in text and "bfloat16" in text
    # the sampler of a single-result JSON, and its protocol, are named
    assert "aggregate posterior (post-hoc), not the published table's protocol" in text
    for model in ("C-DSVAE (published)", "SKD (published)", "DSAE, full q (Li & Mandt 2018"):
        assert model in text
    cmd = "python benchmarks/sprites.py configs/sprites_fast.yaml --data data/sprites"
    assert f"`{cmd} --judge runs/judge_sprites.pt --budget-minutes 20 --skip-baseline" in text


def test_one_row_per_sampler_learnt_prior_compared(tmp_path: Path) -> None:
    run = _run(0, 100.0, 99.9, 1100.0)
    learnt = {"z_kept_f_sampled": {"acc": {"mean": 91.0}}, "f_kept_z_sampled": {}}
    aggregate = run["evaluation"]["generation"]
    run["evaluation"]["generation"] = {"aggregate": aggregate, "learnt_prior": learnt}
    run["evaluation"]["table1"] = {"learnt_prior": {"static": {"skin": {"disagreement": 2.5}}}}
    run["command"] = ["python", "benchmarks/sprites.py", "configs/sprites_fast.yaml"]
    text = make_results.render(_write(tmp_path / "results", {"a.json": run}))
    learnt_row = _row(text, "| **dsae, learnt prior")
    assert learnt_row[1] == "91.00"
    aggregate_row = _row(text, "| dsae, aggregate posterior (post-hoc) |")
    assert aggregate_row[1] == "100.00"
    # the learnt prior's row comes first and is the one compared with the published table
    lines = text.splitlines()
    assert lines.index(next(x for x in lines if x.startswith("| **dsae, learnt"))) < lines.index(
        next(x for x in lines if x.startswith("| dsae, aggregate"))
    )
    assert "the row compared with them" in text
    assert _row(text, "| **dsae, learnt prior")[1] == "91.00"
    assert "2.50" in text  # Table 1 of the learnt prior
    assert "`python benchmarks/sprites.py configs/sprites_fast.yaml`" in text  # as recorded


def test_missing_fields_and_groups(tmp_path: Path) -> None:
    old = {"config": "configs/sprites_fast.yaml", "machine": {"cpu": "Intel Xeon"}}
    new = _run(0, 100.0, 99.9, 1100.0)
    del new["evaluation"]["generation"]["f_kept_z_sampled"]
    partial = _run(1, 100.0, 99.9, 1100.0)
    del partial["training"]
    results = _write(tmp_path / "results", {
        "old.json": old, "new.json": new, "partial.json": partial,
        "throughput.json": {"machine": {}, "runs": []},
    })  # fmt: skip
    text = make_results.render(results)
    assert text.count("\n## ") == 2  # Xeon (nothing recorded) and the EPYC runs
    assert "n/a" in text
    assert "1100 [1 of 2 runs]" in text  # wall time recorded by one run of two
    assert "Not benchmark runs (skipped): throughput.json." in text
    assert make_results.render(_write(tmp_path / "empty", {})).startswith("# Results")


def test_check_mode(tmp_path: Path) -> None:
    results = _write(tmp_path / "results", {"a.json": _run(0, 100.0, 99.9, 1100.0)})
    page = tmp_path / "RESULTS.md"
    args = ["--results", str(results), "--out", str(page)]
    assert make_results.main([*args, "--check"]) == 1  # no page yet
    assert make_results.main(args) == 0
    assert make_results.main([*args, "--check"]) == 0
    page.write_text(page.read_text() + "edited by hand\n")
    assert make_results.main([*args, "--check"]) == 1


def test_committed_results_page_is_up_to_date() -> None:
    assert make_results.main(["--check"]) == 0, "run: python benchmarks/make_results.py"
    text = (REPO / "docs" / "RESULTS.md").read_text()
    sprites, *parts = text.split("\n## ")
    assert len(sprites.splitlines()) < 200  # each benchmark's part stays readable
    titles = [part.splitlines()[0] for part in parts]
    for start in (
        "Speech",
        "Dynamics",
        "Digits",
        "Sprites: objective ablation",
        "Variational EM",
        "Slow latents",
    ):
        assert sum(t.startswith(start) for t in titles) == 1, start
    for part in parts:
        assert len(part.splitlines()) < 100, part.splitlines()[0]


def test_targets_of_every_sampler_each_in_their_own_rows(tmp_path: Path) -> None:
    runs = {}
    for i, (learnt, post) in enumerate([(60.0, 100.0), (50.0, 99.95)]):
        run = _run(i, post, 99.9, 1100.0)
        run["targets_by_sampler"] = {
            "learnt_prior": {"generation.acc": _target(learnt, 99.9, ">="),
                             "train_wall_time_s": _target(1100.0, 1200.0, "<=")},
            "aggregate": {"generation.acc": _target(post, 99.9, ">="),
                          "train_wall_time_s": _target(1100.0, 1200.0, "<=")},
        }  # fmt: skip
        runs[f"run{i}.json"] = run
    text = make_results.render(_write(tmp_path / "results", runs))
    learnt = _row(text, "| Acc % (z kept, f sampled) [learnt_prior]")
    post = _row(text, "| Acc % (z kept, f sampled) [aggregate]")
    assert learnt[-1] == "0 of 2" and learnt[2].startswith("55.00")
    assert post[-1] == "2 of 2"
    # the learnt prior's rows come first; costs are listed once
    assert text.index("[learnt_prior]") < text.index("[aggregate]")
    assert sum(line.startswith("| training wall time") for line in text.splitlines()) == 2


def _judged(by_judge: dict[str, float | None], goal: float, op: str) -> dict:
    """A target record scored under several judges, as benchmarks/sprites.py writes it."""
    records = {j: _target(v, goal, op) for j, v in by_judge.items()}
    values = [v for v in by_judge.values() if v is not None]
    worst = None if len(values) < len(by_judge) else (min if op == ">=" else max)(values)
    return {**_target(worst, goal, op), "met": all(t["met"] for t in records.values()),
            "by_judge": records}  # fmt: skip


def test_quality_targets_under_two_judges_show_both_figures(tmp_path: Path) -> None:
    run = _run(0, 99.95, 99.9, 1100.0)
    # the rnn judge meets the accuracy target, the tcn judge does not: the verdict is not met
    acc = _judged({"rnn": 99.95, "tcn": 99.2}, 99.9, ">=")
    pants = _judged({"rnn": 99.9, "tcn": 99.8}, 99.5, ">=")
    wall = _target(1100.0, 1200.0, "<=")
    run["targets"] = {"generation.acc": acc, "f_kept.pants": pants, "train_wall_time_s": wall}
    run["targets_by_judge"] = {
        "rnn": {"aggregate": {"generation.acc": acc["by_judge"]["rnn"]}},
        "tcn": {"aggregate": {"generation.acc": acc["by_judge"]["tcn"]}},
    }
    run["judge"]["family"] = "rnn"
    run["second_judge"] = {"path": "/somewhere/data/sprites/judge_tcn.pt", "family": "tcn"}
    old = _run(1, 99.95, 99.9, 1100.0)  # no second judge: its figures are the rnn judge's
    text = make_results.render(_write(tmp_path / "results", {"a.json": run, "old.json": old}))
    header = _row(text, "| target [sampler]")
    assert header == ["target [sampler]", "goal", "reached", "rnn judge", "tcn judge",
                      "runs that met it"]  # fmt: skip
    acc_row = _row(text, "| Acc % (z kept, f sampled) [aggregate]")
    assert acc_row[1] == ">= 99.9"
    assert acc_row[3] == "99.95 in every run"  # the rnn judge: both runs
    assert acc_row[4] == "99.20 [1 of 2 runs]"  # the tcn judge scored one run
    assert acc_row[2].startswith("99.58") and acc_row[-1] == "1 of 2"  # met by the old run only
    pants_row = _row(text, "| f kept, z sampled: pants % [aggregate]")
    assert pants_row[3:] == ["99.90 in every run", "99.80 [1 of 2 runs]", "2 of 2"]
    wall_row = _row(text, "| training wall time, s |")  # the run's own: no judge's figure
    assert wall_row[3:] == ["–", "–", "2 of 2"]
    judges = next(line for line in text.splitlines() if line.startswith("- **Judges**"))
    assert "rnn (a per-frame CNN or MLP, a bidirectional GRU" in judges
    assert "tcn (a per-frame residual CNN or MLP, temporal convolutions" in judges
    assert "every judge that scored it meets it" in judges


def test_a_run_without_a_second_judge_names_its_one_judge(tmp_path: Path) -> None:
    text = make_results.render(_write(tmp_path / "results", {"a.json": _run(0, 100.0, 99.9, 1.0)}))
    assert _row(text, "| target [sampler]") == ["target [sampler]", "goal", "reached",
                                                 "runs that met it"]  # fmt: skip
    assert "- **Judge**: rnn (a per-frame CNN" in text and "no second judge recorded" in text


def test_a_run_scored_later_under_a_second_judge_says_how(tmp_path: Path) -> None:
    later = {"command": "python benchmarks/sprites_rescore.py a.json", "commit": "def5678",
             "date": "2026-12-02", "judge": "/somewhere/judge_tcn.pt"}  # fmt: skip
    runs = {"a.json": _run(0, 100.0, 99.9, 1.0, rescored=later), "b.json": _run(1, 99.0, 99.9, 1.0)}
    text = make_results.render(_write(tmp_path / "results", runs))
    assert "Scored under the second judge after training" in text
    assert (
        "- `a.json`: `python benchmarks/sprites_rescore.py a.json` (commit def5678, 2026-12-02)"
        in text
    )
    assert "- `b.json`" not in text  # scored by its benchmark alone
    alone = make_results.render(_write(tmp_path / "alone", {"b.json": runs["b.json"]}))
    assert "after training" not in alone


def test_cpu_classes_without_bfloat16_are_told_apart_by_vector_width(tmp_path: Path) -> None:
    runs = {}
    for name, avx512 in (("wide.json", True), ("narrow.json", False)):
        run = _run(0, 100.0, 99.9, 1100.0)
        run["machine"].update(bf16_instructions=False, instruction_sets={"avx512f": avx512})
        runs[name] = run
    text = make_results.render(_write(tmp_path / "results", runs))
    assert text.count("\n## ") == 2
    assert "AMD EPYC (AVX-512, no bfloat16 instructions;" in text
    assert "AMD EPYC (AVX2 only, no bfloat16 instructions;" in text
