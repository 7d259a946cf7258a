"""End-to-end runs of every `dsae` subcommand, as subprocesses on small data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dsae.cli.main import COMMANDS, build_parser
from dsae.config import load_config
from dsae.data.base import DatasetMeta, SequenceSplit, write_dataset_dir
from dsae.errors import DsaeError
from dsae.pipeline.quickstart import quickstart_config, run_quickstart
from dsae.train import load_run, train

TINY = [
    "--set", "model.channels=[8,16,32]", "--set", "model.decoder_channels=[8,16,32]",
    "--set", "model.frame_dim=32",
    "--set", "model.hidden_dim=32", "--set", "model.f_dim=8", "--set", "model.z_dim=4",
    "--set", "train.batch_size=16", "--set", "train.log_every=3", "--set", "train.ckpt_every=4",
    "--set", "train.lr_warmup_steps=2",
]  # fmt: skip


def dsae(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "dsae.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"dsae {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def assert_user_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dsae: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, toy_dir) -> Path:
    run = tmp_path_factory.mktemp("cli") / "run"
    cfg = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"
    dsae(
        "train", str(cfg), "--out", str(run), "--no-progress",
        "--set", f"data.root={toy_dir}", "--set", "train.max_steps=8", *TINY,
    )  # fmt: skip
    return run


def test_every_command_has_an_end_to_end_test():
    build_parser()
    # convert: tests/pipeline/test_convert.py; impute: tests/pipeline/test_impute.py;
    # study: tests/studies/test_vem_cli.py
    tested = {"data", "train", "swap", "generate", "reconstruct", "quickstart", "judge",
              "evaluate", "report", "convert", "impute", "study"}  # fmt: skip
    assert set(COMMANDS) <= tested, f"untested commands: {set(COMMANDS) - tested}"


def test_data_build_toy(tmp_path):
    out = tmp_path / "toy"
    dsae("data", "build", "toy", "--out", str(out), "--n-train", "20", "--n-test", "10",
         "--image-size", "32", "--no-progress")  # fmt: skip
    meta = json.loads((out / "meta.json").read_text())
    assert meta["name"] == "toy_sprites" and meta["frame_shape"] == [32, 32, 3]
    with np.load(out / "train.npz") as z:
        assert z["x"].shape == (20, 8, 32, 32, 3)


def test_train_writes_run_and_resume_continues(trained_run, toy_dir):
    ck = torch.load(trained_run / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 8
    records = [json.loads(x) for x in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 6, 8]
    assert all(r["seq_per_s"] > 0 and np.isfinite(r["loss"]) for r in records)
    assert (trained_run / "config.yaml").is_file()
    # training again into the same folder without --resume is refused
    cfg = trained_run / "config.yaml"
    assert_user_error(dsae("train", str(cfg), "--out", str(trained_run), check=False), "--resume")


def test_train_within_max_minutes_fits_the_schedule(tmp_path, toy_dir):
    cfg = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"
    run = tmp_path / "timed"
    proc = dsae(
        "train", str(cfg), "--out", str(run), "--no-progress", "--max-minutes", "0.05",
        "--set", f"data.root={toy_dir}", "--set", "train.max_steps=1000000", *TINY,
    )  # fmt: skip
    assert "schedule fitted to 0.05 min" in proc.stdout
    # the wiring only: how many steps fit in 3 s depends on the machine and its load (the
    # fitted schedule itself is tested on a fake clock in tests/train/test_deadline.py)
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    # the steps ended at the deadline, or at the last step of the schedule fitted to it
    assert ck.get("out_of_time") or ck["step"] == ck["schedule_steps"] < 1000000
    assert ck["step"] <= ck["schedule_steps"] <= 1000000
    assert_user_error(
        dsae("train", str(cfg), "--out", str(tmp_path / "r"), "--max-minutes", "0", check=False),
        "--max-minutes",
    )
    assert not (tmp_path / "r").exists()


def test_resume_matches_uninterrupted(tmp_path, tiny_config):
    """An interrupted run resumed from its checkpoint ends with the same weights."""

    train(tiny_config, tmp_path / "whole")
    train(tiny_config, tmp_path / "parts", stop_at=7)
    assert torch.load(tmp_path / "parts" / "checkpoint.pt", weights_only=True)["step"] == 7
    train(tiny_config, tmp_path / "parts", resume=True)
    a = load_run(tmp_path / "whole").model.state_dict()
    b = load_run(tmp_path / "parts").model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    la = (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()
    lb = (tmp_path / "parts" / "metrics.jsonl").read_text().splitlines()
    strip = lambda lines: [  # noqa: E731
        {k: v for k, v in json.loads(x).items() if k not in ("seq_per_s", "wall_time")}
        for x in lines
    ]
    assert strip(la) == strip(lb)


def test_same_seed_same_numbers(tmp_path, tiny_config):

    r1 = train(tiny_config, tmp_path / "a")
    r2 = train(tiny_config, tmp_path / "b")
    assert r1.last == r2.last
    tiny_config.train.seed = 1
    r3 = train(tiny_config, tmp_path / "c")
    assert r3.last != r1.last


def test_swap_outputs(trained_run, tmp_path):
    out = tmp_path / "swaps"
    dsae("swap", str(trained_run), "--out", str(out), "--pairs", "3")

    assert Image.open(out / "swaps.png").size[0] > 0
    assert len(list(out.glob("swap_*.gif"))) == 3
    with np.load(out / "swaps.npz") as z:
        assert z["x"].shape == (3, 8, 32, 32, 3) and z["x"].dtype == np.uint8
        assert z["static"].shape == (3, 4) and z["action"].shape == (3,)
        assert (z["content_index"] != z["motion_index"]).all()


@pytest.mark.parametrize("fix", ["static", "dynamic", "none"])
def test_generate_outputs(trained_run, tmp_path, fix):
    out = tmp_path / "gen"
    dsae("generate", str(trained_run), "--out", str(out), "--fix", fix, "--n", "3", "--groups", "2")
    with np.load(out / f"generate_{fix}.npz") as z:
        assert z["x"].shape == (2, 3, 8, 32, 32, 3)
    assert (out / f"generate_{fix}.png").is_file()
    assert len(list(out.glob(f"generate_{fix}_*.gif"))) == 2


def test_generate_sampler_choice(trained_run, tmp_path):
    out = tmp_path / "gen"
    dsae("generate", str(trained_run), "--out", str(out), "--n", "2", "--groups", "1",
         "--sampler", "learnt_prior")  # fmt: skip
    with np.load(out / "generate_none.npz") as z:
        assert str(z["sampler"]) == "learnt_prior"
    # the quickstart config fits no sampler after training: there is none to choose
    proc = dsae("generate", str(trained_run), "--out", str(tmp_path / "g2"), "--sampler",
                "configured", check=False)  # fmt: skip
    assert_user_error(proc, "no configured sampler")


def test_reconstruct_outputs(trained_run, tmp_path):
    out = tmp_path / "rec"
    dsae("reconstruct", str(trained_run), "--out", str(out), "--n", "2")
    with np.load(out / "reconstructions.npz") as z:
        assert z["x"].shape == (2, 8, 32, 32, 3)


def test_user_errors_exit_2_with_one_line(tmp_path, trained_run, toy_dir):
    cfg = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"
    assert_user_error(
        dsae("train", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "r"), check=False),
        "not found",
    )
    assert_user_error(
        dsae("train", str(cfg), "--out", str(tmp_path / "r"), "--set", "model.zdim=3", check=False),
        "model.zdim",
    )
    assert_user_error(
        dsae(
            "train",
            str(cfg),
            "--out",
            str(tmp_path / "r"),
            "--set",
            "data.build_if_missing=false",
            "--set",
            f"data.root={tmp_path / 'none'}",
            check=False,
        ),
        "no dataset",
    )
    assert_user_error(
        dsae("swap", str(tmp_path / "missing"), "--out", str(tmp_path / "o"), check=False),
        "not found",
    )
    bad = tmp_path / "badrun"
    bad.mkdir()
    (bad / "checkpoint.pt").write_bytes(b"not a checkpoint")
    assert_user_error(
        dsae("generate", str(bad), "--out", str(tmp_path / "o2"), check=False), "corrupt checkpoint"
    )
    assert not (tmp_path / "o2").exists()
    assert_user_error(
        dsae("train", str(cfg), "--out", str(tmp_path / "r2"), "--resume", check=False),
        "nothing to resume",
    )
    # NaN input data

    meta = DatasetMeta("vec", 4, (3,), {"a": 2}, {"b": 2})
    x = np.full((4, 4, 3), np.nan, dtype=np.float32)
    with pytest.raises(DsaeError, match="NaN"):
        write_dataset_dir(
            tmp_path / "nan",
            {
                "train": SequenceSplit(
                    x, np.zeros((4, 1), np.int64), {"b": np.zeros(4, np.int64)}, meta
                )
            },
        )
    assert not (tmp_path / "nan").exists()


def test_quickstart_config_is_the_shipped_file():

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml")
    qs = quickstart_config("somewhere")
    assert qs.data.root == str(Path("somewhere") / "data")
    qs.data.root = cfg.data.root
    assert qs == cfg


def test_quickstart_small(tmp_path):
    out = tmp_path / "qs"
    proc = dsae(
        "quickstart", "--out", str(out), "--no-progress",
        "--set", "data.n_train=48", "--set", "data.n_test=16", "--set", "data.image_size=32",
        "--set", "train.max_steps=6", *TINY,
    )  # fmt: skip
    assert "swaps" in proc.stdout
    for rel in ["SUMMARY.txt", "training_curves.png", "swaps/swaps.png", "run/checkpoint.pt",
                "reconstructions/reconstructions.png", "generate/generate_static.png",
                "judge.pt", "eval/metrics.json", "report.html"]:  # fmt: skip
        assert (out / rel).is_file(), rel
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert {"table1", "generation"} <= set(metrics)
    page = (out / "report.html").read_text()
    assert "<table" in page and "data:image/png;base64," in page
    assert "test accuracy" in (out / "SUMMARY.txt").read_text()
    # a second quickstart reuses the model and the judge rather than training them again
    again = dsae("quickstart", "--out", str(out), "--no-progress",
                 "--set", "data.n_train=48", "--set", "data.n_test=16",
                 "--set", "data.image_size=32", "--set", "train.max_steps=6", *TINY)  # fmt: skip
    assert "already trained" in again.stdout and "judge: reusing" in again.stdout


def test_quickstart_training_ends_within_its_minutes(tmp_path):
    # a clock that moves 10 s per reading: a 1-minute budget ends the training after the
    # fourth step (the fifth would end at the deadline), whatever the machine's pace
    ticks = iter(range(0, 10**6, 10))
    out = tmp_path / "qs"
    small = ["data.n_train=48", "data.n_test=16", "train.max_steps=8", *TINY[1::2]]
    summary = run_quickstart(
        out, small, progress=False, say=lambda _: None, train_minutes=1.0,
        clock=lambda: float(next(ticks)),
    )  # fmt: skip
    ck = torch.load(out / "run" / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 4 and ck["out_of_time"] and ck["schedule_steps"] == 8
    records = [json.loads(x) for x in (out / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 4]  # the log ends at the last step
    assert "(step 4," in summary and (out / "report.html").is_file()
    # finished within its budget: a second quickstart reuses it instead of training on
    lines: list[str] = []
    run_quickstart(out, small, progress=False, say=lines.append, train_minutes=1.0)
    assert any("already trained" in line for line in lines)
    assert torch.load(out / "run" / "checkpoint.pt", weights_only=True)["step"] == 4


def test_quickstart_refuses_a_negative_training_time(tmp_path):
    out = tmp_path / "qs"
    proc = dsae("quickstart", "--out", str(out), "--train-minutes", "-1", check=False)
    assert_user_error(proc, "training minutes")
    assert not out.exists()
