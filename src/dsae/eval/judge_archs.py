"""Judge architectures by name: ``rnn`` (:class:`~dsae.eval.judge_model.Judge`, the default)
and ``tcn`` (:class:`~dsae.eval.judge_tcn.TemporalConvJudge`). A judge's ``arch`` dict names
its family; judge files written before there were families hold an ``rnn`` judge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dsae.errors import DsaeError
from dsae.eval.judge_model import Judge
from dsae.eval.judge_tcn import TemporalConvJudge

AnyJudge = Judge | TemporalConvJudge
JUDGE_ARCHS: dict[str, type[Judge] | type[TemporalConvJudge]] = {
    Judge.family: Judge,
    TemporalConvJudge.family: TemporalConvJudge,
}
JUDGE_TYPES = tuple(JUDGE_ARCHS.values())
DEFAULT_ARCH = Judge.family
LEGACY_FAMILY = Judge.family  # the family of an arch dict without one

__all__ = [
    "DEFAULT_ARCH",
    "JUDGE_ARCHS",
    "JUDGE_TYPES",
    "AnyJudge",
    "build_judge",
    "judge_class",
    "judge_family",
    "judge_from_arch",
]


def judge_class(family: str) -> type[Judge] | type[TemporalConvJudge]:
    """The judge class of ``family``; an unknown family is a DsaeError."""
    cls = JUDGE_ARCHS.get(family)
    if cls is None:
        raise DsaeError(
            f"unknown judge architecture {family!r}: expected one of {', '.join(JUDGE_ARCHS)}"
        )
    return cls


def judge_family(arch: Mapping[str, Any]) -> str:
    """The family an ``arch`` dict names (``rnn`` when it names none: an older judge)."""
    return str(arch.get("family", LEGACY_FAMILY))


def build_judge(
    family: str,
    frame_shape: tuple[int, ...],
    static_factors: dict[str, int],
    dynamic_factors: dict[str, int],
) -> AnyJudge:
    """A new judge of ``family`` with its default sizes; an unknown family is a DsaeError."""
    return judge_class(family)(frame_shape, static_factors, dynamic_factors)


def judge_from_arch(arch: Mapping[str, Any]) -> AnyJudge:
    """The judge (untrained weights) that a saved ``arch`` dict describes."""
    return judge_class(judge_family(arch)).from_arch(dict(arch))
