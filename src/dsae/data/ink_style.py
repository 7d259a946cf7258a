"""Style of handwriting measured from the pixels: slant, stroke thickness, ink extent.

Images are (..., H, W) uint8 grayscale with ink bright (as in MNIST); row r grows downwards,
column c to the right. Ink is every pixel >= :data:`INK_THRESHOLD`. The measures need no
human labels, so a model's per-frame codes can be scored against them.

- slant: the shear of the ink, ``-mu11 / mu02`` from the intensity-weighted second central
  moments (mu11 = mean of (c - c_bar)(r - r_bar), mu02 = mean of (r - r_bar)^2): columns
  moved right per row upwards, 0 for an upright stroke, positive when the top leans right
  (``/``). A stroke sheared by ``c -> c + s (r_0 - r)`` has slant s.
- thickness: ink area / skeleton length in pixels, the skeleton from Zhang-Suen thinning
  (Zhang & Suen 1984) of the ink: the mean stroke width.
- width, height: the ink's bounding box in pixels.
"""

from __future__ import annotations

import numpy as np

INK_THRESHOLD = 128
MAX_THINNING_PASSES = 100


def ink_mask(images: np.ndarray) -> np.ndarray:
    """(..., H, W) bool: pixels >= INK_THRESHOLD."""
    return np.asarray(images) >= INK_THRESHOLD


def slant(images: np.ndarray) -> np.ndarray:
    """(...,) shear -mu11 / mu02 of the intensity-weighted ink (0 where there is no ink)."""
    w = np.asarray(images, np.float64)
    h, wd = w.shape[-2:]
    r = np.arange(h, dtype=np.float64)[:, None]
    c = np.arange(wd, dtype=np.float64)[None, :]
    mass = w.sum(axis=(-2, -1))
    safe = np.where(mass > 0, mass, 1.0)
    r_bar = (w * r).sum(axis=(-2, -1)) / safe
    c_bar = (w * c).sum(axis=(-2, -1)) / safe
    dr = r - r_bar[..., None, None]
    dc = c - c_bar[..., None, None]
    mu11 = (w * dr * dc).sum(axis=(-2, -1)) / safe
    mu02 = (w * dr * dr).sum(axis=(-2, -1)) / safe
    return np.where(mu02 > 0, -mu11 / np.where(mu02 > 0, mu02, 1.0), 0.0)


def _removal_tables() -> np.ndarray:
    """(2, 256) bool: whether Zhang-Suen's sub-iteration 1 or 2 removes a pixel whose
    neighbours P2..P9 are the bits 0..7 of the index."""
    bits = (np.arange(256)[:, None] >> np.arange(8)) & 1  # (256, 8): P2..P9
    b = bits.sum(axis=1)
    a = ((bits == 0) & (np.roll(bits, -1, axis=1) == 1)).sum(axis=1)  # 0 -> 1 in P2..P9, P2
    p2, p4, p6, p8 = bits[:, 0], bits[:, 2], bits[:, 4], bits[:, 6]
    base = (b >= 2) & (b <= 6) & (a == 1)
    first = base & (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
    second = base & (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
    return np.stack([first, second])


_REMOVE = _removal_tables()


def skeleton(mask: np.ndarray) -> np.ndarray:
    """(..., H, W) bool one-pixel-wide skeleton of ``mask`` by Zhang-Suen thinning."""
    mask = np.asarray(mask, bool)
    h, w = mask.shape[-2:]
    flat = mask.reshape(-1, h, w)
    padded = np.zeros((len(flat), h + 2, w + 2), np.uint8)  # 1 = ink, with a blank border
    padded[:, 1:-1, 1:-1] = flat
    offsets = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]  # P2..P9
    active = np.arange(len(flat))  # images still changing
    for _ in range(MAX_THINNING_PASSES):
        if not len(active):
            break
        changed = np.zeros(len(active), bool)
        for table in _REMOVE:
            sub = padded[active]
            code = np.zeros((len(active), h, w), np.uint8)
            for k, (dr, dc) in enumerate(offsets):
                code |= sub[:, 1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w] << k
            remove = (sub[:, 1:-1, 1:-1] == 1) & table[code]
            sub[:, 1:-1, 1:-1][remove] = 0
            padded[active] = sub
            changed |= remove.any(axis=(1, 2))
        active = active[changed]
    return padded[:, 1:-1, 1:-1].astype(bool).reshape(mask.shape)


def thickness(images: np.ndarray) -> np.ndarray:
    """(...,) ink area / skeleton length in pixels (0 where there is no ink)."""
    ink = ink_mask(images)
    area = ink.sum(axis=(-2, -1)).astype(np.float64)
    length = skeleton(ink).sum(axis=(-2, -1)).astype(np.float64)
    return np.where(length > 0, area / np.maximum(length, 1.0), 0.0)


def extent(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(...,) width and (...,) height in pixels of the ink's bounding box (0 without ink)."""
    ink = ink_mask(images)

    def span(any_along: np.ndarray) -> np.ndarray:
        idx = np.arange(any_along.shape[-1])
        first = np.where(any_along, idx, any_along.shape[-1]).min(axis=-1)
        last = np.where(any_along, idx, -1).max(axis=-1)
        return np.maximum(last - first + 1, 0).astype(np.float64)

    return span(ink.any(axis=-2)), span(ink.any(axis=-1))


def measure_style(images: np.ndarray) -> dict[str, np.ndarray]:
    """{slant, thickness, width, height}: each (...,) float64, for (..., H, W) images."""
    width, height = extent(images)
    return {
        "slant": slant(images),
        "thickness": thickness(images),
        "width": width,
        "height": height,
    }
