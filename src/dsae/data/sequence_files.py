"""Reading a folder of sequences from files: PNG frame folders, animated GIFs, .npy arrays.

``SRC`` holds one kind of sequence, one per entry (hidden entries are skipped):

- sub-folders of PNG (or JPEG) frames, in natural order of the file names (``frame_2``
  before ``frame_10``); the sequence is named after the folder;
- animated GIFs, every frame as RGB; the sequence is named after the file without ``.gif``;
- ``.npy`` arrays: (T, H, W, C) or (T, H, W) uint8 frames, or (T, D) feature vectors
  (any real dtype, stored as float32); named after the file without ``.npy``.

Image frames with transparency are put on black. Gray images stay one channel unless some
sequence has colour, then every frame is RGB (:func:`unify_frames`). A ``size`` resizes every
image frame to S x S with Pillow (``area``: box filter, ``nearest``: nearest neighbour).
Every problem (unreadable file, frames of differing sizes, NaN) is a one-line ``DsaeError``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from dsae.data.modality import modality_for
from dsae.errors import DsaeError

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")
RESAMPLE = {"area": Image.Resampling.BOX, "nearest": Image.Resampling.NEAREST}
LAYOUT_SUFFIX = {
    "png": "",
    "gif": ".gif",
    "npy": ".npy",
}  # a sequence's name = file name minus this


def natural_key(s: str) -> tuple:
    """Sort key putting ``frame_2`` before ``frame_10`` (digit runs compare as numbers)."""
    parts = re.split(r"(\d+)", s)
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts)), s


def one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def some_names(names) -> str:
    names = sorted(names, key=natural_key)
    return ", ".join(names[:3]) + (f" (and {len(names) - 3} more)" if len(names) > 3 else "")


# -- finding and reading sequences ----------------------------------------------------------


def find_sequences(src: Path) -> tuple[str, dict[str, Path]]:
    """The layout of ``src`` (``png``, ``gif`` or ``npy``) and its sequences by name."""
    if not src.exists():
        raise DsaeError(f"source folder {src} not found")
    if not src.is_dir():
        raise DsaeError(f"source {src} is not a folder")
    entries = sorted(
        (p for p in src.iterdir() if not p.name.startswith(".")), key=lambda p: natural_key(p.name)
    )
    kinds = {
        "png": [p for p in entries if p.is_dir()],
        "gif": [p for p in entries if p.is_file() and p.suffix.lower() == ".gif"],
        "npy": [p for p in entries if p.is_file() and p.suffix.lower() == ".npy"],
    }
    found = {k: v for k, v in kinds.items() if v}
    if len(found) > 1:
        what = {"png": "sub-folders", "gif": ".gif files", "npy": ".npy files"}
        mix = ", ".join(f"{len(v)} {what[k]}" for k, v in found.items())
        raise DsaeError(f"mixed layouts in {src}: {mix}; keep one kind of sequence per folder")
    if not found:
        loose = [p for p in entries if p.suffix.lower() in FRAME_SUFFIXES]
        hint = "; put each sequence's frames in a sub-folder of its own" if loose else ""
        raise DsaeError(
            f"no sequences found in {src}: expected sub-folders of PNG frames, animated .gif "
            f"files or .npy arrays{hint}"
        )
    layout, paths = next(iter(found.items()))
    seqs: dict[str, Path] = {}
    for p in paths:
        name = p.name if layout == "png" else p.stem
        if name in seqs:
            raise DsaeError(f"two sequences named {name!r} in {src}: {seqs[name].name}, {p.name}")
        seqs[name] = p
    return layout, seqs


def _pixels(img: Image.Image, path: Path, rgb: bool) -> np.ndarray:
    """One Pillow frame -> (H, W, 1) gray or (H, W, 3) RGB uint8, transparency on black."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        raise DsaeError(
            f"{path}: {img.mode} images (16-bit or float) are not supported; save 8-bit images"
        )
    gray = not rgb and img.mode in ("1", "L", "LA", "La")
    if "A" in img.getbands() or "a" in img.getbands() or "transparency" in img.info:
        black = Image.new("RGBA", img.size, (0, 0, 0, 255))
        img = Image.alpha_composite(black, img.convert("RGBA"))
    a = np.asarray(img.convert("L" if gray else "RGB"), dtype=np.uint8)
    return a[..., None] if gray else a


