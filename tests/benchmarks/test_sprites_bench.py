"""benchmarks/sprites.py end to end at toy scale, and its planning, clock and FLOP helpers.

The benchmark runs on a fake clock that advances a fixed amount whenever the training loop
reads it: the calibration, the plan, the steps a budget holds and the watchdog's moment are
the same on every machine and under any load, so no test depends on how much work fits in
a few seconds of wall time.
"""

from __future__ import annotations

import importlib
import json
import pickle
import signal
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from dsae.config import load_config
from dsae.data import build_dataset, fingerprint, load_meta
from dsae.errors import DsaeError
from dsae.eval import save_judge, train_judge

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
CONFIG = REPO / "configs" / "quickstart.yaml"
TINY = [
    "--set", "model.channels=[8,16,32]", "--set", "model.decoder_channels=[8,16,32]",
    "--set", "model.frame_dim=32",
    "--set", "model.hidden_dim=32", "--set", "model.f_dim=8", "--set", "model.z_dim=4",
    "--set", "train.batch_size=16", "--set", "train.log_every=3", "--set", "train.ckpt_every=50",
    "--set", "train.lr_warmup_steps=2", "--set", "train.threads=1",
]  # fmt: skip
BASELINE_SMALL = [
    "--baseline-set", "model.channels=[32,32,32]", "--baseline-set", "model.frame_dim=64",
    "--baseline-set", "model.hidden_dim=64", "--baseline-set", "model.f_dim=16",
    "--baseline-set", "model.z_dim=8",
]  # fmt: skip
BUDGET_MINUTES = 0.06  # 3.6 s of training, on the fake clock
TICK = 0.0625  # seconds the fake clock advances at every reading of the loop
SPRITES_TARGETS = (
    {f"generation.{k}" for k in ("acc", "is", "h_yx", "h_y")}
    | {f"f_kept.{k}" for k in ("skin", "pants", "top", "hair")}
    | {f"table1.{k}" for k in ("skin", "pants", "top", "hair", "action")}
    | {"train_wall_time_s", "flop_efficiency_pct", "peak_rss_mb"}
)
QUALITY_TARGETS = {k for k in SPRITES_TARGETS if "." in k}


