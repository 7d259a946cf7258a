"""benchmarks/speech.py end to end on a tiny tone dataset, on a fake clock, and its targets."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
import yaml
from speech_tones import build_tones

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
TICK = 0.0625  # seconds the fake clock advances at every reading of the loop
BUDGET_MINUTES = 0.05  # 3 s of training on the fake clock
TINY_MODEL = {
    "frame_net": "mlp", "f_dim": 4, "z_dim": 3, "frame_dim": 32, "hidden_dim": 32,
    "mlp_hidden": 32, "dynamic_input": "envelope", "static_encoder": "harmonics",
}  # fmt: skip


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("speech")
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def result(bench, tmp_path_factory):
    root = tmp_path_factory.mktemp("speech_bench")
    data = build_tones(root / "tones")
    config = root / "tones.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {"name": "tones", "root": str(data), "build_if_missing": False},
                "model": TINY_MODEL,
                "train": {
                    "batch_size": 16,
                    "log_every": 5,
                    "ckpt_every": 1000,
                    "lr_warmup_steps": 2,
                    "threads": 1,
                    "max_steps": 100000,
                },
            }  # fmt: skip
        )
    )
    out = root / "speech-tones.json"
    args = [
        str(config), "--judge", str(root / "judge.pt"), "--judge-epochs", "8",
        "--budget-minutes", str(BUDGET_MINUTES), "--run-dir", str(root / "run"),
        "--out", str(out), "--pairs", "4", "--calib-steps", "4", "--no-progress",
    ]  # fmt: skip
    clock = importlib.import_module("benchlib.clock").FakeClock(TICK)
    assert bench.main(args, clock=clock) == 0
    return {"root": root, "json": json.loads(out.read_text())}


def test_every_target_has_a_verdict_from_the_recorded_figures(result):
    r = result["json"]
    targets = r["targets"]
    assert {"eer.mu_f", "eer.mu_z", "probe.word.mu_z", "probe.word.mu_f"} <= set(targets)
    assert {"conversion.speaker", "conversion.content", "train_wall_time_s"} <= set(targets)
    # the tones have a male and a female voice: F0 is scored per direction
    assert {"conversion.f0.male->female", "conversion.f0.female->male"} <= set(targets)
    for name, t in targets.items():
        if t["missing"]:
            assert t["value"] is None and t["met"] is False, name
        else:
            want = t["value"] >= t["target"] if t["op"] == ">=" else t["value"] <= t["target"]
            assert t["met"] == want, name
    ver = r["verification"]
    assert targets["eer.mu_f"]["value"] == ver["eer"]["speaker"]["mu_f"]
    assert targets["probe.word.mu_z"]["value"] == ver["probe"]["word"]["mu_z"]
    assert targets["conversion.speaker"]["value"] == r["conversion"]["converted"]["speaker"]
    assert r["all_met"] == all(t["met"] for t in targets.values())


def test_the_run_is_trained_within_its_budget_and_recorded(result):
    r = result["json"]
    assert r["benchmark"] == "speech" and r["content_factor"] == "word"
    training = r["training"]
    assert 0 < training["wall_time_s"] <= r["plan"]["budget_s"]
    assert not training["watchdog_fired"] and training["steps"] > 5
    assert r["machine"]["cpu"] and "avx2" in r["machine"]["instruction_sets"]
    assert r["judge"]["trained"] is True
    assert (result["root"] / "run" / "conversion" / "conversion.json").is_file()
    assert r["command"].startswith("python benchmarks/speech.py")


def test_the_results_page_shows_the_speech_run(result, tmp_path):
    make_results = importlib.import_module("make_results")
    (tmp_path / "speech-tones-seed0.json").write_text(json.dumps(result["json"]))
    page = make_results.render(tmp_path)
    assert "## Speech: speaker verification and voice conversion" in page
    assert "| tones | factorised q, f reads harmonics, z_t reads envelope | mu_f |" in page
    assert "DSVAE, factorised q | mu_f | 16 | 4.78" in page  # the paper's TIMIT row beside
    assert "conversion: speaker = B >= 0.9" in page  # the targets, one column each
