"""Speech datasets: labelled utterances -> normalised log-spectrum segments on disk.

Every speech dataset (FSDD, the synthetic voices) is made by :func:`build_speech_dataset`
from a list of :class:`Utterance`. Each utterance becomes log-magnitude spectra
(:mod:`dsae.data.audio`; a wave shorter than one segment is zero-padded at its end),
normalised per frequency bin with the mean and standard deviation of the TRAINING split's
frames only, and cut into segments of ``segment_frames`` frames every ``segment_stride``
frames (the last segment ends at the utterance's last frame). A segment is one sequence:

- ``x`` (N, T, D) float32, ``static`` (N, 1) the speaker, the content factor (N,) (one
  label per segment, the utterance's), and ``group_utterance`` (N,): which utterance of
  its split the segment was cut from (ids 0, 1, ... in the order of
  ``meta.info["utterances"][split]``, the utterances' names).
- ``meta.info``: ``classes`` (speaker and content class names), ``audio``
  (:meth:`SpeechFeatures.to_dict`: how to go back to sound), ``utterances``, and
  ``speaker_sex`` when the utterances say.

The same utterances give byte-identical files (``np.savez`` writes fixed zip timestamps).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dsae.data.audio import (
    STD_FLOOR,
    SpectrumConfig,
    SpeechFeatures,
    padded_log_spectrum,
    resample,
    segment,
)
from dsae.data.base import SPLITS, DatasetMeta, SequenceSplit, write_dataset_dir
from dsae.data.sequence_files import natural_key
from dsae.errors import DsaeError


@dataclass
class Utterance:
    """One recording: its wave (mono float) and labels."""

    name: str  # unique within the dataset, e.g. the file name without extension
    wave: np.ndarray  # (n_samples,) float in [-1, 1]
    sample_rate: int
    speaker: str  # the static factor
    label: str  # the content (e.g. the digit or word spoken)
    split: str  # "train" or "test"
    sex: str | None = None  # "female" | "male" | None


def build_speech_dataset(
    utterances: Sequence[Utterance],
    out: str | os.PathLike,
    name: str,
    spectrum: SpectrumConfig,
    content_factor: str,
    info: dict | None = None,
    progress: bool = True,
    *,
    classes: dict[str, list[str]] | None = None,
    segment_frames: int = 20,
    segment_stride: int = 10,
) -> Path:
    """Write the speech dataset of ``utterances`` to ``out`` (all or nothing).

    ``classes`` may fix the class order of ``speaker`` and ``content_factor`` (default:
    the names that occur, in natural order). Utterances keep their given order within a split.
    """
    by_split = _check_utterances(utterances)
    classes = _classes(utterances, content_factor, classes)
    speaker_index = {s: i for i, s in enumerate(classes["speaker"])}
    content_index = {c: i for i, c in enumerate(classes[content_factor])}

    spectra: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    with tqdm(total=len(utterances), desc=name, unit="utt", disable=not progress) as bar:
        for split in SPLITS:
            for u in by_split[split]:
                wave = resample(u.wave, u.sample_rate, spectrum.sample_rate)
                spectra[split].append(padded_log_spectrum(wave, spectrum, segment_frames))
                bar.update(1)

    mean, std = _bin_statistics(spectra["train"])
    features = SpeechFeatures(spectrum, mean, std, segment_frames, segment_stride)
    meta = DatasetMeta(
        name=name,
        seq_len=segment_frames,
        frame_shape=(spectrum.n_bins,),
        static_factors={"speaker": len(classes["speaker"])},
        dynamic_factors={content_factor: len(classes[content_factor])},
        info={
            **(info or {}),
            "classes": classes,
            "audio": features.to_dict(),
            "utterances": {s: [u.name for u in by_split[s]] for s in SPLITS},
        },
        groups=["utterance"],
    )
    sex = _speaker_sex(utterances)
    if sex:
        meta.info["speaker_sex"] = sex

    splits = {}
    for split in SPLITS:
        segs, speaker, content, group = [], [], [], []
        for g, (u, spec) in enumerate(zip(by_split[split], spectra[split], strict=True)):
            s = segment(features.normalise(spec), segment_frames, segment_stride)
            segs.append(s)
            speaker.append(np.full(len(s), speaker_index[u.speaker], np.int64))
            content.append(np.full(len(s), content_index[u.label], np.int64))
            group.append(np.full(len(s), g, np.int64))
        splits[split] = SequenceSplit(
            x=np.concatenate(segs).astype(np.float32),
            static=np.concatenate(speaker)[:, None],
            dynamic={content_factor: np.concatenate(content)},
            meta=meta,
            groups={"utterance": np.concatenate(group)},
        )
    return write_dataset_dir(out, splits)


def _check_utterances(utterances: Sequence[Utterance]) -> dict[str, list[Utterance]]:
    """The utterances of each split, in order; DsaeError on a bad split or a repeated name."""
    by_split: dict[str, list[Utterance]] = {s: [] for s in SPLITS}
    seen = set()
    for u in utterances:
        if u.split not in by_split:
            raise DsaeError(f"utterance {u.name!r} has split {u.split!r}, expected train or test")
        if u.name in seen:
            raise DsaeError(f"utterance name {u.name!r} occurs twice")
        seen.add(u.name)
        by_split[u.split].append(u)
    empty = [s for s in SPLITS if not by_split[s]]
    if empty:
        raise DsaeError(f"no utterances in the {' and '.join(empty)} split")
    return by_split


def _classes(
    utterances: Sequence[Utterance], content_factor: str, given: dict[str, list[str]] | None
) -> dict[str, list[str]]:
    """Class names of the speaker and the content, given or in natural order."""
    found = {
        "speaker": {u.speaker for u in utterances},
        content_factor: {u.label for u in utterances},
    }
    classes = {}
    for factor, names in found.items():
        order = list((given or {}).get(factor) or sorted(names, key=natural_key))
        unknown = sorted(names - set(order))
        if unknown:
            raise DsaeError(f"{factor} labels {unknown} are not among its classes {order}")
        if len(set(order)) != len(order):
            raise DsaeError(f"{factor} classes repeat a name: {order}")
        classes[factor] = order
    return classes


def _bin_statistics(spectra: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin mean and standard deviation (floored) over all frames of ``spectra``."""
    n = sum(len(s) for s in spectra)
    mean = sum(s.sum(axis=0, dtype=np.float64) for s in spectra) / n
    var = sum(((s - mean) ** 2).sum(axis=0) for s in spectra) / n
    return mean.astype(np.float32), np.maximum(np.sqrt(var), STD_FLOOR).astype(np.float32)


def _speaker_sex(utterances: Sequence[Utterance]) -> dict[str, str]:
    """{speaker: sex} of the utterances that name one; DsaeError if a speaker has two."""
    sex: dict[str, str] = {}
    for u in utterances:
        if u.sex is None:
            continue
        if sex.setdefault(u.speaker, u.sex) != u.sex:
            raise DsaeError(f"speaker {u.speaker!r} is given as both {sex[u.speaker]} and {u.sex}")
    return dict(sorted(sex.items()))
