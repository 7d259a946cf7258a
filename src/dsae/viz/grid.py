"""Still pictures of sequences: frames side by side in a grid, saved as PNG.

Everything here takes numpy arrays and draws each sequence through its frame modality
(:mod:`dsae.data.modality`): image frames ``(T, H, W, C)`` (``C`` = 3 or 1; ``(T, H, W)``
is read as gray) appear as they are; a vector sequence ``(T, D)`` (e.g. a spectrum) becomes
one ``D x T`` heat map with time on the x axis. Callers that know their data's modality
pass it; otherwise it is told from each sequence's frame shape.

Image frames are uint8, or float in [0, 1] (values outside are clipped).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dsae.data.modality import Modality, VectorFrames, modality_for
from dsae.errors import DsaeError
from dsae.utils import atomic_write_bytes

__all__ = ["modality_of", "to_uint8_frames", "sequence_grid", "save_png", "swap_grid"]

# Space between the label margin and the first frame, and around the label text.
_LABEL_GAP = 4
# Swap grids separate their (content, motion, swap) triples by this many times ``pad``.
_PAIR_GAP_FACTOR = 4


def modality_of(seq: np.ndarray) -> Modality:
    """The modality of one sequence ``(T, *frame)``, told from its frame shape; ``(T, H, W)``
    frames are gray images."""
    frame = tuple(np.shape(seq)[1:])
    try:
        return modality_for(frame)
    except DsaeError:
        try:
            return modality_for((*frame, 1))  # gray frames without their channel axis
        except DsaeError:
            raise DsaeError(
                f"sequence has shape {np.shape(seq)}, expected (T, H, W, 3), (T, H, W, 1), "
                "(T, H, W) or (T, D)"
            ) from None


def to_uint8_frames(
    seq: np.ndarray,
    value_range: tuple[float, float] | None = None,
    modality: Modality | None = None,
) -> np.ndarray:
    """Convert one sequence to ``(T', H, W, 3)`` uint8 RGB frames through its modality.

    Image sequences keep their T frames: float values are clipped to [0, 1] and scaled to
    0..255, gray is repeated into three channels. A ``(T, D)`` vector sequence becomes a
    single frame ``(1, D, T, 3)``: a heat map with time on the x axis and feature 0 at the
    bottom, min-max normalised over the sequence, or over ``value_range = (lo, hi)`` when
    given (so several sequences can share one colour scale).
    """
    x = np.asarray(seq)
    if x.dtype == np.bool_ or not (x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating)):
        raise DsaeError(f"frames have dtype {x.dtype}, expected uint8 or float in [0, 1]")
    if x.size == 0:
        raise DsaeError(f"empty sequence of shape {x.shape}")
    return (modality or modality_of(x)).display(x, value_range=value_range)


def _shared_range(
    rows: Sequence[np.ndarray], modalities: Sequence[Modality]
) -> tuple[float, float] | None:
    """Joint (min, max) over the vector rows, so their colours compare across rows."""
    vectors = [r for r, m in zip(rows, modalities, strict=True) if isinstance(m, VectorFrames)]
    if not vectors:
        return None
    return float(min(v.min() for v in vectors)), float(max(v.max() for v in vectors))


def _load_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
        return ImageFont.load_default()


def _text_colour(bg: tuple[int, int, int]) -> tuple[int, int, int]:
    luminance = 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2]
    return (0, 0, 0) if luminance > 128 else (255, 255, 255)


def sequence_grid(
    rows: Sequence[np.ndarray] | np.ndarray,
    pad: int = 2,
    scale: int = 1,
    row_labels: list[str] | None = None,
    bg: tuple[int, int, int] = (255, 255, 255),
    row_gaps: Sequence[int] | None = None,
    modality: Modality | None = None,
) -> np.ndarray:
    """Draw R sequences as R rows of frames, left to right, in one ``(H', W', 3)`` uint8 image.

    Layout: ``pad`` background pixels around the grid and between neighbouring frames and
    rows; ``scale`` enlarges every frame pixel to a ``scale x scale`` block (nearest
    neighbour), pads are not scaled. With equal frame sizes ``(H, W)``, ``T`` frames per row
    and no labels the image is ``(pad + R * (H*scale + pad), pad + T * (W*scale + pad))``
    and frame ``t`` of row ``r`` starts at ``(pad + r*(H*scale + pad), pad + t*(W*scale +
    pad))``. Rows may differ in length and frame size; short rows end early.

    ``row_labels`` (one per row) are written in a left margin with Pillow's default font.
    ``row_gaps`` (R - 1 values) replace ``pad`` as the space below each row but the last,
    to group rows visually. Rows are drawn through ``modality`` (default: each row's own,
    from its frame shape); vector rows share one colour scale.
    """
    rows = list(rows)
    if not rows:
        raise DsaeError("sequence_grid needs at least one row")
    if pad < 0 or scale < 1:
        raise DsaeError(f"need pad >= 0 and scale >= 1, got pad={pad}, scale={scale}")
    if len(bg) != 3 or not all(0 <= int(c) <= 255 for c in bg):
        raise DsaeError(f"bg must be an (R, G, B) triple of 0..255, got {bg!r}")
    bg = tuple(int(c) for c in bg)
    if row_labels is not None and len(row_labels) != len(rows):
        raise DsaeError(f"{len(row_labels)} row labels for {len(rows)} rows")
    gaps = [pad] * (len(rows) - 1) if row_gaps is None else [int(g) for g in row_gaps]
    if len(gaps) != len(rows) - 1 or any(g < 0 for g in gaps):
        raise DsaeError(f"row_gaps needs {len(rows) - 1} non-negative values, got {row_gaps!r}")

    rows = [np.asarray(r) for r in rows]
    modalities = [modality or modality_of(r) for r in rows]
    vrange = _shared_range(rows, modalities)
    frames = [
        to_uint8_frames(r, value_range=vrange, modality=m)
        for r, m in zip(rows, modalities, strict=True)
    ]
    if scale > 1:
        frames = [f.repeat(scale, axis=1).repeat(scale, axis=2) for f in frames]

    row_heights = [f.shape[1] for f in frames]
    row_widths = [f.shape[0] * (f.shape[2] + pad) for f in frames]
    row_tops = [pad]
    for h, gap in zip(row_heights[:-1], gaps, strict=True):
        row_tops.append(row_tops[-1] + h + gap)

    margin = 0
    font = None
    if row_labels is not None:
        # Text as tall as the smallest row, but kept between 8 (legible) and 12 pixels.
        font = _load_font(int(np.clip(min(row_heights), 8, 12)))
        widths = [font.getbbox(str(s))[2] for s in row_labels]
        margin = max(widths, default=0) + 2 * _LABEL_GAP

    height = row_tops[-1] + row_heights[-1] + pad
    width = margin + pad + max(row_widths)
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = bg
    for f, top in zip(frames, row_tops, strict=True):
        h, w = f.shape[1:3]
        for t in range(f.shape[0]):
            left = margin + pad + t * (w + pad)
            canvas[top : top + h, left : left + w] = f[t]

    if row_labels is not None:
        image = Image.fromarray(canvas)
        draw = ImageDraw.Draw(image)
        for label, top, h in zip(row_labels, row_tops, row_heights, strict=True):
            # Anchor "lm": left edge, vertical middle of the text on the row's centre line.
            draw.text(
                (_LABEL_GAP, top + h / 2), str(label), fill=_text_colour(bg), font=font, anchor="lm"
            )
        canvas = np.asarray(image).copy()
    return canvas


def save_png(img: np.ndarray, path: str | os.PathLike) -> Path:
    """Save an ``(H, W, 3)``, ``(H, W, 1)`` or ``(H, W)`` image (uint8 or float in [0, 1]) as
    PNG, atomically, creating parent directories. Returns the path."""
    x = np.asarray(img)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or x.shape[-1] not in (1, 3):
        raise DsaeError(f"image has shape {x.shape}, expected (H, W, 3), (H, W, 1) or (H, W)")
    rgb = to_uint8_frames(x[None])[0]
    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())


def swap_grid(
    content: np.ndarray | Sequence[np.ndarray],
    motion: np.ndarray | Sequence[np.ndarray],
    result: np.ndarray | Sequence[np.ndarray],
    scale: int = 1,
    pad: int = 2,
    modality: Modality | None = None,
) -> np.ndarray:
    """Show P content/motion swaps: for each pair, the content source, the motion source and
    the swapped result, one row each and labelled "content", "motion", "swap".

    Each argument holds P sequences, e.g. ``(P, T, H, W, C)``. The three rows of a pair are
    ``pad`` apart and pairs are ``4 * pad`` apart, so the grid has ``3 * P`` rows.
    """
    content, motion, result = list(content), list(motion), list(result)
    n_pairs = len(content)
    if n_pairs == 0 or len(motion) != n_pairs or len(result) != n_pairs:
        raise DsaeError(
            f"swap_grid needs the same number (>= 1) of content, motion and result sequences, "
            f"got {len(content)}, {len(motion)}, {len(result)}"
        )
    rows = [seq for p in range(n_pairs) for seq in (content[p], motion[p], result[p])]
    labels = ["content", "motion", "swap"] * n_pairs
    gaps = [pad, pad, _PAIR_GAP_FACTOR * pad] * n_pairs
    return sequence_grid(
        rows, pad=pad, scale=scale, row_labels=labels, row_gaps=gaps[:-1], modality=modality
    )
