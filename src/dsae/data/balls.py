"""Bouncing balls: a ball bouncing in an irregular polygon, simulated with pymunk.

Li & Mandt (2018), section 4.3, follow Fraccaro et al. (2017, the KVAE) and simulate a ball
of radius 3 bouncing inside the polygon with vertices (3, 1), (1, 15), (8, 30), (25, 30),
(30, 8), (15, 1) in a 32 x 32 box, a billiard whose walls meet at irregular angles. Each
sequence starts near the centre, (16, 16) plus Gaussian noise of standard deviation 2.5
(redrawn while the ball would touch a wall), moving in a direction uniform in [0, 360)
degrees at a speed uniform in [10, 15]; pymunk (a real physics engine, Chipmunk) moves it
with fully elastic collisions (elasticity 1) and no gravity, friction or damping. Frames are
0.2 units of simulated time apart; pymunk takes SUBSTEPS = 20 steps per frame (0.01 each:
the ball moves at most 0.15 px per step, so it overlaps a wall by at most about that before
the bounce) with 100 solver iterations each (see SOLVER_ITERATIONS). T = 30 frames of
32 x 32 binary pixels (uint8 0 / 255). The first frame shows the start; frame t the state
at time 0.2 t.

Fraccaro et al. call the dynamics chaotic. The polygon is convex, so the centre moves as a
point in a smaller polygon with the same angles (a polygonal billiard): nearby paths stay
parallel until a corner splits them or a bounce is found one pymunk step earlier in one of
them, then part by many pixels (tests/data/test_balls.py measures how often).

``shape="square"``: a square of side 6 instead, starting at a uniform angle; frictionless
collisions off its centre turn it, and pymunk's rotation is drawn.

The data has no factors: each split holds the frames and the true states, ``position`` and
``velocity`` (N, T, 2) as (row, col) in pixels (velocity in pixels per unit of simulated
time), plus ``angle`` and ``angular_velocity`` (N, T, 1) for the square. Every sequence
draws from its own random stream, spawned from the seed's SeedSequence (train and test from
different children), so the same seed gives the same bytes and no sequence is in both
splits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pymunk
from tqdm import tqdm

from dsae.data.balls_render import POLYGON, RADIUS, SHAPES, SIDE, SIZE, inside_arena, render
from dsae.data.base import DatasetMeta, SequenceSplit, write_dataset_dir
from dsae.errors import DsaeError

GENERATOR_VERSION = 1
SEQ_LEN = 30
DT = 0.2  # simulated time between frames
SUBSTEPS = 20  # pymunk steps per frame
# Contact-solver iterations per step (pymunk's default is 10): a ball in a corner touches two
# walls at once, and with 10 iterations such bounces lost up to 2% of the kinetic energy in
# about 1% of the sequences; with 100 the energy is kept to 1e-9.
SOLVER_ITERATIONS = 100
START = (16.0, 16.0)  # mean start (row, col)
START_STD = 2.5
SPEED = (10.0, 15.0)
MASS = 1.0
MAX_REDRAWS = 1000


@dataclass(frozen=True)
class Start:
    """Where a sequence starts: (row, col) position and velocity, and the square's angle."""

    position: tuple[float, float]
    velocity: tuple[float, float]
    angle: float = 0.0


@dataclass
class Trajectory:
    """True states of one sequence at each frame, (row, col) in pixel units."""

    position: np.ndarray  # (T, 2)
    velocity: np.ndarray  # (T, 2) pixels per unit of simulated time
    angle: np.ndarray  # (T,) radians, from the x (column) axis towards the y (row) axis
    angular_velocity: np.ndarray  # (T,) radians per unit of simulated time


def draw_start(rng: np.random.Generator, shape: str = "ball") -> Start:
    """A start as in Fraccaro et al. (2017): position, then direction, speed (and angle)."""
    _check_shape(shape)
    angle = 0.0
    for _ in range(MAX_REDRAWS):
        position = np.asarray(START) + START_STD * rng.normal(size=2)
        if shape == "square":
            angle = float(rng.uniform(0.0, np.pi / 2))
        if inside_arena(position, angle, shape):
            break
    else:  # pragma: no cover - the start region lies well inside the polygon
        raise DsaeError(f"no start inside the polygon after {MAX_REDRAWS} draws")
    direction = np.deg2rad(rng.uniform(0.0, 360.0))
    speed = rng.uniform(*SPEED)
    velocity = speed * np.array([np.sin(direction), np.cos(direction)])  # (row, col) = (y, x)
    return Start(
        position=(float(position[0]), float(position[1])),
        velocity=(float(velocity[0]), float(velocity[1])),
        angle=angle,
    )


