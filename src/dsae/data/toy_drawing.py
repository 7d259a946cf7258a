"""Toy sprites, drawing: poses (joint positions) of each action and frame -> body-part
label maps, rasterised from shapes designed on a 64 x 64 grid ("design units")."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

SEQ_LEN = 8
N_HAIR_STYLES = 3
ACTIONS = ("walk", "jump", "wave")
DIRECTIONS = ("front", "left", "right")
ACTION_CLASSES = tuple(f"{a}_{d}" for a in ACTIONS for d in DIRECTIONS)

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
def label_bank(size: int) -> np.ndarray:
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
