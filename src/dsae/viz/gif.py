"""Animated GIFs of image sequences played side by side.

Only modalities whose frames are pictures animate (images); a vector sequence is drawn
whole as one heat map by :func:`~dsae.viz.grid.sequence_grid` instead.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from dsae.data.modality import ImageFrames, Modality
from dsae.errors import DsaeError
from dsae.utils import atomic_write_bytes
from dsae.viz.grid import modality_of, sequence_grid, to_uint8_frames

__all__ = ["animates", "save_gif"]

# Beyond this many pixels, the palette of a many-coloured GIF is estimated from a subset
# of the frames, to bound time and memory.
_PALETTE_SAMPLE_PIXELS = 4_000_000


def _palette_images(frames: np.ndarray) -> list[Image.Image]:
    """(T, H, W, 3) uint8 -> T palette ("P") images sharing one palette.

    One palette for the whole animation keeps a colour the same from frame to frame. Up
    to 256 distinct colours are kept exactly; beyond that the palette comes from median-cut
    quantisation, which is deterministic, and pixels map to their nearest palette colour.
    """
    packed = (
        frames[..., 0].astype(np.uint32) << 16
        | frames[..., 1].astype(np.uint32) << 8
        | frames[..., 2].astype(np.uint32)
    )
    colours, index = np.unique(packed, return_inverse=True)
    if len(colours) <= 256:
        palette = np.zeros((256, 3), dtype=np.uint8)
        palette[: len(colours)] = np.stack(
            [colours >> 16, (colours >> 8) & 255, colours & 255], axis=1
        ).astype(np.uint8)
        index = index.reshape(packed.shape).astype(np.uint8)
        images = []
        for t in range(len(frames)):
            im = Image.fromarray(index[t], mode="P")
            im.putpalette(palette.tobytes())
            images.append(im)
        return images

    stride = max(1, int(np.ceil(frames[:, :, :, 0].size / _PALETTE_SAMPLE_PIXELS)))
    sample = frames[::stride].reshape(-1, frames.shape[2], 3)
    reference = Image.fromarray(sample, mode="RGB").quantize(
        colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    return [
        Image.fromarray(f, mode="RGB").quantize(palette=reference, dither=Image.Dither.NONE)
        for f in frames
    ]


def animates(modality: Modality) -> bool:
    """Whether sequences of this modality play as an animation (one picture per frame)."""
    return isinstance(modality, ImageFrames)


def save_gif(
    sequences: np.ndarray | Sequence[np.ndarray],
    path: str | os.PathLike,
    fps: float = 8,
    scale: int = 1,
    pad: int = 2,
    bg: tuple[int, int, int] = (255, 255, 255),
    modality: Modality | None = None,
) -> Path:
    """Animate N image sequences side by side and save them as a GIF that loops forever.

    ``sequences`` is ``(N, T, H, W, C)`` or a list of N ``(T, H, W, C)`` / ``(T, H, W)``
    sequences (uint8, or float in [0, 1]) with equal T and frame size. Frame t of the GIF
    shows frame t of every sequence in one row, laid out as by
    :func:`~dsae.viz.grid.sequence_grid` (so it is ``pad + H*scale + pad`` pixels high and
    ``pad + N * (W*scale + pad)`` wide).

    GIF timing has a resolution of 10 ms, so ``fps`` is rounded to a whole number of
    centiseconds per frame. Pillow merges identical consecutive frames into one longer
    frame, so a sequence that stands still yields fewer GIF frames than T; playback timing
    is unchanged. The same input always gives the same bytes. Sequences are drawn through
    ``modality`` (default: told from each one's frame shape); vector sequences ``(T, D)``
    are refused: draw them with ``sequence_grid``.
    """
    seqs = list(sequences)
    if not seqs:
        raise DsaeError("save_gif needs at least one sequence")
    if not fps > 0:
        raise DsaeError(f"fps must be positive, got {fps}")
    modalities = [modality or modality_of(s) for s in seqs]
    if not all(animates(m) for m in modalities):
        raise DsaeError("save_gif animates image sequences; draw (T, D) vectors with sequence_grid")
    frames = [to_uint8_frames(s, modality=m) for s, m in zip(seqs, modalities, strict=True)]
    if len({f.shape for f in frames}) != 1:
        raise DsaeError(
            "save_gif needs sequences of equal length and frame size, got shapes "
            + ", ".join(str(f.shape) for f in frames)
        )
    stacked = np.stack(frames, axis=1)  # (T, N, H, W, 3)
    canvases = np.stack(
        [
            sequence_grid([row], pad=pad, scale=scale, bg=bg, modality=ImageFrames(row.shape[1:]))
            for row in stacked
        ]
    )

    images = _palette_images(canvases)
    duration_ms = max(10, int(round(100.0 / fps)) * 10)
    buf = io.BytesIO()
    images[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=duration_ms,
        loop=0,
    )
    return atomic_write_bytes(path, buf.getvalue())
