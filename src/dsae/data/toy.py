"""Toy sprites: a procedural dataset of small pixel characters that needs no files.

Each sequence shows one character (the static factors: skin, shirt, pants and hair, six
values each) performing one of nine motions (the dynamic factor ``action`` = 3 * action +
direction, with actions walk / jump / wave and directions front / left / right) over
T = 8 frames on a plain background.

Every frame is drawn as a map of body-part labels (skin, shirt, pants, hair, ...) and then
coloured by the character's palette, so a label map is shared by all characters: the maps
of every (hair style, action, phase, frame) are drawn once per image size and cached, and
a split is one gather of label maps followed by one palette lookup. A random phase offset
per sequence starts the 8-frame motion cycle at any of its 8 poses, so the pose is not a
function of the frame index alone.

Shapes are designed on a 64 x 64 grid ("design units") and rasterised at any size.
"""

from __future__ import annotations

import operator
import os
from pathlib import Path

import numpy as np

from dsae.data.base import DatasetMeta, SequenceSplit, write_dataset_dir
from dsae.data.toy_drawing import (
    ACTION_CLASSES,
    BG,
    EYE_L,
    HAIR_L,
    LINE,
    N_HAIR_STYLES,
    N_LABELS,
    PANTS_FAR,
    PANTS_L,
    SEQ_LEN,
    SHIRT_FAR,
    SHIRT_L,
    SHOE_L,
    SKIN_FAR,
    SKIN_L,
    label_bank,
)
from dsae.errors import DsaeError

GENERATOR_VERSION = 1
MIN_IMAGE_SIZE = 32

# Static factors: value names and RGB colours; all far apart in hue or brightness.
SKIN = {
    "peach": (255, 208, 160),
    "tan": (214, 150, 82),
    "brown": (140, 84, 44),
    "dark": (78, 46, 28),
    "green": (110, 196, 80),
    "blue": (120, 150, 255),
}
SHIRT = {
    "red": (220, 30, 40),
    "orange": (255, 140, 0),
    "yellow": (250, 220, 30),
    "green": (20, 150, 60),
    "blue": (30, 80, 220),
    "white": (250, 250, 250),
}
PANTS = {
    "black": (35, 35, 40),
    "denim": (70, 120, 200),
    "khaki": (190, 160, 100),
    "purple": (120, 40, 150),
    "red": (170, 20, 30),
    "teal": (0, 160, 150),
}
# Hair value v has its own colour and hair style v % 3 (short, long, afro).
HAIR = {
    "black_short": (20, 20, 20),
    "blonde_long": (255, 230, 90),
    "red_afro": (215, 70, 15),
    "white_short": (235, 235, 235),
    "violet_long": (150, 70, 230),
    "pink_afro": (255, 100, 190),
}
STATIC_FACTORS = {"skin": SKIN, "shirt": SHIRT, "pants": PANTS, "hair": HAIR}


BACKGROUND = (200, 215, 230)
OUTLINE = (25, 25, 35)
EYE = (15, 15, 20)
SHOE = (60, 40, 30)
FAR_SHADE = 0.7  # limbs on the far side of a side view are drawn darker


def toy_meta(image_size: int = 64) -> DatasetMeta:
    """Metadata of the toy sprites dataset at one image size."""
    image_size = _check_size(image_size)
    return DatasetMeta(
        name="toy_sprites",
        seq_len=SEQ_LEN,
        frame_shape=(image_size, image_size, 3),
        static_factors={name: len(values) for name, values in STATIC_FACTORS.items()},
        dynamic_factors={"action": len(ACTION_CLASSES)},
        info={
            "source": "dsae.data.toy",
            "generator_version": GENERATOR_VERSION,
            "factor_values": {
                **{name: list(values) for name, values in STATIC_FACTORS.items()},
                "action": list(ACTION_CLASSES),
            },
        },
    )


