"""``dsae data import`` from the command line: a folder of animated GIFs imported with labels,
trained and swapped; user errors one line with exit code 2 and no output left behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dsae.cli.main import main

TINY = [
    "--set", "model.channels=[8,16,32]", "--set", "model.decoder_channels=[8,16,32]",
    "--set", "model.frame_dim=32",
    "--set", "model.hidden_dim=32", "--set", "model.f_dim=8", "--set", "model.z_dim=4",
    "--set", "train.batch_size=8", "--set", "train.log_every=2", "--set", "train.ckpt_every=4",
    "--set", "train.lr_warmup_steps=1",
]  # fmt: skip
COLOURS = {"red": (230, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 230)}
MOVES = {"right": (0, 2), "left": (0, -2), "down": (2, 0), "up": (-2, 0)}


def dsae(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dsae.cli.main", *args], capture_output=True, text=True, timeout=600
    )


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def squares(root: Path, n: int = 24, t: int = 8, size: int = 16) -> None:
    """``n`` animated GIFs of a coloured square (colour: static) that moves in a direction
    changing half way (direction: per frame); labels.csv and moves.csv beside ``root``."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    labels, moves = ["sequence,colour"], ["sequence,frame,direction"]
    for i in range(n):
        colour = list(COLOURS)[i % 3]
        r, c = (int(v) for v in rng.integers(0, size - 4, 2))
        frames = []
        for k in range(t):
            d = list(MOVES)[(i + k // (t // 2)) % 4]
            if k:
                r, c = (r + MOVES[d][0]) % (size - 4), (c + MOVES[d][1]) % (size - 4)
            x = np.zeros((size, size, 3), np.uint8)
            x[r : r + 4, c : c + 4] = COLOURS[colour]
            frames.append(Image.fromarray(x))
            moves.append(f"clip_{i}.gif,{k},{d}")
        frames[0].save(root / f"clip_{i}.gif", save_all=True, append_images=frames[1:], loop=0)
        labels.append(f"clip_{i},{colour}")
    (root.parent / "labels.csv").write_text("\n".join(labels) + "\n")
    (root.parent / "moves.csv").write_text("\n".join(moves) + "\n")


def test_gifs_import_train_swap_end_to_end(tmp_path):
    squares(tmp_path / "clips")
    data, run = tmp_path / "squares", tmp_path / "run"
    out = ok(
        dsae(
            "data", "import", str(tmp_path / "clips"), "--out", str(data), "--name", "squares",
            "--labels", str(tmp_path / "labels.csv"), "--frame-labels", str(tmp_path / "moves.csv"),
            "--size", "32", "--resample", "nearest", "--seed", "1",
        )
    )  # fmt: skip
    assert "19 train and 5 test sequences of 8 frames (32, 32, 3)" in out
    meta = json.loads((data / "meta.json").read_text())
    assert meta["name"] == "squares"
    assert meta["static_factors"] == {"colour": 3} and meta["dynamic_factors"] == {"direction": 4}
    with np.load(data / "train.npz") as z:
        assert z["x"].shape == (19, 8, 32, 32, 3) and z["direction"].shape == (19, 8)
    cfg = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"
    ok(dsae("train", str(cfg), "--out", str(run), "--no-progress", "--set", f"data.root={data}",
            "--set", "data.build_if_missing=false", "--set", "train.max_steps=4", *TINY))  # fmt: skip
    out = ok(dsae("swap", str(run), "--out", str(tmp_path / "swaps"), "--pairs", "3"))
    png = tmp_path / "swaps" / "swaps.png"
    assert png.is_file() and Image.open(png).size[0] > 0
    with np.load(tmp_path / "swaps" / "swaps.npz") as z:
        assert z["x"].shape == (3, 8, 32, 32, 3) and z["direction"].shape == (3, 8)


def test_unlabelled_gifs_train_swap_generate_and_evaluate_what_needs_no_labels(tmp_path):
    squares(tmp_path / "clips")
    data, run, ev = tmp_path / "plain", tmp_path / "run", tmp_path / "eval"
    ok(dsae("data", "import", str(tmp_path / "clips"), "--out", str(data), "--size", "32"))
    meta = json.loads((data / "meta.json").read_text())
    assert meta["static_factors"] == {} and meta["dynamic_factors"] == {}
    cfg = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"
    ok(dsae("train", str(cfg), "--out", str(run), "--no-progress", "--set", f"data.root={data}",
            "--set", "data.build_if_missing=false", "--set", "train.max_steps=3", *TINY))  # fmt: skip
    ok(dsae("swap", str(run), "--out", str(tmp_path / "swaps"), "--pairs", "2"))
    assert (tmp_path / "swaps" / "swaps.png").is_file()
    ok(dsae("generate", str(run), "--out", str(tmp_path / "gen"), "--fix", "static", "--n", "2"))
    out = ok(dsae("evaluate", str(run), "--out", str(ev), "--no-progress"))
    metrics = json.loads((ev / "metrics.json").read_text())
    assert "reconstruction" in metrics and metrics["reconstruction"]["psnr"] > 0
    # everything that needs labels or a judge is skipped, each with its reason printed
    for name in ("table1", "generation", "swap", "latent"):
        assert name not in metrics and name in metrics["skipped"], name
        assert f"skipped {name}: {metrics['skipped'][name]}" in out
    ok(dsae("report", str(run), "--eval", str(ev), "--out", str(tmp_path / "page.html")))
    assert "reconstruction" in (tmp_path / "page.html").read_text().lower()


def test_import_help_says_how_labels_are_told_apart(capsys):
    with pytest.raises(SystemExit):
        main(["data", "import", "--help"])
    text = capsys.readouterr().out
    assert "--frame-labels" in text and "sequence,frame,<factor>" in text and "--seq-len" in text


def test_user_error_from_a_subprocess_is_one_line(tmp_path):
    squares(tmp_path / "clips", n=4)
    (tmp_path / "clips" / "clip_2.gif").write_bytes(b"GIF89a broken")
    proc = dsae("data", "import", str(tmp_path / "clips"), "--out", str(tmp_path / "ds"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("dsae: error: cannot read image") and proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clips", "labels.csv", "moves.csv"]


def _mixed(t: Path) -> list[str]:
    squares(t / "clips", n=3)
    np.save(t / "clips" / "extra.npy", np.zeros((8, 16, 16, 3), np.uint8))
    return [str(t / "clips")]


def _clips(t: Path, n: int = 3, t_len: int = 8) -> list[str]:
    squares(t / "clips", n=n, t=t_len)
    return [str(t / "clips")]


def _npy(t: Path, *arrays: np.ndarray) -> list[str]:
    (t / "arrays").mkdir()
    for i, a in enumerate(arrays):
        np.save(t / "arrays" / f"s{i}.npy", a)
    return [str(t / "arrays")]


CLI_ERRORS = {
    "missing folder": (lambda t: [str(t / "nowhere")], "not found"),
    "no sequences": (lambda t: (t / "empty").mkdir() or [str(t / "empty")], "no sequences found"),
    "mixed layouts": (_mixed, "mixed layouts"),
    "differing sizes": (
        lambda t: _npy(t, np.zeros((4, 8, 8), np.uint8), np.zeros((4, 9, 9), np.uint8)),
        "differing sizes",
    ),
    "NaN": (lambda t: _npy(t, np.zeros((4, 3)), np.full((4, 3), np.nan)), "NaN"),
    "unknown sequence": (
        lambda t: [*_clips(t), "--labels", str(t / "l.csv")],
        "not in the source folder",
    ),
    "missing labels": (lambda t: [*_clips(t), "--labels", str(t / "m.csv")], "no labels for"),
    "frame column in --labels": (
        lambda t: [*_clips(t), "--labels", str(t / "moves.csv")],
        "--frame-labels",
    ),
    "seq-len too long": (lambda t: [*_clips(t), "--seq-len", "9"], "fewer than --seq-len 9"),
    "bad test fraction": (lambda t: [*_clips(t), "--test-fraction", "0"], "--test-fraction"),
}


@pytest.mark.parametrize("case", list(CLI_ERRORS))
def test_user_errors_exit_2_with_one_line_and_no_output(tmp_path, capsys, case):
    make, fragment = CLI_ERRORS[case]
    args = make(tmp_path)
    (tmp_path / "l.csv").write_text("sequence,c\nclip_0,a\nclip_1,a\nclip_2,a\nclip_7,b\n")
    (tmp_path / "m.csv").write_text("sequence,c\nclip_0,a\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(["data", "import", *args, "--out", str(tmp_path / "ds")])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dsae: error:") and fragment in lines[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
