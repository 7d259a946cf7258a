"""Sequences of handwritten digits (MNIST) or clothing items (Fashion-MNIST) of one class.

Source: the 10,000-image test set in IDX format, ``t10k-images-idx3-ubyte.gz`` and
``t10k-labels-idx1-ubyte.gz`` in the ``--source`` folder (MNIST: Y. LeCun and C. Cortes,
CC BY-SA 3.0; Fashion-MNIST: Zalando Research, MIT, installed by Debian's
``dataset-fashion-mnist`` under :data:`FASHION_SOURCE`).

Split by image: images 0-7999 are the training images, 8000-9999 the test images, so no
image appears in both splits (``state_source_index`` holds every frame's image index).

A sequence is T = 8 images of one class: the class uniformly at random, then 8 distinct
images of that class from the split's images, independently for every sequence. Each
split has its own stream, a child of ``SeedSequence(seed)``, so a build is deterministic
given the seed (byte-identical files).

Frames: (28, 28, 1) uint8, ink bright. Labels: the class (static: ``digit`` or ``item``);
per frame the measured style of :mod:`dsae.data.ink_style` as continuous states
(``slant``, ``thickness``, ``width``, ``height``, each (N, T, 1)) and, for slant and
thickness, as dynamic labels (N, T) in 3 bins whose edges are the 1/3 and 2/3 quantiles of
the measure over all training images (``info.bins``).
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dsae.data.base import DatasetMeta, SequenceSplit, write_dataset_dir
from dsae.data.fetch import is_url
from dsae.data.ink_style import INK_THRESHOLD, measure_style
from dsae.errors import DsaeError

SEQ_LEN = 8
SIZE = 28
N_IMAGES = 10000
N_TRAIN_IMAGES = 8000  # images 0..7999 train, 8000..9999 test
IMAGES_FILE = "t10k-images-idx3-ubyte.gz"
LABELS_FILE = "t10k-labels-idx1-ubyte.gz"
FASHION_SOURCE = "/usr/share/datasets/fashion-mnist"
STATES = ("slant", "thickness", "width", "height")
BINNED = {"slant": ["left", "middle", "right"], "thickness": ["thin", "medium", "thick"]}
QUANTILES = (1 / 3, 2 / 3)
VARIANTS = {
    "digits": {
        "factor": "digit",
        "classes": [str(d) for d in range(10)],
        "source": "MNIST test set (Y. LeCun and C. Cortes)",
        "license": "CC BY-SA 3.0 (MNIST, Y. LeCun and C. Cortes)",
        "default_source": None,
    },
    "fashion": {
        "factor": "item",
        "classes": [
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ],
        "source": "Fashion-MNIST test set (Zalando Research)",
        "license": "MIT (Fashion-MNIST, Zalando Research)",
        "default_source": FASHION_SOURCE,
    },
}


def _read_gz(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DsaeError(f"cannot read {path}: {e}") from None


def read_idx(source: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(10000, 28, 28) uint8 images and (10000,) int64 labels of the t10k IDX files."""
    folder = Path(source)
    if not folder.is_dir():
        raise DsaeError(f"source {folder} is not a folder (expected {IMAGES_FILE}, {LABELS_FILE})")
    missing = [f for f in (IMAGES_FILE, LABELS_FILE) if not (folder / f).is_file()]
    if missing:
        raise DsaeError(f"{' and '.join(missing)} not found in {folder}")
    raw_x, raw_y = _read_gz(folder / IMAGES_FILE), _read_gz(folder / LABELS_FILE)
    head_x = np.frombuffer(raw_x[:16], ">u4") if len(raw_x) >= 16 else np.zeros(0)
    if head_x.tolist() != [0x803, N_IMAGES, SIZE, SIZE] or len(raw_x) != 16 + N_IMAGES * SIZE**2:
        raise DsaeError(
            f"{folder / IMAGES_FILE} is not an IDX file of {N_IMAGES} {SIZE}x{SIZE} images"
        )
    head_y = np.frombuffer(raw_y[:8], ">u4") if len(raw_y) >= 8 else np.zeros(0)
    if head_y.tolist() != [0x801, N_IMAGES] or len(raw_y) != 8 + N_IMAGES:
        raise DsaeError(f"{folder / LABELS_FILE} is not an IDX file of {N_IMAGES} labels")
    images = np.frombuffer(raw_x, np.uint8, offset=16).reshape(N_IMAGES, SIZE, SIZE)
    labels = np.frombuffer(raw_y, np.uint8, offset=8).astype(np.int64)
    if labels.max() >= 10:
        raise DsaeError(f"{folder / LABELS_FILE} has labels outside 0..9")
    return images, labels


def image_indices() -> dict[str, np.ndarray]:
    """The source image indices of each split: 0..7999 train, 8000..9999 test."""
    return {
        "train": np.arange(N_TRAIN_IMAGES),
        "test": np.arange(N_TRAIN_IMAGES, N_IMAGES),
    }


