"""Spectrograms of voice conversion, laid out as Fig. 6 of Li & Mandt (2018).

One panel per utterance (e.g. the content source, the speaker target and the converted
speech), side by side: time runs horizontally in seconds, frequency vertically in Hz (bin k
of an ``n_fft``-point transform sits at ``k * sample_rate / n_fft``), the log-magnitude as
colour on one shared scale, and each utterance's median F0 drawn as a red horizontal line
where the first harmonic should be (the paper marks it with a red arrow).

Pure: arrays in, a PNG file out (matplotlib's object API on an Agg canvas, no pyplot).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dsae.errors import DsaeError
from dsae.utils import atomic_write_bytes

__all__ = ["bin_frequencies", "plot_spectrograms"]

_DPI = 100


def bin_frequencies(n_bins: int, sample_rate: int, n_fft: int) -> np.ndarray:
    """Centre frequency (Hz) of each of the first ``n_bins`` bins of an ``n_fft``-point STFT."""
    return np.arange(n_bins) * (float(sample_rate) / float(n_fft))


def plot_spectrograms(
    spectra: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    *,
    sample_rate: int,
    hop_length: int,
    n_fft: int,
    f0: Mapping[str, float | None] | None = None,
    max_hz: float | None = None,
    title: str | None = None,
) -> Path:
    """Draw each log-magnitude spectrogram of ``spectra`` (label -> (frames, bins)) as a
    panel, left to right in the mapping's order, and save a PNG at ``path``.

    ``f0`` gives a median F0 in Hz per label (None or NaN: not drawn); ``max_hz`` crops the
    frequency axis (default: the highest bin). Panels share one colour scale so that loud
    and quiet utterances compare directly.
    """
    if not spectra:
        raise DsaeError("no spectrograms to draw")
    if sample_rate <= 0 or hop_length <= 0 or n_fft <= 0:
        raise DsaeError("sample_rate, hop_length and n_fft must be positive")
    arrays = {}
    for label, s in spectra.items():
        a = np.asarray(s, dtype=np.float64)
        if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
            raise DsaeError(f"spectrogram {label!r} has shape {a.shape}, expected (frames, bins)")
        arrays[label] = a
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays.values()])
    lo, hi = np.percentile(finite, [2, 99.5]) if finite.size else (0.0, 1.0)
    if not hi > lo:
        hi = lo + 1.0
    f0 = dict(f0 or {})

    n = len(arrays)
    fig = Figure(figsize=(3.4 * n + 0.9, 3.2), layout="constrained")
    axes = fig.subplots(1, n, sharey=True, squeeze=False)[0]
    image = None
    for ax, (label, a) in zip(axes, arrays.items(), strict=True):
        frames, bins = a.shape
        hz = bin_frequencies(bins + 1, sample_rate, n_fft)  # bin edges, half a bin each side
        step = hz[1] - hz[0]
        seconds = frames * hop_length / float(sample_rate)
        image = ax.imshow(
            a.T,
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=lo,
            vmax=hi,
            extent=(0.0, seconds, -step / 2, hz[-1] - step / 2),
            interpolation="nearest",
        )
        ax.set_title(str(label), fontsize=10)
        ax.set_xlabel("time (s)")
        pitch = f0.get(label)
        if pitch is not None and math.isfinite(float(pitch)):
            ax.axhline(float(pitch), color="red", lw=1.2, ls="--")
            ax.annotate(
                f"F0 {float(pitch):.0f} Hz",
                xy=(0.02, float(pitch)),
                xycoords=("axes fraction", "data"),
                xytext=(0, 3),
                textcoords="offset points",
                color="red",
                fontsize=8,
                bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0, "pad": 1},
            )
        if max_hz is not None:
            ax.set_ylim(-step / 2, float(max_hz))
    axes[0].set_ylabel("frequency (Hz)")
    if image is not None:
        fig.colorbar(image, ax=list(axes), label="log magnitude", shrink=0.9)
    if title:
        fig.suptitle(title, fontsize=11)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return atomic_write_bytes(path, buf.getvalue())
