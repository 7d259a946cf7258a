"""The report page from plain data (no run, no checkpoint): sections and tables, one row per
generation sampler, skipped protocols, an older metrics.json, published numbers only when
given, embedded pictures, escaping, and a real browser rendering it."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from page_checks import assert_browser_shows, needs_chromium, table, tags
from PIL import Image

from dsae.viz.gif import save_gif
from dsae.viz.grid import save_png, sequence_grid, swap_grid
from dsae.viz.plots import plot_factor_trajectories, plot_training_curves
from dsae.viz.report import PictureSet, PublishedTables, ReportInputs, build_page

# Text that must reach the page escaped, never as markup.
HOSTILE = "<b>bold</b> & <script>alert(1)</script>"
ODD_FACTOR = "<i>odd</i>"
POSTHOC = "post-hoc sampler, not the published protocol"
PUBLISHED = PublishedTables(
    generation=(("DSVAE", "90.73", "8.384", "0.072", "2.192"), ("SKD", "100", "8.999", "0", "2.2")),
    table1={"tops": ("0.34", "0.0647", "8.9173"), "action": ("8.11", "0.9027", "13.7510")},
    factor_names={"top": "tops"},
)
RUN = {
    "name": "run",
    "path": "/runs/run",
    "dataset": "toy_sprites",
    "step": 6,
    "wall_time": 75.0,
    "data": {
        "root": "/data/toy",
        "fingerprint": "ffff0000",
        "meta": {
            "name": "toy_sprites",
            "seq_len": 4,
            "frame_shape": [8, 8, 3],
            "static_factors": {"top": 3},
            "dynamic_factors": {"action": 3},
        },
    },
    "version": "0.1.0",
    "config": {"model": {"f_dim": 8, "z_dim": 4}, "train": {"max_steps": 6}},
    "notes": [],
}
RECORDS = [
    {"step": s, "loss": 10.0 / s, "recon": 9.0 / s, "kl_f": 0.5, "kl_z": 0.25, "seq_per_s": 50.0}
    for s in (2, 4, 6)
]


def _ms(mean: float, std: float) -> dict[str, float]:
    return {"mean": mean, "std": std}


def _table1(dis: float) -> dict:
    static = {f: {"disagreement": dis, "kl_recon": 0.5, "kl_random": 1.1} for f in ("top",)}
    static[ODD_FACTOR] = {"disagreement": 50.0, "kl_recon": 0.75, "kl_random": 1.1}
    return {
        "static": static,
        "dynamic": {"action": {"disagreement": 62.5, "kl_recon": 1.5, "kl_random": 2.2}},
    }


def _generation(acc: float) -> dict:
    return {
        "z_kept_f_sampled": {
            "acc": _ms(acc, 6.25),
            "is": _ms(1.75, 0.125),
            "h_yx": _ms(0.625, 0.25),
            "h_y": _ms(1.0625, 0.5),
            "n": 64,
        },
        "f_kept_z_sampled": {"top": _ms(acc + 10, 12.5)},
    }


def _old_metrics(eval_dir: Path) -> dict:
    """A metrics.json written before generation samplers: one plain result per protocol."""
    classes = np.random.default_rng(0).integers(0, 3, size=(2, 3, 4, 2))
    for name in ("fixed_f", "fixed_z"):
        plot_factor_trajectories(
            classes, eval_dir / f"trajectories_{name}.png", ["top", "action"], [3, 3]
        )
    return {
        "checkpoint_step": 6,
        "dataset": {"name": "sprites", "fingerprint": "0123abcd"},
        "judge": {"path": "judge.pt", "info": {"test_accuracy": {"top": 0.875}}},
        "plots": {
            "trajectories_fixed_f": "trajectories_fixed_f.png",
            "trajectories_fixed_z": "trajectories_fixed_z.png",
        },
        "reconstruction": {"mse": 0.0123, "psnr": 19.1, "judge_accuracy": {"top": 81.25}},
        "table1": _table1(25.0),
        "generation": _generation(43.75),
        "swap": {
            "n_pairs": 16,
            "static": {"top": {"acc": 62.5, "differs": 57.5, "other_source": 12.5}},
            "dynamic": {"action": {"acc": 93.75, "differs": None, "other_source": None}},
        },
        "latent": {"DCI": {"disentanglement": 0.3125, "completeness": 0.25}, "MIG": 0.0625},
        "notes": HOSTILE,
    }


def _new_metrics(eval_dir: Path) -> dict:
    """A metrics.json with one result per generation sampler and a skipped protocol."""
    classes = np.random.default_rng(1).integers(0, 3, size=(2, 3, 4, 2))
    trajectories = {}
    for sampler in ("learnt_prior", "aggregate"):
        path = eval_dir / f"trajectories_{sampler}.png"
        plot_factor_trajectories(classes, path, ["top", "action"], [3, 3])
        trajectories[sampler] = {"plots": {"fixed_f": path.name}, "switches": 0.25}
    return {
        "checkpoint_step": 6,
        "versions": {"dsae": "0.1.0"},
        "data": {"name": "toy_sprites", "fingerprint": "ffff0000"},
        "judge": {"path": "judge.pt", "info": {"test_accuracy": {"top": 0.875}}},
        "samplers": ["learnt_prior", "aggregate"],
        "compared_with_published": "learnt_prior",
        "skipped": {"latent": "the data has no per-frame labels"},
        "reconstruction": {"mse": 0.0123, "snr_db": 12.5},
        "table1": {"learnt_prior": _table1(25.0), "aggregate": _table1(12.5)},
        "generation": {"learnt_prior": _generation(43.75), "aggregate": _generation(71.25)},
        "trajectories": trajectories,
        "swap": {"n_pairs": 4, "static": {"top": {"acc": 75.0, "differs": 70.0}}},
    }


def _pictures(root: Path) -> tuple[dict[str, PictureSet], Path]:
    """Small picture sets drawn from random frames, and a training-curves plot."""
    rng = np.random.default_rng(0)
    seqs = rng.integers(0, 256, size=(4, 4, 8, 8, 3), dtype=np.uint8)
    rec, sw, gen = root / "reconstructions", root / "swaps", root / "generate"
    pictures = {
        "reconstructions": PictureSet(
            save_png(sequence_grid(seqs, row_labels=["data 0", "recon"] * 2), rec / "r.png"),
            [save_gif(seqs, rec / "r.gif")],
        ),
        "swaps": PictureSet(
            save_png(swap_grid(seqs[:1], seqs[1:2], seqs[2:3]), sw / "swaps.png"),
            [save_gif(seqs[:3], sw / "swap_00.gif")],
        ),
        "generate_static": PictureSet(
            save_png(sequence_grid(seqs), gen / "generate_static.png"),
            [save_gif(seqs[:2], gen / "generate_static_00.gif")],
            sampler="aggregate",
        ),
        "generate_dynamic": PictureSet(missing="no usable checkpoint in /runs/run"),
    }
    return pictures, plot_training_curves(RECORDS, root / "curves.png")


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("page")
    pictures, curves = _pictures(root)
    old_dir, new_dir = root / "eval_old", root / "eval_new"
    old_dir.mkdir()
    new_dir.mkdir()
    common = dict(run=RUN, records=RECORDS, pictures=pictures, curves=curves, written="now")
    pages = {
        "old": build_page(
            ReportInputs(
                **common, metrics=_old_metrics(old_dir), eval_dir=old_dir, published=PUBLISHED
            )
        ),
        "old_unpublished": build_page(
            ReportInputs(**common, metrics=_old_metrics(old_dir), eval_dir=old_dir)
        ),
        "new": build_page(
            ReportInputs(
                **common, metrics=_new_metrics(new_dir), eval_dir=new_dir, published=PUBLISHED
            )
        ),
        "plain": build_page(ReportInputs(**common)),
    }
    (root / "new.html").write_text(pages["new"])
    pages["new_path"] = str(root / "new.html")
    return pages


def _row(table: str, label: str) -> str:
    m = re.search(rf"<tr[^>]*><th>{re.escape(label)}</th>.*?</tr>", table, flags=re.S)
    assert m, f"no row {label}"
    return m.group(0)


# --- the page ----------------------------------------------------------------------------


def test_sections_and_tables_from_plain_data(pages):
    page = pages["old"]
    ids = {a.get("id") for _, a in tags(page)}
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
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>dsae report: run</title>" in page
    assert ">87.50<" in page  # the judge's test accuracy, a fraction, as a percentage
    assert "43.75 \u00b1 6.25" in table(page, "generation")
    assert "81.25" in table(page, "reconstruction")
    swap = table(page, "swap")
    assert all(v in swap for v in ("62.50", "57.50", "12.50", "93.75", "n/a"))
    assert "fingerprints differ" in page  # metrics.json names another dataset than the run's
    assert "1 min 15 s" in page  # wall time
    assert 'id="evaluation"' not in pages["plain"] and 'id="summary"' in pages["plain"]


def test_one_row_per_sampler_beside_the_published_rows(pages):
    gen = table(pages["new"], "generation")
    ours = _row(gen, "dsae, learnt_prior (this run, n = 64)")
    assert 'class="ours"' in ours and "43.75 \u00b1 6.25" in ours
    posthoc = _row(gen, f"dsae, aggregate ({POSTHOC}, n = 64)")
    assert 'class="posthoc"' in posthoc and "71.25 \u00b1 6.25" in posthoc
    # the learnt prior, then the published rows, then the post-hoc samplers in their group
    order = [gen.index(s) for s in ("learnt_prior", "DSVAE (published)", "Post-hoc", "aggregate")]
    assert order == sorted(order)
    assert gen.count('class="published"') == 2
    # Table 1: the learnt prior beside the published numbers, the other sampler alone
    t1 = table(pages["new"], "table1")
    assert all(v in _row(t1, "top") for v in ("25.00", "0.34", "0.0647", "8.9173"))
    other = table(pages["new"], "table1-aggregate")
    assert "12.50" in _row(other, "top") and "published" not in other
    assert f"Sampler aggregate ({POSTHOC})" in pages["new"]
    # f kept, z sampled: one column per sampler
    f_kept = table(pages["new"], "generation-f-kept")
    assert "learnt_prior %" in f_kept and "aggregate %" in f_kept
    assert "53.75" in f_kept and "81.25" in f_kept
    # trajectories: each sampler's plot and numbers under its own label
    assert 'id="trajectories"' in pages["new"] and 'id="trajectories-aggregate"' in pages["new"]
    assert "<th>samplers</th>" in pages["new"] and "compared with published numbers" in pages["new"]
    assert "SNR (dB)" in table(pages["new"], "reconstruction")


def test_skipped_protocols_are_named_with_their_reason(pages):
    page = pages["new"]
    assert "latent not run: the data has no per-frame labels" in page
    assert 'id="latent"' not in page
    assert "fingerprints differ" not in page  # the same dataset as the run's


def test_published_numbers_only_when_given(pages):
    gen, t1 = table(pages["old"], "generation"), table(pages["old"], "table1")
    assert "DSVAE (published)" in gen and "SKD (published)" in gen
    assert gen.count('class="published"') == 2
    assert 'class="ours"' in _row(gen, "dsae (this run, n = 64)")
    # dsae's factor "top" is the published "tops"; action keeps its name
    for ours, theirs in (("top", "tops"), ("action", "action")):
        assert all(v in _row(t1, ours) for v in PUBLISHED.table1[theirs])
    assert "Li &amp; Mandt (2018), Table 1" in pages["old"]
    plain = pages["old_unpublished"]
    assert "published" not in table(plain, "generation") and "published" not in table(
        plain, "table1"
    )
    for number in ("90.73", "8.999", "8.9173", "13.7510", "DSVAE"):
        assert number not in plain


def test_every_image_is_an_embedded_png_or_gif(pages):
    images = [a for tag, a in tags(pages["old"]) if tag == "img"]
    # curves, recon png+gif, swap grid + 1 GIF, static grid + 1 GIF, 2 plots
    assert len(images) == 1 + 2 + 2 + 2 + 2
    formats = set()
    for attrs in images:
        assert attrs.get("alt")
        m = re.fullmatch(r"data:image/(png|gif);base64,([A-Za-z0-9+/=]+)", attrs["src"] or "")
        assert m, (attrs["src"] or "")[:60]
        with Image.open(io.BytesIO(base64.b64decode(m.group(2), validate=True))) as im:
            im.load()
            assert im.format.lower() == m.group(1) and im.width > 0
            formats.add(im.format)
    assert formats == {"PNG", "GIF"}
    assert len([a for a in images if a.get("class") == "pixel"]) == 6  # plots are smooth
    # the set that could not be drawn says why; generations name their sampler
    assert "no generations with z fixed: no usable checkpoint in /runs/run" in pages["old"]
    assert "Sampler: aggregate." in pages["old"]


def test_page_loads_nothing_from_outside(pages):
    for key in ("old", "new", "plain"):
        page = pages[key]
        assert "http://" not in page and "https://" not in page
        assert "url(" not in page and "@import" not in page
        for tag, attrs in tags(page):
            assert tag not in ("link", "iframe", "object", "embed")
            for name in ("src", "href"):
                value = attrs.get(name)
                if value is not None:
                    assert value.startswith(("data:", "#")), (tag, value[:60])


def test_text_is_escaped(pages):
    for key in ("old", "new"):
        page = pages[key]
        assert ODD_FACTOR not in page and HOSTILE not in page
        assert "&lt;i&gt;odd&lt;/i&gt;" in table(page, "table1")
        assert page.count("<script") == 1  # the page's own image counter
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in pages["old"]


def test_viz_needs_no_training_evaluation_or_pipeline():
    code = (
        "import sys, dsae.viz.report, dsae.viz.gif, dsae.viz.plots; "
        "bad = [m for m in sys.modules if m.startswith(('dsae.train', 'dsae.eval', "
        "'dsae.pipeline', 'dsae.models', 'dsae.cli'))]; print(bad); assert not bad"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- a real browser ----------------------------------------------------------------------


@needs_chromium
def test_chromium_loads_every_image_and_shows_the_tables(pages, tmp_path):
    tables = ("table1", "table1-aggregate", "generation", "reconstruction", "dataset")
    assert_browser_shows(Path(pages["new_path"]), tables, tmp_path)
