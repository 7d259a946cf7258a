"""Voice conversion of test utterance pairs, scored (Li & Mandt 2018, Sec. 4.2, Fig. 6).

Pairs (content A, speaker B) of test utterances by different speakers are drawn with a seed,
spread evenly over the ordered speaker pairs (male -> female and female -> male first when
the data records the speakers' sex). Each utterance's frames are its segments stitched
back; the source (A), the target (B) and the conversion are all turned into sound by the
same seeded Griffin-Lim, so the vocoder's own effect is the same in all three.

Scores: :mod:`dsae.pipeline.convert_scores`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dsae.data.audio import SpeechFeatures, f0_median, write_wav
from dsae.data.base import SequenceSplit, fingerprint, load_split
from dsae.errors import DsaeError
from dsae.eval.judge import LoadedJudge, check_judge_matches, predict_proba
from dsae.pipeline.convert import (
    ConversionPicture,
    convert_segments,
    frames_to_wave,
    log_magnitude,
    speaker_code,
    speech_features,
    stitch_frames,
    utterance_frames,
)
from dsae.pipeline.convert_scores import TARGETS, summarise
from dsae.train import LoadedRun
from dsae.utils import replace_dir

__all__ = [
    "CONVERSION_FILE",
    "TARGETS",
    "Utterance",
    "choose_pairs",
    "convert_pairs",
    "read_conversion",
    "utterances",
]

CONVERSION_FILE = "conversion.json"
PAIRS_DIR = "pairs"
N_LISTED = 6  # pairs whose sound and spectrograms are written
CROSS_SEX = ("male->female", "female->male")


@dataclass
class Utterance:
    """One test recording: its segments' rows in the split, in time order, and labels."""

    group: int
    rows: np.ndarray
    speaker: int
    label: int


def utterances(split: SequenceSplit, content_factor: str) -> list[Utterance]:
    """The split's recordings (``split.group_ids("utterance")``), in order of first row."""
    groups = split.group_ids("utterance")
    col = list(split.meta.static_factors).index("speaker")
    content = split.dynamic[content_factor]
    out = []
    for g in dict.fromkeys(groups.tolist()):
        rows = np.flatnonzero(groups == g)
        first = rows[0]
        label = content[first] if content.ndim == 1 else content[first, 0]
        out.append(Utterance(int(g), rows, int(split.static[first, col]), int(label)))
    return out


def _sex_pair(a: str | None, b: str | None) -> str | None:
    return f"{a}->{b}" if a and b else None


