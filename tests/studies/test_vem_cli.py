"""``dsae study vem`` end to end, as a subprocess on a tiny grid."""

from __future__ import annotations

import json
import subprocess
import sys

from PIL import Image


def dsae(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dsae.cli.main", *args], capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def test_study_vem_writes_curves_table_and_figures(tmp_path):
    out = tmp_path / "vem"
    proc = dsae("study", "vem", "--out", str(out), "--seeds", "2", "--grid", "7",
                "--sequences", "20", "--no-progress", "--threads", "1")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "bias of argmax ELBO - argmax log-likelihood" in proc.stdout
    assert "sigma_x=0.3" in proc.stdout and "sigma_z=1" in proc.stdout
    results = json.loads((out / "vem.json").read_text())
    assert len(results["settings"]["grid"]) == 7 and results["settings"]["seeds"] == 2
    case = results["cases"]["sigma_x=0.5"]
    assert len(case["curves"]["elbo_full"]) == 2 and len(case["curves"]["elbo_full"][0]) == 7
    assert set(results["bias"]["sigma_z=0.5"]) == set(case["curves"])
    for name in ("fig3.png", "fig4.png"):
        with Image.open(out / name) as im:
            assert im.size[0] > 300


def test_study_vem_bad_arguments_are_one_line_errors(tmp_path):
    for args, fragment in ((["--seeds", "0"], "--seeds"), (["--grid", "2"], "--grid"),
                           (["--sequences", "1"], "--sequences")):  # fmt: skip
        proc = dsae("study", "vem", "--out", str(tmp_path / "x"), *args, "--no-progress")
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("dsae: error:") and fragment in lines[0]
    (tmp_path / "file").write_text("")
    proc = dsae("study", "vem", "--out", str(tmp_path / "file"), "--no-progress")
    assert proc.returncode == 2 and "is a file" in proc.stderr
