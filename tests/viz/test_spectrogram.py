"""Fig. 6 spectrogram pictures and the conversion scores: pure functions of arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from dsae.errors import DsaeError
from dsae.pipeline.convert_scores import f0_scores, summarise
from dsae.viz.spectrogram import bin_frequencies, plot_spectrograms


def test_bins_are_spaced_by_the_sample_rate_over_n_fft():
    hz = bin_frequencies(200, 8000, 398)
    assert hz[0] == 0 and hz[1] == pytest.approx(8000 / 398)
    assert hz[-1] == pytest.approx(4000.0)  # 200 bins of a 398-point transform reach Nyquist


def test_three_panels_side_by_side(tmp_path):
    rng = np.random.default_rng(0)
    spectra = {k: rng.normal(size=(50 + 10 * i, 128)) for i, k in enumerate(("a", "b", "c"))}
    spectra["c"][0, 0] = np.nan  # a stray non-finite value does not break the colour scale
    path = plot_spectrograms(
        spectra, tmp_path / "fig.png", sample_rate=8000, hop_length=80, n_fft=256,
        f0={"a": 120.0, "b": math.nan, "c": None}, title="t",
    )  # fmt: skip
    with Image.open(path) as im:
        assert im.format == "PNG" and im.width > 2.5 * im.height


def test_bad_spectrograms_are_refused(tmp_path):
    kw = {"sample_rate": 8000, "hop_length": 80, "n_fft": 256}
    with pytest.raises(DsaeError, match="no spectrograms"):
        plot_spectrograms({}, tmp_path / "x.png", **kw)
    with pytest.raises(DsaeError, match="expected \\(frames, bins\\)"):
        plot_spectrograms({"a": np.zeros(5)}, tmp_path / "x.png", **kw)
    assert not (tmp_path / "x.png").exists()


def test_f0_within_15_percent_counts_unvoiced_as_misses():
    s = f0_scores(np.array([100.0, 114.0, 116.0, np.nan]), np.full(4, 100.0))
    assert s["f0_within_15pct"] == 0.5  # 100 and 114 in, 116 out, the unvoiced one a miss
    assert s["f0_median_rel_error"] == pytest.approx(0.14)
    none = f0_scores(np.array([np.nan]), np.array([100.0]))
    assert none == {"f0_within_15pct": 0.0, "f0_median_rel_error": None}


def _row(a: int, b: int, judged_speaker: int, judged_label: int, sex_pair: str) -> dict:
    return {
        "source": {"speaker": a, "label": 0},
        "target": {"speaker": b, "label": 1},
        "sex_pair": sex_pair,
        "f0": {"source": 120.0, "target": 230.0, "converted": 220.0},
        "judged": {
            "converted": {"speaker": judged_speaker, "content": judged_label},
            "source": {"speaker": a, "content": 0},
        },
    }


def test_scores_name_the_target_speaker_and_the_source_word():
    rows = [_row(0, 1, 1, 0, "male->female"), _row(1, 0, 1, 0, "female->male")]
    s = summarise(rows, judged=True)
    assert s["converted"]["speaker"] == 0.5 and s["converted"]["content"] == 1.0
    assert s["source"]["speaker"] == 1.0 and s["source"]["f0_within_15pct"] == 0.0
    assert s["converted"]["f0_within_15pct"] == 1.0
    assert s["by_sex_pair"]["male->female"]["converted"]["speaker"] == 1.0
    assert s["targets"]["speaker"] == {"min": 0.9, "value": 0.5, "met": False}
    assert s["targets"]["content"]["met"] is True
    unjudged = summarise(rows, judged=False)
    assert "speaker" not in unjudged["converted"]
    assert unjudged["targets"]["speaker"] == {"min": 0.9, "value": None, "met": None}
