"""Speaker verification end to end on a run over vector frames grouped in utterances:
``dsae evaluate`` scores it (metrics.json, the ROC plot, the printed summary) and the report
shows its tables beside Li & Mandt's TIMIT table."""

from __future__ import annotations

import json

import pytest
import torch
from eval_vectors import vector_split

from dsae.cli.main import main
from dsae.config import Config
from dsae.data.base import write_dataset_dir
from dsae.pipeline.report import build_report
from dsae.train import train


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_evaluate_and_report_a_speech_like_run(tmp_path, capsys):
    data = write_dataset_dir(
        tmp_path / "data", {"train": vector_split(30, seed=0), "test": vector_split(16, seed=1)}
    )
    cfg = Config.from_dict(
        {
            "data": {"name": "vectors", "root": str(data), "build_if_missing": False},
            "model": {"frame_net": "mlp", "channels": [16], "frame_dim": 16, "hidden_dim": 16,
                      "f_dim": 4, "z_dim": 3},
            "train": {"max_steps": 2, "batch_size": 8, "lr_warmup_steps": 1, "threads": 1,
                      "progress": False, "log_every": 1},
        }
    )  # fmt: skip
    run, ev = tmp_path / "run", tmp_path / "eval"
    train(cfg, run)
    assert main(["evaluate", str(run), "--out", str(ev), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "verification (16 utterances, 120 pairs): EER speaker mu_f " in printed
    assert "probes (fitted on the training split): speaker from mu_f" in printed
    metrics = json.loads((ev / "metrics.json").read_text())
    ver = metrics["verification"]
    assert ver["grouping"] == "utterance" and ver["dims"] == {"mu_f": 4, "mu_z": 3}
    assert ver["probe_fit"] == {"on": "training split", "n_fit": 30, "n_test": 16}
    assert set(ver["probe"]) == {"speaker", "digit"}
    assert all(0.0 <= v <= 1.0 for v in ver["eer"]["speaker"].values())
    assert (ev / ver["plot"]).is_file() and ver["plot"] in metrics["plots"]

    page = build_report(run, ev, tmp_path / "page.html").read_text()
    for table_id in ("verification", "verification-probe", "verification-published"):
        assert f'id="{table_id}"' in page, table_id
    assert "22.47" in page  # FHVAE's mu_1 row of Li & Mandt (2018), Table 2
