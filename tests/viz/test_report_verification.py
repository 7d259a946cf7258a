"""The report's speaker-verification part: EER and probe tables, the ROC plot, and Li & Mandt's
TIMIT table for reference beside a speaker (not beside other static factors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from page_checks import table, tags
from PIL import Image

from dsae.errors import DsaeError
from dsae.viz.plots import plot_roc_curves
from dsae.viz.report_eval import eval_section
from dsae.viz.report_samplers import PublishedTables

TIMIT = PublishedTables(
    verification=(("i-vector", "i-vector", "200", "9.82"), ("DSVAE, full q", "mu_f", "64", "4.82"))
)


def _curve(bend: float) -> dict[str, list[float]]:
    fpr = np.linspace(0, 1, 21)
    return {"fpr": fpr.tolist(), "tpr": (fpr**bend).tolist()}


def _verification(factor: str = "speaker") -> dict:
    return {
        "grouping": "utterance",
        "n_groups": 300,
        "n_test_groups": 300,
        "n_pairs": 44850,
        "eer": {factor: {"mu_f": 0.012, "mu_z": 0.41}},
        "dims": {"mu_f": 16, "mu_z": 8},
        "probe": {"digit": {"mu_f": 0.18, "mu_z": 0.95}, factor: {"mu_f": 0.99, "mu_z": 0.3}},
        "probe_chance": {"digit": 0.1, factor: 0.2},
        "probe_fit": {"on": "training split", "n_fit": 900, "n_test": 300},
        "roc": {factor: {"mu_f": _curve(0.05), "mu_z": _curve(0.8)}},
        "notes": ["digit: something worth saying"],
    }


def test_roc_plot(tmp_path):
    ver = _verification()
    path = plot_roc_curves(ver["roc"], tmp_path / "roc.png", ver["eer"], title="ROC")
    with Image.open(path) as im:
        assert im.size[0] > 200 and im.size[1] > 200
    with pytest.raises(DsaeError, match="no ROC"):
        plot_roc_curves({}, tmp_path / "none.png")
    bad = {"speaker": {"mu_f": {"fpr": [0, 1], "tpr": [0, 0.5, 1]}}}
    with pytest.raises(DsaeError, match="differ in shape"):
        plot_roc_curves(bad, tmp_path / "bad.png")


def test_tables_plot_and_published_reference(tmp_path):
    ver = _verification()
    plot_roc_curves(ver["roc"], tmp_path / "verification_roc.png", ver["eer"])
    ver["plot"] = "verification_roc.png"
    html = eval_section({"verification": ver}, tmp_path, {}, TIMIT)
    eer = table(html, "verification")
    assert "speaker" in eer and "1.20" in eer and "41.00" in eer and ">16<" in eer
    probe = table(html, "verification-probe")
    assert "95.00" in probe and "18.00" in probe and "10.00" in probe
    published = table(html, "verification-published")
    assert "9.82" in published and "4.82" in published and "i-vector" in published
    assert "44850 pairs" in html and "something worth saying" in html
    assert sum(1 for t, _ in tags(html) if t == "img") == 1

    other = _verification("colour")  # Sprites-like: no speaker, no TIMIT table
    html = eval_section({"verification": other}, tmp_path, {}, TIMIT)
    assert "colour" in table(html, "verification") and "verification-published" not in html
    assert not any(t == "img" for t, _ in tags(html))  # no plot file named


def test_unexpected_results_still_render(tmp_path):
    html = eval_section({"verification": {"odd": 1}}, tmp_path, {}, None)
    assert "odd" in html
    html = eval_section({"verification": _verification()}, Path(tmp_path), {}, None)
    assert "verification-published" not in html
