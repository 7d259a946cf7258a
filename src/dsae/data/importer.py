"""Import a folder of one's own sequences as a dataset directory (``dsae data import``).

The sequences are read by :mod:`dsae.data.sequence_files` (sub-folders of PNG frames,
animated GIFs or .npy arrays). They must all have the same length unless ``seq_len`` is
given: each sequence is then cut into consecutive windows of ``seq_len`` frames (a remainder
shorter than that is dropped), and a sequence shorter than ``seq_len`` is an error. All
windows of a sequence land in the same split.

Labels are CSV files with a header. ``labels``: one row per sequence, ``sequence,<factor>...``
(static factors, or per-sequence dynamic ones named in ``dynamic``, e.g. an action), with an
optional ``split`` column (``train``/``test``) in place of the seeded random split.
``frame_labels``: one row per frame, ``sequence,frame,<factor>...``, ``frame`` counting from 0
in the sequence's order (dynamic factors of shape (N, T)). Values are any strings; each
factor's classes are its values in natural order, class ``i`` being ``meta.info["classes"]
[factor][i]``. Without labels the dataset has no factors (static labels of shape (N, 0)).

Everything is read and checked before anything is written; the output directory is then
written all or nothing (:func:`dsae.data.base.write_dataset_dir`).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from dsae.data.base import SPLITS, DatasetMeta, SequenceSplit, write_dataset_dir
from dsae.data.sequence_files import (
    LAYOUT_SUFFIX,
    RESAMPLE,
    find_sequences,
    natural_key,
    one_line,
    read_sequence,
    some_names,
    unify_frames,
)
from dsae.errors import DsaeError

RESERVED = ("x", "static", "sequence", "frame", "split")  # not usable as factor names


# -- labels ---------------------------------------------------------------------------------


def _read_csv(path: str | os.PathLike, flag: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, values) rows of a label CSV, checked for shape."""
    p = Path(path)
    if not p.is_file():
        raise DsaeError(f"label file {p} ({flag}) not found")
    try:
        rows = list(csv.reader(io.StringIO(p.read_text(encoding="utf-8-sig"))))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DsaeError(f"cannot read label file {p}: {one_line(e)}") from None
    rows = [
        (i + 1, [v.strip() for v in r]) for i, r in enumerate(rows) if any(v.strip() for v in r)
    ]
    if not rows:
        raise DsaeError(f"label file {p} is empty")
    header = rows[0][1]
    if len(set(header)) != len(header) or "" in header:
        raise DsaeError(
            f"label file {p}: header {','.join(header)} has an empty or repeated column name"
        )
    for line, r in rows[1:]:
        if len(r) != len(header):
            raise DsaeError(
                f"label file {p}, line {line}: {len(r)} values for {len(header)} columns"
            )
        if "" in r:
            raise DsaeError(f"label file {p}, line {line}: column {header[r.index('')]!r} is empty")
    return header, rows[1:]


def _match_names(p: str, rows, names: dict[str, int], layout: str, per_frame: bool) -> None:
    """Refuse a label file naming unknown sequences or missing some."""
    suffix = LAYOUT_SUFFIX[layout]
    for r in rows:
        if suffix and r[1][0].lower().endswith(suffix):
            r[1][0] = r[1][0][: -len(suffix)]
    named = {r[0] for _, r in rows}
    unknown = named - set(names)
    if unknown:
        raise DsaeError(
            f"label file {p} names {len(unknown)} sequence(s) not in the source folder: {some_names(unknown)}"
        )
    missing = set(names) - named
    if missing:
        raise DsaeError(
            f"label file {p} has no labels for {len(missing)} sequence(s): {some_names(missing)}"
        )
    if not per_frame:
        seen = set()
        for line, r in rows:
            if r[0] in seen:
                raise DsaeError(f"label file {p}, line {line}: sequence {r[0]!r} is labelled twice")
            seen.add(r[0])


