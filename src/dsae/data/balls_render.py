"""The bouncing-balls arena and its pictures: the polygon, distances to its walls, and
binary frames of a ball or a square.

Coordinates are pixel units. The simulation's x is the image column and its y the image
row; pixel (r, c) covers [r, r + 1) x [c, c + 1) and is on when its centre
(r + 0.5, c + 0.5) lies inside the shape. Positions handed to and returned from this module
are (row, col) = (y, x).
"""

from __future__ import annotations

import numpy as np

from dsae.errors import DsaeError

SIZE = 32  # frames are SIZE x SIZE pixels
# The irregular (convex) polygon of Fraccaro et al. (2017), vertices as (x, y).
POLYGON = ((3.0, 1.0), (1.0, 15.0), (8.0, 30.0), (25.0, 30.0), (30.0, 8.0), (15.0, 1.0))
RADIUS = 3.0  # the ball's radius
SIDE = 6.0  # the square's side
SHAPES = ("ball", "square")
ON = 255


def _inward_edges() -> tuple[np.ndarray, np.ndarray]:
    """Each wall as a point on it and its unit normal pointing into the polygon, in (row, col)."""
    xy = np.asarray(POLYGON, np.float64)
    a, b = xy, np.roll(xy, -1, axis=0)
    d = b - a
    normal = np.stack([-d[:, 1], d[:, 0]], axis=1) / np.linalg.norm(d, axis=1, keepdims=True)
    centroid = xy.mean(axis=0)
    flip = np.einsum("ij,ij->i", centroid - a, normal) < 0
    normal[flip] *= -1
    return a[:, ::-1].copy(), normal[:, ::-1].copy()


_EDGE_POINT, _EDGE_NORMAL = _inward_edges()


def edge_distances(points: np.ndarray) -> np.ndarray:
    """Signed distance of (..., 2) (row, col) points to each wall's line: (..., n_walls),
    positive inside. The polygon is convex, so a point is inside when all are positive, and a
    disk of radius r centred there is inside when all are >= r."""
    p = np.asarray(points, np.float64)[..., None, :]  # (..., 1, 2)
    return np.einsum("...ij,ij->...i", p - _EDGE_POINT, _EDGE_NORMAL)


def square_corners(position: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(..., 4, 2) (row, col) corners of squares of side SIDE centred at (..., 2) positions,
    turned by (...) angles (radians, from the x axis towards the y axis)."""
    h = SIDE / 2
    local = np.array([[-h, -h], [h, -h], [h, h], [-h, h]])  # (x, y) in the body's frame
    a = np.asarray(angle, np.float64)[..., None]
    cos, sin = np.cos(a), np.sin(a)
    x = cos * local[:, 0] - sin * local[:, 1]
    y = sin * local[:, 0] + cos * local[:, 1]
    pos = np.asarray(position, np.float64)
    return np.stack([pos[..., None, 0] + y, pos[..., None, 1] + x], axis=-1)


def inside_arena(position: np.ndarray, angle: float, shape: str) -> bool:
    """Whether the shape at (row, col) ``position`` (turned by ``angle``) touches no wall."""
    if shape == "ball":
        return bool((edge_distances(position) >= RADIUS).all())
    return bool((edge_distances(square_corners(position, angle)) >= 0).all())


def render(position: np.ndarray, angle: np.ndarray | None, shape: str) -> np.ndarray:
    """Binary frames (T, SIZE, SIZE, 1) uint8 (0 / 255) of the shape at (T, 2) (row, col)
    positions; a square is turned by (T,) angles (radians, from x towards y)."""
    if shape not in SHAPES:
        raise DsaeError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
    pos = np.asarray(position, np.float64)
    centres = np.arange(SIZE) + 0.5
    dy = centres[None, :, None] - pos[:, 0, None, None]  # (T, rows, 1)
    dx = centres[None, None, :] - pos[:, 1, None, None]  # (T, 1, cols)
    if shape == "ball":
        on = dx**2 + dy**2 <= RADIUS**2
    else:
        a = np.asarray(angle, np.float64)[:, None, None]
        cos, sin = np.cos(a), np.sin(a)
        u = cos * dx + sin * dy  # the pixel centre in the square's own frame
        v = cos * dy - sin * dx
        on = (np.abs(u) <= SIDE / 2) & (np.abs(v) <= SIDE / 2)
    return (on.astype(np.uint8) * ON)[..., None]
