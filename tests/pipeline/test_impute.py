"""``dsae impute`` and the dynamics parts of evaluate and report, end to end on tiny balls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dsae.cli.main import main
from dsae.data import load_split
from dsae.pipeline.evaluate import evaluate_run

TINY = [
    "model.channels=[8,16,32]", "model.frame_dim=32", "model.hidden_dim=32",
    "model.f_dim=4", "model.mlp_hidden=32", "train.max_steps=3", "train.batch_size=8",
    "train.log_every=1", "train.ckpt_every=3", "train.progress=false",
]  # fmt: skip
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def balls_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("balls") / "balls"
    assert main(["data", "build", "balls", "--out", str(out), "--n-train", "24",
                 "--n-test", "12", "--no-progress"]) == 0  # fmt: skip
    return out


def _train(config: str, data: Path, out: Path, extra: tuple[str, ...] = ()) -> Path:
    sets = [*TINY, f"data.root={data}", "data.build_if_missing=false", *extra]
    args = ["train", str(CONFIGS / config), "--out", str(out), "--no-progress"]
    assert main(args + [a for s in sets for a in ("--set", s)]) == 0
    return out


@pytest.fixture(scope="module")
def stochastic_run(balls_dir, tmp_path_factory) -> Path:
    return _train("balls_dsae.yaml", balls_dir, tmp_path_factory.mktemp("runs") / "dsae")


def test_impute_writes_pictures_arrays_and_numbers(stochastic_run, balls_dir, tmp_path, capsys):
    out = tmp_path / "impute"
    args = ["impute", str(stochastic_run), "--observed", "20", "--out", str(out), "--n", "3",
            "--samples", "2"]  # fmt: skip
    assert main(args) == 0
    assert "wrong pixels over the predicted frames" in capsys.readouterr().out
    for name in ("overlays.png", "frames.png", "imputation.npz", "imputation.json"):
        assert (out / name).is_file(), name
    with np.load(out / "imputation.npz") as z:
        truth, samples, likely = z["truth"], z["samples"], z["most_likely"]
        index, position = z["index"], z["position"]
    test = load_split(balls_dir, "test")
    np.testing.assert_array_equal(truth, test.x[index])
    np.testing.assert_allclose(position, test.states["position"][index])
    assert samples.shape == (2, *truth.shape) and likely.shape == truth.shape
    summary = json.loads((out / "imputation.json").read_text())
    assert summary["observed"] == 20 and summary["sequences"] == 3
    assert 0.0 <= summary["wrong_missing_sampled"] <= 1.0
    assert len(summary["per_sequence"]["wrong_missing_most_likely"]) == 3
    w, h = Image.open(out / "overlays.png").size
    assert w > 3 * 32 and h > 4 * 32  # three columns, four rows of 32 x 32 overlays
    # the same seed gives the same arrays; the folder is replaced whole
    assert main(args) == 0
    with np.load(out / "imputation.npz") as z:
        np.testing.assert_array_equal(z["samples"], samples)


@pytest.mark.parametrize("observed", ["0", "30", "-1"])
def test_impute_refuses_observed_outside_the_sequence(stochastic_run, tmp_path, capsys, observed):
    out = tmp_path / "bad"
    assert main(["impute", str(stochastic_run), "--observed", observed, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dsae: error: --observed must be between 1 and 29") and "\n" not in err
    assert not out.exists()


def test_impute_refuses_a_missing_run(tmp_path, capsys):
    assert main(["impute", str(tmp_path / "nope"), "--observed", "3", "--out",
                 str(tmp_path / "o")]) == 2  # fmt: skip
    assert capsys.readouterr().err.startswith("dsae: error:")


@pytest.mark.parametrize("config", ["balls_lstm_f.yaml", "balls_lstm_c.yaml"])
def test_deterministic_models_impute_and_evaluate(config, balls_dir, tmp_path):
    small = ("model.z_dim=8", "model.rollout_dim=16", "train.init_from=''")  # from scratch
    run = _train(config, balls_dir, tmp_path / "run", small)
    assert main(["impute", str(run), "--observed", "5", "--out", str(tmp_path / "imp"),
                 "--n", "2", "--samples", "2"]) == 0  # fmt: skip
    with np.load(tmp_path / "imp" / "imputation.npz") as z:
        # a deterministic rollout: every sampled continuation is the most likely one
        for s in z["samples"]:
            np.testing.assert_array_equal(s, z["most_likely"])
    metrics = evaluate_run(run, None, None, tmp_path / "eval", progress=False)
    assert "imputation" in metrics and "imputation" not in metrics["skipped"]


def test_evaluate_and_report_show_the_dynamics(stochastic_run, tmp_path):
    metrics = evaluate_run(stochastic_run, None, None, tmp_path / "eval", progress=False)
    curve = metrics["imputation"]
    assert curve["missing"] == [*range(1, 11), 15, 20, 25, 29]
    assert (tmp_path / "eval" / curve["plot"]).is_file()
    for key in ("table1", "generation", "latent"):
        assert key in metrics["skipped"]  # balls have no labels
    impute = tmp_path / "imp"
    assert main(["impute", str(stochastic_run), "--observed", "10", "--out", str(impute),
                 "--n", "2", "--samples", "1"]) == 0  # fmt: skip
    page = tmp_path / "report.html"
    assert main(["report", str(stochastic_run), "--eval", str(tmp_path / "eval"), "--impute",
                 str(impute), "--out", str(page)]) == 0  # fmt: skip
    html = page.read_text()
    assert 'id="dynamics"' in html and 'id="imputation"' in html
    assert "Imputation: predicting the missing frames" in html
