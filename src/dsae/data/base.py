"""The common dataset interface: labelled sequence splits stored as an on-disk cache.

A dataset directory holds ``meta.json`` and one ``<split>.npz`` per split (``train``,
``test``). Each npz holds

- ``x``: (N, T, H, W, C) uint8 frames, or (N, T, D) float32 vector frames;
- ``static``: (N, n_static) int64 labels of the time-invariant factors;
- one array per dynamic factor, named as in the metadata: (N,) or (N, T) int64;
- optionally ``group_<name>`` (N,) int64 per grouping named in the metadata, e.g.
  ``group_utterance``: which recording each segment was cut from, so that results can be
  pooled per recording;
- optionally ``state_<name>`` (N, T, k) float32 per continuous state named in the metadata,
  e.g. ``state_position``: a simulated object's true position in every frame.

``meta.json`` names the factors and their class counts, so every consumer (training,
judges, metrics, pictures) reads them from one place.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dsae.data.modality import Modality, modality_for
from dsae.errors import DsaeError
from dsae.utils import atomic_write, atomic_write_text, replace_dir

META_FILE = "meta.json"
SPLITS = ("train", "test")


@dataclass
class DatasetMeta:
    """What a dataset is: its name, frame layout and the factors it is labelled with."""

    name: str
    seq_len: int
    frame_shape: tuple[int, ...]  # (H, W, C) for images, (D,) for vectors
    static_factors: dict[str, int]  # factor name -> number of classes, in column order
    dynamic_factors: dict[str, int]  # factor name -> number of classes
    info: dict = field(default_factory=dict)  # free-form provenance (source, seed, ...)
    groups: list[str] = field(default_factory=list)  # groupings of sequences, e.g. utterance
    states: list[str] = field(default_factory=list)  # continuous per-frame states, e.g. position

    @property
    def modality(self) -> Modality:
        """The frames' modality: conversion to tensors, display, quality measure."""
        return modality_for(self.frame_shape)

    @property
    def is_image(self) -> bool:
        return self.modality.name == "image"

    def to_json(self) -> str:
        d = asdict(self)
        d["frame_shape"] = list(self.frame_shape)
        if not self.groups:  # datasets without groupings keep their metadata unchanged
            del d["groups"]
        if not self.states:  # likewise datasets without states
            del d["states"]
        return json.dumps(d, indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, d: dict) -> DatasetMeta:
        try:
            return cls(
                name=str(d["name"]),
                seq_len=int(d["seq_len"]),
                frame_shape=tuple(int(v) for v in d["frame_shape"]),
                static_factors={str(k): int(v) for k, v in d["static_factors"].items()},
                dynamic_factors={str(k): int(v) for k, v in d["dynamic_factors"].items()},
                info=dict(d.get("info", {})),
                groups=[str(g) for g in d.get("groups", [])],
                states=[str(g) for g in d.get("states", [])],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise DsaeError(f"invalid dataset metadata: {e!r}") from None


@dataclass
class SequenceSplit:
    """One split of a labelled sequence dataset, kept compact (uint8 frames) in memory."""

    x: np.ndarray  # (N, T, H, W, C) uint8 or (N, T, D) float32
    static: np.ndarray  # (N, n_static) int64
    dynamic: dict[str, np.ndarray]  # name -> (N,) or (N, T) int64
    meta: DatasetMeta
    groups: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (N,) int64 ids
    states: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (N, T, k) float32

    def group_ids(self, name: str) -> np.ndarray:
        """(N,) ids of the grouping ``name``; without it each sequence is its own group."""
        if name in self.groups:
            return self.groups[name]
        return np.arange(len(self), dtype=np.int64)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def validate(self) -> None:
        """Raise DsaeError unless arrays agree with each other and with the metadata."""
        m = self.meta
        n = len(self)
        if self.x.ndim != 2 + len(m.frame_shape):
            raise DsaeError(
                f"x has shape {self.x.shape}, expected (N, T, {', '.join(map(str, m.frame_shape))})"
            )
        if tuple(self.x.shape[1:]) != (m.seq_len, *m.frame_shape):
            raise DsaeError(
                f"x has shape {self.x.shape}, expected (N, {m.seq_len}, "
                f"{', '.join(map(str, m.frame_shape))})"
            )
        if self.x.dtype != np.uint8 and not np.issubdtype(self.x.dtype, np.floating):
            raise DsaeError(f"x has dtype {self.x.dtype}, expected uint8 or float")
        if np.issubdtype(self.x.dtype, np.floating) and not np.isfinite(self.x).all():
            raise DsaeError("x contains NaN or infinite values")
        if self.static.shape != (n, len(m.static_factors)):
            raise DsaeError(
                f"static labels have shape {self.static.shape}, expected ({n}, "
                f"{len(m.static_factors)})"
            )
        for j, (name, k) in enumerate(m.static_factors.items()):
            col = self.static[:, j]
            if n and (col.min() < 0 or col.max() >= k):
                raise DsaeError(f"static factor {name!r} has labels outside 0..{k - 1}")
        for name, k in m.dynamic_factors.items():
            if name not in self.dynamic:
                raise DsaeError(f"dynamic factor {name!r} is missing")
            lab = self.dynamic[name]
            if lab.shape not in ((n,), (n, m.seq_len)):
                raise DsaeError(f"dynamic factor {name!r} has shape {lab.shape}")
            if n and (lab.min() < 0 or lab.max() >= k):
                raise DsaeError(f"dynamic factor {name!r} has labels outside 0..{k - 1}")
        for name in m.groups:
            if name not in self.groups:
                raise DsaeError(f"grouping {name!r} is missing")
            if self.groups[name].shape != (n,):
                raise DsaeError(f"grouping {name!r} has shape {self.groups[name].shape}")
        extra = set(self.groups) - set(m.groups)
        if extra:
            raise DsaeError(f"groupings {sorted(extra)} are not named in the metadata")
        for name in m.states:
            if name not in self.states:
                raise DsaeError(f"state {name!r} is missing")
            st = self.states[name]
            if st.ndim != 3 or st.shape[:2] != (n, m.seq_len):
                raise DsaeError(
                    f"state {name!r} has shape {st.shape}, expected ({n}, {m.seq_len}, k)"
                )
            if not np.issubdtype(st.dtype, np.floating):
                raise DsaeError(f"state {name!r} has dtype {st.dtype}, expected float")
            if not np.isfinite(st).all():
                raise DsaeError(f"state {name!r} contains NaN or infinite values")
        extra = set(self.states) - set(m.states)
        if extra:
            raise DsaeError(f"states {sorted(extra)} are not named in the metadata")

    def subset(self, idx: np.ndarray) -> SequenceSplit:
        return SequenceSplit(
            x=self.x[idx],
            static=self.static[idx],
            dynamic={k: v[idx] for k, v in self.dynamic.items()},
            meta=self.meta,
            groups={k: v[idx] for k, v in self.groups.items()},
            states={k: v[idx] for k, v in self.states.items()},
        )


def _atomic_save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    atomic_write(path, lambda fh: np.savez(fh, **arrays))


def save_dataset(out_dir: str | os.PathLike, splits: dict[str, SequenceSplit]) -> Path:
    """Write ``meta.json`` and ``<split>.npz`` for every split; each file atomically.

    The metadata is written last, so a directory with ``meta.json`` is complete.
    """
    out = Path(out_dir)
    if not splits:
        raise DsaeError("no splits to save")
    meta = next(iter(splits.values())).meta
    digests = {}
    for name, split in splits.items():
        split.validate()
        arrays = {"x": split.x, "static": split.static.astype(np.int64)}
        for k, v in split.dynamic.items():
            arrays[k] = v.astype(np.int64)
        for k, v in split.groups.items():
            arrays[f"group_{k}"] = v.astype(np.int64)
        for k, v in split.states.items():
            arrays[f"state_{k}"] = v.astype(np.float32)
        _atomic_save_npz(out / f"{name}.npz", arrays)
        digests[f"{name}.npz"] = _sha256_file(out / f"{name}.npz")
    meta.info = {**meta.info, "sha256": digests}
    atomic_write_text(out / META_FILE, meta.to_json())
    return out


def load_meta(data_dir: str | os.PathLike) -> DatasetMeta:
    p = Path(data_dir) / META_FILE
    if not p.is_file():
        raise DsaeError(
            f"no dataset at {data_dir}: {p} not found (build one with 'dsae data build')"
        )
    try:
        d = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DsaeError(f"cannot read {p}: {e}") from None
    return DatasetMeta.from_dict(d)


def load_split(data_dir: str | os.PathLike, split: str) -> SequenceSplit:
    """Load one split (``train`` or ``test``) of a dataset directory, checked."""
    meta = load_meta(data_dir)
    p = Path(data_dir) / f"{split}.npz"
    if not p.is_file():
        raise DsaeError(f"split {split!r} not found: {p}")
    try:
        with np.load(p, allow_pickle=False) as z:
            x = z["x"]
            static = z["static"].astype(np.int64)
            dynamic = {k: z[k].astype(np.int64) for k in meta.dynamic_factors}
            groups = {k: z[f"group_{k}"].astype(np.int64) for k in meta.groups}
            states = {k: z[f"state_{k}"] for k in meta.states}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise DsaeError(f"cannot read {p}: {e}") from None
    s = SequenceSplit(x=x, static=static, dynamic=dynamic, meta=meta, groups=groups, states=states)
    s.validate()
    return s


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(data_dir: str | os.PathLike) -> str:
    """Identifies exactly which data a model saw: SHA-256 of ``meta.json``, which itself
    records the SHA-256 of every split file written by :func:`save_dataset`."""
    p = Path(data_dir) / META_FILE
    if not p.is_file():
        raise DsaeError(f"no dataset at {data_dir}: {p} not found")
    return hashlib.sha256(p.read_bytes()).hexdigest()


def to_float(x: np.ndarray) -> np.ndarray:
    """uint8 frames -> float32 in [0, 1]; float frames pass through as float32."""
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    return x.astype(np.float32, copy=False)


def write_dataset_dir(out_dir: str | os.PathLike, splits: dict[str, SequenceSplit]) -> Path:
    """Write a complete dataset directory, or nothing: build it in a temporary sibling
    directory, then move it into place.

    ``out_dir`` must not exist, be empty, or hold an earlier dsae dataset (``meta.json``),
    which is replaced. Anything else is refused so that no user file is ever deleted.
    """
    out = Path(out_dir)
    if out.exists():
        if not out.is_dir():
            raise DsaeError(f"output {out} exists and is not a directory")
        if any(out.iterdir()) and not (out / META_FILE).is_file():
            raise DsaeError(f"output directory {out} is not empty and holds no dsae dataset")
    replace_dir(out, lambda tmp: save_dataset(tmp, splits))
    return out