def bin_edges(style: dict[str, np.ndarray], train: np.ndarray) -> dict[str, list[float]]:
    """{measure: [q1/3, q2/3]} of the binned measures over the training images ``train``."""
    return {k: [float(q) for q in np.quantile(style[k][train], QUANTILES)] for k in BINNED}


def draw_sequences(
    labels: np.ndarray, pool: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """(n, T) image indices: per sequence a uniform class, then T distinct images of it."""
    by_class = [pool[labels[pool] == k] for k in range(10)]
    for k, members in enumerate(by_class):
        if len(members) < SEQ_LEN:
            raise DsaeError(
                f"class {k} has {len(members)} images in the split, fewer than {SEQ_LEN}"
            )
    out = np.empty((n, SEQ_LEN), np.int64)
    for i, k in enumerate(rng.integers(0, 10, size=n)):
        out[i] = rng.choice(by_class[k], size=SEQ_LEN, replace=False)
    return out


def digits_meta(variant: str, seed: int, edges: dict[str, list[float]]) -> DatasetMeta:
    """Metadata: the class (static), binned style (dynamic), the states and provenance."""
    v = VARIANTS[variant]
    return DatasetMeta(
        name=variant,
        seq_len=SEQ_LEN,
        frame_shape=(SIZE, SIZE, 1),
        static_factors={v["factor"]: len(v["classes"])},
        dynamic_factors={k: len(c) for k, c in BINNED.items()},
        info={
            "source": v["source"],
            "files": [IMAGES_FILE, LABELS_FILE],
            "image_split": f"images 0-{N_TRAIN_IMAGES - 1} train, "
            f"{N_TRAIN_IMAGES}-{N_IMAGES - 1} test (of the {N_IMAGES}-image test set)",
            "sequence": f"{SEQ_LEN} distinct images of one uniformly drawn class",
            "seed": int(seed),
            "classes": {v["factor"]: list(v["classes"]), **BINNED},
            "bins": edges,
            "bin_rule": "edges: 1/3 and 2/3 quantiles over the training images; "
            "label = number of edges <= value",
            "style": "slant = -mu11/mu02 (shear, columns per row upwards, > 0 leans right), "
            "thickness = ink area / Zhang-Suen skeleton length, width and height of the ink "
            f"box; ink = pixel >= {INK_THRESHOLD}",
            "source_index": "state_source_index: each frame's image index (exact in float32)",
            "license": v["license"],
        },
        states=[*STATES, "source_index"],
    )


def make_split(
    images: np.ndarray,
    labels: np.ndarray,
    style: dict[str, np.ndarray],
    index: np.ndarray,
    meta: DatasetMeta,
) -> SequenceSplit:
    """The sequences of image indices ``index`` (N, T) with their labels and states."""
    edges = meta.info["bins"]
    states = {k: style[k][index][..., None].astype(np.float32) for k in STATES}
    states["source_index"] = index[..., None].astype(np.float32)
    split = SequenceSplit(
        x=images[index][..., None],
        static=labels[index[:, :1]],
        dynamic={k: np.searchsorted(edges[k], style[k][index], side="right") for k in BINNED},
        meta=meta,
        states=states,
    )
    split.validate()
    return split


def measure_frames(frames: np.ndarray) -> dict[str, np.ndarray]:
    """{slant, thickness, width, height}: each (...,) float64, measured as the dataset's
    states were, from (..., H, W, C) uint8 frames (several channels: their mean)."""
    frames = np.asarray(frames)
    gray = frames[..., 0] if frames.shape[-1] == 1 else frames.mean(axis=-1)
    return measure_style(gray)


def build_digits(
    out_dir: str | os.PathLike,
    variant: str = "digits",
    source: str | os.PathLike | None = None,
    n_train: int = 6000,
    n_test: int = 1000,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write a digits (MNIST) or fashion (Fashion-MNIST) dataset directory (all or nothing)."""
    if variant not in VARIANTS:
        raise DsaeError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    for flag, n in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(n, int | np.integer) or n < 1:
            raise DsaeError(f"{flag} must be a positive integer, got {n!r}")
    source = VARIANTS[variant]["default_source"] if source is None else source
    if source is None:
        raise DsaeError(
            f"{variant} needs --source: a folder holding {IMAGES_FILE} and {LABELS_FILE} "
            "(the MNIST test set), e.g. ../shared/data/mnist"
        )
    if is_url(str(source)):
        raise DsaeError(f"--source must be a local folder, not a URL: {source}")
    images, labels = read_idx(source)
    with tqdm(total=3, desc=variant, unit="step", disable=not progress) as bar:
        style = measure_style(images)
        bar.update(1)
        pools = image_indices()
        meta = digits_meta(variant, seed, bin_edges(style, pools["train"]))
        meta.info.update(n_train=int(n_train), n_test=int(n_test))
        rngs = np.random.SeedSequence(int(seed)).spawn(2)
        splits = {}
        for (name, pool), n, ss in zip(pools.items(), (n_train, n_test), rngs, strict=True):
            index = draw_sequences(labels, pool, int(n), np.random.default_rng(ss))
            splits[name] = make_split(images, labels, style, index, meta)
            bar.update(1)
    return write_dataset_dir(out_dir, splits)
