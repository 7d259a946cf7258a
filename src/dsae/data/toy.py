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

import functools
import operator
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dsae.data.base import DatasetMeta, SequenceSplit, write_dataset_dir
from dsae.errors import DsaeError

SEQ_LEN = 8
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
N_HAIR_STYLES = 3

ACTIONS = ("walk", "jump", "wave")
DIRECTIONS = ("front", "left", "right")
ACTION_CLASSES = tuple(f"{a}_{d}" for a in ACTIONS for d in DIRECTIONS)

BACKGROUND = (200, 215, 230)
OUTLINE = (25, 25, 35)
EYE = (15, 15, 20)
SHOE = (60, 40, 30)
FAR_SHADE = 0.7  # limbs on the far side of a side view are drawn darker

# Body-part labels of a frame; a palette maps each to a colour.
N_LABELS = 11
(BG, LINE, SKIN_L, SHIRT_L, PANTS_L, HAIR_L, EYE_L, SHOE_L, SKIN_FAR, SHIRT_FAR, PANTS_FAR) = range(
    N_LABELS
)

# Figure geometry, design units (64 x 64 canvas, y down).
GROUND = 56.5  # ankle height when standing
HEAD = (32.0, 20.0)
HEAD_R = 7.6
UPPER_ARM, FOREARM = 6.5, 6.0
THIGH = SHIN = 5.75
SPEED = 2.0  # design units per frame for walking and jumping sideways


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

    bank = _label_bank(image_size)  # (styles, classes, phases, T, S, S) uint8
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


# ----------------------------------------------------------------------------------------
# Drawing: poses (joint positions) -> label maps.


@dataclass
class _Pose:
    """Joint positions of one frame, design units; limbs listed (left, right) or (far, near)."""

    side: bool  # side view facing +x, else front view
    body: tuple[float, float]  # offset of head and torso from the standing position
    shoulders: list[tuple[float, float]]
    elbows: list[tuple[float, float]]
    hands: list[tuple[float, float]]
    hips: list[tuple[float, float]]
    knees: list[tuple[float, float]]
    ankles: list[tuple[float, float]]


