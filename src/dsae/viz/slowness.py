"""The slow-latents figure: per latent (rows, slowest first) the histogram of its posterior
eigenvalues lambda_t,i with the prior's lambda_i marked, what it predicts of each factor and
state, and the slow-block swap curve.

Drawn with matplotlib's object API on an Agg canvas, like ``dsae.viz.plots``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from dsae.errors import DsaeError
from dsae.viz.plots import _save_figure

__all__ = ["plot_slowness"]


def _histograms(ax: Any, fig: Figure, eig: Mapping[str, Any], order: np.ndarray) -> None:
    edges = np.asarray(eig["histogram"]["edges"], dtype=float)
    counts = np.asarray(eig["histogram"]["counts"], dtype=float)[order]
    density = counts / np.maximum(counts.sum(1, keepdims=True), 1.0)
    extent = (edges[0], edges[-1], len(order) - 0.5, -0.5)
    image = ax.imshow(density, aspect="auto", cmap="magma", extent=extent, interpolation="none")
    fig.colorbar(image, ax=ax, shrink=0.85, label="fraction of steps")
    prior = np.asarray(eig["prior"], dtype=float)[order]
    ax.plot(np.clip(prior, edges[0], edges[-1]), np.arange(len(order)), "c|", markersize=7,
            label="prior lambda_i")  # fmt: skip
    ax.axvline(1.0, color="w", linewidth=0.6, linestyle=":")
    ax.set_yticks(range(len(order)), [str(i) for i in order], fontsize="x-small")
    ax.set_xlabel("posterior eigenvalue lambda_t,i")
    ax.set_ylabel("latent (slowest first)")
    ax.set_title("Eigenvalues per latent", fontsize="medium")
    ax.legend(loc="lower right", fontsize="x-small")


def _scores(ax: Any, fig: Figure, columns: Mapping[str, Any], order: np.ndarray) -> None:
    names = list(columns)
    grid = np.array([np.asarray(columns[k], dtype=float)[order] for k in names]).T
    image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0,
                      interpolation="none")  # fmt: skip
    fig.colorbar(image, ax=ax, shrink=0.85, label="score of factors, R^2 of states")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize="small")
    ax.set_yticks(range(len(order)), [str(i) for i in order], fontsize="x-small")
    ax.set_title("What each latent predicts", fontsize="medium")


def _swaps(ax: Any, swaps: Mapping[str, Any]) -> None:
    curve = swaps["curve"]
    ks = [row["k"] for row in curve]
    for group, colour in (("static", "tab:blue"), ("dynamic", "tab:orange")):
        names = list(curve[0][group]) if curve else []
        for name in names:
            ax.plot(ks, [row[group][name] for row in curve], color=colour, alpha=0.35,
                    linewidth=0.8)  # fmt: skip
        if names:
            ax.plot(ks, [row[f"{group}_mean"] for row in curve], color=colour, marker=".",
                    linewidth=1.8, label=f"{group} kept (mean)")  # fmt: skip
    ax.axvline(swaps["best_k"], color="k", linewidth=0.6, linestyle="--", label="best k")
    ax.set_xlabel("k slowest latents from the content source")
    ax.set_ylabel("judge accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Slow-block swaps", fontsize="medium")
    ax.legend(fontsize="x-small")


def plot_slowness(result: Mapping[str, Any], path: str | os.PathLike, title: str = "") -> Path:
    """Draw a ``slowness`` protocol result (eigenvalues, scores, and swaps when present)."""
    try:
        order = np.asarray(result["order"], dtype=int)
        eig = result["eigenvalues"]
    except (KeyError, TypeError) as e:
        raise DsaeError(f"not a slowness result: {e}") from None
    columns = {k: v["score"] for k, v in (result.get("scores") or {}).items()}
    columns.update(result.get("state_r2") or {})
    panels = 1 + bool(columns) + bool(result.get("swaps"))
    height = max(3.6, 0.16 * len(order) + 1.4)
    fig = Figure(figsize=(4.6 * panels, height), layout="constrained")
    axes = list(fig.subplots(1, panels, squeeze=False)[0])
    _histograms(axes.pop(0), fig, eig, order)
    if columns:
        _scores(axes.pop(0), fig, columns, order)
    if result.get("swaps"):
        _swaps(axes.pop(0), result["swaps"])
    if title:
        fig.suptitle(title)
    return _save_figure(fig, path)