def choose_pairs(
    utts: list[Utterance], sexes: dict[int, str], n_pairs: int, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """``n_pairs`` (content, speaker) indices into ``utts`` by different speakers: the ordered
    speaker pairs taken in turn (cross-sex kinds first, one of each kind in turn, shuffled
    within a kind), an utterance of each speaker drawn without replacement until its
    recordings are used up."""
    by_speaker: dict[int, list[int]] = {}
    for i, u in enumerate(utts):
        by_speaker.setdefault(u.speaker, []).append(i)
    speakers = sorted(by_speaker)
    if len(speakers) < 2:
        raise DsaeError("voice conversion needs test utterances of at least two speakers")
    kinds: dict[str, list[tuple[int, int]]] = {}
    for a in speakers:
        for b in speakers:
            if a != b:
                kinds.setdefault(_sex_pair(sexes.get(a), sexes.get(b)) or "", []).append((a, b))
    order = sorted(
        kinds, key=lambda k: (k not in CROSS_SEX, CROSS_SEX.index(k) if k in CROSS_SEX else 0, k)
    )
    queues = []
    for k in order:
        pairs = kinds[k]
        queues.append([pairs[i] for i in rng.permutation(len(pairs))])
    speaker_pairs = [q[i] for i in range(max(map(len, queues))) for q in queues if i < len(q)]
    pools: dict[int, list[int]] = {s: [] for s in speakers}

    def draw(s: int) -> int:
        if not pools[s]:
            pools[s] = [by_speaker[s][i] for i in rng.permutation(len(by_speaker[s]))]
        return pools[s].pop()

    return [
        (draw(a), draw(b))
        for a, b in (speaker_pairs[i % len(speaker_pairs)] for i in range(n_pairs))
    ]


def _judged(loaded: LoadedJudge | None, features, wave: np.ndarray, factors) -> dict[str, int]:
    if loaded is None:
        return {}
    probs = predict_proba(loaded.judge, features.segments(wave))
    return {role: int(probs[k].mean(axis=0).argmax()) for role, k in factors.items()}


def _plain(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


@dataclass
class _TestSet:
    """The test utterances of a speech dataset, with what is needed to name and hear them."""

    split: SequenceSplit
    features: SpeechFeatures
    utts: list[Utterance]
    factors: dict[str, str]  # role (speaker, content) -> the data's factor name
    classes: dict[str, list[str]]  # role -> class names
    sexes: dict[int, str]  # speaker index -> sex, where the data records it

    def describe(self, u: Utterance) -> dict[str, Any]:
        speakers, labels = self.classes["speaker"], self.classes["content"]
        return {
            "utterance": u.group,
            "speaker": u.speaker,
            "speaker_name": speakers[u.speaker] if u.speaker < len(speakers) else str(u.speaker),
            "sex": self.sexes.get(u.speaker),
            "label": u.label,
            "label_name": labels[u.label] if u.label < len(labels) else str(u.label),
        }


def _test_set(run: LoadedRun, data_dir: str | os.PathLike) -> _TestSet:
    speech_features(run.meta)
    split = load_split(data_dir, "test")
    features = speech_features(split.meta)
    meta = split.meta
    if tuple(meta.frame_shape) != tuple(run.meta.frame_shape):
        raise DsaeError(
            f"data frames {meta.frame_shape} do not match the model's {run.meta.frame_shape}"
        )
    if "speaker" not in meta.static_factors or not meta.dynamic_factors:
        raise DsaeError(f"{data_dir} has no speaker and content labels to convert between")
    content = next(iter(meta.dynamic_factors))
    names = meta.info.get("classes") or {}
    classes = {
        "speaker": list(names.get("speaker") or []),
        "content": list(names.get(content) or []),
    }
    sex_of = meta.info.get("speaker_sex") or {}
    return _TestSet(
        split=split,
        features=features,
        utts=utterances(split, content),
        factors={"speaker": "speaker", "content": content},
        classes=classes,
        sexes={i: sex_of[n] for i, n in enumerate(classes["speaker"]) if n in sex_of},
    )


@dataclass
class _Sound:
    """An utterance's normalised frames (F, D), its wave and the wave's median F0."""

    frames: np.ndarray
    wave: np.ndarray
    f0: float


def _write_folder(out: Path, fill: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """Fill a temporary sibling of ``out``, then put it in the place of ``out``: the folder
    is written whole or not at all."""
    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / CONVERSION_FILE).is_file())
    ):
        raise DsaeError(f"--out {out} exists and is not a conversion folder")
    return replace_dir(out, fill)


def _write_pair(folder: Path, row: dict[str, Any], sounds: dict[str, _Sound], test: _TestSet):
    """The pair's three wavs and its spectrogram picture; their paths go into ``row``."""
    (folder / PAIRS_DIR).mkdir(exist_ok=True)
    k = row["pair"]
    files = {}
    for label, sound in sounds.items():
        files[label] = f"{PAIRS_DIR}/{k}_{label}.wav"
        write_wav(folder / files[label], sound.wave, test.features.spectrum.sample_rate)
    picture = ConversionPicture(
        spectra={label: log_magnitude(test.features, s.frames) for label, s in sounds.items()},
        f0={label: s.f0 for label, s in sounds.items()},
        spectrum=test.features.spectrum,
    )
    files["spectrogram"] = f"{PAIRS_DIR}/{k}_spectrogram.png"
    source, target = row["source"], row["target"]
    title = (
        f"{source['speaker_name']} ({source['label_name']}) in the voice of "
        f"{target['speaker_name']}"
    )
    picture.save(folder / files["spectrogram"], title=title)
    row["files"] = files