def simulate(
    start: Start, shape: str = "ball", steps: int = SEQ_LEN, substeps: int = SUBSTEPS
) -> Trajectory:
    """The states at ``steps`` frames DT apart, the first at the start; pymunk advances
    ``substeps`` equal steps between frames in a fresh space (so a sequence depends on its
    start alone)."""
    _check_shape(shape)
    space = pymunk.Space()
    space.gravity = (0.0, 0.0)
    space.damping = 1.0  # no damping
    space.iterations = SOLVER_ITERATIONS
    for a, b in zip(POLYGON, POLYGON[1:] + POLYGON[:1], strict=True):
        wall = pymunk.Segment(space.static_body, a, b, 0.0)
        wall.elasticity, wall.friction = 1.0, 0.0
        space.add(wall)
    if shape == "ball":
        body = pymunk.Body(MASS, pymunk.moment_for_circle(MASS, 0.0, RADIUS))
        outline = pymunk.Circle(body, RADIUS)
    else:
        body = pymunk.Body(MASS, pymunk.moment_for_box(MASS, (SIDE, SIDE)))
        outline = pymunk.Poly.create_box(body, (SIDE, SIDE), radius=0.0)
    outline.elasticity, outline.friction = 1.0, 0.0  # a contact's elasticity is the product
    body.position = (start.position[1], start.position[0])  # pymunk's (x, y)
    body.velocity = (start.velocity[1], start.velocity[0])
    body.angle = start.angle
    space.add(body, outline)

    states = np.empty((steps, 6), np.float64)  # x, y, vx, vy, angle, angular velocity
    h = DT / substeps
    for t in range(steps):
        states[t] = (*body.position, *body.velocity, body.angle, body.angular_velocity)
        if t + 1 < steps:
            for _ in range(substeps):
                space.step(h)
    return Trajectory(
        position=states[:, [1, 0]],
        velocity=states[:, [3, 2]],
        angle=states[:, 4],
        angular_velocity=states[:, 5],
    )


def sequence_rngs(seed: int, n_train: int, n_test: int) -> dict[str, list[np.random.Generator]]:
    """One generator per sequence: children (split, i) of the seed's SeedSequence."""
    train, test = np.random.SeedSequence(int(seed)).spawn(2)
    return {
        "train": [np.random.default_rng(s) for s in train.spawn(n_train)],
        "test": [np.random.default_rng(s) for s in test.spawn(n_test)],
    }


STATE_DIMS = {"position": 2, "velocity": 2, "angle": 1, "angular_velocity": 1}


def state_names(shape: str) -> list[str]:
    """The states saved for ``shape``: the square's turn too."""
    return ["position", "velocity"] + (["angle", "angular_velocity"] if shape == "square" else [])


def balls_meta(shape: str = "ball", seed: int = 0) -> DatasetMeta:
    """Metadata of a bouncing-balls dataset: no factors, the true states, the generator."""
    _check_shape(shape)
    return DatasetMeta(
        name="balls",
        seq_len=SEQ_LEN,
        frame_shape=(SIZE, SIZE, 1),
        static_factors={},
        dynamic_factors={},
        info={
            "source": "dsae.data.balls (Fraccaro et al. 2017; Li & Mandt 2018, section 4.3)",
            "generator_version": GENERATOR_VERSION,
            "binary": True,
            "shape": shape,
            "polygon": [list(p) for p in POLYGON],
            "radius": RADIUS,
            "square_side": SIDE,
            "start": list(START),
            "start_std": START_STD,
            "speed": list(SPEED),
            "dt": DT,
            "substeps": SUBSTEPS,
            "solver_iterations": SOLVER_ITERATIONS,
            "elasticity": 1.0,
            "seed": int(seed),
            "pymunk_version": pymunk.version,
            "coordinates": "polygon vertices as (x, y) = (col, row); states as (row, col) in "
            "pixels, velocities per unit of simulated time, angles from x towards y",
        },
        states=state_names(shape),
    )


def make_balls_split(
    rngs: list[np.random.Generator], shape: str = "ball", meta: DatasetMeta | None = None, bar=None
) -> SequenceSplit:
    """One split: a sequence per generator, simulated and drawn."""
    meta = meta or balls_meta(shape)
    n = len(rngs)
    x = np.empty((n, SEQ_LEN, SIZE, SIZE, 1), np.uint8)
    states = {k: np.empty((n, SEQ_LEN, STATE_DIMS[k]), np.float32) for k in state_names(shape)}
    for i, rng in enumerate(rngs):
        traj = simulate(draw_start(rng, shape), shape)
        x[i] = render(traj.position, traj.angle, shape)
        states["position"][i] = traj.position
        states["velocity"][i] = traj.velocity
        if shape == "square":
            states["angle"][i] = traj.angle[:, None]
            states["angular_velocity"][i] = traj.angular_velocity[:, None]
        if bar is not None:
            bar.update(1)
    split = SequenceSplit(
        x=x, static=np.zeros((n, 0), np.int64), dynamic={}, meta=meta, states=states
    )
    split.validate()
    return split


def build_balls(
    out_dir: str | os.PathLike,
    n_train: int = 4000,
    n_test: int = 1000,
    seed: int = 0,
    shape: str = "ball",
    progress: bool = True,
) -> Path:
    """Write a bouncing-balls dataset directory (all or nothing)."""
    _check_shape(shape)
    for flag, n in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(n, int | np.integer) or n < 1:
            raise DsaeError(f"{flag} must be a positive integer, got {n!r}")
    meta = balls_meta(shape, seed)
    meta.info.update(n_train=int(n_train), n_test=int(n_test))
    rngs = sequence_rngs(seed, n_train, n_test)
    with tqdm(total=n_train + n_test, desc="balls", unit="seq", disable=not progress) as bar:
        splits = {name: make_balls_split(r, shape, meta, bar) for name, r in rngs.items()}
    return write_dataset_dir(out_dir, splits)


def _check_shape(shape: str) -> None:
    if shape not in SHAPES:
        raise DsaeError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
