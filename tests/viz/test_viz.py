"""Pictures from arrays: grid layout arithmetic, PNG/GIF round trips, plots that open."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageSequence

from dsae.data.modality import modality_for
from dsae.errors import DsaeError
from dsae.viz.gif import animates, save_gif
from dsae.viz.grid import modality_of, save_png, sequence_grid, swap_grid, to_uint8_frames
from dsae.viz.plots import plot_factor_trajectories, plot_heatmaps, plot_training_curves


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _frames(t=4, h=5, w=6, c=3, seed=0) -> np.ndarray:
    return _rng(seed).integers(0, 256, size=(t, h, w, c), dtype=np.uint8)


# --- to_uint8_frames -------------------------------------------------------------------


def test_uint8_rgb_passes_through():
    x = _frames()
    out = to_uint8_frames(x)
    assert out.dtype == np.uint8 and out.shape == (4, 5, 6, 3)
    np.testing.assert_array_equal(out, x)


def test_float_is_clipped_and_scaled():
    x = np.array([-0.5, 0.0, 0.5, 1.0, 2.0]).reshape(1, 1, 5, 1).repeat(3, axis=-1)
    out = to_uint8_frames(x.astype(np.float32))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0, :, 0], [0, 0, 128, 255, 255])


@pytest.mark.parametrize("shape", [(4, 5, 6, 1), (4, 5, 6)])
def test_gray_becomes_rgb(shape):
    x = _rng().integers(0, 256, size=shape, dtype=np.uint8)
    out = to_uint8_frames(x)
    assert out.shape == (4, 5, 6, 3)
    gray = x.reshape(4, 5, 6)
    for ch in range(3):
        np.testing.assert_array_equal(out[..., ch], gray)


def test_vectors_become_one_image_with_time_on_x():
    t, d = 7, 5
    x = np.zeros((t, d), dtype=np.float32)
    x[3, 0] = 1.0  # one bright cell: frame 3, feature 0
    out = to_uint8_frames(x)
    assert out.shape == (1, d, t, 3) and out.dtype == np.uint8
    img = out[0].astype(int)
    brightness = img.sum(axis=-1)
    # Feature 0 is the bottom row; the bright cell sits in column 3.
    assert np.unravel_index(brightness.argmax(), brightness.shape) == (d - 1, 3)
    # Every other cell has the same (minimum) colour.
    others = np.delete(img.reshape(-1, 3), (d - 1) * t + 3, axis=0)
    assert (others == others[0]).all()


def test_constant_vectors_do_not_divide_by_zero():
    out = to_uint8_frames(np.ones((3, 4)))
    assert out.shape == (1, 4, 3, 3)
    assert (out == out[0, 0, 0]).all()


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 3, 4, 2), np.uint8),  # 2 channels
        np.zeros((2, 3, 4, 3, 1), np.uint8),  # 5-D
        np.zeros(5, np.uint8),  # 1-D
        np.zeros((2, 3, 4, 3), np.int64),  # unsupported dtype
        np.full((2, 3, 4, 3), np.nan),
        np.zeros((0, 3, 4, 3), np.uint8),
    ],
)
def test_bad_layouts_are_refused(bad):
    with pytest.raises(DsaeError):
        to_uint8_frames(bad)


# --- sequence_grid ---------------------------------------------------------------------


@pytest.mark.parametrize("pad,scale", [(0, 1), (2, 1), (3, 2), (1, 4)])
def test_grid_size_and_frame_positions(pad, scale):
    r, t, h, w = 3, 4, 5, 6
    rows = np.stack([_frames(t, h, w, seed=i) for i in range(r)])
    grid = sequence_grid(rows, pad=pad, scale=scale, bg=(1, 2, 3))
    hs, ws = h * scale, w * scale
    assert grid.dtype == np.uint8
    assert grid.shape == (pad + r * (hs + pad), pad + t * (ws + pad), 3)
    for i in range(r):
        for j in range(t):
            y, x = pad + i * (hs + pad), pad + j * (ws + pad)
            cell = grid[y : y + hs, x : x + ws]
            # Nearest-neighbour enlargement: every scale x scale block is one input pixel.
            np.testing.assert_array_equal(cell[::scale, ::scale], rows[i, j])
            np.testing.assert_array_equal(
                cell, rows[i, j].repeat(scale, axis=0).repeat(scale, axis=1)
            )
    if pad:
        assert (grid[:pad] == (1, 2, 3)).all() and (grid[:, :pad] == (1, 2, 3)).all()
        assert (grid[-pad:] == (1, 2, 3)).all() and (grid[:, -pad:] == (1, 2, 3)).all()


def test_grid_accepts_mixed_layouts_as_a_list():
    t, h, w = 3, 4, 5
    rows = [
        _frames(t, h, w),
        _frames(t, h, w, c=1, seed=1),
        _frames(t, h, w, seed=2).astype(np.float32) / 255.0,
        _frames(t + 2, h, w, seed=3),  # a longer row
    ]
    grid = sequence_grid(rows, pad=1)
    assert grid.dtype == np.uint8
    assert grid.shape == (1 + 4 * (h + 1), 1 + (t + 2) * (w + 1), 3)
    # The float row round-trips exactly (k/255 * 255 rounds back to k).
    y = 1 + 2 * (h + 1)
    np.testing.assert_array_equal(grid[y : y + h, 1 : 1 + w], np.rint(rows[2][0] * 255))
    # The shorter rows end with background.
    assert (grid[1 : 1 + h, 1 + t * (w + 1) :] == 255).all()


def test_grid_of_vector_rows_shares_one_colour_scale():
    low = np.zeros((6, 4))
    high = np.ones((6, 4))
    grid = sequence_grid([low, high], pad=1)
    assert grid.shape == (1 + 2 * (4 + 1), 1 + 1 * (6 + 1), 3)
    # With one shared scale the all-zero row and the all-one row get different colours.
    assert not np.array_equal(grid[1, 1], grid[1 + 5, 1])


def test_labels_add_a_left_margin_and_keep_frames_intact():
    rows = np.stack([_frames(seed=i) for i in range(2)])
    plain = sequence_grid(rows, pad=2, scale=3)
    labelled = sequence_grid(rows, pad=2, scale=3, row_labels=["content", "motion"])
    margin = labelled.shape[1] - plain.shape[1]
    assert labelled.shape[0] == plain.shape[0] and margin > 0
    np.testing.assert_array_equal(labelled[:, margin:], plain)
    assert (labelled[:, :margin] != 255).any()  # some text was drawn


def test_row_gaps_space_rows_apart():
    rows = np.stack([_frames(seed=i) for i in range(3)])
    grid = sequence_grid(rows, pad=2, row_gaps=[2, 10])
    assert grid.shape[0] == 2 + 5 + 2 + 5 + 10 + 5 + 2
    np.testing.assert_array_equal(grid[2 + 5 + 2 + 5 + 10 :][:5, 2 : 2 + 6], rows[2, 0])


def test_grid_argument_errors():
    rows = [_frames()]
    with pytest.raises(DsaeError):
        sequence_grid([])
    with pytest.raises(DsaeError):
        sequence_grid(rows, row_labels=["a", "b"])
    with pytest.raises(DsaeError):
        sequence_grid(rows, scale=0)


# --- save_png --------------------------------------------------------------------------


def test_png_round_trip(tmp_path):
    img = sequence_grid([_frames(seed=1), _frames(seed=2)], pad=2, scale=2)
    out = save_png(img, tmp_path / "nested" / "dir" / "grid.png")
    assert out == tmp_path / "nested" / "dir" / "grid.png"
    with Image.open(out) as im:
        assert im.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(im), img)
    assert [p.name for p in out.parent.iterdir()] == ["grid.png"]  # no temp files left


def test_png_of_gray_float_image(tmp_path):
    img = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    with Image.open(save_png(img, tmp_path / "g.png")) as im:
        arr = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(arr[..., 0], np.rint(img * 255))


# --- swap_grid -------------------------------------------------------------------------


@pytest.mark.parametrize("n_pairs", [1, 3])
def test_swap_grid_has_three_rows_per_pair(n_pairs):
    t, h, w, pad = 4, 5, 6, 2
    content, motion, result = (
        np.stack([_frames(t, h, w, seed=10 * k + p) for p in range(n_pairs)]) for k in range(3)
    )
    grid = swap_grid(content, motion, result)
    plain_height = pad + 3 * n_pairs * (h + pad)
    # Between pairs the gap is 4 * pad instead of pad.
    assert grid.shape[0] == plain_height + (n_pairs - 1) * 3 * pad
    margin = grid.shape[1] - (pad + t * (w + pad))
    assert margin > 0
    # Find each row by its top: rows of a pair are h + pad apart, pairs h + 4 * pad.
    top = pad
    for p in range(n_pairs):
        for src in (content, motion, result):
            np.testing.assert_array_equal(
                grid[top : top + h, margin + pad : margin + pad + w], src[p, 0]
            )
            top += h + pad
        top += 3 * pad


def test_swap_grid_rejects_mismatched_pairs():
    two, one = np.stack([_frames(), _frames()]), _frames()[None]
    with pytest.raises(DsaeError):
        swap_grid(two, two, one)


# --- save_gif --------------------------------------------------------------------------


def _gif_frames(path) -> tuple[list[np.ndarray], dict]:
    with Image.open(path) as im:
        info = dict(im.info)
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
    return frames, info


def test_gif_frames_size_loop_and_pixels(tmp_path):
    n, t, h, w, pad, scale = 3, 5, 4, 6, 2, 2
    colours = _rng().integers(0, 256, size=(16, 3), dtype=np.uint8)
    # Few colours, so the GIF palette holds them exactly and pixels round-trip.
    seqs = colours[_rng(1).integers(0, 16, size=(n, t, h, w))]
    out = save_gif(seqs, tmp_path / "a" / "anim.gif", fps=10, scale=scale, pad=pad)
    frames, info = _gif_frames(out)
    assert len(frames) == t
    assert frames[0].shape == (pad + h * scale + pad, pad + n * (w * scale + pad), 3)
    assert info.get("loop") == 0
    assert info.get("duration") == 100
    for k, frame in enumerate(frames):
        expected = sequence_grid([seqs[:, k]], pad=pad, scale=scale)
        np.testing.assert_array_equal(frame, expected)


def test_gif_bytes_are_deterministic(tmp_path):
    # Many colours: exercises the quantised-palette path.
    seqs = [_frames(6, 16, 16, seed=s).astype(np.float32) / 255 for s in range(2)]
    a = save_gif(seqs, tmp_path / "a.gif").read_bytes()
    b = save_gif(seqs, tmp_path / "b.gif").read_bytes()
    assert a == b
    frames, info = _gif_frames(tmp_path / "a.gif")
    assert len(frames) == 6 and info.get("loop") == 0
    assert frames[0].shape == (2 + 16 + 2, 2 + 2 * (16 + 2), 3)


def test_gif_accepts_gray_list_and_refuses_vectors(tmp_path):
    gray = [_frames(3, 4, 4, c=1, seed=s)[..., 0] for s in range(2)]
    frames, _ = _gif_frames(save_gif(gray, tmp_path / "g.gif"))
    assert len(frames) == 3
    with pytest.raises(DsaeError):
        save_gif([np.zeros((3, 8))], tmp_path / "v.gif")
    with pytest.raises(DsaeError):
        save_gif([_frames(3), _frames(4)], tmp_path / "uneven.gif")


# --- plots -----------------------------------------------------------------------------


def _opens_as_png(path) -> tuple[int, int]:
    assert path.stat().st_size > 0
    with Image.open(path) as im:
        assert im.format == "PNG"
        im.load()
        return im.size


def test_training_curves(tmp_path):
    records = [
        {"step": s, "loss": 10.0 / (s + 1), "recon": 5.0 / (s + 1), "kl_f": 0.1, "kl_z": 0.2}
        for s in range(0, 200, 10)
    ]
    records[3]["recon"] = "nan"  # non-numeric: skipped
    records[4]["kl_f"] = float("inf")  # non-finite: skipped
    records.append({"event": "checkpoint"})  # no step: skipped
    out = plot_training_curves(records, tmp_path / "plots" / "curves.png")
    width, height = _opens_as_png(out)
    assert width > 0 and height > 0


def test_training_curves_skip_missing_keys(tmp_path):
    records = [{"step": s, "loss": 1.0 / (s + 1)} for s in range(5)]
    one = plot_training_curves(records, tmp_path / "one.png", keys=["loss"])
    with_missing = plot_training_curves(
        records, tmp_path / "missing.png", keys=["loss", "seq_per_s"]
    )
    # The missing key gets no panel: the figure is the same as with "loss" alone.
    assert _opens_as_png(one) == _opens_as_png(with_missing)
    nothing = plot_training_curves(records, tmp_path / "none.png", keys=["absent"])
    _opens_as_png(nothing)
    _opens_as_png(plot_training_curves([], tmp_path / "empty.png"))


def test_factor_trajectories(tmp_path):
    g, s, t = 5, 40, 8
    names, counts = ["action", "direction"], [3, 4]
    rng = _rng()
    classes = np.stack(
        [rng.integers(0, n, size=(g, s, t)) for n in counts], axis=-1
    )  # (G, S, T, K)
    out = plot_factor_trajectories(classes, tmp_path / "traj.png", names, counts, title="fixed f")
    _opens_as_png(out)


def test_factor_trajectories_validate_inputs(tmp_path):
    classes = np.zeros((2, 3, 4, 2), dtype=np.int64)
    with pytest.raises(DsaeError):
        plot_factor_trajectories(classes, tmp_path / "x.png", ["a"], [2])
    with pytest.raises(DsaeError):
        plot_factor_trajectories(classes + 5, tmp_path / "x.png", ["a", "b"], [2, 2])
    with pytest.raises(DsaeError):
        plot_factor_trajectories(classes[0], tmp_path / "x.png", ["a", "b"], [2, 2])


# --- drawing through the frame modality ------------------------------------------------


def test_frames_are_drawn_by_their_modality():
    x = _frames()
    image = modality_for(x.shape[1:])
    np.testing.assert_array_equal(to_uint8_frames(x, modality=image), image.display(x))
    v = _rng().normal(size=(6, 4))
    vector = modality_for((4,))
    np.testing.assert_array_equal(to_uint8_frames(v), vector.display(v))
    assert modality_of(v).name == "vector" and modality_of(x[..., 0]).name == "image"
    # a grid told the modality draws every row through it, vector rows on one colour scale
    rows = [v, v + 1.0]
    grid = sequence_grid(rows, pad=0, modality=vector)
    np.testing.assert_array_equal(
        grid[:4], vector.display(v, value_range=(v.min(), v.max() + 1))[0]
    )


def test_only_animating_modalities_make_gifs(tmp_path):
    assert animates(modality_for((4, 4, 3))) and not animates(modality_for((8,)))
    with pytest.raises(DsaeError, match="animates image sequences"):
        save_gif([np.zeros((3, 8))], tmp_path / "v.gif", modality=modality_for((8,)))


def test_heatmaps_draw_each_panel_and_refuse_a_wrong_shape(tmp_path):
    grid = np.array([[0.1, 0.5, np.nan], [0.9, 0.2, 0.4]])
    path = plot_heatmaps(
        {"accuracy": grid, "correlation": -grid}, [0.5, 1], [1, 5, 25], tmp_path / "h.png",
        row_label="beta_f", col_label="beta_z",
    )  # fmt: skip
    with Image.open(path) as img:
        assert img.format == "PNG" and img.width > img.height > 100
    with pytest.raises(DsaeError, match="expected"):
        plot_heatmaps({"a": grid[:, :2]}, [0.5, 1], [1, 5, 25], tmp_path / "bad.png")
    with pytest.raises(DsaeError, match="no heat maps"):
        plot_heatmaps({}, [], [], tmp_path / "none.png")
    assert not (tmp_path / "bad.png").exists()
