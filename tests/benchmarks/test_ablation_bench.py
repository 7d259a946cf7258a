"""benchmarks/ablation.py end to end on tiny toy sprites (a few steps of a small DSAE): the
record it writes, reusing a finished run, refusing another; its results-page section."""

from __future__ import annotations

import copy
import importlib
import json
import statistics
import sys
from pathlib import Path

import pytest

from dsae.eval.published import replication_table1_rows

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
STEPS = 4
TINY = [
    "--set", "model.channels=[8,16,32]", "--set", "model.frame_dim=32",
    "--set", "model.hidden_dim=32", "--set", "model.f_dim=8", "--set", "model.z_dim=4",
    "--set", "train.batch_size=16", "--set", "train.log_every=2",
]  # fmt: skip


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("ablation")
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def toy(judged_toy_sprites) -> dict[str, Path]:
    return judged_toy_sprites


def _args(toy: dict[str, Path], arm: str, run: str, out: str, *extra: str) -> list[str]:
    return [
        "--arm", arm, "--seed", "1", "--steps", str(STEPS), "--data", str(toy["data"]),
        "--judge", str(toy["judge"]), "--run-dir", str(toy["root"] / run),
        "--out", str(toy["root"] / out), *TINY, *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def result(bench, toy) -> dict:
    assert bench.main(_args(toy, "tc", "run_tc", "tc.json")) == 0
    return json.loads((toy["root"] / "tc.json").read_text())


def test_a_run_is_trained_and_scored(bench, result):
    assert result["benchmark"] == "ablation" and result["arm"] == "tc"
    assert result["arm_overrides"] == bench.ARMS["tc"] == ["objective.tc_weight=10"]
    assert result["resolved_config"]["objective"]["tc_weight"] == 10.0
    assert result["resolved_config"]["train"]["max_steps"] == STEPS
    assert result["resolved_config"]["train"]["threads"] == 1
    tr = result["training"]
    assert tr["steps"] == STEPS and not tr["reused"] and tr["wall_time_s"] >= 0
    assert {"loss", "recon", "kl_f", "kl_z", "tc"} <= set(tr["final"])
    t1 = result["table1"]
    assert set(t1["static"]) == {"skin", "shirt", "pants", "hair"} and set(t1["dynamic"]) == {
        "action"
    }
    for row in (*t1["static"].values(), *t1["dynamic"].values()):
        assert 0.0 <= row["disagreement"] <= 100.0 and row["kl_random"] >= 0.0
    for group in ("static", "dynamic"):
        latent = result["latent"][group]
        assert {"disentanglement", "completeness", "informativeness_test"} <= set(latent["dci"])
        assert {"mig", "sap", "factor_vae"} <= set(latent)
    assert result["reconstruction"]["psnr"] > 0 and result["data"]["n_test"] == 16
    assert result["machine"]["cpu"] and result["machine"]["commit"] is not None
    assert result["versions"]["torch"]
    assert result["command"].startswith("python benchmarks/ablation.py --arm tc")
    cmd = result["train_command"]
    assert cmd.startswith("python -m dsae train configs/sprites_dsae.yaml --out ")
    assert "--set objective.tc_weight=10" in cmd and f"--set train.max_steps={STEPS}" in cmd


def test_a_finished_run_is_reused_and_another_refused(bench, toy, result, capsys):
    ckpt = toy["root"] / "run_tc" / "checkpoint.pt"
    before = ckpt.stat().st_mtime_ns
    assert bench.main(_args(toy, "tc", "run_tc", "again.json")) == 0
    again = json.loads((toy["root"] / "again.json").read_text())
    assert again["training"]["reused"] and ckpt.stat().st_mtime_ns == before
    assert again["training"]["steps"] == result["training"]["steps"]
    assert again["table1"] == result["table1"]  # the same run and seed score the same
    capsys.readouterr()
    for arm, extra in (("dip", ()), ("tc", ("--steps", str(STEPS + 1)))):
        assert bench.main([*_args(toy, arm, "run_tc", "bad.json"), *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("ablation.py: error: ") and err.count("\n") == 1
        assert "another config" in err
    assert not (toy["root"] / "bad.json").exists()


def test_an_unfinished_run_is_refused(bench, toy, capsys):
    run = toy["root"] / "run_partial"
    run.mkdir()
    (run / "config.yaml").write_text("{}\n")
    assert bench.main(_args(toy, "none", "run_partial", "partial.json")) == 2
    assert "unfinished run" in capsys.readouterr().err


def _with(run: dict, arm: str, seed: int, skin: float, mig: float, psnr: float) -> dict:
    r = copy.deepcopy(run)
    r["arm"], r["arm_overrides"] = arm, []
    r["resolved_config"]["train"]["seed"] = seed
    r["table1"]["static"]["skin"]["disagreement"] = skin
    r["latent"]["static"]["mig"]["mig"] = mig
    r["reconstruction"]["psnr"] = psnr
    return r


def _row(text: str, start: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(start))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_the_page_section_shows_mean_and_spread_per_arm(bench, result):
    page = importlib.import_module("benchlib.ablation_page")
    skins, migs = [10.0, 20.0, 45.0], [0.1, 0.2, 0.3]
    runs = [_with(result, "beta6", s, skins[s], migs[s], 20.0) for s in range(3)]
    runs.append(_with(result, "none", 0, 5.0, 0.5, 25.0))
    text = page.ablation_section(runs)
    assert text.index("| dsae, none |") < text.index("| dsae, beta6 |")  # the plain ELBO first
    skin_col = _row(text, "| model |").index("skin")
    beta6 = _row(text, "| dsae, beta6 |")
    mean, std = statistics.fmean(skins), statistics.stdev(skins)
    assert beta6[skin_col] == f"{mean:.2f} ± {std:.2f} (10.00-45.00)"
    assert _row(text, "| dsae, none |")[skin_col] == "5.00"
    published = _row(text, "| Leplae-Arthur & Nichani, beta = 6 (published) |")
    assert published[skin_col] == replication_table1_rows(6.0)["skin"][0] == "41.4"
    assert _row(text, "| Leplae-Arthur & Nichani, beta = 1 (published) |")[skin_col] == "24.8"
    mig = _row(text, "| arm | DCI disentanglement |").index("MIG")
    rows = [r for r in text.splitlines() if r.startswith("| dsae, beta6 |")]
    assert _row(rows[2], "| dsae, beta6 |")[mig] == "0.20 ± 0.10 (0.10-0.30)"  # f's table
    assert "20.00 in every run" in _row(text, "| **beta6** |")  # PSNR
    assert "3 (0, 1, 2)" in _row(text, "| **beta6** |")
    assert page.ablation_section([]) == ""


def test_the_results_page_holds_the_section_and_stays_consistent(result, tmp_path):
    make_results = importlib.import_module("make_results")
    (tmp_path / "ablation-tc-seed1.json").write_text(json.dumps(result))
    page = make_results.render(tmp_path)
    assert "## Sprites: objective ablation" in page
    assert "No benchmark results yet." in page  # not counted as a Sprites benchmark group
    assert make_results.main(["--check"]) == 0  # docs/RESULTS.md still matches the results
