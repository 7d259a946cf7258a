"""Voice conversion of test utterance pairs, scored (Li & Mandt 2018, Sec. 4.2, Fig. 6).

Pairs (content A, speaker B) of test utterances by different speakers are drawn with a seed,
spread evenly over the ordered speaker pairs (male -> female and female -> male first when
the data records the speakers' sex). Each utterance's frames are its segments stitched
back; the source (A), the target (B) and the conversion are all turned into sound by the
same seeded Griffin-Lim, so the vocoder's own effect is the same in all three.

Scores, as fractions in [0, 1]:

- with a judge (``dsae judge train`` on the speech dataset): features re-extracted from the
  converted *wave*; the judge's class probabilities averaged over its segments name a
  speaker and a word or digit. ``speaker``: share of pairs where it names B; ``content``:
  share where it names A's label;
- ``f0_within_15pct``: share of pairs whose converted median F0 is within 15% of B's
  resynthesised audio's (an unvoiced conversion counts as a miss); ``f0_median_rel_error``:
  the median of |F0_converted - F0_B| / F0_B;
- the same scores for the unconverted resynthesised sources GL(A) as a reference row
  (``source``): the judge naming A's speaker measures the vocoder, F0 shows how far apart
  the voices were before conversion.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dsae.data.audio import f0_median, write_wav
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
from dsae.train import LoadedRun

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
TARGETS = {"speaker": 0.90, "content": 0.90, "f0_within_15pct": 0.90}
F0_TOLERANCE = 0.15
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


def _f0_scores(f0: np.ndarray, ref: np.ndarray) -> dict[str, float | None]:
    rel = np.abs(f0 - ref) / ref
    ok = np.isfinite(rel)
    return {
        "f0_within_15pct": float(np.mean(ok & (np.nan_to_num(rel, nan=np.inf) <= F0_TOLERANCE)))
        if rel.size
        else None,
        "f0_median_rel_error": float(np.median(rel[ok])) if ok.any() else None,
    }


def _scores(rows: list[dict[str, Any]], key: str, judged: bool) -> dict[str, Any]:
    """Scores of the ``converted`` or ``source`` audio of ``rows``."""
    out: dict[str, Any] = {"n": len(rows)}
    if judged:
        want_speaker = "target" if key == "converted" else "source"
        out["speaker"] = float(
            np.mean([r["judged"][key]["speaker"] == r[want_speaker]["speaker"] for r in rows])
        )
        out["content"] = float(
            np.mean([r["judged"][key]["content"] == r["source"]["label"] for r in rows])
        )
    f0 = np.array([r["f0"][key] for r in rows], dtype=np.float64)
    ref = np.array([r["f0"]["target"] for r in rows], dtype=np.float64)
    out.update(_f0_scores(f0, ref))
    return out


def _plain(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


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
    out = Path(out_dir)
    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / CONVERSION_FILE).is_file())
    ):
        raise DsaeError(f"--out {out} exists and is not a conversion folder")
    speech_features(run.meta)
    split = load_split(data_dir, "test")
    features = speech_features(split.meta)
    if tuple(split.meta.frame_shape) != tuple(run.meta.frame_shape):
        raise DsaeError(
            f"data frames {split.meta.frame_shape} do not match the model's {run.meta.frame_shape}"
        )
    if "speaker" not in split.meta.static_factors or not split.meta.dynamic_factors:
        raise DsaeError(f"{data_dir} has no speaker and content labels to convert between")
    content_factor = next(iter(split.meta.dynamic_factors))
    if judge is not None:
        check_judge_matches(judge, data_dir)
    info = split.meta.info
    classes = info.get("classes") or {}
    speaker_names = list(classes.get("speaker") or [])
    label_names = list(classes.get(content_factor) or [])
    sex_of = info.get("speaker_sex") or {}
    sexes = {i: sex_of[n] for i, n in enumerate(speaker_names) if n in sex_of}

    utts = utterances(split, content_factor)
    pairs = choose_pairs(utts, sexes, n_pairs, np.random.default_rng(seed))
    rate = features.spectrum.sample_rate
    hop = features.spectrum.hop_length
    factors = {"speaker": "speaker", "content": content_factor}
    cache: dict[int, tuple[np.ndarray, np.ndarray, int, float]] = {}

    def resynthesised(i: int) -> tuple[np.ndarray, np.ndarray, int, float]:
        """(frames, GL wave, length, F0) of utterance i's own features."""
        if i not in cache:
            segs = split.x[utts[i].rows]
            frames_n = utterance_frames(segs, features.segment_stride)
            frames = stitch_frames(features, segs, frames_n)
            length = (frames_n - 1) * hop
            wave = frames_to_wave(features, frames, length, seed=seed)
            cache[i] = (frames, wave, length, f0_median(wave, rate))
        return cache[i]

    def describe(u: Utterance) -> dict[str, Any]:
        name = speaker_names[u.speaker] if u.speaker < len(speaker_names) else str(u.speaker)
        label = label_names[u.label] if u.label < len(label_names) else str(u.label)
        return {
            "utterance": u.group,
            "speaker": u.speaker,
            "speaker_name": name,
            "sex": sexes.get(u.speaker),
            "label": u.label,
            "label_name": label,
        }

    tmp_root = out.parent if out.parent.exists() else None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=tmp_root or out.parent, prefix=f".{out.name}.tmp-"))
    try:
        rows = []
        for k, (ia, ib) in enumerate(pairs):
            a, b = utts[ia], utts[ib]
            src_frames, src_wave, length, src_f0 = resynthesised(ia)
            tgt_frames, tgt_wave, _, tgt_f0 = resynthesised(ib)
            f = speaker_code(run.model, split.x[b.rows])
            conv = convert_segments(run.model, split.x[a.rows], f)
            conv_frames = stitch_frames(features, conv, src_frames.shape[0])
            conv_wave = frames_to_wave(features, conv_frames, length, seed=seed)
            conv_f0 = f0_median(conv_wave, rate)
            row: dict[str, Any] = {
                "pair": k,
                "source": describe(a),
                "target": describe(b),
                "sex_pair": _sex_pair(sexes.get(a.speaker), sexes.get(b.speaker)),
                "f0": {"source": src_f0, "target": tgt_f0, "converted": conv_f0},
                "judged": {
                    "converted": _judged(judge, features, conv_wave, factors),
                    "source": _judged(judge, features, src_wave, factors),
                },
            }
            if k < n_listed:
                files = {}
                (tmp / PAIRS_DIR).mkdir(exist_ok=True)
                for label, wave in (
                    ("source", src_wave),
                    ("target", tgt_wave),
                    ("converted", conv_wave),
                ):
                    rel = f"{PAIRS_DIR}/{k}_{label}.wav"
                    write_wav(tmp / rel, wave, rate)
                    files[label] = rel
                picture = ConversionPicture(
                    spectra={
                        "source": log_magnitude(features, src_frames),
                        "target": log_magnitude(features, tgt_frames),
                        "converted": log_magnitude(features, conv_frames),
                    },
                    f0=row["f0"],
                    spectrum=features.spectrum,
                )
                rel = f"{PAIRS_DIR}/{k}_spectrogram.png"
                picture.save(
                    tmp / rel,
                    title=f"{row['source']['speaker_name']} ({row['source']['label_name']}) "
                    f"in the voice of {row['target']['speaker_name']}",
                )
                files["spectrogram"] = rel
                row["files"] = files
            rows.append(row)
        result = _summary(run, data_dir, rows, judge is not None, sexes, factors, seed)
        result["classes"] = {"speaker": speaker_names, content_factor: label_names}
        for r in rows:
            r["f0"] = {k: _plain(v) for k, v in r["f0"].items()}
        result["pairs"] = rows
        (tmp / CONVERSION_FILE).write_text(json.dumps(result, indent=2))
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
            os.replace(out, old / "d")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def _summary(run, data_dir, rows, judged: bool, sexes, factors, seed) -> dict[str, Any]:
    converted = _scores(rows, "converted", judged)
    by_sex = {}
    for kind in sorted({r["sex_pair"] for r in rows if r["sex_pair"]}):
        sel = [r for r in rows if r["sex_pair"] == kind]
        by_sex[kind] = {
            "converted": _scores(sel, "converted", judged),
            "source": _scores(sel, "source", judged),
        }
    targets = {}
    for key, goal in TARGETS.items():
        value = converted.get(key)
        targets[key] = {
            "min": goal,
            "value": value,
            "met": None if value is None else bool(value >= goal),
        }
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
        "targets": targets,
        "converted": converted,
        "source": _scores(rows, "source", judged),
        "by_sex_pair": by_sex,
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
