"""The report of a run directory: pictures drawn once and again when outdated, tables,
embedded pictures that decode, no external resources, escaping, published numbers only on
Sprites, both metrics.json layouts, a real browser rendering it, and the ``dsae report`` CLI."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from page_checks import assert_browser_shows, needs_chromium, table, tags
from PIL import Image

from dsae.config import Config
from dsae.errors import DsaeError
from dsae.pipeline.report import PUBLISHED, build_report
from dsae.train import train
from dsae.viz.plots import plot_factor_trajectories

# Text that must reach the page escaped, never as markup.
HOSTILE = "<b>bold</b> & <script>alert(1)</script>"
ODD_FACTOR = "<i>odd</i>"


def _ms(mean: float, std: float) -> dict[str, float]:
    return {"mean": mean, "std": std}


def _write_eval(eval_dir: Path, dataset: str) -> Path:
    """An evaluation folder in the layout of ``dsae evaluate``: metrics.json and two plots."""
    eval_dir.mkdir(parents=True, exist_ok=True)
    classes = np.random.default_rng(0).integers(0, 3, size=(2, 3, 8, 2))
    for name in ("fixed_f", "fixed_z"):
        plot_factor_trajectories(
            classes, eval_dir / f"trajectories_{name}.png", ["skin", "action"], [3, 3]
        )
    static = {f: {"disagreement": 25.0, "kl_recon": 0.5, "kl_random": 1.1} for f in ("skin", "top")}
    static[ODD_FACTOR] = {"disagreement": 50.0, "kl_recon": 0.75, "kl_random": 1.1}
    metrics = {
        "run": "run",
        "checkpoint_step": 6,
        "dataset": {"name": dataset, "fingerprint": "0123abcd"},
        "config": {"n_samples": 64, "repeats": 2},
        "judge": {"path": "judge/judge.pt", "info": {"test_accuracy": {"skin": 0.875}}},
        "seeds": [0, 1],
        "versions": {"dsae": "0.1.0"},
        "timing": {"total_s": 3.5},
        "plots": {
            "trajectories_fixed_f": "trajectories_fixed_f.png",
            "trajectories_fixed_z": "trajectories_fixed_z.png",
        },
        "reconstruction": {"mse": 0.0123, "psnr": 19.1, "judge_accuracy": {"skin": 81.25}},
        "table1": {
            "static": static,
            "dynamic": {"action": {"disagreement": 62.5, "kl_recon": 1.5, "kl_random": 2.2}},
        },
        "generation": {
            "z_kept_f_sampled": {
                "acc": _ms(43.75, 6.25),
                "is": _ms(1.75, 0.125),
                "h_yx": _ms(0.625, 0.25),
                "h_y": _ms(1.0625, 0.5),
                "n": 64,
            },
            "f_kept_z_sampled": {"skin": _ms(56.25, 12.5)},
        },
        "swap": {
            "n_pairs": 16,
            "static": {"skin": {"acc": 62.5, "differs": 57.5, "other_source": 12.5}},
            "dynamic": {"action": {"acc": 93.75, "differs": None, "other_source": None}},
        },
        "latent": {"DCI": {"disentanglement": 0.3125, "completeness": 0.25}, "MIG": 0.0625},
        "notes": HOSTILE,
    }
    (eval_dir / "metrics.json").write_text(json.dumps(metrics))
    return eval_dir


@dataclass
class Built:
    run: Path
    sprites_eval: Path
    toy_eval: Path
    sprites: str  # the page with a Sprites evaluation
    toy: str  # the page with a toy evaluation
    sprites_path: Path
    log: list[str]


@pytest.fixture(scope="module")
def built(tmp_path_factory, toy_dir) -> Built:
    """A tiny trained run and two reports of it (Sprites and toy evaluations)."""

    root = tmp_path_factory.mktemp("report")
    run = root / "run"
    cfg = Config.from_dict(
        {
            "data": {"name": "toy_sprites", "root": str(toy_dir), "build_if_missing": False},
            "model": {
                "channels": [8, 16, 32],
                "frame_dim": 32,
                "hidden_dim": 32,
                "f_dim": 8,
                "z_dim": 4,
            },
            "train": {
                "max_steps": 6,
                "batch_size": 16,
                "log_every": 2,
                "ckpt_every": 5,
                "progress": False,
                "lr_warmup_steps": 2,
            },
        }
    )
    train(cfg, run)
    sprites_eval = _write_eval(root / "eval_sprites", "sprites")
    toy_eval = _write_eval(root / "eval_toy", "toy_sprites")
    log: list[str] = []
    sprites_path = build_report(run, sprites_eval, out=root / "sprites.html", log=log.append)
    toy_path = build_report(run, toy_eval, out=root / "toy.html")
    return Built(
        run,
        sprites_eval,
        toy_eval,
        sprites_path.read_text(),
        toy_path.read_text(),
        sprites_path,
        log,
    )


# --- the page ----------------------------------------------------------------------------


def test_sections_and_tables_are_present(built):
    ids = {a.get("id") for _, a in tags(built.sprites)}
    for section in ("summary", "curves", "reconstructions", "swaps", "samples", "evaluation"):
        assert section in ids
    for table_id in ("dataset", "last-losses", "config-model", "config-train", "eval-setup"):
        assert table_id in ids
    for table_id in (
        "reconstruction",
        "table1",
        "generation",
        "generation-f-kept",
        "swap",
        "latent",
    ):
        assert table_id in ids
    assert "extra-notes" in ids  # an unknown key is still shown
    assert built.sprites.startswith("<!DOCTYPE html>")
    assert "<title>dsae report: run</title>" in built.sprites
    losses = table(built.sprites, "last-losses")
    assert all(f">{k}<" in losses for k in ("loss", "recon", "kl_f", "kl_z"))
    # the protocols' rates are percentages in metrics.json, shown as they are; the judge's
    # test accuracy is a fraction, shown as a percentage
    assert ">87.50<" in built.sprites
    assert "43.75 \u00b1 6.25" in table(built.sprites, "generation")
    assert "81.25" in table(built.sprites, "reconstruction")
    swap = table(built.sprites, "swap")
    assert all(v in swap for v in ("62.50", "57.50", "12.50", "93.75", "n/a"))
    # the test's metrics.json names another dataset fingerprint than the run's
    assert "fingerprints differ" in built.sprites


def test_every_image_is_an_embedded_png_or_gif(built):
    images = [a for tag, a in tags(built.sprites) if tag == "img"]
    # curves, recon png+gif, swap grid + 4 pair GIFs, 2 x (grid + 3 group GIFs), 2 plots
    assert len(images) == 1 + 2 + 5 + 8 + 2
    formats = set()
    for attrs in images:
        assert attrs.get("alt"), attrs.get("alt")
        m = re.fullmatch(r"data:image/(png|gif);base64,([A-Za-z0-9+/=]+)", attrs["src"] or "")
        assert m, (attrs["src"] or "")[:60]
        with Image.open(io.BytesIO(base64.b64decode(m.group(2), validate=True))) as im:
            im.load()
            assert im.format.lower() == m.group(1)
            assert im.width > 0 and im.height > 0
            formats.add(im.format)
    assert formats == {"PNG", "GIF"}
    pixel = [a for a in images if a.get("class") == "pixel"]
    assert len(pixel) == 15  # the pictures of sequences; plots are smooth-scaled
    assert "image-rendering: pixelated" in built.sprites


def test_page_loads_nothing_from_outside(built):
    for page in (built.sprites, built.toy):
        assert "http://" not in page and "https://" not in page
        assert "url(" not in page and "@import" not in page
        for tag, attrs in tags(page):
            assert tag not in ("link", "iframe", "object", "embed")
            for key in ("src", "href"):
                value = attrs.get(key)
                if value is not None:
                    assert value.startswith(("data:", "#")), (tag, value[:60])


def test_published_numbers_only_for_sprites(built):
    gen, t1 = table(built.sprites, "generation"), table(built.sprites, "table1")
    for model in ("DSVAE", "S3VAE", "C-DSVAE", "SKD"):
        assert f"{model} (published)" in gen
    assert gen.count('class="published"') == 4
    assert "90.73" in gen and "8.999" in gen
    # dsae's factor "top" is the published "tops"; skin and action keep their names
    for ours, theirs in (("top", "tops"), ("skin", "skin"), ("action", "action")):
        row = re.search(rf"<tr><th>{ours}</th>.*?</tr>", t1, flags=re.S).group(0)
        assert all(v in row for v in PUBLISHED["sprites"].table1[theirs]), row
    assert "Li &amp; Mandt (2018), Table 1" in built.sprites

    toy_gen, toy_t1 = table(built.toy, "generation"), table(built.toy, "table1")
    assert "published" not in toy_gen and "published" not in toy_t1
    for number in ("90.73", "8.999", "8.8859", "13.7510", "C-DSVAE"):
        assert number not in built.toy


def test_text_is_escaped(built):
    for page in (built.sprites, built.toy):
        assert HOSTILE not in page and ODD_FACTOR not in page
        assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&lt;i&gt;odd&lt;/i&gt;" in table(page, "table1")
        assert page.count("<script") == 1  # the page's own image counter


def test_pictures_are_drawn_once_and_redrawn_when_outdated(built, tmp_path):
    assets = built.run / "report_assets"
    assert len(built.log) == 4  # reconstructions, swaps, f fixed, z fixed
    for name in ("reconstructions/reconstructions.png", "swaps/swaps.png"):
        assert (assets / name).is_file()
    log: list[str] = []
    build_report(built.run, out=tmp_path / "again.html", log=log.append)
    assert log == []
    # a picture older than the checkpoint is stale: only its group is drawn again
    marker = assets / "swaps" / "swaps.png"
    ckpt_time = (built.run / "checkpoint.pt").stat().st_mtime
    os.utime(marker, (ckpt_time - 100, ckpt_time - 100))
    build_report(built.run, out=tmp_path / "again.html", log=log.append)
    assert len(log) == 1 and "swaps" in log[0]
    assert marker.stat().st_mtime >= ckpt_time


def test_per_sampler_metrics_on_sprites(built, tmp_path):
    """A metrics.json with one result per sampler: the learnt prior beside the published rows."""
    old = json.loads((built.sprites_eval / "metrics.json").read_text())
    per_sampler = {
        "checkpoint_step": old["checkpoint_step"],
        "data": {"name": "sprites", "fingerprint": "0123abcd"},
        "judge": old["judge"],
        "samplers": ["learnt_prior", "aggregate"],
        "compared_with_published": "learnt_prior",
        "skipped": {"trajectories": "no per-frame labels"},
        "table1": {"learnt_prior": old["table1"], "aggregate": old["table1"]},
        "generation": {"learnt_prior": old["generation"], "aggregate": old["generation"]},
        "swap": old["swap"],
    }
    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    (eval_dir / "metrics.json").write_text(json.dumps(per_sampler))
    page = build_report(built.run, eval_dir, out=tmp_path / "r.html").read_text()
    gen = table(page, "generation")
    assert gen.count('class="published"') == 4 and gen.count('class="posthoc"') == 1
    assert "dsae, learnt_prior (this run, n = 64)" in gen
    assert 'id="table1-aggregate"' in page
    assert "trajectories not run: no per-frame labels" in page
    assert "Sampler: learnt_prior." in page  # the generation pictures name their sampler


def test_without_evaluation_there_is_no_evaluation_section(built, tmp_path):
    page = build_report(built.run, out=tmp_path / "plain.html").read_text()
    assert 'id="evaluation"' not in page and 'id="table1"' not in page
    assert 'id="summary"' in page


def test_missing_run_and_unreadable_metrics_are_user_errors(built, tmp_path):
    with pytest.raises(DsaeError, match="run directory not found"):
        build_report(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DsaeError, match="not a run directory"):
        build_report(tmp_path / "empty")
    with pytest.raises(DsaeError, match="evaluation directory not found"):
        build_report(built.run, tmp_path / "no_eval", out=tmp_path / "r.html")
    bad = tmp_path / "bad_eval"
    bad.mkdir()
    with pytest.raises(DsaeError, match="no metrics.json"):
        build_report(built.run, bad, out=tmp_path / "r.html")
    (bad / "metrics.json").write_text("{not json")
    with pytest.raises(DsaeError, match="unreadable"):
        build_report(built.run, bad, out=tmp_path / "r.html")
    (bad / "metrics.json").write_text("[1, 2]")
    with pytest.raises(DsaeError, match="JSON object"):
        build_report(built.run, bad, out=tmp_path / "r.html")


# --- a real browser ----------------------------------------------------------------------


@needs_chromium
def test_chromium_loads_every_image_and_shows_the_tables(built, tmp_path):
    assert_browser_shows(
        built.sprites_path,
        ("table1", "generation", "reconstruction", "latent", "dataset"),
        tmp_path,
    )


# --- the command line --------------------------------------------------------------------


def _dsae(*args: str) -> subprocess.CompletedProcess:
    # as the console script calls it
    entry = "import sys; from dsae.cli.main import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", entry, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_report_end_to_end(built, tmp_path):
    out = tmp_path / "cli" / "report.html"
    proc = _dsae("report", str(built.run), "--eval", str(built.toy_eval), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert str(out) in proc.stdout
    page = out.read_text()
    assert 'id="table1"' in page and 'id="generation"' in page


def test_cli_report_default_path(built):
    proc = _dsae("report", str(built.run))
    assert proc.returncode == 0, proc.stderr
    assert (built.run / "report.html").is_file()


@pytest.mark.parametrize("case", ["missing_run", "bad_metrics"])
def test_cli_report_user_errors(built, tmp_path, case):
    if case == "missing_run":
        args, fragment = [str(tmp_path / "nope")], "run directory not found"
    else:
        bad = tmp_path / "bad"
        bad.mkdir()
        (bad / "metrics.json").write_text("{")
        args, fragment = (
            [str(built.run), "--eval", str(bad), "--out", str(tmp_path / "r.html")],
            "unreadable",
        )
    proc = _dsae("report", *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dsae: error:"), proc.stderr
    assert fragment in lines[0]