def _read_image_frames(path: Path, layout: str) -> list[np.ndarray]:
    if layout == "gif":
        files = [path]
    else:
        files = [
            p
            for p in sorted(path.iterdir(), key=lambda p: natural_key(p.name))
            if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith(".")
        ]
    if not files:
        raise DsaeError(f"sequence folder {path} holds no PNG frames")
    frames = []
    for f in files:
        try:
            with Image.open(f) as im:
                if layout == "gif":
                    frames += [_pixels(fr, f, rgb=True) for fr in ImageSequence.Iterator(im)]
                else:
                    frames.append(_pixels(im, f, rgb=False))
        except DsaeError:
            raise
        except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
            raise DsaeError(f"cannot read image {f}: {one_line(e)}") from None
    return frames


def _read_npy(path: Path) -> np.ndarray:
    """(T, *stored): uint8 images (T, H, W, C) or float32 vectors (T, D)."""
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        why = (
            "not a .npy array of numbers (damaged, or pickled objects)"
            if "pickle" in str(e)
            else one_line(e)
        )
        raise DsaeError(f"cannot read {path}: {why}") from None
    if (
        not isinstance(a, np.ndarray)
        or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_)
        or np.iscomplexobj(a)
    ):
        raise DsaeError(
            f"{path} holds {getattr(a, 'dtype', type(a))} values, expected uint8 frames or real feature vectors"
        )
    if a.ndim == 2:
        v = a.astype(np.float32)
        if not np.isfinite(v).all():
            raise DsaeError(
                f"{path} contains NaN or infinite values (or values too large for float32)"
            )
        return v
    if a.ndim in (3, 4):
        if a.dtype != np.uint8:
            raise DsaeError(f"{path}: image frames must be uint8 (0..255), got {a.dtype}")
        a = a[..., None] if a.ndim == 3 else a
        if a.shape[-1] not in (1, 3):
            raise DsaeError(
                f"{path}: frames have {a.shape[-1]} channels, expected 1 (gray) or 3 (RGB)"
            )
        return a
    raise DsaeError(
        f"{path} has shape {a.shape}, expected (T, H, W, C) or (T, H, W) uint8 frames or (T, D) vectors"
    )


def _resize(frame: np.ndarray, size: int, resample: str) -> np.ndarray:
    if frame.shape[:2] == (size, size):
        return frame
    img = Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame)
    out = np.asarray(img.resize((size, size), RESAMPLE[resample]), dtype=np.uint8)
    return out.reshape(size, size, frame.shape[-1])


def read_sequence(path: Path, layout: str, size: int | None, resample: str) -> np.ndarray:
    """One sequence as (T, *stored) frames, resized to ``size`` x ``size`` if asked."""
    arr = _read_npy(path) if layout == "npy" else None
    frames = list(arr) if arr is not None else _read_image_frames(path, layout)
    if not frames:
        raise DsaeError(f"sequence {path} has no frames")
    modality = modality_for(frames[0].shape)
    if size is not None:
        if modality.name != "image":
            raise DsaeError(f"--size resizes image frames; {path} holds feature vectors")
        frames = [_resize(f, size, resample) for f in frames]
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        a, b = sorted(shapes)[:2]
        raise DsaeError(
            f"frames of differing sizes in {path}: {a} and {b}; pass --size S to resize them"
        )
    return np.stack(frames)


def unify_frames(seqs: dict[str, np.ndarray]) -> tuple[int, ...]:
    """The common frame shape; gray sequences become RGB when others have colour."""
    if any(s.ndim == 4 and s.shape[-1] == 3 for s in seqs.values()):
        for k, s in seqs.items():
            if s.ndim == 4 and s.shape[-1] == 1:
                seqs[k] = np.repeat(s, 3, axis=-1)
    first = next(iter(seqs))
    for k, s in seqs.items():
        if s.ndim != seqs[first].ndim:
            kind = {2: "feature vectors", 4: "image frames"}
            raise DsaeError(
                f"mixed kinds of frames: {first} holds {kind[seqs[first].ndim]}, {k} {kind[s.ndim]}"
            )
        if s.shape[1:] != seqs[first].shape[1:]:
            hint = "; pass --size S to resize them" if s.ndim == 4 else ""
            raise DsaeError(
                f"frames of differing sizes: {first} has frames {seqs[first].shape[1:]}, "
                f"{k} {s.shape[1:]}{hint}"
            )
    return tuple(seqs[first].shape[1:])
