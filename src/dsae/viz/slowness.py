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


def _swaps(ax: Any, by_order: Mapping[str, Mapping[str, Any]]) -> None:
    for (key, swaps), style in zip(by_order.items(), ("-", "--"), strict=False):
        curve = swaps["curve"]
        ks = [row["k"] for row in curve]
        for group, colour in (("static", "tab:blue"), ("dynamic", "tab:orange")):
            if curve and curve[0][group]:
                ax.plot(ks, [row[f"{group}_mean"] for row in curve], color=colour, marker=".",
                        linestyle=style, label=f"{group} kept, {key} order")  # fmt: skip
    ax.set_xlabel("k slowest latents from the content source")
    ax.set_ylabel("judge accuracy (%), mean over factors")
    ax.set_ylim(0, 100)
    ax.set_title("Slow-block swaps", fontsize="medium")
    ax.legend(fontsize="x-small")


def plot_slowness(result: Mapping[str, Any], path: str | os.PathLike, title: str = "") -> Path:
    """Draw a ``slowness`` protocol result (eigenvalues, scores, and swaps when present)."""
    try:
        order = np.asarray(result["posterior"]["order"], dtype=int)
        eig = result["eigenvalues"]
    except (KeyError, TypeError) as e:
        raise DsaeError(f"not a slowness result: {e}") from None
    columns = {k: v["score"] for k, v in (result.get("scores") or {}).items()}
    columns.update(result.get("state_r2") or {})
    swaps = {
        k: result[k]["swaps"] for k in ("posterior", "prior") if result.get(k, {}).get("swaps")
    }
    panels = 1 + bool(columns) + bool(swaps)
    height = max(3.6, 0.16 * len(order) + 1.4)
    fig = Figure(figsize=(4.6 * panels, height), layout="constrained")
    axes = list(fig.subplots(1, panels, squeeze=False)[0])
    _histograms(axes.pop(0), fig, eig, order)
    if columns:
        _scores(axes.pop(0), fig, columns, order)
    if swaps:
        _swaps(axes.pop(0), swaps)
    if title:
        fig.suptitle(title)
    return _save_figure(fig, path)
