"""Curves against one parameter, one panel per setting, each curve's maximiser marked by a
vertical line in its colour (e.g. log-likelihood and ELBOs against a noise level).

Drawn with matplotlib's object API on an Agg canvas, like ``dsae.viz.plots``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dsae.errors import DsaeError
from dsae.utils import atomic_write_bytes

__all__ = ["CurvePanel", "plot_argmax_curves"]


@dataclass
class CurvePanel:
    """One panel: ``curves`` label -> values over ``x``; ``argmax`` label -> where to mark
    its maximum (default: the grid point of the largest value); ``truth``: a dotted line."""

    title: str
    xlabel: str
    x: Sequence[float]
    curves: Mapping[str, Sequence[float]]
    argmax: Mapping[str, float] = field(default_factory=dict)
    truth: float | None = None


def _limits(curves: list[np.ndarray]) -> tuple[float, float]:
    """y-limits that show every curve's peak and the slopes around them, not the far tails."""
    peaks = [float(np.nanmax(c)) for c in curves]
    lo, hi = min(peaks), max(peaks)
    span = max(hi - lo, 0.05 * (abs(hi) + 1.0))
    floor = min(float(np.nanmin(c)) for c in curves)
    return max(floor, lo - 2.0 * span), hi + 0.25 * span


def plot_argmax_curves(
    panels: Sequence[CurvePanel],
    path: str | os.PathLike,
    styles: Mapping[str, Mapping[str, object]] | None = None,
    title: str = "",
) -> Path:
    """Draw the panels one above the other and save a PNG. ``styles`` maps a curve's label
    to matplotlib line keywords (colour, linestyle); the argmax line takes its colour."""
    if not panels:
        raise DsaeError("no panels to plot")
    styles = styles or {}
    fig = Figure(figsize=(7.5, 2.8 * len(panels)), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, panel in zip(axes, panels, strict=True):
        x = np.asarray(panel.x, dtype=float)
        ys = []
        for i, (label, values) in enumerate(panel.curves.items()):
            y = np.asarray(values, dtype=float)
            if y.shape != x.shape:
                raise DsaeError(f"curve {label!r} has {y.shape} values for {x.shape} points")
            kw = {"color": f"C{i}", "linewidth": 1.4} | dict(styles.get(label, {}))
            (line,) = ax.plot(x, y, label=label, **kw)
            at = panel.argmax.get(label, float(x[int(np.nanargmax(y))]))
            ax.axvline(at, color=line.get_color(), linestyle=(0, (4, 3)), linewidth=0.9)
            ys.append(y)
        if panel.truth is not None:
            ax.axvline(panel.truth, color="black", linestyle=":", linewidth=1.2, label="true")
        ax.set_ylim(*_limits(ys))
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(panel.xlabel)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7, loc="best", framealpha=0.8)
    if title:
        fig.suptitle(title, fontsize=11)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return atomic_write_bytes(path, buf.getvalue())
