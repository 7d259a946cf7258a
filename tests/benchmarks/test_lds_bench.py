"""benchmarks/lds.py end to end on tiny toy sprites (a few steps of small models): the records
of both models, the slowness figure, reusing a finished run, refusing another; its
results-page section."""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import sys
from pathlib import Path

import pytest

from dsae.data import build_dataset

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
STEPS = 3
TINY = [
    "--set", "model.channels=[8,16,32]", "--set", "model.frame_dim=32",
    "--set", "model.hidden_dim=32", "--set", "model.z_dim=6",
    "--set", "train.batch_size=16", "--set", "train.log_every=1",
    "--set", "train.lr_warmup_steps=1",
]  # fmt: skip


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("lds"), importlib.import_module("benchlib.lds_page")
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def toy(judged_toy_sprites) -> dict[str, Path]:
    return judged_toy_sprites


def _args(toy: dict[str, Path], model: str, *extra: str) -> list[str]:
    return [
        "--model", model, "--seed", "1", "--steps", str(STEPS), "--data", str(toy["data"]),
        "--judge", str(toy["judge"]), "--run-dir", str(toy["root"] / model),
        "--out", str(toy["root"] / f"{model}.json"), "--sequences", "12", *TINY, *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def results(bench, toy) -> dict[str, dict]:
    lds, _ = bench
    figure = toy["root"] / "slowness.png"
    assert lds.main(_args(toy, "lds", "--figure", str(figure))) == 0
    assert lds.main(_args(toy, "dsae", "--set", "model.f_dim=4")) == 0
    return {m: json.loads((toy["root"] / f"{m}.json").read_text()) for m in ("lds", "dsae")}


def test_both_models_are_trained_and_scored(results, toy):
    lds, dsae = results["lds"], results["dsae"]
    for r in (lds, dsae):
        assert r["benchmark"] == "lds" and r["seed"] == 1 and r["data"]["n_test"] == 12
        assert r["training"]["steps"] == STEPS and not r["training"]["reused"]
        assert r["resolved_config"]["train"]["threads"] == 1
        assert r["reconstruction"]["psnr"] > 0
        assert "dsae train" in r["train_command"] and "train.seed=1" in r["train_command"]
    slow = lds["slowness"]
    assert sorted(slow["posterior"]["order"]) == sorted(slow["prior"]["order"]) == list(range(6))
    assert set(slow["scores"]) == {"skin", "shirt", "pants", "hair", "action"}
    assert [row["k"] for row in slow["prior"]["swaps"]["curve"]] == list(range(7))
    assert "swap" not in lds and "slowness" not in dsae
    assert set(dsae["swap"]["static"]) == {"skin", "shirt", "pants", "hair"}
    assert (toy["root"] / "slowness.png").read_bytes()[:4] == b"\x89PNG"


def test_a_finished_run_is_reused_and_another_refused(bench, toy, results, capsys):
    lds, _ = bench
    out = toy["root"] / "again.json"
    assert lds.main([*_args(toy, "lds"), "--out", str(out)]) == 0
    again = json.loads(out.read_text())
    assert again["training"]["reused"] and again["slowness"] == results["lds"]["slowness"]
    assert lds.main([*_args(toy, "lds"), "--out", str(out), "--steps", str(STEPS + 1)]) == 2
    assert "holds a run of another config (train.max_steps" in capsys.readouterr().err


@pytest.fixture(scope="module")
def balls(bench, toy) -> dict:
    lds, _ = bench
    data = build_dataset("balls", toy["root"] / "balls", n_train=32, n_test=8, progress=False)
    args = [
        "--model", "lds_balls", "--steps", str(STEPS), "--data", str(data),
        "--run-dir", str(toy["root"] / "balls_run"), "--out", str(toy["root"] / "balls.json"),
        "--set", "model.channels=[8,16]", "--set", "model.frame_dim=16",
        "--set", "model.hidden_dim=16", "--set", "model.z_dim=4", "--set", "train.batch_size=8",
    ]  # fmt: skip
    assert lds.main(args) == 0
    return json.loads((toy["root"] / "balls.json").read_text())


def test_balls_are_scored_without_a_judge(balls):
    slow = balls["slowness"]
    assert balls["judge"] is None and "swaps" not in slow["posterior"] and slow["scores"] == {}
    assert set(slow["state_r2"]) == {"position[0]", "position[1]", "velocity[0]", "velocity[1]"}
    assert all(0.0 <= v <= 1.0 for col in slow["state_r2"].values() for v in col)
    assert set(slow["prior"]["rank_correlation"]) == {"state position", "state velocity"}


def test_a_variant_is_named_by_its_tag(bench, results):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from benchlib.scored_run import run_paths
    finally:
        sys.path.remove(str(BENCHMARKS))
    args = argparse.Namespace(seed=2, tag="sw1", run_dir=None, out=None)
    run_dir, out = run_paths(args, "lds", "lds")
    assert run_dir == Path("runs/lds/lds-sw1-seed2") and out.name == "lds-lds-sw1-seed2.json"
    _, page = bench
    variant = {**results["lds"], "tag": "sw1"}
    variant["overrides"] = [*variant["overrides"], "objective.slow_weight=1"]
    text = "\n".join(page.lds_section([results["lds"], variant]))
    assert "lds (sw1: " in text and "objective.slow_weight=1)" in text  # its own overrides
    assert "| lds (1 seed(s)) |" in text


def test_curve_table_has_a_column_per_order_and_group(bench, results):
    _, page = bench
    run = copy.deepcopy(results["lds"])
    for order, figures in (("posterior", (11.0, 22.0)), ("prior", (33.0, 44.0))):
        for row in run["slowness"][order]["swaps"]["curve"]:
            row["static_mean"], row["dynamic_mean"] = figures
    text = "\n".join(page.lds_section([run]))
    assert "| 0 | 11.0 | 22.0 | 33.0 | 44.0 |" in text


def test_page_section_shows_both_models(bench, results, balls):
    _, page = bench
    runs = [results["lds"], results["dsae"], balls]
    text = "\n".join(page.lds_section(runs))
    assert text.startswith("## Slow latents") and "| lds |" in text and "| dsae |" in text
    assert "Spearman rho" in text and "k slowest latents swapped" in text
    assert "(prior order)" in text and "action kept %, posterior order" in text
    assert "AMD" in text or "Intel" in text or "(" in text  # the machine is named
    assert "Bouncing balls" in text and "| velocity[0] |" in text
    assert page.lds_section([]) == []
