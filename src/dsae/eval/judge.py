"""Judge files: saving and loading a trained judge with the data it learnt from, and
checking that it fits a dataset. The judge itself is in :mod:`dsae.eval.judge_model` (a
second architecture in :mod:`dsae.eval.judge_tcn`, both named in
:mod:`dsae.eval.judge_archs`), its training in :mod:`dsae.eval.judge_train` (all
re-exported here). A file is read back as the family its ``arch`` dict names."""

from __future__ import annotations

import json
import math
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dsae import __version__
from dsae.data.base import DatasetMeta, fingerprint, load_meta
from dsae.errors import DsaeError
from dsae.eval.judge_archs import (
    DEFAULT_ARCH,
    JUDGE_ARCHS,
    JUDGE_TYPES,
    AnyJudge,
    judge_family,
    judge_from_arch,
)
from dsae.eval.judge_model import (
    DEFAULT_CHANNELS,
    Judge,
    evaluate_judge,
    judge_labels,
    predict_frame_proba,
    predict_proba,
)
from dsae.eval.judge_tcn import TemporalConvJudge
from dsae.eval.judge_train import train_judge
from dsae.utils import atomic_write

JUDGE_KIND = "dsae-judge"


@dataclass
class LoadedJudge:
    """A judge in eval mode with the metadata and fingerprint of the data it learnt from."""

    judge: AnyJudge
    meta: DatasetMeta
    fingerprint: str
    info: dict


def save_judge(
    path: str | os.PathLike, judge: AnyJudge, meta: DatasetMeta, fingerprint: str, info: dict
) -> Path:
    """Write a judge checkpoint: state_dict, architecture, data metadata, fingerprint, info."""

    def plain(v: Any) -> Any:  # numpy scalars and arrays in info become numbers and lists
        if isinstance(v, np.generic | np.ndarray):
            return v.tolist()
        raise DsaeError(f"judge info holds a {type(v).__name__}, which cannot be saved")

    # a JSON round trip keeps info loadable with weights_only=True
    info = json.loads(json.dumps(info, default=plain))
    state = {
        "model": judge.state_dict(),
        "config": {"kind": JUDGE_KIND, "arch": judge.arch},
        "meta": json.loads(meta.to_json()),
        "fingerprint": str(fingerprint),
        "info": info,
        "version": __version__,
    }
    return atomic_write(path, lambda fh: torch.save(state, fh))


def load_judge(path: str | os.PathLike) -> LoadedJudge:
    """Read a judge checkpoint (eval mode); a missing or corrupt file is a DsaeError."""
    p = Path(path)
    if p.is_dir():
        raise DsaeError(f"{p} is a directory, expected a judge file (e.g. judge.pt)")
    if not p.is_file():
        raise DsaeError(f"judge not found: {p} (train one with 'dsae judge train')")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, OSError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DsaeError(f"corrupt judge {p}: {msg}") from None
    if not isinstance(state, dict):
        raise DsaeError(f"corrupt judge {p}: not a dsae file")
    config = state.get("config")
    if not isinstance(config, dict) or config.get("kind") != JUDGE_KIND:
        raise DsaeError(f"{p} is not a judge (a dsae model checkpoint?)")
    arch = config.get("arch")
    if not isinstance(arch, dict):
        raise DsaeError(f"corrupt judge {p}: no architecture")
    family = judge_family(arch)
    if family not in JUDGE_ARCHS:
        raise DsaeError(
            f"{p} holds a judge of unknown architecture {family!r} (this dsae reads "
            f"{', '.join(JUDGE_ARCHS)}): was it written by a newer dsae?"
        )
    try:
        judge = judge_from_arch(arch)
        judge.load_state_dict(state["model"])
        meta = DatasetMeta.from_dict(state["meta"])
        fp = str(state["fingerprint"])
        info = dict(state.get("info", {}))
    except (KeyError, RuntimeError, TypeError, ValueError) as e:
        raise DsaeError(f"corrupt judge {p}: {str(e).splitlines()[0]}") from None
    judge.eval()
    return LoadedJudge(judge=judge, meta=meta, fingerprint=fp, info=info)


def check_judge_matches(loaded: LoadedJudge, data_dir: str | os.PathLike) -> None:
    """Raise DsaeError unless the judge was trained on exactly the dataset in ``data_dir``."""
    fp = fingerprint(data_dir)
    if fp != loaded.fingerprint:
        name = load_meta(data_dir).name
        raise DsaeError(
            f"the judge was trained on another dataset ({loaded.meta.name}, fingerprint "
            f"{loaded.fingerprint[:12]}) than {data_dir} ({name}, fingerprint {fp[:12]}): "
            f"train one on it with 'dsae judge train --data {data_dir}'"
        )


def min_accuracy(acc: dict[str, float]) -> float:
    """The worst factor's accuracy (nan when there is none)."""
    vals = [v for v in acc.values() if not math.isnan(v)]
    return min(vals) if vals else float("nan")


__all__ = [
    "AnyJudge",
    "Judge",
    "TemporalConvJudge",
    "LoadedJudge",
    "check_judge_matches",
    "evaluate_judge",
    "load_judge",
    "min_accuracy",
    "predict_frame_proba",
    "predict_proba",
    "save_judge",
    "judge_family",
    "judge_labels",
    "train_judge",
    "DEFAULT_ARCH",
    "DEFAULT_CHANNELS",
    "JUDGE_ARCHS",
    "JUDGE_KIND",
    "JUDGE_TYPES",
]
