"""``dsae.pipeline.evaluate.evaluate_run`` on a trained run and ``dsae evaluate`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from eval_coded import write_coded_dataset, write_judge

from dsae.cli.main import main
from dsae.config import Config
from dsae.data.base import fingerprint
from dsae.errors import DsaeError
from dsae.pipeline.evaluate import evaluate_run
from dsae.train import train

LAYOUT = {
    "run", "checkpoint_step", "data", "config", "judge", "samplers", "compared_with_published",
    "skipped", "seeds", "versions", "timing", "plots", "elapsed_s",
    "reconstruction", "table1", "generation", "swap", "trajectories", "latent", "verification",
}  # fmt: skip


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("evaluate")
    data = write_coded_dataset(root / "data")
    cfg = Config.from_dict(
        {
            "data": {"root": str(data), "build_if_missing": False},
            "model": {"channels": [8, 16], "frame_dim": 16, "hidden_dim": 16, "f_dim": 4,
                      "z_dim": 3},
            "train": {"max_steps": 2, "batch_size": 8, "lr_warmup_steps": 1, "threads": 1,
                      "progress": False, "log_every": 1},
        }
    )  # fmt: skip
    train(cfg, root / "run")
    judge = write_judge(root / "judge.pt", data)
    return {"root": root, "data": data, "run": root / "run", "judge": judge}


def test_evaluate_run_writes_the_metrics_layout(evaluated):
    out = evaluated["root"] / "eval"
    res = evaluate_run(evaluated["run"], None, evaluated["judge"], out, progress=False)
    text = (out / "metrics.json").read_text()
    metrics = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in metrics.json"))
    assert metrics == res
    assert set(metrics) == LAYOUT
    assert metrics["checkpoint_step"] == 2 and metrics["run"] == str(evaluated["run"].resolve())
    assert metrics["data"]["fingerprint"] == fingerprint(evaluated["data"])
    assert metrics["data"]["name"] == "coded" and metrics["data"]["same_as_training"]
    assert metrics["config"]["model"]["f_dim"] == 4
    assert metrics["judge"]["info"]["test_accuracy"]["action"] == 0.5
    assert metrics["seeds"]["generation"] == [0, 1, 2]
    assert metrics["samplers"][0] == "learnt_prior"
    assert metrics["compared_with_published"] == "learnt_prior"
    # the coded frames are not binary, nor frames whose style dsae can measure; a DSAE has
    # no linear dynamics
    assert set(metrics["skipped"]) == {"imputation", "style", "slowness"}
    assert set(metrics["versions"]) == {"dsae", "torch", "numpy", "scipy", "sklearn", "python"}
    assert {"table1", "generation", "trajectories", "latent", "reconstruction"} <= set(
        metrics["timing"]
    )
    assert metrics["plots"][:2] == ["trajectories_fixed_f.png", "trajectories_fixed_z.png"]
    assert all((out / p).is_file() for p in metrics["plots"])
    assert len(metrics["plots"]) == 2 * len(metrics["samplers"]) + 1
    assert metrics["plots"][-1] == metrics["verification"]["plot"] == "verification_roc.png"
    ver = metrics["verification"]
    assert ver["grouping"] == "sequence" and set(ver["eer"]) == {"colour", "shape"}
    assert ver["probe_fit"] == {"on": "training split", "n_fit": 24, "n_test": 20}
    assert set(ver["probe"]) == {"colour", "shape", "action"}
    t1 = metrics["table1"]["learnt_prior"]
    assert set(t1["static"]["colour"]) == {"disagreement", "kl_recon", "kl_random"}
    assert set(t1["dynamic"]) == {"action"}
    z = metrics["generation"]["learnt_prior"]["z_kept_f_sampled"]
    assert {"acc", "is", "h_yx", "h_y", "n"} <= set(z) and z["n"] == 20
    assert set(metrics["generation"]["learnt_prior"]["f_kept_z_sampled"]["shape"]) == {
        "mean",
        "std",
    }
    assert {"mse", "psnr", "judge_accuracy"} <= set(metrics["reconstruction"])
    assert {"static", "dynamic", "cross"} <= set(metrics["latent"])


def test_evaluate_run_of_some_protocols(evaluated, tmp_path):
    asked = ["generation", "table1"]
    metrics = evaluate_run(
        evaluated["run"], None, evaluated["judge"], tmp_path, progress=False, protocols=asked
    )
    assert {"generation", "table1"} <= set(metrics) and metrics["plots"] == []
    assert not {"swap", "trajectories", "latent", "reconstruction", "verification"} & set(metrics)
    assert metrics["skipped"]["swap"] == metrics["skipped"]["latent"] == "not asked for"
    assert metrics["seeds"] == {"table1": 0, "generation": [0, 1, 2]}


def test_evaluate_run_without_a_judge(evaluated, tmp_path):
    metrics = evaluate_run(evaluated["run"], None, None, tmp_path, progress=False)
    assert "reconstruction" in metrics and "latent" in metrics and "verification" in metrics
    assert metrics["plots"] == ["verification_roc.png"]  # no trajectories without a judge
    judged = {"table1", "generation", "swap", "trajectories"}
    assert judged | {"imputation", "style", "slowness"} == set(metrics["skipped"])
    assert all("judge" in metrics["skipped"][name] for name in judged)


def test_evaluate_run_refuses_bad_inputs(evaluated, tmp_path):
    run, data, judge = evaluated["run"], evaluated["data"], evaluated["judge"]
    other = write_judge(tmp_path / "other.pt", data, fp="0" * 64)
    with pytest.raises(DsaeError, match="another dataset"):
        evaluate_run(run, data, other, tmp_path / "e1", progress=False)
    small = write_coded_dataset(tmp_path / "small", size=8)
    small_judge = write_judge(tmp_path / "small.pt", small)
    with pytest.raises(DsaeError, match="do not match the model"):
        evaluate_run(run, small, small_judge, tmp_path / "e2", progress=False)
    with pytest.raises(DsaeError, match="judge not found"):
        evaluate_run(run, data, tmp_path / "missing.pt", tmp_path / "e3", progress=False)
    with pytest.raises(DsaeError, match="repeats"):
        evaluate_run(run, data, judge, tmp_path / "e4", repeats=1, progress=False)
    with pytest.raises(DsaeError, match="no dataset"):
        evaluate_run(run, tmp_path / "nowhere", judge, tmp_path / "e5", progress=False)
    assert not any((tmp_path / f"e{i}" / "metrics.json").exists() for i in range(1, 6))


def test_cli_evaluate(evaluated, tmp_path, capsys):
    out = tmp_path / "eval"
    code = main(["evaluate", str(evaluated["run"]), "--judge", str(evaluated["judge"]),
                 "--out", str(out), "--no-progress"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0 and (out / "metrics.json").is_file()
    assert "KL-recon" in printed and "IS" in printed and "learnt_prior" in printed
    code = main(["evaluate", str(tmp_path / "no_run"), "--judge", str(evaluated["judge"]),
                 "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "run directory not found" in err[0]
