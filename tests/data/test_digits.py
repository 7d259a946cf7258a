"""MNIST and Fashion-MNIST sequences: the style measures on drawn shapes with known answers,
the split by image, one class per sequence, determinism, the command line and its errors.

The real-data tests read the shared MNIST test set (``SHARED/data/mnist``) and Debian's
``dataset-fashion-mnist``; each is skipped when its files are absent."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED

from dsae.cli.main import build_parser, main
from dsae.data import BUILDERS
from dsae.data.base import DatasetMeta, load_split
from dsae.data.digits import (
    FASHION_SOURCE,
    IMAGES_FILE,
    LABELS_FILE,
    N_TRAIN_IMAGES,
    SEQ_LEN,
    build_digits,
    draw_sequences,
    measure_frames,
    read_idx,
)
from dsae.data.ink_style import extent, measure_style, skeleton, slant, thickness
from dsae.data.measures import MEASURES, frame_measure, measured_states
from dsae.errors import DsaeError

MNIST = SHARED / "data" / "mnist"
needs_mnist = pytest.mark.skipif(
    not (MNIST / IMAGES_FILE).is_file(), reason=f"shared MNIST test set not found at {MNIST}"
)
needs_fashion = pytest.mark.skipif(
    not (Path(FASHION_SOURCE) / IMAGES_FILE).is_file(),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)


def _bar(width: float, shear: float = 0.0, rows: tuple[int, int] = (2, 26)) -> np.ndarray:
    """A 28 x 28 bar of ``width`` pixels down the middle, its column moved by
    ``shear * (14 - row)``: pixel (r, c) is ink when its centre is inside."""
    im = np.zeros((28, 28), np.uint8)
    r = np.arange(*rows)[:, None]
    c = np.arange(28)[None, :] + 0.5
    left = 14 + shear * (14 - (r + 0.5)) - width / 2
    im[rows[0] : rows[1]] = np.where((c >= left) & (c < left + width), 255, 0)
    return im


def test_slant_of_upright_and_sheared_bars():
    assert abs(slant(_bar(3))) < 1e-9
    for s in (0.25, -0.25, 0.5):
        measured = slant(_bar(3, s))
        assert abs(measured - s) < 0.05 * abs(s) + 0.01, (s, measured)
    # "/" leans right at the top: positive; batched like single images
    batch = np.stack([_bar(3, 0.4), _bar(3, -0.4)])
    assert slant(batch)[0] > 0.3 and slant(batch)[1] < -0.3


def test_thickness_grows_with_the_stroke_width():
    widths = (1, 2, 3, 4, 6)
    t = thickness(np.stack([_bar(w) for w in widths]))
    assert abs(t[0] - 1.0) < 0.05  # a one-pixel line is its own skeleton
    assert np.all(np.diff(t) > 0)
    assert 1.8 < t[3] / t[1] < 2.5 and 1.8 < t[4] / t[2] < 2.5  # twice as wide: ~twice as thick
    # a sheared bar of the same width keeps about the same thickness
    assert abs(thickness(_bar(3, 0.3)) - t[2]) < 0.25 * t[2]


def test_skeleton_is_one_pixel_wide_and_style_of_blank_is_zero():
    sk = skeleton(_bar(5) >= 128)
    assert sk.any() and (sk.sum(axis=1) <= 1).all()  # at most one pixel per row of the bar
    blank = np.zeros((28, 28), np.uint8)
    assert all(float(v) == 0.0 for v in measure_style(blank).values())
    box = np.zeros((28, 28), np.uint8)
    box[5:17, 8:12] = 200
    width, height = extent(box)
    assert (width, height) == (4.0, 12.0)


def test_the_measure_of_stored_frames_and_which_datasets_have_one():
    shears = (-0.4, 0.0, 0.25, 0.5)
    frames = np.stack([_bar(3, s) for s in shears])[None, :, :, :, None]  # (1, T, H, W, 1)
    out = measure_frames(frames)
    assert set(out) == {"slant", "thickness", "width", "height"}
    assert all(v.shape == (1, len(shears)) for v in out.values())
    assert np.allclose(out["slant"][0], shears, atol=0.03)
    assert np.all(out["height"] == 24.0)
    # several channels: their mean, so a grey frame measures as its one channel
    assert np.allclose(measure_frames(np.repeat(frames, 3, axis=-1))["slant"], out["slant"])
    assert set(MEASURES) == {"digits", "fashion"}
    meta = DatasetMeta("digits", SEQ_LEN, (28, 28, 1), {"digit": 10}, {}, states=["slant", "x"])
    assert frame_measure(meta).measure is measure_frames and measured_states(meta) == ["slant"]
    toy = DatasetMeta("toy_sprites", 8, (64, 64, 3), {}, {}, states=["slant"])
    assert frame_measure(toy) is None and measured_states(toy) == []


def test_a_class_with_too_few_images_is_a_user_error():
    labels = np.repeat(np.arange(10), 10)
    labels[labels == 3] = 4  # class 3 is missing from the pool
    with pytest.raises(DsaeError, match="class 3 has 0 images"):
        draw_sequences(labels, np.arange(100), 5, np.random.default_rng(0))
    seqs = draw_sequences(
        np.repeat(np.arange(10), 10), np.arange(100), 30, np.random.default_rng(0)
    )
    assert all(len(set(s)) == SEQ_LEN and len({i // 10 for i in s}) == 1 for s in seqs.tolist())


def _run(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(["data", "build", *args, "--no-progress"])
    return code, capsys.readouterr().err.strip().splitlines()


def test_missing_or_corrupt_source_is_one_line_exit_2(tmp_path, capsys):
    code, err = _run(capsys, "digits", "--out", str(tmp_path / "a"))
    assert code == 2 and len(err) == 1 and "--source" in err[0]
    code, err = _run(capsys, "digits", "--out", str(tmp_path / "a"), "--source",
                     str(tmp_path / "nowhere"))  # fmt: skip
    assert code == 2 and len(err) == 1 and "not a folder" in err[0]
    src = tmp_path / "src"
    src.mkdir()
    (src / IMAGES_FILE).write_bytes(b"not gzip")
    code, err = _run(capsys, "digits", "--out", str(tmp_path / "a"), "--source", str(src))
    assert code == 2 and len(err) == 1 and LABELS_FILE in err[0]  # the missing file
    (src / LABELS_FILE).write_bytes(gzip.compress(b"\0\0\x08\x01" + b"\0" * 10))
    code, err = _run(capsys, "digits", "--out", str(tmp_path / "a"), "--source", str(src))
    assert code == 2 and len(err) == 1 and "cannot read" in err[0] and IMAGES_FILE in err[0]
    (src / IMAGES_FILE).write_bytes(gzip.compress(b"\0\0\x08\x03" + b"\0" * 100))
    code, err = _run(capsys, "digits", "--out", str(tmp_path / "a"), "--source", str(src))
    assert code == 2 and len(err) == 1 and "not an IDX file" in err[0]
    assert not (tmp_path / "a").exists()  # nothing written
    with pytest.raises(DsaeError, match="n_train"):
        build_digits(tmp_path / "b", source=src, n_train=0, progress=False)


def test_builders_and_cli_choices():
    assert {"digits", "fashion"} <= set(BUILDERS)
    for name in ("digits", "fashion"):
        args = build_parser().parse_args(["data", "build", name, "--out", "x"])
        assert args.name == name and args.n_train is None and args.source is None


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not (MNIST / IMAGES_FILE).is_file():
        pytest.skip(f"shared MNIST test set not found at {MNIST}")
    out = tmp_path_factory.mktemp("digits") / "d"
    build_digits(out, source=MNIST, n_train=300, n_test=120, seed=3, progress=False)
    return out


@needs_mnist
def test_split_by_image_and_one_class_per_sequence(built):
    images, labels = read_idx(MNIST)
    train, test = load_split(built, "train"), load_split(built, "test")
    index = {}
    for name, split in (("train", train), ("test", test)):
        idx = split.states["source_index"][..., 0]
        assert np.array_equal(idx, np.round(idx))
        idx = idx.astype(np.int64)
        index[name] = idx
        np.testing.assert_array_equal(split.x[..., 0], images[idx])  # the frames are those images
        # one class per sequence, and it is the static label; no image twice in a sequence
        np.testing.assert_array_equal(labels[idx], np.repeat(split.static, SEQ_LEN, axis=1))
        assert all(len(set(row)) == SEQ_LEN for row in idx.tolist())
        # the states are the measures of the frames (as the dataset's measure gives them for
        # generated frames); the labels their bins
        style = measure_style(split.x[..., 0])
        measure = frame_measure(split.meta)
        assert measured_states(split.meta) == ["slant", "thickness", "width", "height"]
        for k, v in measure.measure(split.x).items():
            np.testing.assert_allclose(split.states[k][..., 0], v, rtol=1e-6, atol=1e-6)
        edges = split.meta.info["bins"]
        for k in ("slant", "thickness"):
            expected = (style[k][..., None] >= np.asarray(edges[k])).sum(-1)
            np.testing.assert_array_equal(split.dynamic[k], expected)
    assert index["train"].max() < N_TRAIN_IMAGES <= index["test"].min()
    assert not set(index["train"].ravel()) & set(index["test"].ravel())
    assert len(np.unique(train.static)) == 10  # every class drawn
    # the bin edges are the terciles of all training images' measures
    train_style = measure_style(images[:N_TRAIN_IMAGES])
    for k in ("slant", "thickness"):
        share = (train_style[k] < train.meta.info["bins"][k][0]).mean()
        assert abs(share - 1 / 3) < 0.01
    assert train.meta.static_factors == {"digit": 10}
    assert train.meta.dynamic_factors == {"slant": 3, "thickness": 3}
    assert "0-7999 train" in train.meta.info["image_split"]


@needs_mnist
def test_same_seed_same_bytes(built, tmp_path):
    again = build_digits(tmp_path / "a", source=MNIST, n_train=300, n_test=120, seed=3,
                         progress=False)  # fmt: skip
    for name in ("meta.json", "train.npz", "test.npz"):
        assert (again / name).read_bytes() == (built / name).read_bytes()
    other = build_digits(tmp_path / "b", source=MNIST, n_train=300, n_test=120, seed=4,
                         progress=False)  # fmt: skip
    assert (other / "train.npz").read_bytes() != (built / "train.npz").read_bytes()


@needs_mnist
def test_cli_build_digits_loads_back(tmp_path, capsys):
    out = tmp_path / "digits"
    code, _ = _run(capsys, "digits", "--out", str(out), "--source", str(MNIST),
                   "--n-train", "50", "--n-test", "20")  # fmt: skip
    assert code == 0
    train, test = load_split(out, "train"), load_split(out, "test")
    assert train.x.shape == (50, SEQ_LEN, 28, 28, 1) and train.x.dtype == np.uint8
    assert test.x.shape == (20, SEQ_LEN, 28, 28, 1)
    assert train.dynamic["thickness"].shape == (50, SEQ_LEN)
    assert set(train.states) == {"slant", "thickness", "width", "height", "source_index"}
    assert train.meta.modality.model_shape == (1, 28, 28)


@needs_fashion
def test_cli_build_fashion_from_the_debian_package(tmp_path, capsys):
    out = tmp_path / "fashion"
    code, _ = _run(capsys, "fashion", "--out", str(out), "--n-train", "30", "--n-test", "10")
    assert code == 0
    train = load_split(out, "train")
    assert train.meta.name == "fashion" and train.meta.static_factors == {"item": 10}
    assert train.meta.info["classes"]["item"][9] == "Ankle boot"
    _, labels = read_idx(FASHION_SOURCE)
    idx = train.states["source_index"][..., 0].astype(np.int64)
    assert idx.max() < N_TRAIN_IMAGES
    np.testing.assert_array_equal(labels[idx], np.repeat(train.static, SEQ_LEN, axis=1))
