"""benchmarks/quickstart.py end to end on a tiny quickstart; its targets and its page."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from PIL import Image

SMALL = [
    "data.n_train=48", "data.n_test=16", "train.max_steps=6", "model.channels=[8,16,32]",
    "model.decoder_channels=[8,16,32]", "model.frame_dim=32", "model.hidden_dim=32",
    "model.f_dim=8", "model.z_dim=4", "train.batch_size=16", "train.log_every=3",
    "train.lr_warmup_steps=2",
]  # fmt: skip


@pytest.fixture(scope="module")
def result(benchlib_path, tmp_path_factory) -> tuple[dict, Path]:
    bench = importlib.import_module("quickstart")
    root = tmp_path_factory.mktemp("quickstart_bench")
    out = root / "quickstart-seed3.json"
    args = ["--seed", "3", "--out-dir", str(root / "qs"), "--out", str(out),
            "--docs", str(root / "docs"), "--no-progress"]  # fmt: skip
    for s in SMALL:
        args += ["--set", s]
    assert bench.main(args) == 0
    return json.loads(out.read_text()), root


def test_the_record_holds_the_figures_their_targets_and_the_machine(result):
    r, root = result
    assert r["benchmark"] == "quickstart" and r["resolved_config"]["train"]["seed"] == 3
    assert r["resolved_config"]["train"]["max_steps"] == 6 and r["timing"]["steps"] == 6
    t = r["targets"]
    assert {"wall_time_s", "psnr_db", "swap_skin", "swap_action", "weakest_frame_hair"} <= set(t)
    assert t["psnr_db"]["value"] == pytest.approx(r["reconstruction"]["psnr"])
    assert t["wall_time_s"]["met"] == (t["wall_time_s"]["value"] <= 600)
    frames = r["generation"]["f_kept_z_sampled_by_frame"]["skin"]["mean"]
    assert len(frames) == 8 and t["weakest_frame_skin"]["value"] == pytest.approx(min(frames))
    assert t["weakest_frame_skin"]["note"] == f"frame t = {frames.index(min(frames)) + 1}"
    real = r["judge_frames_on_data"]
    assert set(real) == {"skin", "shirt", "pants", "hair"}
    assert all(len(v) == 8 and all(0 <= a <= 100 for a in v) for v in real.values())
    assert r["targets_met"] == sum(v["met"] for v in t.values()) <= r["targets_total"] == len(t)
    assert r["machine"]["cpu"] and "avx2" in r["machine"]["instruction_sets"]
    assert r["command"].startswith("python benchmarks/quickstart.py --seed 3")
    with Image.open(root / "docs" / "img" / "quickstart_swaps.png") as im:
        assert im.size[1] > 3 * 3 * 32  # three pairs of three rows of frames, scaled up


def test_an_existing_folder_is_refused(benchlib_path, tmp_path, capsys):
    bench = importlib.import_module("quickstart")
    (tmp_path / "qs").mkdir()
    (tmp_path / "qs" / "old.txt").write_text("x")
    args = ["--out-dir", str(tmp_path / "qs"), "--out", str(tmp_path / "r.json")]
    assert bench.main(args) == 2
    assert "is not empty" in capsys.readouterr().err and not (tmp_path / "r.json").exists()


def test_the_page_gives_the_spread_over_seeds_and_the_frames(result, benchlib_path, tmp_path):
    r, _ = result
    make_results = importlib.import_module("make_results")
    for seed, psnr in ((0, 28.5), (1, 27.5)):
        run = json.loads(json.dumps(r))
        run["resolved_config"]["train"]["seed"] = seed
        run["targets"]["psnr_db"].update(value=psnr, met=psnr >= 28)
        (tmp_path / f"quickstart-seed{seed}.json").write_text(json.dumps(run))
    page = make_results.render(tmp_path)
    assert "## Quickstart" in page and "seeds 0, 1" in page
    row = next(x for x in page.splitlines() if x.startswith("| reconstruction PSNR"))
    assert "28.00 ± 0.71 (27.50-28.50)" in row and "| ≥ 28 | 1 of 2 |" in row
    frames = next(x for x in page.splitlines() if x.startswith("| skin |"))
    skin = r["generation"]["f_kept_z_sampled_by_frame"]["skin"]["mean"]
    assert frames.count("|") == 10 and f"{skin[0]:.1f}" in frames
    real = next(x for x in page.splitlines() if x.startswith("| skin, real test frames |"))
    assert f"{r['judge_frames_on_data']['skin'][-1]:.1f} |" in real
