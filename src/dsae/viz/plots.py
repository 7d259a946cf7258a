"""Plots saved as PNG: training curves from log records, predicted factors along sequences,
verification ROC curves, heat maps over a grid of settings.

Figures are drawn with matplotlib's object API on an Agg canvas, never through pyplot, so
plotting neither needs a display nor touches global figure state.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from numbers import Real
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from dsae.errors import DsaeError
from dsae.utils import atomic_write_bytes

__all__ = ["plot_factor_trajectories", "plot_heatmaps", "plot_roc_curves", "plot_training_curves"]

_DPI = 100


def _save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return atomic_write_bytes(path, buf.getvalue())


def _as_number(value: object) -> float | None:
    """A finite real number as float; None for anything else (strings, bools, NaN, None)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def plot_training_curves(
    records: Sequence[Mapping[str, object]],
    path: str | os.PathLike,
    keys: list[str] | None = None,
) -> Path:
    """Plot logged scalars against ``step``, one panel per key, and save a PNG.

    ``records`` are JSON-lines style dicts such as ``{"step": 100, "loss": 2.3, "kl_z": 0.4}``.
    ``keys`` defaults to every key other than ``step`` that has a numeric value somewhere,
    in order of first appearance. Records without a numeric ``step``, and values that are
    missing, non-numeric, boolean or non-finite, are skipped; a key with no values left
    gets no panel. Points are drawn in record order. If nothing is left to plot, the PNG
    says so instead of failing, so a report can always embed it.
    """
    if keys is None:
        keys = []
        for rec in records:
            for k, v in rec.items():
                if k != "step" and k not in keys and _as_number(v) is not None:
                    keys.append(k)

    series: dict[str, tuple[list[float], list[float]]] = {}
    for key in keys:
        xs, ys = [], []
        for rec in records:
            step, value = _as_number(rec.get("step")), _as_number(rec.get(key))
            if step is not None and value is not None:
                xs.append(step)
                ys.append(value)
        if xs:
            series[key] = (xs, ys)

    n = len(series)
    ncols = min(3, max(n, 1))
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(3.6 * ncols, 2.6 * nrows), layout="constrained")
    if not series:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no numeric values to plot", ha="center", va="center")
        ax.set_axis_off()
        return _save_figure(fig, path)

    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (key, (xs, ys)) in zip(axes, series.items(), strict=False):
        ax.plot(xs, ys, linewidth=1.2, marker="." if len(xs) < 30 else None)
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
    for ax in axes[n:]:
        ax.set_axis_off()
    return _save_figure(fig, path)


def plot_factor_trajectories(
    classes: np.ndarray,
    path: str | os.PathLike,
    factor_names: list[str],
    n_classes: list[int],
    title: str = "",
    jitter: float = 0.25,
) -> Path:
    """Plot predicted factor classes along sequences, one panel per factor, and save a PNG.

    ``classes`` is ``(G, S, T, K)`` int: G groups (e.g. sequences generated with one fixed
    static code f each), S samples per group, T frames and K factors, as judged by a
    classifier. Each panel shows class against frame (numbered 1..T), one line per sample
    coloured by group, after Li & Mandt (2018), Fig. 4. Every line is shifted vertically by
    a fixed offset within ``[-jitter, jitter]``: each group gets its own slice of that range
    (group 0 lowest) and its samples a seeded random position inside it, so samples that
    predict the same classes show as a visible band and groups do not hide each other.
    Colours repeat after 10 groups, and the legend is left out then.
    """
    c = np.asarray(classes)
    if c.ndim != 4:
        raise DsaeError(f"classes have shape {c.shape}, expected (G, S, T, K)")
    if not np.issubdtype(c.dtype, np.integer):
        raise DsaeError(f"classes have dtype {c.dtype}, expected integers")
    n_groups, n_samples, seq_len, n_factors = c.shape
    if min(c.shape) == 0:
        raise DsaeError(f"classes have an empty axis: shape {c.shape}")
    if len(factor_names) != n_factors or len(n_classes) != n_factors:
        raise DsaeError(
            f"{n_factors} factors in classes but {len(factor_names)} names and "
            f"{len(n_classes)} class counts"
        )
    for k, (name, count) in enumerate(zip(factor_names, n_classes, strict=True)):
        if c[..., k].min() < 0 or c[..., k].max() >= count:
            raise DsaeError(f"factor {name!r} has classes outside 0..{count - 1}")

    # Each group owns a band of width 2 * jitter / G around the class value, and its samples
    # spread randomly inside it: groups predicting the same class lie side by side instead
    # of on top of one another.
    band = 2.0 * jitter / n_groups
    centres = -jitter + band * (np.arange(n_groups) + 0.5)
    rng = np.random.default_rng(0)
    offsets = centres[:, None] + rng.uniform(-0.4 * band, 0.4 * band, size=(n_groups, n_samples))
    frames = np.arange(1, seq_len + 1)
    colours = [f"C{g % 10}" for g in range(n_groups)]
    alpha = float(np.clip(4.0 / n_samples, 0.25, 0.9))

    ncols = min(4, n_factors)
    nrows = math.ceil(n_factors / ncols)
    fig = Figure(figsize=(3.4 * ncols, 2.8 * nrows + 0.5), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for k, ax in enumerate(axes[:n_factors]):
        for g in range(n_groups):
            for s in range(n_samples):
                ax.plot(
                    frames,
                    c[g, s, :, k] + offsets[g, s],
                    color=colours[g],
                    alpha=alpha,
                    linewidth=0.8,
                )
        ax.set_title(factor_names[k])
        ax.set_xlabel("frame")
        ax.set_ylabel("predicted class")
        ax.set_ylim(-0.5, n_classes[k] - 0.5)
        ax.set_xlim(0.5, seq_len + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=min(n_classes[k], 10)))
        ax.grid(True, axis="y", alpha=0.3)
    for ax in axes[n_factors:]:
        ax.set_axis_off()
    if n_groups <= 10:
        handles = [Line2D([], [], color=colours[g], linewidth=2) for g in range(n_groups)]
        fig.legend(
            handles,
            [f"group {g}" for g in range(n_groups)],
            loc="outside lower center",
            ncols=n_groups,
            frameon=False,
        )
    if title:
        fig.suptitle(title)
    return _save_figure(fig, path)