def read_labels(
    path, names: dict[str, int], layout: str
) -> tuple[dict[str, dict[str, str]], dict[str, str] | None]:
    """Per-sequence labels ``{factor: {sequence: value}}`` and the ``split`` column (if any)."""
    header, rows = _read_csv(path, "--labels")
    if "frame" in header:
        raise DsaeError(
            f"label file {path} has a 'frame' column: per-frame labels go in --frame-labels"
        )
    if header[0] != "sequence":
        raise DsaeError(
            f"label file {path}: the first column must be 'sequence', got {header[0]!r}"
        )
    _match_names(path, rows, names, layout, per_frame=False)
    cols = {h: {r[0]: r[j] for _, r in rows} for j, h in enumerate(header) if j}
    split = cols.pop("split", None)
    if split is not None:
        bad = {v for v in split.values() if v not in SPLITS}
        if bad:
            raise DsaeError(
                f"label file {path}: split values must be train or test, got {some_names(bad)}"
            )
    return cols, split


def read_frame_labels(path, names: dict[str, int], layout: str) -> dict[str, dict[str, list[str]]]:
    """Per-frame labels ``{factor: {sequence: [value per frame]}}``; every frame labelled once."""
    header, rows = _read_csv(path, "--frame-labels")
    if header[:2] != ["sequence", "frame"]:
        raise DsaeError(
            f"label file {path} (--frame-labels): the first columns must be 'sequence,frame'"
        )
    if "split" in header:
        raise DsaeError(
            f"label file {path}: a split column belongs in the per-sequence --labels file"
        )
    _match_names(path, rows, names, layout, per_frame=True)
    got: dict[str, dict[int, list[str]]] = {n: {} for n in names}
    for line, r in rows:
        n, t = r[0], r[1]
        if not t.isdigit() or int(t) >= names[n]:
            raise DsaeError(
                f"label file {path}, line {line}: frame {t!r} of {n!r} is not in 0..{names[n] - 1}"
            )
        if int(t) in got[n]:
            raise DsaeError(f"label file {path}, line {line}: frame {t} of {n!r} is labelled twice")
        got[n][int(t)] = r[2:]
    for n, frames in got.items():
        if len(frames) != names[n]:
            gap = min(set(range(names[n])) - set(frames))
            raise DsaeError(
                f"label file {path}: {n!r} has labels for {len(frames)} of its {names[n]} frames (frame {gap} missing)"
            )
    return {
        h: {n: [got[n][t][j] for t in range(names[n])] for n in names}
        for j, h in enumerate(header[2:])
    }


def _classes(values) -> dict[str, int]:
    return {v: i for i, v in enumerate(sorted(set(values), key=natural_key))}


# -- the split and the whole import ---------------------------------------------------------


def split_names(names: list[str], test_fraction: float, seed: int) -> dict[str, str]:
    """A seeded split by sequence: ``round(test_fraction * n)`` (at least one) test sequences."""
    if not 0.0 < test_fraction < 1.0:
        raise DsaeError(f"--test-fraction must be between 0 and 1, got {test_fraction}")
    if len(names) < 2:
        raise DsaeError(
            f"{len(names)} sequence(s) found: at least 2 are needed for a train and a test split"
        )
    order = sorted(names, key=natural_key)
    n_test = min(len(order) - 1, max(1, round(test_fraction * len(order))))
    perm = np.random.default_rng(seed).permutation(len(order))
    test = {order[i] for i in perm[:n_test]}
    return {n: "test" if n in test else "train" for n in order}


