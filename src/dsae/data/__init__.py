"""Datasets: the common interface (``base``), one module per dataset (``balls``: a ball
bouncing in a polygon, simulated with pymunk; ``digits``: MNIST and Fashion-MNIST sequences
of one class with measured style, ``ink_style``), the states dsae can measure from a
dataset's frames (``measures``), the importer of one's own sequences
(``importer``), and speech features (``audio``, ``speech``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dsae.data.balls import build_balls
from dsae.data.base import (
    DatasetMeta,
    SequenceSplit,
    fingerprint,
    load_meta,
    load_split,
    to_float,
    write_dataset_dir,
)
from dsae.data.digits import build_digits
from dsae.data.fsdd import build_fsdd
from dsae.data.importer import import_sequences
from dsae.data.measures import MEASURES, FrameMeasure, frame_measure, measured_states
from dsae.data.sprites import build_sprites
from dsae.data.toy import build_toy
from dsae.data.voices import DEFAULT_REPEATS, build_voices
from dsae.errors import DsaeError


def _arg(kw: dict, key: str, default):
    """A builder's keyword argument, its default when missing or None (a flag not given)."""
    value = kw.get(key)
    return default if value is None else value


def _build_toy(out: Path, **kw) -> Path:
    return build_toy(
        out,
        n_train=_arg(kw, "n_train", 3000),
        n_test=_arg(kw, "n_test", 600),
        image_size=_arg(kw, "image_size", 64),
        seed=_arg(kw, "seed", 0),
    )


def _build_balls(out: Path, **kw) -> Path:
    return build_balls(
        out,
        n_train=_arg(kw, "n_train", 4000),
        n_test=_arg(kw, "n_test", 1000),
        seed=_arg(kw, "seed", 0),
        shape=_arg(kw, "shape", "ball"),
        progress=_arg(kw, "progress", True),
    )


def _build_digits(out: Path, variant: str = "digits", **kw) -> Path:
    return build_digits(
        out,
        variant=variant,
        source=kw.get("source"),
        n_train=_arg(kw, "n_train", 6000),
        n_test=_arg(kw, "n_test", 1000),
        seed=_arg(kw, "seed", 0),
        progress=_arg(kw, "progress", True),
    )


def _build_sprites(out: Path, **kw) -> Path:
    return build_sprites(out, source=kw.get("source"), progress=kw.get("progress", True))


def _build_fsdd(out: Path, **kw) -> Path:
    return build_fsdd(out, source=kw.get("source"), progress=kw.get("progress", True))


def _build_voices(out: Path, **kw) -> Path:
    return build_voices(
        out,
        split=kw.get("split", "seen"),
        speakers=kw.get("speakers"),
        words=kw.get("words"),
        repeats=kw.get("repeats", DEFAULT_REPEATS),
        progress=kw.get("progress", True),
    )


BUILDERS: dict[str, Callable[..., Path]] = {
    "toy_sprites": _build_toy,
    "balls": _build_balls,
    "digits": _build_digits,
    "fashion": lambda out, **kw: _build_digits(out, "fashion", **kw),
    "sprites": _build_sprites,
    "fsdd": _build_fsdd,
    "voices": _build_voices,
    # the synthetic voices split so that the test speakers are unseen in training
    "voices_unseen": lambda out, **kw: _build_voices(out, **{**kw, "split": "unseen"}),
}


def build_dataset(name: str, out: str | Path, **kwargs) -> Path:
    """Build dataset ``name`` into directory ``out`` (all or nothing)."""
    if name not in BUILDERS:
        raise DsaeError(f"unknown dataset {name!r}; known: {', '.join(sorted(BUILDERS))}")
    return BUILDERS[name](Path(out), **kwargs)


__all__ = [
    "BUILDERS",
    "MEASURES",
    "DatasetMeta",
    "FrameMeasure",
    "SequenceSplit",
    "build_dataset",
    "fingerprint",
    "frame_measure",
    "import_sequences",
    "load_meta",
    "load_split",
    "measured_states",
    "to_float",
    "write_dataset_dir",
]
