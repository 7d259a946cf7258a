"""The embedded toy sprites dataset: shapes, determinism, factor coverage and visibility."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from dsae.data.base import fingerprint, load_meta, load_split
from dsae.data.toy import (
    ACTION_CLASSES,
    SEQ_LEN,
    build_toy,
    make_toy_split,
    render_toy,
    toy_meta,
)
from dsae.errors import DsaeError

N_STATIC = 4


def _foreground(x: np.ndarray) -> np.ndarray:
    """Pixels that differ from the background colour (read from the top-left corner)."""
    return (x != x[..., :1, :1, :]).any(-1)


def test_meta() -> None:
    meta = toy_meta(32)
    assert meta.name == "toy_sprites"
    assert meta.seq_len == SEQ_LEN == 8
    assert meta.frame_shape == (32, 32, 3)
    assert len(meta.static_factors) >= 4
    assert all(k >= 4 for k in meta.static_factors.values())
    assert meta.dynamic_factors == {"action": 9}
    assert meta.info["factor_values"]["action"] == list(ACTION_CLASSES)
    for name, k in meta.static_factors.items():
        assert len(meta.info["factor_values"][name]) == k


@pytest.mark.parametrize("size", [32, 64])
def test_shapes_dtypes_and_label_ranges(size: int) -> None:
    split = make_toy_split(40, image_size=size, seed=1)
    split.validate()
    assert split.x.shape == (40, 8, size, size, 3)
    assert split.x.dtype == np.uint8
    assert split.static.shape == (40, N_STATIC)
    assert split.static.dtype == np.int64
    assert split.dynamic["action"].shape == (40,)
    assert split.dynamic["action"].dtype == np.int64
    for j, k in enumerate(split.meta.static_factors.values()):
        assert 0 <= split.static[:, j].min() and split.static[:, j].max() < k
    assert 0 <= split.dynamic["action"].min() and split.dynamic["action"].max() < 9


def test_deterministic_given_seed() -> None:
    a, b, c = (make_toy_split(30, image_size=32, seed=s) for s in (5, 5, 6))
    assert a.x.tobytes() == b.x.tobytes()
    assert np.array_equal(a.static, b.static)
    assert np.array_equal(a.dynamic["action"], b.dynamic["action"])
    assert a.x.tobytes() != c.x.tobytes()
    assert not np.array_equal(a.static, c.static)


def test_every_factor_value_present() -> None:
    split = make_toy_split(400, image_size=32, seed=0)
    for j, k in enumerate(split.meta.static_factors.values()):
        assert set(np.unique(split.static[:, j])) == set(range(k))
    assert set(np.unique(split.dynamic["action"])) == set(range(9))


def test_empty_split_and_bad_arguments() -> None:
    assert len(make_toy_split(0, image_size=32)) == 0
    with pytest.raises(DsaeError):
        make_toy_split(-1)
    for size in (16, 31, 64.0, "64"):
        with pytest.raises(DsaeError):
            toy_meta(size)
    with pytest.raises(DsaeError):
        render_toy(np.array([[0, 0, 0, 6]]), np.array([0]), image_size=32)
    with pytest.raises(DsaeError):
        render_toy(np.array([[0, 0, 0, 0]]), np.array([9]), image_size=32)


@pytest.mark.parametrize("size", [32, 64])
def test_each_static_factor_changes_many_pixels_in_every_frame(size: int) -> None:
    rng = np.random.default_rng(0)
    for j in range(N_STATIC):
        for _ in range(12):
            base = rng.integers(0, 6, N_STATIC)
            other = base.copy()
            other[j] = (base[j] + rng.integers(1, 6)) % 6
            action, phase = rng.integers(0, 9), rng.integers(0, 8)
            x = render_toy(np.stack([base, other]), [action, action], [phase, phase], size)
            changed = (x[0] != x[1]).any(-1).sum(axis=(1, 2))  # per frame
            assert changed.min() >= 0.015 * size * size, (j, base, other, changed)
            if j < 3:  # skin, shirt and pants are colours only: the silhouette stays
                assert np.array_equal(_foreground(x[0]), _foreground(x[1]))


def test_all_action_classes_and_phases_give_distinct_sequences() -> None:
    character = np.array([2, 3, 1, 4])
    classes, phases = np.meshgrid(np.arange(9), np.arange(8), indexing="ij")
    x = render_toy(np.tile(character, (72, 1)), classes.ravel(), phases.ravel(), 32)
    flat = x.reshape(72, -1)
    for i, k in itertools.combinations(range(72), 2):
        if classes.ravel()[i] != classes.ravel()[k]:
            assert not np.array_equal(flat[i], flat[k]), (i, k)


@pytest.mark.parametrize("size", [32, 64])
def test_motion_changes_frames_and_moves_substantial_pixels(size: int) -> None:
    classes, phases = np.meshgrid(np.arange(9), np.arange(8), indexing="ij")
    x = render_toy(np.tile([0, 1, 2, 5], (72, 1)), classes.ravel(), phases.ravel(), size)
    changed = (x[:, 1:] != x[:, :-1]).any(-1).sum(axis=(2, 3))  # (72, T-1)
    assert changed.min() > 0, "consecutive frames must differ"
    per_class = changed.reshape(9, -1).mean(axis=1) / (size * size)
    assert per_class.min() >= 0.03, per_class


def test_figure_is_large_and_inside_the_frame() -> None:
    split = make_toy_split(60, image_size=64, seed=2)
    fg = _foreground(split.x)
    assert fg.mean(axis=(2, 3)).min() >= 0.12
    border = np.concatenate([fg[..., 0, :], fg[..., -1, :], fg[..., :, 0], fg[..., :, -1]], -1)
    assert not border.any()


def test_actions_separable_by_nearest_neighbour_on_silhouettes() -> None:
    train = make_toy_split(500, image_size=32, seed=10)
    test = make_toy_split(150, image_size=32, seed=11)
    a = _foreground(train.x).reshape(len(train), -1).astype(np.float32)
    b = _foreground(test.x).reshape(len(test), -1).astype(np.float32)
    dist = (b**2).sum(1)[:, None] - 2 * b @ a.T + (a**2).sum(1)[None, :]
    pred = train.dynamic["action"][dist.argmin(1)]
    assert (pred == test.dynamic["action"]).mean() >= 0.9


def test_builds_3000_sequences_at_64_quickly() -> None:
    start = time.perf_counter()
    split = make_toy_split(3000, image_size=64, seed=0)
    elapsed = time.perf_counter() - start
    assert split.x.shape == (3000, 8, 64, 64, 3)
    assert elapsed < 30.0, f"took {elapsed:.1f} s"


def test_build_toy_round_trips(tmp_path) -> None:
    out = build_toy(tmp_path / "toy", n_train=40, n_test=20, image_size=32, seed=3)
    meta = load_meta(out)
    assert meta.name == "toy_sprites" and meta.frame_shape == (32, 32, 3)
    train, test = load_split(out, "train"), load_split(out, "test")
    assert (len(train), len(test)) == (40, 20)
    assert meta.info["train_seed"] != meta.info["test_seed"]
    expected = make_toy_split(40, image_size=32, seed=meta.info["train_seed"])
    assert np.array_equal(train.x, expected.x)
    assert np.array_equal(train.static, expected.static)
    assert np.array_equal(train.dynamic["action"], expected.dynamic["action"])
    assert not np.array_equal(train.x[:20], test.x)

    # rebuilding (in place, or elsewhere) reproduces the same files, hence the same fingerprint
    again = build_toy(tmp_path / "toy", n_train=40, n_test=20, image_size=32, seed=3)
    assert np.array_equal(load_split(again, "test").x, test.x)
    elsewhere = build_toy(tmp_path / "copy", n_train=40, n_test=20, image_size=32, seed=3)
    assert fingerprint(elsewhere) == fingerprint(out)