def import_sequences(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    frame_labels: str | os.PathLike | None = None,
    dynamic: tuple[str, ...] | list[str] = (),
    test_fraction: float | None = None,
    seed: int = 0,
    seq_len: int | None = None,
    size: int | None = None,
    resample: str = "area",
    name: str | None = None,
) -> Path:
    """Read, check and label the sequences of ``src``; write the dataset to ``out``."""
    src_p, out_p = Path(src), Path(out)
    dynamic = list(dict.fromkeys(dynamic))
    if seq_len is not None and seq_len < 1:
        raise DsaeError(f"--seq-len must be positive, got {seq_len}")
    if size is not None and size < 1:
        raise DsaeError(f"--size must be positive, got {size}")
    if resample not in RESAMPLE:
        raise DsaeError(f"unknown resampling {resample!r} ({', '.join(RESAMPLE)})")
    if dynamic and labels is None:
        raise DsaeError("--dynamic names columns of the --labels file, but no --labels was given")
    layout, paths = find_sequences(src_p)
    if out_p.resolve().is_relative_to(src_p.resolve()):
        raise DsaeError(f"the output {out_p} must not lie inside the source folder {src_p}")
    seqs = {n: read_sequence(p, layout, size, resample) for n, p in paths.items()}
    frame_shape = unify_frames(seqs)
    lengths = {n: len(s) for n, s in seqs.items()}
    if seq_len is None:
        if len(set(lengths.values())) > 1:
            (a, la), (b, lb) = sorted(lengths.items(), key=lambda kv: kv[1])[:: len(lengths) - 1]
            raise DsaeError(
                f"sequences have differing lengths ({a}: {la} frames, {b}: {lb}); pass --seq-len T "
                "to cut them into windows of T frames"
            )
        seq_len = next(iter(lengths.values()))
    short = [n for n, k in lengths.items() if k < seq_len]
    if short:
        raise DsaeError(
            f"{len(short)} sequence(s) have fewer than --seq-len {seq_len} frames: {some_names(short)}"
        )

    static_cols, split_col = (
        read_labels(labels, lengths, layout) if labels is not None else ({}, None)
    )
    frame_cols = (
        read_frame_labels(frame_labels, lengths, layout) if frame_labels is not None else {}
    )
    unknown = set(dynamic) - set(static_cols)
    if unknown:
        raise DsaeError(f"--dynamic names {some_names(unknown)}, not a column of {labels}")
    for f in [*static_cols, *frame_cols]:
        if f in RESERVED:
            raise DsaeError(f"a factor may not be named {f!r} (reserved: {', '.join(RESERVED)})")
    clash = set(static_cols) & set(frame_cols)
    if clash:
        raise DsaeError(f"factor {some_names(clash)} is in both --labels and --frame-labels")
    if split_col is not None:
        if test_fraction is not None:
            raise DsaeError(f"{labels} has a split column: leave out --test-fraction")
        assign = split_col
        for s in SPLITS:
            if s not in assign.values():
                raise DsaeError(f"the split column of {labels} puts no sequence in {s}")
    else:
        assign = split_names(list(lengths), 0.2 if test_fraction is None else test_fraction, seed)

    classes = {f: _classes(v.values()) for f, v in static_cols.items()}
    classes |= {f: _classes(x for vs in v.values() for x in vs) for f, v in frame_cols.items()}
    static_names = [f for f in static_cols if f not in dynamic]
    meta = DatasetMeta(
        name=name or src_p.resolve().name,
        seq_len=seq_len,
        frame_shape=frame_shape,
        static_factors={f: len(classes[f]) for f in static_names},
        dynamic_factors={f: len(classes[f]) for f in [*dynamic, *frame_cols]},
        info={
            "source": str(src_p.resolve()),
            "layout": layout,
            "classes": {f: list(c) for f, c in classes.items()},
            "split": "split column"
            if split_col is not None
            else {"test_fraction": test_fraction or 0.2, "seed": seed},
            "resize": None if size is None else {"size": size, "resample": resample},
            "sequences": {},
        },
    )
    windowed = any(k != seq_len for k in lengths.values())
    splits = {}
    for s in SPLITS:
        items = [(n, t) for n in sorted(lengths, key=natural_key) if assign[n] == s
                 for t in range(0, lengths[n] - seq_len + 1, seq_len)]  # fmt: skip
        meta.info["sequences"][s] = [f"{n}[{t}:{t + seq_len}]" if windowed else n for n, t in items]
        x = np.stack([seqs[n][t : t + seq_len] for n, t in items])
        static = np.array(
            [[classes[f][static_cols[f][n]] for f in static_names] for n, _ in items], np.int64
        )
        dyn = {
            f: np.array([classes[f][static_cols[f][n]] for n, _ in items], np.int64)
            for f in dynamic
        }
        for f, per_seq in frame_cols.items():
            dyn[f] = np.array(
                [[classes[f][v] for v in per_seq[n][t : t + seq_len]] for n, t in items], np.int64
            )
        splits[s] = SequenceSplit(
            x=x, static=static.reshape(len(items), len(static_names)), dynamic=dyn, meta=meta
        )
    return write_dataset_dir(out_p, splits)