class _Canvas:
    """A label map at one resolution with masks of primitive shapes in design units."""

    def __init__(self, size: int) -> None:
        self.k = size / 64.0
        c = (np.arange(size) + 0.5) / self.k
        self.y = c[:, None]
        self.x = c[None, :]
        self.labels = np.zeros((size, size), np.uint8)

    def paint(self, mask: np.ndarray, label: int) -> None:
        """Set the pixels of ``mask`` to ``label``, over whatever was drawn before."""
        self.labels[np.broadcast_to(mask, self.labels.shape)] = label

    def ellipse(self, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
        """Pixels inside an axis-aligned ellipse."""
        return ((self.x - cx) / rx) ** 2 + ((self.y - cy) / ry) ** 2 <= 1.0

    def rect(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        """Pixels inside the box [x0, x1) x [y0, y1)."""
        return (self.x >= x0) & (self.x < x1) & (self.y >= y0) & (self.y < y1)

    def capsule(self, p: tuple[float, float], q: tuple[float, float], r: float) -> np.ndarray:
        """Pixels within ``r`` of the segment p-q: a limb."""
        px, py = p
        dx, dy = q[0] - px, q[1] - py
        t = ((self.x - px) * dx + (self.y - py) * dy) / max(dx * dx + dy * dy, 1e-9)
        t = np.clip(t, 0.0, 1.0)
        return (self.x - px - t * dx) ** 2 + (self.y - py - t * dy) ** 2 <= r * r

    def outline(self) -> None:
        """Mark background pixels 4-adjacent to the figure as outline."""
        fg = self.labels != BG
        grown = fg.copy()
        grown[1:] |= fg[:-1]
        grown[:-1] |= fg[1:]
        grown[:, 1:] |= fg[:, :-1]
        grown[:, :-1] |= fg[:, 1:]
        self.labels[grown & ~fg] = LINE


def _arm(shoulder: tuple[float, float], upper: float, bend: float) -> tuple[tuple, tuple]:
    """Elbow and hand of an arm; angles in degrees from straight down, positive towards +x."""
    a, b = np.radians(upper), np.radians(upper + bend)
    elbow = (shoulder[0] + UPPER_ARM * np.sin(a), shoulder[1] + UPPER_ARM * np.cos(a))
    hand = (elbow[0] + FOREARM * np.sin(b), elbow[1] + FOREARM * np.cos(b))
    return elbow, hand


def _knee(hip: tuple[float, float], ankle: tuple[float, float], bend: float) -> tuple:
    """Knee by two-link inverse kinematics, bending towards the sign of ``bend``."""
    vx, vy = ankle[0] - hip[0], ankle[1] - hip[1]
    d = max(np.hypot(vx, vy), 1e-6)
    reach = THIGH + SHIN
    if d >= reach:
        return (hip[0] + vx * THIGH / d, hip[1] + vy * THIGH / d)
    h = np.sqrt(THIGH**2 - (d / 2) ** 2)
    nx, ny = -vy / d, vx / d
    s = -np.sign(bend) if bend else 0.0
    return ((hip[0] + ankle[0]) / 2 + s * h * nx, (hip[1] + ankle[1]) / 2 + s * h * ny)


def _pose(action: str, side: bool, p: int, k: float) -> _Pose:
    """The pose of ``action`` at step ``p`` of its 8-step cycle (side view faces +x)."""
    a = 2 * np.pi * p / SEQ_LEN
    s, c = np.sin(a), np.cos(a)
    bx = by = 0.0
    lift = [0.0, 0.0]  # ankle raised from the ground (walk) or tucked towards hips (jump)
    swing = [0.0, 0.0]  # leg angle from vertical, degrees, towards +x
    on_ground = True
    if action == "walk":
        if side:
            swing = [-28 * s, 28 * s]
            lift = [3.5 * max(0.0, -c), 3.5 * max(0.0, c)]
            arms = [(32 * s, 25), (-32 * s, 25)]
        else:
            bx = 1.5 * s
            lift = [5.5 * max(0.0, s), 5.5 * max(0.0, -s)]
            arms = [(-(8 + 45 * max(0.0, -s)), -20), (8 + 45 * max(0.0, s), 20)]
    elif action == "jump":
        height = (0, 3, 5, 7, 7, 5, 2, 0)[p]
        crouch = (3.5, 0, 0, 0, 0, 0, 1.5, 1)[p]
        tuck = (0, 0, 2, 4, 3, 1, 0, 0)[p]
        arm_up = (-20, 40, 120, 150, 140, 90, 30, 5)[p]
        by = crouch - height
        on_ground = height == 0
        lift = [tuck, tuck]
        if side:  # arms swing forward, no higher than the shoulders, clear of the face
            arms = [(min(arm_up, 95) - 15, 10), (min(arm_up, 95), 10)]
        else:
            arms = [(-abs(arm_up) - 8, -15), (abs(arm_up) + 8, 15)]
    elif action == "wave":
        wave = 40 * s
        by = 0.75 * (1 + np.cos(2 * a))  # a knee bounce at twice the waving rate
        if side:
            bx = 0.0
            arms = [(5, 10), (80 + wave, 15)]
        else:
            bx = 1.0 * c
            arms = [(-8, -10), (135 + 10 * c, 15 + 35 * s - 10 * c)]
    else:
        raise ValueError(action)

    # body offsets land on the pixel grid so the torso translates rigidly between frames
    bx, by = _to_grid(bx, k), _to_grid(by, k)
    if side:
        shoulders = [(32.0 + bx - 1.0, 30.0 + by), (32.0 + bx + 1.0, 30.0 + by)]
        hips = [(31.0 + bx, 44.5 + by), (33.0 + bx, 44.5 + by)]
    else:
        shoulders = [(22.5 + bx, 30.0 + by), (41.5 + bx, 30.0 + by)]
        hips = [(28.5 + bx, 44.5 + by), (35.5 + bx, 44.5 + by)]
    elbows, hands = zip(
        *(_arm(sh, up, bend) for sh, (up, bend) in zip(shoulders, arms, strict=True)), strict=True
    )

    ankles, knees = [], []
    for i, hip in enumerate(hips):
        if not on_ground:  # airborne: feet hang below the hips, tucked up
            ankle = (hip[0] + (-1.0 if side else 0.0), hip[1] + THIGH + SHIN - 0.5 - lift[i])
        elif side:
            r = np.radians(swing[i])
            leg = THIGH + SHIN - 0.3
            ankle = (hip[0] + leg * np.sin(r), min(hip[1] + leg * np.cos(r), GROUND) - lift[i])
        else:
            ankle = (hip[0], GROUND - lift[i])
        ankles.append(ankle)
        if side:
            knees.append(_knee(hip, ankle, +1.0))
        elif lift[i] > 0 and on_ground:  # a raised front leg is foreshortened, not bent
            knees.append(((hip[0] + ankle[0]) / 2, (hip[1] + ankle[1]) / 2))
        else:
            knees.append(_knee(hip, ankle, -1.0 if i == 0 else 1.0))
    return _Pose(side, (bx, by), shoulders, list(elbows), list(hands), hips, knees, ankles)


def _to_grid(v: float, k: float) -> float:
    """Snap a design-unit offset to whole pixels, rounding halves towards zero."""
    px = np.sign(v) * np.ceil(abs(v * k) - 0.5)
    return float(px) / k


def _draw_limb_arm(cv: _Canvas, pose: _Pose, i: int, far: bool) -> None:
    """Arm ``i``: shirt sleeve, bare forearm and hand."""
    shirt, skin = (SHIRT_FAR, SKIN_FAR) if far else (SHIRT_L, SKIN_L)
    cv.paint(cv.capsule(pose.elbows[i], pose.hands[i], 2.1), skin)
    cv.paint(cv.ellipse(*pose.hands[i], 2.6, 2.6), skin)
    cv.paint(cv.capsule(pose.shoulders[i], pose.elbows[i], 2.7), shirt)


def _draw_limb_leg(cv: _Canvas, pose: _Pose, i: int, far: bool) -> None:
    """Leg ``i``: shoe, shin and thigh."""
    pants = PANTS_FAR if far else PANTS_L
    ax, ay = pose.ankles[i]
    if pose.side:
        cv.paint(cv.ellipse(ax + 1.8, ay + 1.0, 3.9, 2.1), SHOE_L)
    else:
        cv.paint(cv.ellipse(ax, ay + 1.0, 3.3, 2.3), SHOE_L)
    cv.paint(cv.capsule(pose.knees[i], pose.ankles[i], 2.6), pants)
    cv.paint(cv.capsule(pose.hips[i], pose.knees[i], 2.9), pants)


def _draw_head(cv: _Canvas, pose: _Pose, style: int) -> None:
    """Head, hair of one style, eyes (and a nose in side view)."""
    hx, hy = HEAD[0] + pose.body[0], HEAD[1] + pose.body[1]
    back = -1.5 if pose.side else 0.0  # hair sits towards the back of a side view
    if style == 1:  # long: falls behind the head onto the shoulders
        if pose.side:
            cv.paint(cv.rect(hx - 8.5, hy - 3, hx - 1.0, hy + 12), HAIR_L)
        else:
            cv.paint(cv.rect(hx - 9.2, hy - 3, hx + 9.2, hy + 12) & (cv.y < hy + 12), HAIR_L)
    elif style == 2:  # afro: a big round mass
        cv.paint(cv.ellipse(hx + back, hy - 2.0, 10.5, 8.0), HAIR_L)
    if pose.side:
        cv.paint(cv.ellipse(hx + 7.2, hy + 1.5, 1.6, 1.6), SKIN_L)  # nose
    cv.paint(cv.ellipse(hx, hy, HEAD_R, HEAD_R), SKIN_L)
    cap = cv.ellipse(hx + back, hy - 0.8, HEAD_R + 0.9, HEAD_R + 0.6) & (cv.y < hy - 2.0)
    if pose.side:
        cap |= cv.ellipse(hx, hy, HEAD_R + 0.6, HEAD_R + 0.6) & (cv.x < hx - 4.0) & (cv.y < hy + 3)
    cv.paint(cap, HAIR_L)
    if pose.side:
        cv.paint(cv.rect(hx + 2.5, hy - 0.5, hx + 5.0, hy + 2.5), EYE_L)
    else:
        for ex in (hx - 4.2, hx + 1.8):
            cv.paint(cv.rect(ex, hy - 0.5, ex + 2.4, hy + 2.5), EYE_L)


def _draw(pose: _Pose, style: int, size: int) -> np.ndarray:
    """The label map of one pose with one hair style."""
    cv = _Canvas(size)
    bx, by = pose.body
    if pose.side:
        _draw_limb_arm(cv, pose, 0, far=True)
        _draw_limb_leg(cv, pose, 0, far=True)
        _draw_limb_leg(cv, pose, 1, far=False)
        cv.paint(cv.rect(27.0 + bx, 27.0 + by, 37.0 + bx, 42.0 + by), SHIRT_L)
        cv.paint(cv.rect(27.0 + bx, 41.0 + by, 37.0 + bx, 46.5 + by), PANTS_L)
        _draw_head(cv, pose, style)
        _draw_limb_arm(cv, pose, 1, far=False)
    else:
        for i in range(2):
            _draw_limb_leg(cv, pose, i, far=False)
        cv.paint(cv.rect(24.0 + bx, 27.0 + by, 40.0 + bx, 42.0 + by), SHIRT_L)
        cv.paint(cv.rect(24.0 + bx, 41.0 + by, 40.0 + bx, 46.5 + by), PANTS_L)
        _draw_head(cv, pose, style)
        for i in range(2):
            _draw_limb_arm(cv, pose, i, far=False)
    cv.outline()
    return cv.labels


def _shift_x(maps: np.ndarray, dx: int) -> np.ndarray:
    """Translate label maps (..., S, S) by dx pixels along x, filling with background."""
    out = np.full_like(maps, BG)
    if dx > 0:
        out[..., dx:] = maps[..., :-dx]
    elif dx < 0:
        out[..., :dx] = maps[..., -dx:]
    else:
        out[...] = maps
    return out


@functools.lru_cache(maxsize=4)
def _label_bank(size: int) -> np.ndarray:
    """Label maps of every (hair style, action class, phase, frame): (3, 9, 8, T, S, S)."""
    k = size / 64.0
    steps = np.arange(SEQ_LEN)
    bank = np.zeros((N_HAIR_STYLES, len(ACTION_CLASSES), SEQ_LEN, SEQ_LEN, size, size), np.uint8)
    for style in range(N_HAIR_STYLES):
        for ai, action in enumerate(ACTIONS):
            for side in (False, True):
                cycle = np.stack([_draw(_pose(action, side, p, k), style, size) for p in steps])
                # frame t of phase q shows cycle step (q + t) mod T
                seqs = cycle[(steps[:, None] + steps[None, :]) % SEQ_LEN]  # (phase, T, S, S)
                if not side:
                    bank[style, 3 * ai] = seqs
                    continue
                if action != "wave":  # walk and jump travel in the facing direction
                    offsets = np.floor(k * SPEED * (steps - (SEQ_LEN - 1) / 2) + 0.5).astype(int)
                    seqs = np.stack([_shift_x(seqs[:, t], int(offsets[t])) for t in steps], 1)
                bank[style, 3 * ai + 2] = seqs  # right
                bank[style, 3 * ai + 1] = seqs[..., ::-1]  # left: the mirror image
    bank.setflags(write=False)
    return bank
