"""Judges: classifiers trained on real labelled sequences to score generated ones.

A judge reads a sequence x_1:T and predicts every labelled factor of the dataset: the
static factors (e.g. skin, pants, top, hair) and the dynamic ones (e.g. action), as in the
evaluation protocol of Li & Mandt (2018), Sec. 5, where a classifier trained on the real
data tells which identity and which motion a generated sequence shows.

Architecture: a convolutional frame encoder h_t = enc(x_t), a bidirectional GRU (or LSTM)
s_1:T = RNN(h_1:T), and one linear head per factor. Static heads read the per-frame
features h_t, dynamic heads the per-step recurrent states s_t, so both give a prediction
per frame (``frame_logits``, for plots of the class over time). A sequence's logits are
the time-average of its frame logits (a product of the per-frame experts), which works
for any sequence length. Training sees the training split only; the test split measures
the judge.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from dsae import __version__
from dsae.data.base import DatasetMeta, SequenceSplit, fingerprint, load_meta, load_split
from dsae.errors import DsaeError
from dsae.train.checkpoint import load_checkpoint, save_checkpoint
from dsae.train.loop import frames_to_tensor
from dsae.utils import seed_everything

JUDGE_KIND = "dsae-judge"
DEFAULT_CHANNELS = (16, 32, 64, 128)


def _conv_out(size: int, n_layers: int) -> int:
    """Spatial size after ``n_layers`` 3x3 stride-2 convolutions with padding 1."""
    for _ in range(n_layers):
        size = (size + 1) // 2
    return size


class Judge(nn.Module):
    """Classifier of every labelled factor of a sequence: static heads on frames,
    dynamic heads on a bidirectional recurrent state."""

    def __init__(
        self,
        frame_shape: tuple[int, int, int],
        static_factors: dict[str, int],
        dynamic_factors: dict[str, int],
        channels: tuple[int, ...] | list[int] = DEFAULT_CHANNELS,
        feature_dim: int = 128,
        hidden_dim: int = 128,
        rnn: str = "gru",
    ):
        super().__init__()
        if len(frame_shape) != 3:
            raise DsaeError(f"a judge needs image frames (H, W, C), got frame shape {frame_shape}")
        if rnn not in ("gru", "lstm"):
            raise DsaeError(f"judge rnn must be gru or lstm, got {rnn!r}")
        if not static_factors and not dynamic_factors:
            raise DsaeError("the dataset has no labelled factors to judge")
        self.arch: dict[str, Any] = {
            "frame_shape": [int(v) for v in frame_shape],
            "static_factors": {str(k): int(v) for k, v in static_factors.items()},
            "dynamic_factors": {str(k): int(v) for k, v in dynamic_factors.items()},
            "channels": [int(c) for c in channels],
            "feature_dim": int(feature_dim),
            "hidden_dim": int(hidden_dim),
            "rnn": rnn,
        }
        h, w, c_in = (int(v) for v in frame_shape)
        self.frame_shape = (h, w, c_in)
        self.static_names = list(static_factors)
        self.dynamic_names = list(dynamic_factors)
        self.factor_names: list[str] = self.static_names + self.dynamic_names
        self.n_classes: dict[str, int] = {
            **{k: int(v) for k, v in static_factors.items()},
            **{k: int(v) for k, v in dynamic_factors.items()},
        }

        layers: list[nn.Module] = []
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            c_in = c
        n_flat = c_in * _conv_out(h, len(channels)) * _conv_out(w, len(channels))
        self.frame_encoder = nn.Sequential(
            *layers, nn.Flatten(), nn.Linear(n_flat, feature_dim), nn.ReLU()
        )
        rnn_cls = nn.GRU if rnn == "gru" else nn.LSTM
        self.rnn = rnn_cls(feature_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.static_heads = nn.ModuleDict(
            {k: nn.Linear(feature_dim, n) for k, n in static_factors.items()}
        )
        self.dynamic_heads = nn.ModuleDict(
            {k: nn.Linear(2 * hidden_dim, n) for k, n in dynamic_factors.items()}
        )
        self.to(memory_format=torch.channels_last)

    def frame_logits(self, x: Tensor) -> dict[str, Tensor]:
        """x (B, T, C, H, W) in [0, 1] -> logits (B, T, K) per factor, one per frame."""
        b, t = x.shape[:2]
        frames = x.reshape(b * t, *x.shape[2:]).contiguous(memory_format=torch.channels_last)
        h = self.frame_encoder(frames).view(b, t, -1)  # h_t: (B, T, feature_dim)
        out = {k: head(h) for k, head in self.static_heads.items()}
        if self.dynamic_heads:
            s, _ = self.rnn(h)  # s_t: (B, T, 2 * hidden_dim)
            out.update({k: head(s) for k, head in self.dynamic_heads.items()})
        return out

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """x (B, T, C, H, W) in [0, 1] -> sequence logits (B, K) per factor."""
        return {k: v.mean(dim=1) for k, v in self.frame_logits(x).items()}


@dataclass
class LoadedJudge:
    """A judge in eval mode with the metadata and fingerprint of the data it learnt from."""

    judge: Judge
    meta: DatasetMeta
    fingerprint: str
    info: dict


def _labels(split: SequenceSplit, judge: Judge) -> dict[str, np.ndarray]:
    """Labels per factor in the judge's order: (N,) per sequence or (N, T) per frame."""
    meta = split.meta
    want = {**judge.arch["static_factors"], **judge.arch["dynamic_factors"]}
    have = {**meta.static_factors, **meta.dynamic_factors}
    if list(want.items()) != list(have.items()):
        raise DsaeError(
            f"the data's factors {have} differ from the judge's {want}: "
            "this judge was trained on another kind of data"
        )
    out = {k: split.static[:, j] for j, k in enumerate(meta.static_factors)}
    out.update({k: split.dynamic[k] for k in meta.dynamic_factors})
    return out


