"""Bouncing balls: the physics (energy, walls, sensitivity to the start), determinism, the
pictures, the square, the command line, and training on a dataset without factors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from dsae.cli.main import main
from dsae.data.balls import (
    DT,
    SEQ_LEN,
    SPEED,
    SUBSTEPS,
    Start,
    build_balls,
    draw_start,
    make_balls_split,
    sequence_rngs,
    simulate,
)
from dsae.data.balls_render import POLYGON, RADIUS, SIDE, render, square_corners
from dsae.data.base import load_split
from dsae.errors import DsaeError


def _trajectories(n: int, seed: int = 0, steps: int = SEQ_LEN, shape: str = "ball"):
    return [
        simulate(draw_start(r, shape), shape, steps) for r in sequence_rngs(seed, n, 0)["train"]
    ]


def _wall_distances(points: np.ndarray) -> np.ndarray:
    """(..., n_walls) distance of (row, col) points to each wall segment, written here from the
    vertices alone (not with the module's own geometry)."""
    rc = np.asarray(POLYGON, np.float64)[:, ::-1]
    a, b = rc, np.roll(rc, -1, axis=0)
    p = np.asarray(points, np.float64)[..., None, :]
    d = b - a
    s = np.clip(((p - a) * d).sum(-1) / (d * d).sum(-1), 0.0, 1.0)
    return np.linalg.norm(p - (a + s[..., None] * d), axis=-1)


def _inside(points: np.ndarray) -> np.ndarray:
    """Whether (row, col) points are inside the polygon (even-odd ray casting along rows)."""
    rc = np.asarray(POLYGON, np.float64)[:, ::-1]
    p = np.asarray(points, np.float64)
    inside = np.zeros(p.shape[:-1], bool)
    for (r1, c1), (r2, c2) in zip(rc, np.roll(rc, -1, axis=0), strict=True):
        crosses = (r1 > p[..., 0]) != (r2 > p[..., 0])
        with np.errstate(divide="ignore", invalid="ignore"):
            c_at = c1 + (p[..., 0] - r1) * (c2 - c1) / (r2 - r1)
        inside ^= crosses & (p[..., 1] < c_at)
    return inside


def test_free_flight_keeps_speed_and_bounces_keep_energy():
    """No gravity, friction or damping: between bounces the ball moves in a straight line at
    constant velocity; elastic bounces keep the speed."""
    bounces = flights = 0
    for tr in _trajectories(200):
        v = tr.velocity
        speed = np.linalg.norm(v, axis=1)
        free = (v[1:] == v[:-1]).all(axis=1) | (
            np.einsum("ij,ij->i", v[1:], v[:-1]) / (speed[1:] * speed[:-1]) > 1 - 1e-12
        )
        np.testing.assert_allclose(speed[1:][free], speed[:-1][free], rtol=1e-6)
        # clear of the walls at both ends (distance to a line is linear along a straight
        # path, so it touched none between): a straight line at constant velocity
        clear = _wall_distances(tr.position).min(axis=1) > RADIUS + 0.2
        flight = free & clear[1:] & clear[:-1]
        step = np.diff(tr.position, axis=0)
        np.testing.assert_allclose(step[flight], v[:-1][flight] * DT, atol=1e-6)
        flights += int(flight.sum())
        np.testing.assert_allclose(speed, speed[0], rtol=1e-3)
        assert SPEED[0] <= speed[0] <= SPEED[1]
        bounces += int((~free).sum())
    assert bounces > 200 and flights > 1000  # the checks covered many bounces and flights


def test_the_ball_stays_inside_the_polygon():
    """The contact is found at the first pymunk step (DT / SUBSTEPS = 0.01) at which the ball
    overlaps a wall, so it overlaps by at most the distance moved in one step, at most
    15 * 0.01 = 0.15 px; then the bounce turns it back."""
    tolerance = SPEED[1] * DT / SUBSTEPS + 1e-3
    trajectories = _trajectories(300, seed=1, steps=60)
    centres = np.stack([tr.position for tr in trajectories])  # (n, T, 2)
    assert _inside(centres).all()
    dist = _wall_distances(centres)
    assert dist.min() >= RADIUS - tolerance, dist.min()
    assert dist.min() < RADIUS + 0.1  # the balls did reach the walls


def test_nearby_starts_part():
    """Starts 1e-3 apart (in position and velocity) agree at first and later part by many
    pixels: the polygon's corners split a narrow beam of trajectories, and a bounce found
    one 0.01 step earlier or later shifts the path. (The polygon is convex, so the centre
    moves as a point in a polygonal billiard: nearby paths part at corners, not
    exponentially everywhere; over 100 units of time about 40% of pairs part.)"""
    parted = 0
    for r in sequence_rngs(1, 16, 0)["train"]:
        a = draw_start(r)
        b = Start((a.position[0] + 1e-3, a.position[1]), (a.velocity[0], a.velocity[1] + 1e-3))
        pa, pb = (simulate(s, steps=500).position for s in (a, b))
        gap = np.linalg.norm(pa - pb, axis=1)
        assert gap[:3].max() < 2e-3
        parted += bool(gap.max() > 5.0)
    assert parted >= 3


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a, b = (build_balls(tmp_path / k, n_train=6, n_test=3, seed=7, progress=False) for k in "ab")
    c = build_balls(tmp_path / "c", n_train=6, n_test=3, seed=8, progress=False)
    for name in ("meta.json", "train.npz", "test.npz"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (a / "train.npz").read_bytes() != (c / "train.npz").read_bytes()
    # every sequence has its own stream: a split's sequences do not depend on its size
    more = make_balls_split(sequence_rngs(7, 9, 3)["train"])
    np.testing.assert_array_equal(more.x[:6], load_split(a, "train").x)
    train, test = load_split(a, "train"), load_split(a, "test")
    starts = np.concatenate([train.states["position"][:, 0], test.states["position"][:, 0]])
    assert len(np.unique(starts, axis=0)) == len(starts)


def test_rendered_disk_sits_at_the_saved_position():
    split = make_balls_split(sequence_rngs(2, 20, 0)["train"])
    on = split.x[..., 0] == 255  # (N, T, H, W)
    assert set(np.unique(split.x).tolist()) == {0, 255}
    count = on.sum(axis=(2, 3))
    assert np.abs(count - np.pi * RADIUS**2).max() <= 4.0  # 28.3 px, give or take the grid
    rows, cols = np.mgrid[0:32, 0:32] + 0.5
    centroid = np.stack(
        [(on * rows).sum(axis=(2, 3)) / count, (on * cols).sum(axis=(2, 3)) / count], axis=-1
    )
    assert np.abs(centroid - split.states["position"]).max() < 0.5


def test_rendering_convention():
    """Pixel (r, c) is on when its centre (r + 0.5, c + 0.5) is inside: row = y, col = x."""
    frame = render(np.array([[8.5, 20.5]]), None, "ball")[0, ..., 0]
    rows, cols = np.nonzero(frame)
    assert rows.min() == 5 and rows.max() == 11 and cols.min() == 17 and cols.max() == 23
    assert frame[8, 20] == 255 and frame[20, 8] == 0
    # 6 x 6 square, axis-aligned, centred on a pixel corner: exactly 36 pixels
    square = render(np.array([[10.0, 12.0]]), np.array([0.0]), "square")[0, ..., 0]
    rows, cols = np.nonzero(square)
    assert len(rows) == 36 and (rows.min(), cols.min()) == (7, 9)


def test_square_turns_and_stays_inside():
    split = make_balls_split(sequence_rngs(3, 30, 0)["train"], shape="square")
    assert split.meta.states == ["position", "velocity", "angle", "angular_velocity"]
    angle = split.states["angle"][..., 0]
    assert (np.abs(np.diff(angle, axis=1)).max(axis=1) > 0.1).mean() > 0.5  # pymunk turns it
    # kinetic energy, moving and turning (moment of inertia of a unit-mass square: SIDE^2 / 6)
    energy = (split.states["velocity"] ** 2).sum(-1) + SIDE**2 / 6 * (
        split.states["angular_velocity"][..., 0] ** 2
    )
    np.testing.assert_allclose(energy, np.broadcast_to(energy[:, :1], energy.shape), rtol=1e-3)
    on = split.x[..., 0] == 255
    assert np.abs(on.sum(axis=(2, 3)) - SIDE**2).max() <= 6
    corners = square_corners(split.states["position"], angle)  # (N, T, 4, 2)
    assert _inside(corners.mean(axis=-2)).all()
    # a corner moves at most (speed + |angular velocity| * half diagonal) * 0.01 per step
    corner_speed = np.linalg.norm(split.states["velocity"], axis=-1) + np.abs(
        split.states["angular_velocity"][..., 0]
    ) * (SIDE / np.sqrt(2))
    overlap = corner_speed.max() * DT / SUBSTEPS + 1e-3
    assert (_inside(corners) | (_wall_distances(corners).min(-1) <= overlap)).all()


def test_bad_arguments_are_user_errors(tmp_path):
    with pytest.raises(DsaeError, match="unknown shape"):
        build_balls(tmp_path / "x", n_train=2, n_test=1, shape="triangle", progress=False)
    with pytest.raises(DsaeError, match="n_train"):
        build_balls(tmp_path / "x", n_train=0, n_test=1, progress=False)


def _dsae(*args: str) -> None:
    """The command line in this process (what the ``dsae`` entry point calls)."""
    assert main(list(args)) == 0


def test_cli_build_and_train_without_factors(tmp_path):
    out = tmp_path / "balls"
    _dsae("data", "build", "balls", "--out", str(out), "--n-train", "20", "--n-test", "10",
          "--no-progress")  # fmt: skip
    train, test = load_split(out, "train"), load_split(out, "test")
    assert train.x.shape == (20, SEQ_LEN, 32, 32, 1) and train.x.dtype == np.uint8
    assert test.x.shape == (10, SEQ_LEN, 32, 32, 1)
    for split in (train, test):
        assert set(split.states) == {"position", "velocity"}
        assert split.states["position"].shape == split.states["velocity"].shape
        assert split.states["position"].shape[1:] == (SEQ_LEN, 2)
        assert split.states["velocity"].dtype == np.float32
    meta = train.meta
    assert meta.static_factors == {} and meta.dynamic_factors == {}
    assert train.static.shape == (20, 0) and train.dynamic == {}
    assert meta.info["binary"] is True and meta.info["shape"] == "ball"
    assert meta.info["substeps"] == SUBSTEPS and meta.info["dt"] == DT
    assert meta.info["n_train"] == 20 and "pymunk_version" in meta.info
    assert meta.modality.model_shape == (1, 32, 32)

    config = tmp_path / "balls.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {"name": "balls", "root": str(out), "build_if_missing": False},
                "model": {
                    "likelihood": "bernoulli",
                    "channels": [16, 32, 64],
                    "f_dim": 8,
                    "z_dim": 4,
                    "frame_dim": 32,
                    "hidden_dim": 32,
                },
                "train": {
                    "max_steps": 3,
                    "batch_size": 8,
                    "log_every": 1,
                    "ckpt_every": 3,
                    "lr_warmup_steps": 1,
                    "progress": False,
                },
            }
        )
    )
    run = tmp_path / "run"
    _dsae("train", str(config), "--out", str(run))
    assert (run / "checkpoint.pt").is_file()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert records and all(np.isfinite(r["loss"]) for r in records if "loss" in r)


def test_cli_square_option(tmp_path):
    out = tmp_path / "squares"
    _dsae("data", "build", "balls", "--out", str(out), "--n-train", "4", "--n-test", "2",
          "--shape", "square", "--seed", "5", "--no-progress")  # fmt: skip
    split = load_split(out, "test")
    assert split.meta.info["shape"] == "square" and split.meta.info["seed"] == 5
    assert split.states["angle"].shape == (2, SEQ_LEN, 1)