def render_toy(
    static: np.ndarray, action: np.ndarray, phase: np.ndarray | None = None, image_size: int = 64
) -> np.ndarray:
    """Frames of given characters doing given actions: (N, T, S, S, 3) uint8.

    ``static`` is (N, 4) values of (skin, shirt, pants, hair), ``action`` (N,) classes in
    0..8, ``phase`` (N,) start poses in 0..7 (default 0).
    """
    image_size = _check_size(image_size)
    static = np.asarray(static, dtype=np.int64).reshape(-1, len(STATIC_FACTORS))
    action = np.asarray(action, dtype=np.int64).reshape(-1)
    n = static.shape[0]
    phase = np.zeros(n, np.int64) if phase is None else np.asarray(phase, np.int64).reshape(-1)
    if action.shape != (n,) or phase.shape != (n,):
        raise DsaeError(
            f"static, action and phase disagree in length: {n}, {action.shape}, {phase.shape}"
        )
    for j, (name, values) in enumerate(STATIC_FACTORS.items()):
        if n and (static[:, j].min() < 0 or static[:, j].max() >= len(values)):
            raise DsaeError(f"static factor {name!r} outside 0..{len(values) - 1}")
    if n and (action.min() < 0 or action.max() >= len(ACTION_CLASSES)):
        raise DsaeError(f"action outside 0..{len(ACTION_CLASSES) - 1}")
    if n and (phase.min() < 0 or phase.max() >= SEQ_LEN):
        raise DsaeError(f"phase outside 0..{SEQ_LEN - 1}")

    bank = label_bank(image_size)  # (styles, classes, phases, T, S, S) uint8
    palettes = _palettes(static)  # (N, N_LABELS, 3) uint8
    style = static[:, 3] % N_HAIR_STYLES
    x = np.empty((n, SEQ_LEN, image_size, image_size, 3), np.uint8)
    chunk = 128
    for lo in range(0, n, chunk):
        sl = slice(lo, min(lo + chunk, n))
        labels = bank[style[sl], action[sl], phase[sl]].astype(np.intp)  # (b, T, S, S)
        offsets = np.arange(labels.shape[0], dtype=np.intp) * N_LABELS
        x[sl] = palettes[sl].reshape(-1, 3)[labels + offsets[:, None, None, None]]
    return x


def make_toy_split(n: int, image_size: int = 64, seed: int = 0) -> SequenceSplit:
    """n sequences with every factor drawn independently and uniformly; same seed, same bytes."""
    if n < 0:
        raise DsaeError(f"number of sequences must be >= 0, got {n}")
    meta = toy_meta(image_size)
    rng = np.random.default_rng(seed)
    static = np.stack(
        [rng.integers(0, len(values), size=n) for values in STATIC_FACTORS.values()], axis=1
    ).astype(np.int64)
    action = rng.integers(0, len(ACTION_CLASSES), size=n).astype(np.int64)
    phase = rng.integers(0, SEQ_LEN, size=n).astype(np.int64)
    meta.info["seed"] = int(seed)
    split = SequenceSplit(
        x=render_toy(static, action, phase, image_size),
        static=static,
        dynamic={"action": action},
        meta=meta,
    )
    split.validate()
    return split


def build_toy(
    out_dir: str | os.PathLike,
    n_train: int = 3000,
    n_test: int = 600,
    image_size: int = 64,
    seed: int = 0,
) -> Path:
    """Write a toy sprites dataset directory (train and test from different derived seeds)."""
    train_seed, test_seed = (_derived_seed(seed, i) for i in range(2))
    train = make_toy_split(n_train, image_size, train_seed)
    test = make_toy_split(n_test, image_size, test_seed)
    meta = toy_meta(image_size)
    meta.info.update(
        seed=int(seed),
        train_seed=train_seed,
        test_seed=test_seed,
        n_train=int(n_train),
        n_test=int(n_test),
    )
    train.meta = test.meta = meta
    return write_dataset_dir(out_dir, {"train": train, "test": test})


def _derived_seed(seed: int, index: int) -> int:
    """An independent 63-bit seed for split ``index`` of a dataset built from ``seed``."""
    state = np.random.SeedSequence(int(seed), spawn_key=(index,)).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def _check_size(image_size: int) -> int:
    """The image size as an int, or DsaeError if it is not an integer >= MIN_IMAGE_SIZE."""
    try:
        size = operator.index(image_size)
    except TypeError:
        size = -1
    if size < MIN_IMAGE_SIZE:
        raise DsaeError(f"image_size must be an integer >= {MIN_IMAGE_SIZE}, got {image_size!r}")
    return size


def _palettes(static: np.ndarray) -> np.ndarray:
    """(N, N_LABELS, 3) uint8 colours of every body-part label for each character."""
    tables = [np.array(list(values.values()), np.float64) for values in STATIC_FACTORS.values()]
    skin, shirt, pants, hair = (t[static[:, j]] for j, t in enumerate(tables))
    n = static.shape[0]
    pal = np.zeros((n, N_LABELS, 3), np.float64)
    pal[:, BG] = BACKGROUND
    pal[:, LINE] = OUTLINE
    pal[:, SKIN_L] = skin
    pal[:, SHIRT_L] = shirt
    pal[:, PANTS_L] = pants
    pal[:, HAIR_L] = hair
    pal[:, EYE_L] = EYE
    pal[:, SHOE_L] = SHOE
    pal[:, SKIN_FAR] = skin * FAR_SHADE
    pal[:, SHIRT_FAR] = shirt * FAR_SHADE
    pal[:, PANTS_FAR] = pants * FAR_SHADE
    return np.round(pal).astype(np.uint8)