def _check_frames(judge: Judge, x: np.ndarray) -> None:
    if x.ndim != 5 or tuple(x.shape[2:]) != judge.frame_shape:
        h, w, c = judge.frame_shape
        raise DsaeError(f"frames have shape {x.shape}, the judge expects (N, T, {h}, {w}, {c})")


def _loss(
    frame_logits: dict[str, Tensor], labels: dict[str, Tensor]
) -> tuple[Tensor, dict[str, Tensor]]:
    """Cross-entropy of every factor, on the sequence logits and on every frame's logits."""
    total = torch.zeros(())
    correct = {}
    for k, fl in frame_logits.items():
        y = labels[k]
        b, t, n = fl.shape
        if y.dim() == 1:
            seq = fl.mean(dim=1)
            total = total + F.cross_entropy(seq, y)
            total = total + F.cross_entropy(fl.reshape(b * t, n), y.repeat_interleave(t))
            correct[k] = (seq.argmax(-1) == y).float().mean()
        else:  # per-frame labels (B, T)
            total = total + 2 * F.cross_entropy(fl.reshape(b * t, n), y.reshape(-1))
            correct[k] = (fl.argmax(-1) == y).float().mean()
    return total, correct


def train_judge(
    data_dir: str | os.PathLike,
    epochs: int = 3,
    batch_size: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
    max_minutes: float | None = None,
) -> tuple[Judge, dict]:
    """Train a judge on ``data_dir``'s training split; info holds the train time and the
    per-factor accuracy on its test split (when there is one)."""
    if epochs <= 0 or batch_size <= 0 or lr <= 0:
        raise DsaeError(
            f"epochs, batch size and lr must be positive, got {epochs}, {batch_size}, {lr}"
        )
    if max_minutes is not None and max_minutes <= 0:
        raise DsaeError(f"max_minutes must be positive, got {max_minutes}")
    meta = load_meta(data_dir)
    if not meta.is_image:
        raise DsaeError(f"a judge needs image frames, {meta.name} has frames of {meta.frame_shape}")
    split = load_split(data_dir, "train")
    seed_everything(seed)
    judge = Judge(meta.frame_shape, meta.static_factors, meta.dynamic_factors)
    labels = {k: torch.from_numpy(v) for k, v in _labels(split, judge).items()}
    n = len(split)
    if n == 0:
        raise DsaeError("the training split is empty")
    batch_size = min(batch_size, n)
    steps_per_epoch = max(1, n // batch_size)
    total_steps = epochs * steps_per_epoch
    opt = torch.optim.Adam(judge.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=total_steps, pct_start=0.15
    )
    rng = np.random.default_rng(seed)
    judge.train()
    deadline = None if max_minutes is None else time.perf_counter() + 60.0 * max_minutes
    t0 = time.perf_counter()
    step, stopped_early, last_loss = 0, False, float("nan")
    bar = tqdm(total=total_steps, disable=not progress, desc="judge", unit="step")
    for _ in range(epochs):
        perm = rng.permutation(n)
        for i in range(steps_per_epoch):
            idx = np.sort(perm[i * batch_size : (i + 1) * batch_size])
            x = frames_to_tensor(split.x[idx])
            loss, correct = _loss(judge.frame_logits(x), {k: v[idx] for k, v in labels.items()})
            if not torch.isfinite(loss):
                raise DsaeError(f"judge training diverged at step {step}: lower the lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            last_loss = loss.item()
            bar.update(1)
            if step % 10 == 0:
                worst = min(float(c) for c in correct.values())
                bar.set_postfix(loss=f"{last_loss:.3f}", min_acc=f"{worst:.3f}")
            if deadline is not None and time.perf_counter() > deadline:
                stopped_early = True
                break
        if stopped_early:
            break
    bar.close()
    train_time = time.perf_counter() - t0
    judge.eval()
    info: dict[str, Any] = {
        "train_time_s": round(train_time, 2),
        "steps": step,
        "total_steps": total_steps,
        "epochs": epochs,
        "stopped_early": stopped_early,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "final_loss": round(last_loss, 5),
        "n_train": n,
        "data_dir": str(Path(data_dir).resolve()),
        "threads": torch.get_num_threads(),
        "versions": {
            "dsae": __version__,
            "torch": str(torch.__version__),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "test_accuracy": {},
    }
    if (Path(data_dir) / "test.npz").is_file():
        test = load_split(data_dir, "test")
        t1 = time.perf_counter()
        info["test_accuracy"] = evaluate_judge(judge, test)
        info["n_test"] = len(test)
        info["test_time_s"] = round(time.perf_counter() - t1, 2)
    return judge, info


@torch.no_grad()
def _predict(judge: Judge, x: np.ndarray, batch_size: int) -> tuple[dict, dict]:
    """(sequence probs (N, K), frame probs (N, T, K)) per factor, in eval mode."""
    _check_frames(judge, x)
    if batch_size <= 0:
        raise DsaeError(f"batch size must be positive, got {batch_size}")
    was_training = judge.training
    judge.eval()
    seq: dict[str, list[np.ndarray]] = {k: [] for k in judge.factor_names}
    frame: dict[str, list[np.ndarray]] = {k: [] for k in judge.factor_names}
    try:
        for lo in range(0, x.shape[0], batch_size):
            fl = judge.frame_logits(frames_to_tensor(x[lo : lo + batch_size]))
            for k, v in fl.items():
                seq[k].append(v.mean(dim=1).softmax(-1).numpy())
                frame[k].append(v.softmax(-1).numpy())
    finally:
        judge.train(was_training)
    t = x.shape[1]

    def cat(parts: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(shape, np.float32)

    return (
        {k: cat(v, (0, judge.n_classes[k])) for k, v in seq.items()},
        {k: cat(v, (0, t, judge.n_classes[k])) for k, v in frame.items()},
    )


def predict_proba(judge: Judge, x: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """x uint8 (N, T, H, W, C) -> class probabilities (N, K) per factor."""
    return _predict(judge, x, batch_size)[0]


def predict_frame_proba(
    judge: Judge, x: np.ndarray, batch_size: int = 256
) -> dict[str, np.ndarray]:
    """x uint8 (N, T, H, W, C) -> class probabilities per frame (N, T, K) per factor."""
    return _predict(judge, x, batch_size)[1]


def evaluate_judge(judge: Judge, split: SequenceSplit) -> dict[str, float]:
    """Accuracy per factor on a labelled split (per frame for per-frame labels)."""
    labels = _labels(split, judge)
    seq, frame = _predict(judge, split.x, 256)
    acc = {}
    for k, y in labels.items():
        pred = seq[k].argmax(-1) if y.ndim == 1 else frame[k].argmax(-1)
        acc[k] = float((pred == y).mean()) if y.size else float("nan")
    return acc


def save_judge(
    path: str | os.PathLike, judge: Judge, meta: DatasetMeta, fingerprint: str, info: dict
) -> Path:
    """Write a judge checkpoint: state_dict, architecture, data metadata, fingerprint, info."""

    def plain(v: Any) -> Any:  # numpy scalars and arrays in info become numbers and lists
        if isinstance(v, np.generic | np.ndarray):
            return v.tolist()
        raise DsaeError(f"judge info holds a {type(v).__name__}, which cannot be saved")

    # a JSON round trip keeps info loadable with weights_only=True
    info = json.loads(json.dumps(info, default=plain))
    return save_checkpoint(
        path,
        {
            "model": judge.state_dict(),
            "config": {"kind": JUDGE_KIND, "arch": judge.arch},
            "meta": json.loads(meta.to_json()),
            "fingerprint": str(fingerprint),
            "info": info,
        },
    )


def load_judge(path: str | os.PathLike) -> LoadedJudge:
    """Read a judge checkpoint (eval mode); a missing or corrupt file is a DsaeError."""
    p = Path(path)
    if p.is_dir():
        raise DsaeError(f"{p} is a directory, expected a judge file (e.g. judge.pt)")
    if not p.is_file():
        raise DsaeError(f"judge not found: {p} (train one with 'dsae judge train')")
    state = load_checkpoint(p)
    config = state.get("config")
    if not isinstance(config, dict) or config.get("kind") != JUDGE_KIND:
        raise DsaeError(f"{p} is not a judge (a dsae model checkpoint?)")
    try:
        a = config["arch"]
        judge = Judge(
            frame_shape=tuple(a["frame_shape"]),
            static_factors=dict(a["static_factors"]),
            dynamic_factors=dict(a["dynamic_factors"]),
            channels=list(a["channels"]),
            feature_dim=int(a["feature_dim"]),
            hidden_dim=int(a["hidden_dim"]),
            rnn=str(a["rnn"]),
        )
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
    "Judge",
    "LoadedJudge",
    "check_judge_matches",
    "evaluate_judge",
    "load_judge",
    "min_accuracy",
    "predict_frame_proba",
    "predict_proba",
    "save_judge",
    "train_judge",
]
