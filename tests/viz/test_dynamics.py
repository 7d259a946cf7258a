"""Pictures of predicted dynamics: overlay colours (Li & Mandt 2018, Fig. 7), the labelled
figure of overlays and the imputation plot (Fig. 8) as readable PNGs of the expected size."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dsae.errors import DsaeError
from dsae.viz.dynamics import overlay, overlay_figure, plot_imputation

T, H, W = 6, 8, 10


def dot_sequence() -> np.ndarray:
    """(T, H, W) uint8: frame t has one pixel on, at (2, t), and frame 0 also at (5, 5)."""
    x = np.zeros((T, H, W), dtype=np.uint8)
    for t in range(T):
        x[t, 2, t] = 255
    x[0, 5, 5] = 255
    return x


def is_green(px: np.ndarray) -> bool:
    return px[1] > 0 and px[0] == 0 and px[2] == 0


def is_grey(px: np.ndarray) -> bool:
    return px[0] > 0 and px[0] == px[1] == px[2]


def test_an_observed_only_sequence_is_grey_and_brightens_with_time():
    img = overlay(dot_sequence())
    assert img.shape == (H, W, 3) and img.dtype == np.uint8
    assert not any(is_green(px) for px in img.reshape(-1, 3))
    levels = [int(img[2, t, 0]) for t in range(T)]
    assert all(is_grey(img[2, t]) for t in range(T))
    assert levels == sorted(levels) and len(set(levels)) == T and levels[-1] == 255
    assert (img[0] == 0).all()  # pixels never on stay black


def test_predicted_frames_are_green_observed_grey():
    img = overlay(dot_sequence(), observed=3)
    assert all(is_grey(img[2, t]) for t in range(3))
    assert all(is_green(img[2, t]) for t in range(3, T))
    assert img[2, T - 1, 1] == 255 and img[2, 3, 1] < img[2, 4, 1]


def test_later_frames_win_where_frames_overlap():
    x = dot_sequence()
    x[T - 1, 5, 5] = 255  # the last (predicted) frame covers frame 0's pixel
    img = overlay(x, observed=2)
    assert is_green(img[5, 5]) and img[5, 5, 1] == 255


def test_every_layout_and_dtype_gives_the_same_picture():
    x = dot_sequence()
    expected = overlay(x, observed=4)
    for seq in (x[..., None], x[:, None], x / 255.0, (x > 0), (x / 255.0).astype(np.float32)):
        assert np.array_equal(overlay(seq, observed=4), expected)
    with pytest.raises(DsaeError):
        overlay(np.zeros((T, 3, H, W)))


def test_overlay_figure_writes_a_labelled_png_of_the_expected_size(tmp_path):
    seqs = [dot_sequence(), np.roll(dot_sequence(), 2, axis=1), dot_sequence()[::-1]]
    truth = [overlay(s) for s in seqs]
    predicted = [overlay(s, observed=3) for s in seqs]
    scale, pad = 3, 2
    path = overlay_figure(
        [("truth", truth), ("stochastic t=3", predicted)], tmp_path / "a.png", scale
    )
    with Image.open(path) as im:
        plain = np.asarray(im.convert("RGB"))
    assert plain.shape[0] == pad + 2 * (H * scale + pad)
    assert plain.shape[1] > pad + 3 * (W * scale + pad)  # a label margin on the left
    # the last column's overlay sits at the right edge, scaled up
    left = plain.shape[1] - (W * scale + pad)
    block = plain[pad : pad + H * scale, left : left + W * scale]
    assert np.array_equal(block, truth[-1].repeat(scale, 0).repeat(scale, 1))

    titled = overlay_figure(
        [("truth", truth), ("stochastic t=3", predicted)],
        tmp_path / "b.png",
        scale,
        titles=["seq 1", "seq 2", "seq 3"],
    )
    with Image.open(titled) as im:
        assert im.width == plain.shape[1] and im.height > plain.shape[0]
        bottom = np.asarray(im.convert("RGB"))[-plain.shape[0] :]
    assert np.array_equal(bottom, plain)
    with pytest.raises(DsaeError):
        overlay_figure([("truth", truth), ("short", predicted[:2])], tmp_path / "c.png")
    with pytest.raises(DsaeError):
        overlay_figure([("truth", truth)], tmp_path / "d.png", titles=["one"])


def test_plot_imputation_writes_a_png(tmp_path):
    missing = list(range(1, 10))
    curves = {
        "stochastic": {"missing": missing, "mean": [0.01 * k for k in missing],
                       "std": [0.002] * 9},
        "LSTM-f": {"missing": missing, "mean": [0.02 * k for k in missing], "std": [0.0] * 9},
    }  # fmt: skip
    path = plot_imputation(curves, tmp_path / "fig8.png")
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == (560, 380)
    # an imputation curve's own part, with None where a value does not exist
    sampled = {"missing": [1, 2, 3], "position_error": [0.5, None, 1.5],
               "position_error_std": [0.1, 0.1, 0.1]}  # fmt: skip
    path = plot_imputation({"dsae": sampled}, tmp_path / "pos.png", key="position_error")
    with Image.open(path) as im:
        assert im.size == (560, 380)
    with pytest.raises(DsaeError):
        plot_imputation({}, tmp_path / "none.png")
    with pytest.raises(DsaeError):
        plot_imputation({"bad": {"missing": [1, 2], "mean": [0.1]}}, tmp_path / "bad.png")
