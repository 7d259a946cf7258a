"""The style protocol on drawn bars whose style is known: a disentangled stand-in keeps the
class with f and the style with z_1:T, an unrelated one keeps neither; determinism, the
sampler, constant states, and when the protocol is skipped."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from eval_coded import LabelCodec, balanced_labels, coded_split
from eval_digits import BarCodec, CornerJudge, K, OneStyle, Unrelated, bar_split

from dsae.config import ModelConfig
from dsae.data.base import DatasetMeta
from dsae.errors import DsaeError
from dsae.eval import PROTOCOLS, evaluate, format_style, select_protocols, style_protocol
from dsae.eval.protocols import skip_reason
from dsae.eval.protocols.style import pearson
from dsae.models import DSAE
from dsae.viz.report_eval import eval_section

MEASURED = ["slant", "thickness", "width", "height"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def split():
    return bar_split(64, seed=1)


def test_pearson_known_answers():
    a = np.arange(10.0)
    assert pearson(a, 3 * a + 1) == pytest.approx(1.0)
    assert pearson(a, -a) == pytest.approx(-1.0)
    assert pearson(a, np.full(10, 0.1)) is None and pearson(np.ones(3), a[:3]) is None
    assert pearson(a[:1], a[:1]) is None
    rng = np.random.default_rng(0)
    assert abs(pearson(rng.normal(size=5000), rng.normal(size=5000))) < 0.05
    with pytest.raises(ValueError):
        pearson(a, a[:5])


def test_disentangled_model_keeps_class_with_f_and_style_with_z(split):
    out = style_protocol(BarCodec(), split, CornerJudge(), seed=0)
    assert out["n_sequences"] == 64 and out["states"] == MEASURED
    assert set(out) == {"n_sequences", "states", "f_kept", "z_kept", "reconstruction"}
    rec, f, z = out["reconstruction"], out["f_kept"], out["z_kept"]
    assert rec["accuracy"] == {"digit": 1.0}
    for s in ("slant", "thickness", "width"):
        assert rec["correlation"][s] == pytest.approx(1.0, abs=1e-6)
        assert z["correlation"][s] > 0.98  # only the faint class pixel differs
        assert abs(f["correlation"][s]) < 0.3  # 256 frames of unrelated styles
    # every bar spans the same rows: the height is constant and r undefined
    assert all(part["correlation"]["height"] is None for part in (rec, f, z))
    assert f["accuracy"] == {"digit": 1.0}
    assert abs(z["accuracy"]["digit"] - 1 / K) < 0.2
    assert json.loads(json.dumps(out, allow_nan=False)) == out


def test_unrelated_model_keeps_nothing(split):
    out = style_protocol(Unrelated(), split, CornerJudge(), seed=0)
    for kind in ("f_kept", "z_kept", "reconstruction"):
        assert abs(out[kind]["accuracy"]["digit"] - 1 / K) < 0.2
        for s in ("slant", "thickness", "width"):
            assert abs(out[kind]["correlation"][s]) < 0.3


def test_same_seed_same_numbers_whatever_the_batch(split):
    codec, judge = BarCodec(), CornerJudge()
    out = style_protocol(codec, split, judge, seed=3)
    assert style_protocol(codec, split, judge, seed=3, batch_size=7) == out
    assert style_protocol(codec, split, judge, seed=4)["f_kept"] != out["f_kept"]
    assert style_protocol(codec, split, judge, seed=3, sampler=codec) == out  # own priors


def test_the_sampler_is_used_and_constant_states_give_none(split):
    out = style_protocol(BarCodec(), split, CornerJudge(), sampler=OneStyle())
    # f kept, one style drawn for every frame: only the class pixel moves the slant a little
    cor = out["f_kept"]["correlation"]
    assert cor == {**dict.fromkeys(MEASURED), "slant": cor["slant"]} and abs(cor["slant"]) < 0.3
    assert out["f_kept"]["accuracy"] == {"digit": 1.0}
    digit = split.static[:, 0]
    assert out["z_kept"]["accuracy"]["digit"] == pytest.approx(np.mean(digit == 0))
    assert out["z_kept"]["correlation"]["slant"] > 0.98


def test_without_a_judge_accuracy_is_empty(split):
    out = style_protocol(BarCodec(), split, None)
    assert all(out[k]["accuracy"] == {} for k in ("f_kept", "z_kept", "reconstruction"))
    assert out["reconstruction"]["correlation"]["slant"] == pytest.approx(1.0, abs=1e-6)


def test_untrained_dsae_gives_numbers_in_range():
    torch.manual_seed(0)
    cfg = ModelConfig(channels=[8, 16], frame_dim=16, hidden_dim=16, f_dim=4, z_dim=3)
    model = DSAE(cfg, (1, 28, 28)).eval()
    out = style_protocol(model, bar_split(12, seed=2), CornerJudge(), batch_size=5)
    for kind in ("f_kept", "z_kept", "reconstruction"):
        assert 0.0 <= out[kind]["accuracy"]["digit"] <= 1.0
        assert all(r is None or -1.0 <= r <= 1.0 for r in out[kind]["correlation"].values())


def test_refuses_data_it_cannot_measure():
    split = bar_split(8, seed=3, name="my_bars")
    with pytest.raises(DsaeError, match="cannot measure"):
        style_protocol(BarCodec(), split, CornerJudge())


# -- selection and the evaluation's outputs ---------------------------------------------------
def test_registered_after_generation_and_skipped_without_measurable_frames():
    names = list(PROTOCOLS)
    assert names.index("style") == names.index("generation") + 1
    spec = PROTOCOLS["style"]
    assert spec.judge and spec.sampler and spec.measured
    toy = DatasetMeta("toy_sprites", 8, (64, 64, 3), {"body": 3}, {"action": 3})
    reason = skip_reason(spec, toy, True, LabelCodec(), False)
    assert reason == (
        "needs frames whose style dsae can measure (digits, fashion), "
        "which toy_sprites does not have"
    )
    # a dataset named digits that stores no states has no true value to compare with
    bare = bar_split(8, seed=4, states=False).meta
    assert skip_reason(spec, bare, True, BarCodec(), False) is not None
    fashion = bar_split(8, seed=4, name="fashion").meta
    chosen, skipped = select_protocols(fashion, True, BarCodec())
    assert "style" in chosen and "style" not in skipped
    _, skipped = select_protocols(fashion, False, BarCodec())
    assert "judge" in skipped["style"]


def test_evaluate_reports_one_row_per_sampler_as_text_and_html(split, tmp_path):
    codec = BarCodec()
    out = evaluate(
        codec,
        split,
        CornerJudge(),
        {"learnt_prior": codec, "one_style": OneStyle()},
        repeats=1,
        protocols=["style"],
    )
    assert list(out["style"]) == ["learnt_prior", "one_style"]
    assert out["style"]["learnt_prior"] == style_protocol(codec, split, CornerJudge())
    text = format_style(out["style"])
    assert "f kept" in text and "z_1:T kept" in text and "digit 100.0%" in text
    assert "height n/a" in text and len([ln for ln in text.splitlines() if "one_style" in ln]) == 3
    html = eval_section(out, tmp_path, {})
    assert 'id="style"' in html and 'id="style-one_style"' in html and "r slant" in html
    # the coded data (no measurable frames) skip it with the reason
    coded = coded_split(*balanced_labels(2, seed=5), seed=5)
    skipped = evaluate(LabelCodec(), coded, None, repeats=1, protocols=["reconstruction"])[
        "skipped"
    ]
    assert skipped["style"].startswith("needs frames whose style dsae can measure")
