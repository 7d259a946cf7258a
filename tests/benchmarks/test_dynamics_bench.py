"""benchmarks/dynamics.py end to end on tiny balls, on a fake clock; its page and figures."""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from dsae.data import build_dataset

REPO = Path(__file__).resolve().parents[2]
TICK = 0.0625  # seconds the fake clock advances at every reading of the loop
BUDGET_MINUTES = 0.05  # 3 s of training on the fake clock
TINY = {"f_dim": 4, "channels": [8, 16, 32], "frame_dim": 32, "hidden_dim": 32,
        "likelihood": "bernoulli"}  # fmt: skip
FAMILIES = {"dsae": {"z_dim": 4}, "lstm_f": {"z_dim": 8, "rollout_dim": 16},
            "lstm_c": {"z_dim": 8, "rollout_dim": 16}}  # fmt: skip


@pytest.fixture(scope="module")
def results(benchlib_path, tmp_path_factory) -> dict[str, dict]:
    """One benchmark run per model family on the same tiny balls."""
    bench = importlib.import_module("dynamics")
    root = tmp_path_factory.mktemp("dynamics_bench")
    data = build_dataset("balls", root / "balls", n_train=32, n_test=8, progress=False)
    out = {}
    for name, extra in FAMILIES.items():
        config = root / f"balls_{name}.yaml"
        # the baselines start from the stochastic run's frame networks, as configs/ does
        warm = {} if name == "dsae" else {"init_from": str(root / "run_dsae"),
                                          "init_params": ["frame_encoder", "decoder.deconvs"]}  # fmt: skip
        config.write_text(yaml.safe_dump({
            "data": {"name": "balls", "root": str(data), "build_if_missing": False},
            "model": {"name": name, **TINY, **extra},
            "train": {"batch_size": 8, "log_every": 5, "ckpt_every": 1000,
                      "lr_warmup_steps": 2, "threads": 1, "max_steps": 100000, **warm},
        }))  # fmt: skip
        path = root / f"dynamics-{name}.json"
        args = [
            str(config), "--budget-minutes", str(BUDGET_MINUTES), "--run-dir",
            str(root / f"run_{name}"), "--out", str(path), "--sequences", "5",
            "--samples", "2", "--fig7", "3", "--calib-steps", "4", "--no-progress",
        ]  # fmt: skip
        clock = importlib.import_module("benchlib.clock").FakeClock(TICK)
        assert bench.main(args, clock=clock) == 0
        out[name] = json.loads(path.read_text())
    return out


def test_each_run_is_trained_within_its_budget_and_imputes(results):
    for name, r in results.items():
        assert r["benchmark"] == "dynamics" and r["model"] == name
        training = r["training"]
        assert 0 < training["wall_time_s"] <= r["plan"]["budget_s"]
        assert training["steps"] > 3 and not training["watchdog_fired"]
        curve = r["imputation"]
        assert curve["missing"] == [*range(1, 11), 15, 20, 25, 29]
        assert curve["sequences"] == 5 and curve["samples"] == 2
        for mode in ("sampled", "most_likely"):
            assert len(curve[mode]["wrong_missing"]) == len(curve["missing"])
            assert all(0.0 <= v <= 1.0 for v in curve[mode]["wrong_missing"])
        with np.load(Path(r["run_dir"]) / "fig7.npz") as z:
            assert z["truth"].shape == (3, 30, 32, 32, 1) and int(z["observed"]) == 20
        assert r["machine"]["cpu"] and r["command"].startswith("python benchmarks/dynamics.py")
    # a deterministic rollout has one prediction: sampled and most likely agree
    for name in ("lstm_f", "lstm_c"):
        c = results[name]["imputation"]
        assert c["sampled"]["wrong_missing"] == pytest.approx(c["most_likely"]["wrong_missing"])


def _with_curve(run: dict, seed: int, value: float) -> dict:
    r = copy.deepcopy(run)
    r["resolved_config"]["train"]["seed"] = seed
    for mode in ("sampled", "most_likely"):
        r["imputation"][mode]["wrong_missing"] = [value] * len(r["imputation"]["missing"])
    return r


def test_the_order_target_needs_every_seed_below_every_other(results, benchlib_path):
    page = importlib.import_module("benchlib.dynamics_page")
    low = [_with_curve(results["dsae"], s, 0.01 + 0.001 * s) for s in range(3)]
    high = [_with_curve(results[m], s, 0.02) for m in ("lstm_f", "lstm_c") for s in range(3)]
    t = page.order_target(page.by_model(low + high), "sampled.wrong_missing")
    assert t["met"] and len(t["rows"]) == 10
    # one stochastic seed above one deterministic seed at every k: not met
    worse = low[:2] + [_with_curve(results["dsae"], 2, 0.03)]
    t = page.order_target(page.by_model(worse + high), "sampled.wrong_missing")
    assert not t["met"] and not any(ok for *_, ok in t["rows"])
    # without the deterministic models there is nothing to compare with
    assert not page.order_target(page.by_model(low), "sampled.wrong_missing")["met"]


def test_a_warm_started_run_counts_the_time_of_the_run_it_starts_from(results, benchlib_path):
    page = importlib.import_module("benchlib.dynamics_page")
    runs = list(results.values())
    own = {m: r["training"]["wall_time_s"] for m, r in results.items()}
    assert page.source_run(results["lstm_c"], runs) is results["dsae"]
    assert page.source_run(results["dsae"], runs) is None
    assert page.total_wall(results["lstm_c"], runs) == pytest.approx(own["lstm_c"] + own["dsae"])
    assert page.total_wall(results["dsae"], runs) == own["dsae"]
    assert page.total_wall(results["lstm_f"], [results["lstm_f"]]) is None  # source unknown
    text = "\n".join(page.dynamics_section(runs))
    assert "stochastic run of its seed (frame_encoder, decoder.deconvs)" in text


def test_the_results_page_and_figures_show_the_runs(results, tmp_path):
    make_results = importlib.import_module("make_results")
    figures = importlib.import_module("dynamics_figures")
    for name, r in results.items():
        (tmp_path / f"dynamics-balls_{name}-seed0.json").write_text(json.dumps(r))
    page = make_results.render(tmp_path)
    assert "## Dynamics: bouncing balls, stochastic against deterministic dynamics" in page
    assert "| missing frames k | stochastic (DSAE, z_t of 4) | LSTM-f (z of 8, state 16) |" in page
    assert "Stochastic below both deterministic models for k = 1..10" in page
    docs = tmp_path / "docs"
    assert figures.main(["--results", str(tmp_path), "--docs", str(docs)]) == 0
    for name in ("balls_fig8.png", "balls_fig8_ml.png", "balls_fig7.png"):
        with Image.open(docs / "img" / name) as im:
            assert im.size[0] > 100 and im.size[1] > 100, name
