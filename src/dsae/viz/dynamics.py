"""Pictures of predicted dynamics (Li & Mandt 2018, section 4.3): a whole sequence of binary
frames drawn as one image (Fig. 7), rows of such images side by side, and the imputation
error against the number of missing frames (Fig. 8).

In an overlay, every pixel that is on in some frame takes the colour of the LAST frame in
which it is on (later frames are drawn over earlier ones), so a ball's path reads from dim
to bright: observed frames in grey rising to white, predicted frames in green rising to
full green. A pixel is on where its value in [0, 1] (uint8 read as value / 255) exceeds
the threshold, as in :mod:`dsae.eval.imputation`, so the picture shows what the error counts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image, ImageDraw

from dsae.errors import DsaeError
from dsae.viz.grid import _LABEL_GAP, _load_font, _text_colour, save_png, sequence_grid
from dsae.viz.plots import _as_number, _save_figure

__all__ = ["overlay", "overlay_figure", "plot_imputation"]

MIN_INTENSITY = 0.2  # the first frame's brightness; the last frame's is 1
OBSERVED = np.array([1.0, 1.0, 1.0])  # grey to white
PREDICTED = np.array([0.0, 1.0, 0.0])  # dark to full green
_PAD = 2  # between overlays and rows of a figure
_YLABELS = {
    "wrong_missing": "wrong pixels in the missing frames (fraction)",
    "wrong_all": "wrong pixels in all frames (fraction)",
    "position_error": "ball position error in the missing frames (pixels)",
    "position_error_median": "median ball position error (pixels)",
}


def _planes(frames: np.ndarray) -> np.ndarray:
    """(T, H, W), (T, H, W, 1) or (T, 1, H, W) -> (T, H, W)."""
    x = np.asarray(frames)
    if x.ndim == 3:
        return x
    if x.ndim == 4 and x.shape[1] == 1 and x.shape[-1] != 1:
        return x[:, 0]
    if x.ndim == 4 and x.shape[-1] == 1:
        return x[..., 0]
    raise DsaeError(
        f"sequence has shape {x.shape}, expected (T, H, W), (T, H, W, 1) or (T, 1, H, W)"
    )


def overlay(frames: np.ndarray, observed: int | None = None, threshold: float = 0.5) -> np.ndarray:
    """One sequence of binary frames (uint8, bool, or float in [0, 1]) as one (H, W, 3) uint8
    image (Li & Mandt 2018, Fig. 7).

    Frame t (0-based) of T is drawn with brightness rising linearly from ``MIN_INTENSITY``
    (t = 0) to 1 (t = T - 1) on black; frames before ``observed`` in grey/white, the later
    (predicted) ones in green; ``observed=None`` draws every frame as observed. Where frames
    overlap the later one wins.
    """
    x = _planes(frames)
    if x.shape[0] == 0:
        raise DsaeError(f"cannot overlay a sequence of shape {x.shape}")
    if x.dtype == np.bool_:
        on = x
    else:
        on = x > threshold * 255.0 if x.dtype == np.uint8 else x > threshold
    steps = x.shape[0]
    first_predicted = steps if observed is None else int(observed)
    canvas = np.zeros((*x.shape[1:], 3))
    for t in range(steps):
        level = MIN_INTENSITY + (1.0 - MIN_INTENSITY) * t / max(steps - 1, 1)
        colour = OBSERVED if t < first_predicted else PREDICTED
        canvas[on[t]] = level * colour
    return np.rint(canvas * 255.0).astype(np.uint8)


def overlay_figure(
    rows: list[tuple[str, list[np.ndarray]]],
    path: str | os.PathLike,
    scale: int = 4,
    titles: list[str] | None = None,
) -> Path:
    """Labelled rows of overlays (e.g. "truth", "stochastic t=20", "LSTM t=20"), one column
    per test sequence, written as a PNG (atomically). ``rows`` = [(label, [overlay (H, W, 3)
    per column])], every row with the same number of overlays of one size; ``titles`` (one
    per column) are written above the columns. Returns the path."""
    if not rows:
        raise DsaeError("overlay_figure needs at least one row")
    labels = [str(label) for label, _ in rows]
    images = [np.stack([np.asarray(im) for im in ims]) if ims else None for _, ims in rows]
    if any(im is None or im.ndim != 4 or im.shape[-1] != 3 for im in images):
        raise DsaeError("every row needs a list of (H, W, 3) overlays")
    if len({im.shape for im in images}) != 1:
        raise DsaeError(f"rows differ in size: {[im.shape for im in images]}")
    columns, h, w = images[0].shape[:3]
    canvas = sequence_grid(images, pad=_PAD, scale=scale, row_labels=labels)
    if titles is not None:
        if len(titles) != columns:
            raise DsaeError(f"{len(titles)} titles for {columns} columns")
        canvas = _with_titles(canvas, [str(t) for t in titles], w * scale)
    return save_png(canvas, path)


def _with_titles(canvas: np.ndarray, titles: list[str], col_width: int) -> np.ndarray:
    """``canvas`` (a grid whose columns end at its right edge) under a strip of titles."""
    font = _load_font(10)
    height = 10 + 2 * _LABEL_GAP
    bg = (255, 255, 255)
    strip = Image.new("RGB", (canvas.shape[1], height), bg)
    draw = ImageDraw.Draw(strip)
    first = canvas.shape[1] - len(titles) * (col_width + _PAD)  # left edge of column 0
    for c, title in enumerate(titles):
        centre = first + c * (col_width + _PAD) + col_width / 2
        draw.text((centre, height / 2), title, fill=_text_colour(bg), font=font, anchor="mm")
    return np.concatenate([np.asarray(strip), canvas], axis=0)


def _series(values: Sequence[object] | None, n: int, what: str) -> np.ndarray:
    """Numbers as floats (None and non-numbers as NaN: gaps in the line)."""
    if values is None:
        return np.full(n, np.nan)
    out = np.array([np.nan if _as_number(v) is None else _as_number(v) for v in values])
    if out.shape != (n,):
        raise DsaeError(f"{what} has {out.size} values for {n} missing-frame counts")
    return out


def plot_imputation(
    curves: Mapping[str, Mapping[str, Sequence[object]]],
    path: str | os.PathLike,
    key: str = "wrong_missing",
    ylabel: str | None = None,
    title: str = "",
) -> Path:
    """Imputation error against the number of missing frames (Li & Mandt 2018, Fig. 8), one
    line per label with a band of +- the spread, saved as a PNG.

    ``curves[label]`` is ``{"missing": [...], "mean": [...], "std": [...]}`` (e.g. the mean
    and standard deviation over seeds); without ``mean`` the line is ``curves[label][key]``
    and the band ``curves[label][key + "_std"]`` (the ``sampled`` or ``most_likely`` part of
    an imputation curve with its ``missing`` added). ``ylabel`` defaults to what ``key``
    measures."""
    if not curves:
        raise DsaeError("no imputation curves to plot")
    fig = Figure(figsize=(5.6, 3.8), layout="constrained")
    ax = fig.add_subplot()
    for i, (label, curve) in enumerate(curves.items()):
        given = list(curve.get("missing") or [])
        missing = _series(given, len(given), "missing")
        if missing.size == 0 or np.isnan(missing).any():
            raise DsaeError(f"curve {label!r} has no missing-frame counts")
        mean_key, std_key = ("mean", "std") if "mean" in curve else (key, f"{key}_std")
        if mean_key not in curve:
            raise DsaeError(f"curve {label!r} has neither 'mean' nor {key!r}")
        mean = _series(curve[mean_key], missing.size, f"{label!r} {mean_key}")
        std = _series(curve.get(std_key), missing.size, f"{label!r} {std_key}")
        colour = f"C{i % 10}"
        ax.plot(missing, mean, color=colour, marker=".", linewidth=1.4, label=str(label))
        if np.isfinite(std).any():
            ax.fill_between(missing, mean - std, mean + std, color=colour, alpha=0.2, linewidth=0)
    ax.set_xlabel("missing frames at the end of the sequence")
    ax.set_ylabel(ylabel if ylabel is not None else _YLABELS.get(key, key))
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title, fontsize="medium")
    return _save_figure(fig, path)
