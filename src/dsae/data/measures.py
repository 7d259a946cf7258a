"""Per-frame states that dsae can measure from the frames themselves, per dataset.

A dataset whose states are computed from its pixels (the digits' and fashion items' slant,
stroke thickness and ink box, :mod:`dsae.data.ink_style`) can have the same measure applied
to generated frames, so a model's output can be scored against the states of the sequence
it came from. :data:`MEASURES` maps a dataset name (``meta.name``) to the states its measure
returns and the measure: ``(frames (..., *frame_shape) as stored) -> {state: (...)}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dsae.data.base import DatasetMeta
from dsae.data.digits import STATES, measure_frames


@dataclass(frozen=True)
class FrameMeasure:
    """Which per-frame states ``measure`` returns, and the measure itself."""

    states: tuple[str, ...]
    measure: Callable[[np.ndarray], dict[str, np.ndarray]]


MEASURES: dict[str, FrameMeasure] = {
    "digits": FrameMeasure(STATES, measure_frames),
    "fashion": FrameMeasure(STATES, measure_frames),
}


def frame_measure(meta: DatasetMeta) -> FrameMeasure | None:
    """The measure of the dataset's frames, or None when dsae cannot measure them."""
    return MEASURES.get(meta.name)


def measured_states(meta: DatasetMeta) -> list[str]:
    """The states of ``meta`` that dsae can measure from its frames, in the measure's order
    (those the dataset also stores, so there is a true value to compare with)."""
    fm = frame_measure(meta)
    return [] if fm is None else [s for s in fm.states if s in meta.states]


__all__ = ["MEASURES", "FrameMeasure", "frame_measure", "measured_states"]