def convert_pairs(
    run: LoadedRun,
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    n_pairs: int,
    judge: LoadedJudge | None = None,
    seed: int = 0,
    n_listed: int = N_LISTED,
) -> dict[str, Any]:
    """Convert ``n_pairs`` test pairs of ``data_dir``, score them, and write ``out_dir``:
    ``conversion.json`` and, for the first ``n_listed`` pairs, ``pairs/<i>_{source,target,
    converted}.wav`` and ``pairs/<i>_spectrogram.png``. The folder is written whole or not at
    all (an earlier conversion folder there is replaced). Returns the JSON's content."""
    if n_pairs <= 0:
        raise DsaeError(f"--pairs must be positive, got {n_pairs}")
    test = _test_set(run, data_dir)
    if judge is not None:
        check_judge_matches(judge, data_dir)
    pairs = choose_pairs(test.utts, test.sexes, n_pairs, np.random.default_rng(seed))
    features, x = test.features, test.split.x
    rate, hop = features.spectrum.sample_rate, features.spectrum.hop_length
    resynthesised: dict[int, tuple[_Sound, dict[str, int]]] = {}

    def own_sound(i: int) -> tuple[_Sound, dict[str, int]]:
        """Utterance i resynthesised from its own features, and the judge's verdict on it."""
        if i not in resynthesised:
            segs = x[test.utts[i].rows]
            frames = stitch_frames(features, segs, utterance_frames(segs, features.segment_stride))
            wave = frames_to_wave(features, frames, (frames.shape[0] - 1) * hop, seed=seed)
            verdict = _judged(judge, features, wave, test.factors)
            resynthesised[i] = (_Sound(frames, wave, f0_median(wave, rate)), verdict)
        return resynthesised[i]

    def fill(folder: Path) -> dict[str, Any]:
        rows = []
        for k, (ia, ib) in enumerate(pairs):
            a, b = test.utts[ia], test.utts[ib]
            (source, source_judged), (target, _) = own_sound(ia), own_sound(ib)
            f = speaker_code(run.model, x[b.rows])
            frames = stitch_frames(
                features, convert_segments(run.model, x[a.rows], f), source.frames.shape[0]
            )
            wave = frames_to_wave(features, frames, source.wave.shape[0], seed=seed)
            converted = _Sound(frames, wave, f0_median(wave, rate))
            sounds = {"source": source, "target": target, "converted": converted}
            row: dict[str, Any] = {
                "pair": k,
                "source": test.describe(a),
                "target": test.describe(b),
                "sex_pair": _sex_pair(test.sexes.get(a.speaker), test.sexes.get(b.speaker)),
                "f0": {label: s.f0 for label, s in sounds.items()},
                "judged": {
                    "converted": _judged(judge, features, wave, test.factors),
                    "source": source_judged,
                },
            }
            if k < n_listed:
                _write_pair(folder, row, sounds, test)
            rows.append(row)
        result = _summary(run, data_dir, rows, judge is not None, test.sexes, test.factors, seed)
        result["classes"] = test.classes
        for r in rows:
            r["f0"] = {k: _plain(v) for k, v in r["f0"].items()}
        result["pairs"] = rows
        (folder / CONVERSION_FILE).write_text(json.dumps(result, indent=2))
        return result

    return _write_folder(Path(out_dir), fill)


def _summary(run, data_dir, rows, judged: bool, sexes, factors, seed) -> dict[str, Any]:
    return {
        "checkpoint_step": int(run.state.get("step", 0)),
        "data": {
            "root": str(data_dir),
            "name": run.meta.name,
            "fingerprint": fingerprint(data_dir),
        },
        "seed": seed,
        "n_pairs": len(rows),
        "factors": factors,
        "judge": judged,  # whether a judge scored speaker and content
        "speaker_sex_known": bool(sexes),
        **summarise(rows, judged),
    }


def read_conversion(folder: str | os.PathLike) -> dict[str, Any] | None:
    """``FOLDER/conversion.json``, or None when there is none; unreadable is a DsaeError."""
    path = Path(folder) / CONVERSION_FILE
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DsaeError(f"unreadable {path}: {e}") from None
    if not isinstance(result, dict):
        raise DsaeError(f"unreadable {path}: expected a JSON object")
    return result
