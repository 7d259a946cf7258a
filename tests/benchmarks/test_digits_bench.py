"""benchmarks/digits.py end to end on a few real digit sequences; its page and figures."""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path

import pytest
import yaml
from conftest import SHARED
from PIL import Image

from dsae.data import build_dataset

REPO = Path(__file__).resolve().parents[2]
MNIST = SHARED / "data" / "mnist"
TINY = {"f_dim": 4, "z_dim": 2, "channels": [8, 16], "frame_dim": 16, "hidden_dim": 16,
        "likelihood": "bernoulli"}  # fmt: skip
MODELS = {"dvrnn": {"name": "dvrnn", "dvrnn_posterior": "full"},
          "dvrnn_factorized": {"name": "dvrnn", "dvrnn_posterior": "factorized"},
          "dsae": {"name": "dsae", "encoder": "factorised"}}  # fmt: skip
STEPS = 3

pytestmark = pytest.mark.skipif(not MNIST.is_dir(), reason=f"no MNIST at {MNIST}")


@pytest.fixture(scope="module")
def setup(benchlib_path, tmp_path_factory) -> dict:
    """Tiny digit sequences, one config per model and a bench run of each."""
    bench = importlib.import_module("digits")
    root = tmp_path_factory.mktemp("digits_bench")
    data = build_dataset("digits", root / "digits", source=str(MNIST), n_train=24, n_test=12,
                         progress=False)  # fmt: skip
    configs, results = {}, {}
    for name, model in MODELS.items():
        config = root / f"digits_{name}.yaml"
        config.write_text(yaml.safe_dump({
            "data": {"name": "digits", "root": str(data), "build_if_missing": False},
            "model": {**TINY, **model},
            "objective": {"beta_f": 0.5, "beta_z": 25.0} if name.startswith("dvrnn") else {},
            "train": {"batch_size": 8, "log_every": 1, "ckpt_every": 1000,
                      "lr_warmup_steps": 1, "max_steps": 1000},
        }))  # fmt: skip
        configs[name] = config
        path = root / f"digits-{name}.json"
        args = [str(config), "--steps", str(STEPS), "--run-dir", str(root / f"run_{name}"),
                "--out", str(path), "--judge-epochs", "1", "--no-progress"]  # fmt: skip
        assert bench.main(args) == 0
        results[name] = json.loads(path.read_text())
    return {"bench": bench, "root": root, "configs": configs, "results": results}


def test_each_run_is_trained_for_its_steps_and_scored(setup):
    for name, r in setup["results"].items():
        assert r["benchmark"] == "digits" and r["model"] == MODELS[name]["name"]
        assert r["training"]["steps"] == STEPS and not r["training"]["reused"]
        assert r["resolved_config"]["train"]["max_steps"] == STEPS
        assert r["resolved_config"]["train"]["threads"] == 1
        style = r["style"]
        for part in ("f_kept", "z_kept", "reconstruction"):
            assert 0.0 <= style[part]["accuracy"]["digit"] <= 1.0
            for state in ("slant", "thickness"):
                r_value = style[part]["correlation"][state]
                assert r_value is None or -1.0 <= r_value <= 1.0
        assert set(r["table1"]["static"]) == {"digit"}
        assert r["reconstruction"]["psnr"] > 0
        assert r["command"].startswith("python benchmarks/digits.py")
    assert setup["results"]["dvrnn"]["posterior"] == "full"
    assert setup["results"]["dsae"]["posterior"] is None


def test_a_finished_run_is_reused_and_another_config_refused(setup, capsys):
    bench, root = setup["bench"], setup["root"]
    path = root / "again.json"
    cfg = str(setup["configs"]["dsae"])
    run = str(root / "run_dsae")
    args = [cfg, "--steps", str(STEPS), "--run-dir", run, "--out", str(path), "--no-progress"]
    assert bench.main(args) == 0
    again = json.loads(path.read_text())
    first = setup["results"]["dsae"]
    assert again["training"]["reused"] and again["training"]["steps"] == STEPS
    assert again["style"] == first["style"]  # the same run, scored the same way
    capsys.readouterr()
    other = [cfg, "--steps", str(STEPS + 1), "--run-dir", run, "--out", str(root / "x.json")]
    assert bench.main([*other, "--no-progress"]) == 2
    assert bench.main([cfg, "--steps", str(STEPS), "--run-dir", run, "--out",
                       str(root / "y.json"), "--set", "objective.beta_z=2"]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("another config" in line for line in err)
    assert "train.max_steps is 3 there, 4 here" in err[0] and "objective.beta_z" in err[1]
    assert not (root / "x.json").exists() and not (root / "y.json").exists()


def _cell(run: dict, beta_f: float, beta_z: float, acc: float) -> dict:
    r = copy.deepcopy(run)
    r["beta_f"], r["beta_z"] = beta_f, beta_z
    r["overrides"] = [f"objective.beta_f={beta_f}", f"objective.beta_z={beta_z}"]
    r["style"]["f_kept"]["accuracy"]["digit"] = acc
    return r


def test_the_page_and_figures_show_the_models_and_the_grid(setup, benchlib_path, tmp_path):
    make_results = importlib.import_module("make_results")
    figures = importlib.import_module("digits_figures")
    page_lib = importlib.import_module("benchlib.digits_page")
    runs = setup["results"]
    for name, r in runs.items():
        (tmp_path / f"digits-{name}-seed0.json").write_text(json.dumps(r))
    cells = [(bf, bz) for bf in (0.5, 1.0) for bz in (1.0, 25.0) if (bf, bz) != (0.5, 25.0)]
    for i, (bf, bz) in enumerate(cells):
        cell = _cell(runs["dvrnn"], bf, bz, 0.1 * (i + 1))
        (tmp_path / f"digits-dvrnn-bf{bf}-bz{bz}-seed0.json").write_text(json.dumps(cell))
    bfs, bzs, groups = page_lib.grid_cells(make_results.load_runs(tmp_path)[0])
    assert (bfs, bzs) == ([0.5, 1.0], [1.0, 25.0]) and all(len(g) == 1 for g in groups.values())
    grid = page_lib.grid_array(groups, bfs, bzs, "style.f_kept.accuracy.{static}", 100.0)
    assert grid[1][1] == pytest.approx(30.0)  # the third cell written, (1, 25)
    page = make_results.render(tmp_path)
    assert "## Digits: the Disentangled VRNN beside the DSAE" in page
    assert "| measure | DVRNN, full (beta_f 0.5, beta_z 25) | DVRNN, factorized" in page
    assert "### The full DVRNN's beta_f x beta_z grid" in page
    docs = tmp_path / "docs"
    assert figures.main(["--results", str(tmp_path), "--docs", str(docs)]) == 0
    for name in ("digits_fig4.png", "digits_grid.png"):
        with Image.open(docs / "img" / name) as im:
            assert im.size[0] > 100 and im.size[1] > 100, name