@pytest.fixture(scope="module")
def bench():
    """benchmarks/sprites.py as a module (the spawned training child imports benchlib too)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("sprites")
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def lib(bench):
    """The modules of benchmarks/benchlib."""
    names = ("calibrate", "clock", "flops", "inputs", "machine", "plan", "targets")
    return SimpleNamespace(**{n: importlib.import_module(f"benchlib.{n}") for n in names})


@pytest.fixture(scope="module")
def result(bench, lib, tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    data = build_dataset("toy_sprites", root / "toy", n_train=48, n_test=16, image_size=32)
    # a second judge of another architecture where the benchmark looks for one by default
    tcn, info = train_judge(data, epochs=1, progress=False, arch="tcn")
    save_judge(data / "judge_tcn.pt", tcn, load_meta(data), fingerprint(data), info)
    out = root / "sprites-quickstart.json"
    args = [
        str(CONFIG), "--data", str(data), "--judge", str(root / "judge.pt"),
        "--judge-epochs", "1", "--budget-minutes", str(BUDGET_MINUTES),
        "--run-dir", str(root / "run"), "--out", str(out), "--repeats", "3",
        "--calib-steps", "6", "--baseline-steps", "2", "--peak-size", "128",
        "--peak-seconds", "0.2", "--no-progress", *TINY, "--set", "train.max_steps=100000",
        *BASELINE_SMALL,
    ]  # fmt: skip
    assert bench.main(args, clock=lib.clock.FakeClock(TICK)) == 0
    return {"root": root, "json": json.loads(out.read_text()), "judge": root / "judge.pt"}


def test_every_target_is_recorded_with_a_verdict(result):
    targets = result["json"]["targets"]
    assert set(targets) == SPRITES_TARGETS
    for name, t in targets.items():
        assert {"value", "target", "op", "met", "missing"} <= set(t), name
        assert isinstance(t["met"], bool) and t["op"] in (">=", "<="), name
        if t["missing"]:
            assert t["value"] is None and t["met"] is False, name
        else:
            want = t["value"] >= t["target"] if t["op"] == ">=" else t["value"] <= t["target"]
            assert t["met"] == want, name
    assert result["json"]["all_met"] == all(t["met"] for t in targets.values())


def test_factors_the_toy_data_lacks_are_missing_not_fatal(result):
    targets = result["json"]["targets"]
    # toy sprites have skin, shirt, pants, hair and action: "top" is the Sprites name
    for name in ("f_kept.top", "table1.top"):
        assert targets[name]["missing"] and "top" in targets[name]["note"]
    for name in ("f_kept.skin", "f_kept.hair", "table1.pants", "table1.action", "generation.is"):
        assert not targets[name]["missing"] and isinstance(targets[name]["value"], float), name
    assert targets["generation.h_y"]["value"] <= 2.2 + 1e-9  # at most log 9
    assert result["json"]["evaluation"]["checkpoint_step"] == result["json"]["training"]["steps"]


def test_training_fits_its_schedule_to_the_budget_and_stays_within_it(result):
    r = result["json"]
    plan, training, calib = r["plan"], r["training"], r["calibration"]
    # on the fake clock a step takes whole ticks and nothing else takes time
    assert calib["step_s"] == round(calib["step_s"] / TICK) * TICK >= TICK
    assert calib["seq_per_s"] > 0
    assert calib["overhead_s"] >= 0 and calib["finish_s"] >= 0
    assert plan["budget_s"] == pytest.approx(60 * BUDGET_MINUTES)
    assert plan["requested_steps"] == 100000 and plan["limited_by"] == "budget"
    usable = plan["budget_s"] * plan["safety"] - calib["overhead_s"]
    assert plan["planned_steps"] == plan["fit_steps"] == int(usable / calib["step_s"] + 1e-9)
    assert plan["planned_steps"] >= 20
    assert plan["schedule"].startswith("fitted")
    # the loop, not the calibration, decides the steps: the config's cap is passed on
    assert r["resolved_config"]["train"]["max_steps"] == 100000
    # the steps end by the loop's deadline, in time for the end of the run: no interrupt
    assert not training["watchdog_fired"] and not training["interrupted"]
    assert 10 < training["steps"] <= training["schedule_steps"] < 100000
    if not training["stopped_at_deadline"]:
        assert training["steps"] == training["schedule_steps"]
    assert 0 < training["wall_time_s"] <= plan["budget_s"] - plan["watchdog_reserve_s"]
    assert r["targets"]["train_wall_time_s"]["met"] is True
    assert r["targets"]["train_wall_time_s"]["value"] == pytest.approx(training["wall_time_s"])


def test_flop_rate_peak_baseline_and_memory_are_measured(result):
    r = result["json"]
    eff = r["efficiency"]
    assert eff["flops_per_step"] > 0 and eff["batch"] == 16
    assert eff["matmul_peak"]["peak_flops_per_s"] > 0 and eff["matmul_peak"]["size"] == 128
    assert eff["matmul_peak"]["threads"] == 1 and eff["matmul_peak"]["reps"] >= 3
    timings = eff["matmul_peak"]["timings"]  # before and after training; the faster counts
    assert len(timings) == 2
    assert eff["matmul_peak"]["peak_flops_per_s"] == max(t["peak_flops_per_s"] for t in timings)
    assert eff["achieved_flops_per_s"] > 0 and eff["efficiency_pct"] > 0
    assert r["targets"]["flop_efficiency_pct"]["value"] == pytest.approx(eff["efficiency_pct"])
    base = r["baseline"]
    assert base["model"]["channels"] == [32, 32, 32] and base["model"]["norm"] == "batch"
    assert base["flops_per_step"] > eff["flops_per_step"] and base["seq_per_s"] > 0
    t = r["throughput"]
    assert t["config_seq_per_s"] > 0 and t["baseline_seq_per_s"] > 0
    assert t["speedup_vs_baseline"] == pytest.approx(
        t["config_seq_per_s"] / t["baseline_seq_per_s"]
    )
    mem = r["training"]
    assert 0 < mem["peak_rss_mb"] == r["targets"]["peak_rss_mb"]["value"]
    assert mem["ru_maxrss_mb"] > 0


def test_record_names_machine_data_judge_and_times(result):
    r = result["json"]
    m = r["machine"]
    assert m["cpu"] and m["cores"] >= 1 and "commit" in m
    assert set(m["instruction_sets"]) == {"avx2", "avx512f", "avx512_bf16", "amx"}
    assert all(isinstance(v, bool) for v in m["instruction_sets"].values())
    assert m["autocast"] == r["efficiency"]["autocast"] in ("none", "bf16")
    assert m["bf16_autocast"] == (m["autocast"] == "bf16")
    assert {"torch", "dsae", "numpy", "python"} <= set(r["versions"])
    assert r["data"]["name"] == "toy_sprites" and r["data"]["built"] is False
    assert r["judge"]["trained"] is True and result["judge"].is_file()
    assert r["judge"]["family"] == "rnn"
    assert set(r["judge"]["test_accuracy"]) == {"skin", "shirt", "pants", "hair", "action"}
    assert (result["root"] / "run" / "eval" / "metrics.json").is_file()
    assert all(v is None or v >= 0 for v in r["timing"].values())


def test_a_fixed_plan_trains_the_calibrations_steps(bench, lib, result, tmp_path):
    out = tmp_path / "fixed.json"
    args = [
        str(CONFIG), "--data", str(result["root"] / "toy"), "--judge", str(result["judge"]),
        "--budget-minutes", str(BUDGET_MINUTES), "--run-dir", str(tmp_path / "run"),
        "--out", str(out), "--repeats", "3", "--calib-steps", "6", "--peak-size", "128",
        "--peak-seconds", "0.2", "--no-progress", "--skip-baseline", "--fixed-plan", *TINY,
        "--set", "train.max_steps=100000", "--no-second-judge",
    ]  # fmt: skip
    assert bench.main(args, clock=lib.clock.FakeClock(TICK)) == 0
    r = json.loads(out.read_text())
    # --no-second-judge: the quality targets are the project's judge's alone
    assert r["second_judge"] is None and list(r["targets_by_judge"]) == ["rnn"]
    assert r["timing"]["second_judge_evaluation_s"] is None
    assert all(list(t.get("by_judge", ["rnn"])) == ["rnn"] for t in r["targets"].values())
    plan, training = r["plan"], r["training"]
    assert plan["schedule"] == "calibration's plan"
    assert r["resolved_config"]["train"]["max_steps"] == plan["planned_steps"] < 100000
    assert plan["planned_steps"] == result["json"]["plan"]["planned_steps"]  # the same clock
    assert 1 <= training["steps"] <= plan["planned_steps"] == training["schedule_steps"]
    assert not training["watchdog_fired"] and not training["interrupted"]


def test_plan_steps_keeps_the_config_when_it_fits(lib):
    plan = lib.plan
    by_budget = plan.plan_steps(10.0, 1000, 0.1, 1.0)  # (9.2 - 1) s at 0.1 s per step
    assert plan.SAFETY == 0.92
    assert by_budget["planned_steps"] == by_budget["fit_steps"] == 82
    assert by_budget["limited_by"] == "budget"
    by_config = plan.plan_steps(10.0, 50, 0.1, 1.0)
    assert by_config["planned_steps"] == 50 and by_config["limited_by"] == "config"
    with pytest.raises(DsaeError, match="not one training step"):
        plan.plan_steps(1.0, 50, 5.0, 0.0)
    # the loop's steps end early enough for the end of the run to take twice its timed length
    assert by_config["end_reserve_s"] == 1.0  # the fixed cost, when the end took less
    slow_end = plan.plan_steps(10.0, 50, 0.1, 1.0, finish_s=2.5)
    assert slow_end["end_reserve_s"] == plan.FINISH_MARGIN * 2.5 == 5.0
    no_fixed_cost = plan.plan_steps(10.0, 50, 0.1, 0.0)  # the last step may run long
    assert no_fixed_cost["end_reserve_s"] == plan.END_STEPS * 0.1


def test_the_peak_is_the_fastest_of_its_timings(lib):
    slow = {"peak_flops_per_s": 100.0, "median_flops_per_s": 90.0, "reps": 5}
    fast = {"peak_flops_per_s": 150.0, "median_flops_per_s": 80.0, "reps": 7}
    both = lib.flops.combine_peaks(slow, fast)
    assert both["peak_flops_per_s"] == 150.0 and both["reps"] == 7
    assert both["median_flops_per_s"] == 90.0  # the faster median, from either timing
    assert both["timings"] == [slow, fast]
    assert lib.flops.combine_peaks(fast, slow)["peak_flops_per_s"] == 150.0


def test_targets_of_missing_and_present_values(lib):
    assert lib.targets.target(99.95, 99.9, ">=")["met"] is True
    assert lib.targets.target(0.2, 0.1, "<=")["met"] is False
    missing = lib.targets.target(None, 0.1, "<=", "no factor")
    assert missing["met"] is False and missing["missing"] and missing["note"] == "no factor"
    none = lib.targets.all_targets(None, 5.0, 6.0, 70.0, 100.0)
    assert set(none) == SPRITES_TARGETS
    assert none["train_wall_time_s"]["met"] and none["flop_efficiency_pct"]["met"]
    assert all(none[k]["missing"] for k in SPRITES_TARGETS if "." in k)


def test_lstm_flops_are_counted(lib):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(32, 64, batch_first=True, bidirectional=True)
    x = torch.rand(16, 8, 32)

    def step() -> None:
        y, _ = lstm(x)
        y.sum().backward()

    total, _ = lib.flops.count_flops(step)
    forward = 2 * 2 * 16 * 8 * 4 * 64 * (32 + 64)  # two directions, four gates
    assert total == pytest.approx(3 * forward, rel=0.01)  # forward + backward (2x)


def test_ensure_data_builds_once_and_the_baseline_is_the_paper_size(lib, tmp_path):
    cfg = load_config(
        CONFIG, ["data.n_train=8", "data.n_test=4", "data.image_size=32", "data.seed=1"]
    )
    first = lib.inputs.ensure_data(cfg, tmp_path / "toy", None, progress=False)
    assert first["built"] and first["build_time_s"] > 0 and first["frame_shape"] == [32, 32, 3]
    again = lib.inputs.ensure_data(cfg, tmp_path / "toy", None, progress=False)
    assert not again["built"] and again["fingerprint"] == first["fingerprint"]
    base = lib.calibrate.baseline_config(cfg)
    assert base.model.channels == [256] * 4 and base.model.f_dim == 256
    assert base.model.encoder == cfg.model.encoder and base.train == cfg.train


def test_the_fake_clock_advances_when_called_and_not_when_read(lib):
    clock = lib.clock.FakeClock(0.25, start=10.0)
    assert clock.now() == 10.0 and clock.now() == 10.0
    assert clock() == 10.25 and clock() == 10.5 and clock.now() == 10.5
    laps = lib.clock.Laps(clock)
    assert [laps(), laps()] == [10.75, 11.0] == laps.readings and laps.now() == 11.0
    real = pickle.loads(pickle.dumps(lib.clock.MONOTONIC))
    assert real.now() <= real() <= lib.clock.MONOTONIC.now()


def test_calibration_times_steps_from_the_loops_readings(lib):
    cal = lib.calibrate
    # two readings per step, the first before it: steps start at 0, 1, 3, 4, 6 s
    readings = [0.0, 0.5, 1.0, 1.5, 3.0, 3.5, 4.0, 4.5, 6.0, 6.5]
    starts = cal.step_starts(readings, 5)
    assert starts == [0.0, 1.0, 3.0, 4.0, 6.0]
    assert cal.window_rates(starts, 8, 2) == [8 * 2 / 3.0, 8 * 2 / 3.0]
    assert cal.window_rates(starts, 8, 1) == [8.0, 4.0, 8.0, 4.0]
    assert cal.median_rate([1.0, 4.0, 2.0, 3.0]) == (3.0, [4.0, 2.0, 3.0])  # warm-up dropped
    assert cal.median_rate([5.0]) == (5.0, [5.0])


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_the_watchdog_interrupts_a_run_that_would_overrun(lib, result, tmp_path, sigint):
    toy = result["root"] / "toy"
    sets = [f"data.root={toy}", "data.build_if_missing=false", *TINY[1::2]]
    cfg = load_config(CONFIG, [*sets, "train.max_steps=100000", "train.progress=false"])
    # "ignored": as when the benchmark runs in a shell's background (`cmd &`), which the
    # training child inherits
    clock = lib.clock.FakeClock(TICK)
    before = signal.getsignal(signal.SIGINT)
    if sigint == "ignored":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        # no loop deadline: the loop reads the clock at every step and never stops for it; the
        # watchdog, reading the same clock, interrupts it 1.7 s (fake) after its start
        report = lib.plan.run_training(
            cfg, tmp_path / "run", 2.0, 0.3, False, loop_deadline=False, clock=clock
        )
    finally:
        signal.signal(signal.SIGINT, before)
    assert report["watchdog_fired"] and report["interrupted"]
    assert report["wall_time_s"] >= 2.0 - 0.3  # not before its moment
    assert 10 <= report["steps"] < 100000  # tens of steps had passed on the fake clock
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["step"] == report["steps"]  # the loop checkpointed where it stopped


def test_a_slow_run_ends_its_steps_in_time_for_the_prior_fits(lib, result, tmp_path):
    toy = result["root"] / "toy"
    sets = [f"data.root={toy}", "data.build_if_missing=false", *TINY[1::2]]
    mixture = ["model.f_prior=mixture", "model.f_prior_components=2"]
    cfg = load_config(CONFIG, [*sets, *mixture, "train.max_steps=100000", "train.progress=false"])
    budget, reserve, end_reserve = 4.0, 0.5, 1.5  # the steps get 2 s (fake)
    report = lib.plan.run_training(
        cfg, tmp_path / "run", budget, reserve, False, end_reserve, clock=lib.clock.FakeClock(TICK)
    )
    assert report["stopped_at_deadline"] and not report["interrupted"]
    assert not report["watchdog_fired"]
    assert report["wall_time_s"] <= budget - reserve - end_reserve + TICK
    assert 10 <= report["steps"] <= (budget - reserve - end_reserve) / TICK
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["step"] == report["steps"] and state["out_of_time"] is True
    assert state["prior_fit"]  # the mixtures were fitted: the model can generate


def test_table_and_user_errors(bench, lib, result, tmp_path, capsys):
    text = lib.targets.format_targets(result["json"]["targets"])
    assert len(text.splitlines()) == len(SPRITES_TARGETS) + 2
    assert text.count("missing") == 2 and "targets met" in text
    assert bench.main([str(tmp_path / "nowhere.yaml")]) == 2
    assert capsys.readouterr().err.startswith("sprites.py: error: config file not found")
    taken = result["root"] / "run"  # holds a checkpoint already
    assert bench.main([str(CONFIG), "--run-dir", str(taken), "--data", str(tmp_path)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    # a second judge of the first one's architecture is refused before any training
    toy, judge = result["root"] / "toy", str(result["judge"])
    same = [str(CONFIG), "--data", str(toy), "--judge", judge, "--second-judge", judge,
            "--run-dir", str(tmp_path / "run"), "--no-progress", *TINY]  # fmt: skip
    assert bench.main(same) == 2
    assert "must be of another architecture" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    with pytest.raises(SystemExit):
        bench.main([str(CONFIG), "--second-judge", judge, "--no-second-judge"])


def test_targets_are_judged_once_per_sampler_and_the_command_is_recorded(result):
    r = result["json"]
    by_sampler = r["targets_by_sampler"]
    assert r["compared_with_published"] == "learnt_prior" and "learnt_prior" in by_sampler
    assert r["targets"] == by_sampler[r["targets_sampler"]]
    for name, targets in by_sampler.items():
        assert set(targets) == SPRITES_TARGETS, name
        assert r["all_met_by_sampler"][name] == all(t["met"] for t in targets.values())
    # each sampler's rows come from its own evaluation: generation keyed by sampler
    assert set(r["evaluation"]["generation"]) == set(by_sampler)
    assert r["command"].startswith("python benchmarks/sprites.py ")


def test_quality_targets_hold_only_under_both_judges(lib, result):
    r = result["json"]
    second = r["second_judge"]
    assert second["family"] == "tcn"
    assert second["path"] == str((result["root"] / "toy" / "judge_tcn.pt").resolve())
    assert set(second["test_accuracy"]) == {"skin", "shirt", "pants", "hair", "action"}
    ev = second["evaluation"]
    assert ev["protocols"] == ["generation", "table1"] and ev["repeats"] == 3
    assert ev["checkpoint_step"] == r["evaluation"]["checkpoint_step"]
    assert 0 < ev["time_s"] == r["timing"]["second_judge_evaluation_s"]
    assert set(ev["generation"]) == set(ev["table1"]) == set(r["targets_by_sampler"])
    # the same seeds as the main evaluation: both judges score the same generated sequences
    main = json.loads((Path(r["evaluation"]["dir"]) / "metrics.json").read_text())
    under_tcn = json.loads((Path(ev["dir"]) / "metrics.json").read_text())
    assert under_tcn["seeds"] == {k: main["seeds"][k] for k in ("generation", "table1")}
    assert under_tcn["judge"]["path"] == second["path"]
    assert under_tcn["skipped"]["swap"] == "not asked for"
    by_judge = r["targets_by_judge"]
    assert list(by_judge) == ["rnn", "tcn"]
    for sampler, targets in r["targets_by_sampler"].items():
        for name, t in targets.items():
            if name not in QUALITY_TARGETS:
                assert "by_judge" not in t, name  # time, FLOPs and memory: the run's own
                continue
            alone = {j: by_judge[j][sampler][name] for j in by_judge}
            assert t["by_judge"] == {
                j: {k: a[k] for k in ("value", "std", "met", "missing", "note") if k in a}
                for j, a in alone.items()
            }, name
            assert t["met"] == all(a["met"] for a in alone.values()), name
            if not t["missing"]:
                values = [a["value"] for a in alone.values()]
                assert t["value"] == (min if t["op"] == ">=" else max)(values), name
        assert r["all_met_by_sampler"][sampler] == all(t["met"] for t in targets.values())
    head = lib.targets.format_targets(r["targets"]).splitlines()[0]
    assert "rnn judge" in head and "tcn judge" in head


def test_a_target_one_judge_misses_is_not_met(lib):
    t = lib.targets
    first = {
        "generation.acc": t.target(99.95, 99.9, ">="),
        "table1.pants": t.target(0.1, 0.5, "<="),
    }
    second = {
        "generation.acc": t.target(99.5, 99.9, ">="),
        "table1.pants": t.target(0.3, 0.5, "<="),
    }
    wall = t.target(100.0, 1200.0, "<=")
    by_sampler = {"learnt_prior": {**first, "train_wall_time_s": wall}}
    by_judge = {"rnn": {"learnt_prior": first}, "tcn": {"learnt_prior": second}}
    judged = t.judged_targets(by_sampler, by_judge)["learnt_prior"]
    acc = judged["generation.acc"]
    assert acc["met"] is False and acc["value"] == 99.5 and acc["judge"] == "tcn"
    assert acc["by_judge"]["rnn"]["met"] is True and acc["by_judge"]["tcn"]["met"] is False
    pants = judged["table1.pants"]  # met under both: the worse (higher) disagreement
    assert pants["met"] is True and pants["value"] == 0.3 and pants["judge"] == "tcn"
    assert judged["train_wall_time_s"] == wall
    # a judge whose figure is missing: the verdict is missing, not met
    gone = {"generation.acc": t.target(None, 99.9, ">=", "no 'action' factor scored")}
    one = t.judged_targets(
        {"s": {"generation.acc": first["generation.acc"]}},
        {"rnn": {"s": {"generation.acc": first["generation.acc"]}}, "tcn": {"s": gone}},
    )["s"]["generation.acc"]
    assert one["missing"] and one["met"] is False and one["value"] is None
    assert one["note"] == "no 'action' factor scored" and one["by_judge"]["rnn"]["met"]
    # a judge that did not score a sampler leaves the verdict to the others
    only = t.judged_targets(by_sampler, {"rnn": by_judge["rnn"], "tcn": {}})["learnt_prior"]
    assert only["generation.acc"]["met"] is True and list(only["generation.acc"]["by_judge"]) == [
        "rnn"
    ]
    text = t.format_targets(judged).splitlines()
    assert text[0].split()[1:4] == ["value", "rnn", "judge"]
    assert text[1].split()[:4] == ["generation.acc", "99.5", "99.95", "99.5"]
    assert text[3].split()[1:4] == ["100", "-", "-"]


@pytest.fixture(scope="module")
def rescore(bench):
    """benchmarks/sprites_rescore.py as a module."""
    return importlib.import_module("sprites_rescore")


def test_a_run_rescored_under_a_second_judge_gets_the_benchmarks_own_verdicts(
    rescore, result, tmp_path, capsys
):
    r = result["json"]
    # the record as a run scored by the first judge alone would have it
    alone = json.loads(json.dumps(r))
    alone.update(second_judge=None, targets_by_judge={"rnn": r["targets_by_judge"]["rnn"]})
    alone["timing"]["second_judge_evaluation_s"] = None
    record = tmp_path / "alone.json"
    record.write_text(json.dumps(alone))
    tcn = str(result["root"] / "toy" / "judge_tcn.pt")
    out = tmp_path / "rescored.json"
    args = [str(record), "--second-judge", tcn, "--out", str(out), "--no-progress"]
    assert rescore.main(args) == 0
    assert "tcn judge" in capsys.readouterr().out
    again = json.loads(out.read_text())
    # the same sequences under the same judge: the verdicts the benchmark gave itself
    for key in ("targets_by_judge", "targets_by_sampler", "targets", "all_met_by_sampler"):
        assert again[key] == r[key], key
    assert again["second_judge"]["family"] == "tcn"
    assert (
        again["second_judge"]["evaluation"]["generation"]
        == r["second_judge"]["evaluation"]["generation"]
    )
    assert again["command"] == r["command"]  # the benchmark's command stays
    assert again["rescored"]["command"].startswith("python benchmarks/sprites_rescore.py ")
    assert again["rescored"]["judge"] == r["second_judge"]["path"]
    assert again["timing"]["second_judge_evaluation_s"] > 0
    assert again["training"] == r["training"] and again["evaluation"] == r["evaluation"]


def test_rescoring_errors_are_one_line_and_write_nothing(rescore, result, tmp_path, capsys):
    r = result["json"]
    record = tmp_path / "record.json"
    record.write_text(json.dumps(r))
    before = record.read_text()
    rnn = str(result["judge"])  # the first judge's own architecture
    assert rescore.main([str(record), "--second-judge", rnn, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sprites_rescore.py: error: ") and err.count("\n") == 1
    assert "another architecture" in err and record.read_text() == before
    gone = json.loads(before)
    gone["training"]["run_dir"] = str(tmp_path / "nowhere")
    record.write_text(json.dumps(gone))
    assert rescore.main([str(record), "--no-progress"]) == 2
    assert "is gone" in capsys.readouterr().err
    record.write_text("{not json")
    assert rescore.main([str(record)]) == 2
    assert "is not JSON" in capsys.readouterr().err
    record.write_text(json.dumps({"benchmark": "speech"}))
    assert rescore.main([str(record)]) == 2
    assert "not a record of benchmarks/sprites.py" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]  # no other file written