def plot_roc_curves(
    roc: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]]],
    path: str | os.PathLike,
    eer: Mapping[str, Mapping[str, float]] | None = None,
    title: str = "",
) -> Path:
    """Plot verification ROC curves, one panel per factor, one line per feature, and save a PNG.

    ``roc`` is ``{factor: {feature: {"fpr": [...], "tpr": [...]}}}`` (as the verification
    protocol writes it); ``eer`` (same keys, fractions) labels each line with its equal error
    rate. The dotted anti-diagonal FAR = FRR crosses each curve at its EER.
    """
    factors = [k for k, v in roc.items() if isinstance(v, Mapping) and v]
    if not factors:
        raise DsaeError("no ROC curves to plot")
    ncols = min(4, len(factors))
    nrows = math.ceil(len(factors) / ncols)
    fig = Figure(figsize=(max(3.4 * ncols, 4.8), 3.4 * nrows + 0.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, factor in zip(axes, factors, strict=False):
        for feature, curve in roc[factor].items():
            fpr, tpr = np.asarray(curve["fpr"], float), np.asarray(curve["tpr"], float)
            if fpr.shape != tpr.shape or fpr.ndim != 1:
                raise DsaeError(f"ROC of {factor} / {feature}: fpr and tpr differ in shape")
            rate = _as_number((eer or {}).get(factor, {}).get(feature))
            label = feature if rate is None else f"{feature} (EER {100 * rate:.1f}%)"
            ax.plot(fpr, tpr, linewidth=1.4, label=label)
        ax.plot([0, 1], [0, 1], color="0.6", linewidth=0.8, linestyle="--")
        ax.plot([0, 1], [1, 0], color="0.6", linewidth=0.8, linestyle=":")
        ax.set_xlim(-0.01, 1.01)  # curves along the axes stay visible
        ax.set_ylim(-0.01, 1.01)
        ax.set_aspect("equal")
        ax.set_title(factor)
        ax.set_xlabel("false acceptance rate")
        ax.set_ylabel("true acceptance rate")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize="small")
    for ax in axes[len(factors) :]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize="medium")
    return _save_figure(fig, path)


def plot_heatmaps(
    panels: Mapping[str, np.ndarray],
    rows: Sequence[object],
    cols: Sequence[object],
    path: str | os.PathLike,
    row_label: str = "",
    col_label: str = "",
    value_format: str = ".2f",
    title: str = "",
) -> Path:
    """Plot one heat map per panel on a shared grid of settings and save a PNG.

    ``panels`` is ``{title: (len(rows), len(cols)) array}``; NaN marks a cell without a
    value (left blank). Each cell is annotated with its value; each panel has its own
    colour scale.
    """
    if not panels:
        raise DsaeError("no heat maps to plot")
    shape = (len(rows), len(cols))
    for name, values in panels.items():
        if np.shape(values) != shape:
            raise DsaeError(f"heat map {name!r}: shape {np.shape(values)}, expected {shape}")
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    size = (max(3.6 * ncols, 4.8), 3.2 * nrows + 0.4)
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (name, values) in zip(axes, panels.items(), strict=False):
        grid = np.asarray(values, dtype=float)
        image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", origin="lower")
        fig.colorbar(image, ax=ax, shrink=0.85)
        for (i, j), v in np.ndenumerate(grid):
            if math.isfinite(v):
                ink = "k" if image.norm(v) > 0.6 else "w"  # dark text on the bright cells
                ax.text(j, i, f"{v:{value_format}}", ha="center", va="center", color=ink,
                        fontsize="small")  # fmt: skip
        ax.set_xticks(range(len(cols)), [str(c) for c in cols])
        ax.set_yticks(range(len(rows)), [str(r) for r in rows])
        ax.set_xlabel(col_label)
        ax.set_ylabel(row_label)
        ax.set_title(name, fontsize="medium")
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize="medium")
    return _save_figure(fig, path)
