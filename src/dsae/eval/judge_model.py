"""Judges: classifiers trained on real labelled sequences to score generated ones.

A judge reads a sequence x_1:T and predicts every labelled factor of the dataset: the
static factors (e.g. skin, pants, top, hair) and the dynamic ones (e.g. action), as in the
evaluation protocol of Li & Mandt (2018), Sec. 5, where a classifier trained on the real
data tells which identity and which motion a generated sequence shows.

Architecture: a frame encoder h_t = enc(x_t) (convolutional for images, an MLP for vector
frames such as spectra), a bidirectional GRU (or LSTM)
s_1:T = RNN(h_1:T), and one linear head per factor. Static heads read the per-frame
features h_t, dynamic heads the per-step recurrent states s_t, so both give a prediction
per frame (``frame_logits``, for plots of the class over time). A sequence's logits are
the time-average of its frame logits (a product of the per-frame experts), which works
for any sequence length. Training sees the training split only; the test split measures
the judge.

A judge of another architecture (:class:`dsae.eval.judge_tcn.TemporalConvJudge`) has the
same interface, :class:`JudgeNet`; the functions here take either. Each architecture is a
family named in its ``arch`` dict (``"rnn"`` here), by which judge files are read back.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from dsae.data.base import SequenceSplit
from dsae.data.modality import modality_for
from dsae.errors import DsaeError

DEFAULT_CHANNELS = (16, 32, 64, 128)

__all__ = [
    "DEFAULT_CHANNELS",
    "Judge",
    "JudgeNet",
    "evaluate_judge",
    "judge_labels",
    "predict_frame_proba",
    "predict_proba",
]


def _conv_out(size: int, n_layers: int) -> int:
    """Spatial size after ``n_layers`` 3x3 stride-2 convolutions with padding 1."""
    for _ in range(n_layers):
        size = (size + 1) // 2
    return size


class JudgeNet(Protocol):
    """What the functions here read of a judge network (any family: Judge, TemporalConvJudge)."""

    arch: dict[str, Any]
    frame_shape: tuple[int, ...]
    factor_names: list[str]
    n_classes: dict[str, int]
    training: bool

    def frame_logits(self, x: Tensor) -> dict[str, Tensor]:
        """x (B, T, *model frame shape) -> logits (B, T, K) per factor."""
        ...

    def train(self, mode: bool = True) -> Any: ...

    def eval(self) -> Any: ...


def judge_fields(
    judge: Any,
    frame_shape: tuple[int, ...],
    static_factors: dict[str, int],
    dynamic_factors: dict[str, int],
    channels: tuple[int, ...] | list[int],
    feature_dim: int,
    hidden_dim: int,
) -> dict[str, Any]:
    """Set what every judge family exposes (frame_shape, static_names, dynamic_names,
    factor_names, n_classes) on ``judge``; return the ``arch`` entries they share."""
    judge.frame_shape = tuple(int(v) for v in frame_shape)
    judge.static_names = list(static_factors)
    judge.dynamic_names = list(dynamic_factors)
    judge.factor_names = judge.static_names + judge.dynamic_names
    judge.n_classes = {k: int(v) for k, v in {**static_factors, **dynamic_factors}.items()}
    return {
        "family": judge.family,
        "frame_shape": [int(v) for v in frame_shape],
        "static_factors": {str(k): int(v) for k, v in static_factors.items()},
        "dynamic_factors": {str(k): int(v) for k, v in dynamic_factors.items()},
        "channels": [int(c) for c in channels],
        "feature_dim": int(feature_dim),
        "hidden_dim": int(hidden_dim),
    }


class Judge(nn.Module):
    """Classifier of every labelled factor of a sequence: static heads on frames,
    dynamic heads on a bidirectional recurrent state."""

    family = "rnn"
    # the architecture in one line, as reports name it
    summary = "a per-frame CNN or MLP, a bidirectional GRU or LSTM over the frames"

    def __init__(
        self,
        frame_shape: tuple[int, ...],
        static_factors: dict[str, int],
        dynamic_factors: dict[str, int],
        channels: tuple[int, ...] | list[int] = DEFAULT_CHANNELS,
        feature_dim: int = 128,
        hidden_dim: int = 128,
        rnn: str = "gru",
    ):
        super().__init__()
        modality = modality_for(frame_shape)  # image (H, W, C) or vector (D,) frames
        if rnn not in ("gru", "lstm"):
            raise DsaeError(f"judge rnn must be gru or lstm, got {rnn!r}")
        if not static_factors and not dynamic_factors:
            raise DsaeError("the dataset has no labelled factors to judge")
        self.arch = judge_fields(
            self, frame_shape, static_factors, dynamic_factors, channels, feature_dim, hidden_dim
        )
        self.arch["rnn"] = rnn

        if modality.name == "image":
            self.frame_encoder = _conv_encoder(self.frame_shape, channels, feature_dim)
        else:
            self.frame_encoder = _mlp_encoder(self.frame_shape[0], feature_dim)
        rnn_cls = nn.GRU if rnn == "gru" else nn.LSTM
        self.rnn = rnn_cls(feature_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.static_heads = nn.ModuleDict(
            {k: nn.Linear(feature_dim, n) for k, n in static_factors.items()}
        )
        self.dynamic_heads = nn.ModuleDict(
            {k: nn.Linear(2 * hidden_dim, n) for k, n in dynamic_factors.items()}
        )
        self.is_image = modality.name == "image"
        if self.is_image:
            self.to(memory_format=torch.channels_last)

    @classmethod
    def from_arch(cls, arch: dict[str, Any]) -> Judge:
        """The judge (untrained weights) that ``arch`` describes, as saved in a judge file."""
        return cls(
            frame_shape=tuple(arch["frame_shape"]),
            static_factors=dict(arch["static_factors"]),
            dynamic_factors=dict(arch["dynamic_factors"]),
            channels=list(arch["channels"]),
            feature_dim=int(arch["feature_dim"]),
            hidden_dim=int(arch["hidden_dim"]),
            rnn=str(arch["rnn"]),
        )

    def frame_logits(self, x: Tensor) -> dict[str, Tensor]:
        """x (B, T, *model frame shape) -> logits (B, T, K) per factor, one per frame."""
        b, t = x.shape[:2]
        frames = x.reshape(b * t, *x.shape[2:])
        if self.is_image:
            frames = frames.contiguous(memory_format=torch.channels_last)
        h = self.frame_encoder(frames).view(b, t, -1)  # h_t: (B, T, feature_dim)
        out = {k: head(h) for k, head in self.static_heads.items()}
        if self.dynamic_heads:
            s, _ = self.rnn(h)  # s_t: (B, T, 2 * hidden_dim)
            out.update({k: head(s) for k, head in self.dynamic_heads.items()})
        return out

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """x (B, T, *model frame shape) -> sequence logits (B, K) per factor."""
        return {k: v.mean(dim=1) for k, v in self.frame_logits(x).items()}


def _conv_encoder(
    frame_shape: tuple[int, ...], channels: tuple[int, ...] | list[int], feature_dim: int
) -> nn.Sequential:
    """Image frames (C, H, W) -> features: 3x3 stride-2 convolutions, then a linear map."""
    h, w, c_in = frame_shape
    layers: list[nn.Module] = []
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
        c_in = c
    n_flat = c_in * _conv_out(h, len(channels)) * _conv_out(w, len(channels))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(n_flat, feature_dim), nn.ReLU())


def _mlp_encoder(dim: int, feature_dim: int, hidden: int = 256) -> nn.Sequential:
    """Vector frames (D,) -> features: an MLP with one normalised hidden layer."""
    return nn.Sequential(
        nn.Linear(dim, hidden), nn.LayerNorm(hidden), nn.ReLU(),
        nn.Linear(hidden, feature_dim), nn.ReLU(),
    )  # fmt: skip


def judge_labels(split: SequenceSplit, judge: JudgeNet) -> dict[str, np.ndarray]:
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


def _check_frames(judge: JudgeNet, x: np.ndarray) -> None:
    if x.ndim != 2 + len(judge.frame_shape) or tuple(x.shape[2:]) != judge.frame_shape:
        dims = ", ".join(str(v) for v in judge.frame_shape)
        raise DsaeError(f"frames have shape {x.shape}, the judge expects (N, T, {dims})")


@torch.no_grad()
def _predict(judge: JudgeNet, x: np.ndarray, batch_size: int) -> tuple[dict, dict]:
    """(sequence probs (N, K), frame probs (N, T, K)) per factor, in eval mode."""
    _check_frames(judge, x)
    if batch_size <= 0:
        raise DsaeError(f"batch size must be positive, got {batch_size}")
    was_training = judge.training
    judge.eval()
    seq: dict[str, list[np.ndarray]] = {k: [] for k in judge.factor_names}
    frame: dict[str, list[np.ndarray]] = {k: [] for k in judge.factor_names}
    modality = modality_for(judge.frame_shape)
    try:
        for lo in range(0, x.shape[0], batch_size):
            fl = judge.frame_logits(modality.to_tensor(x[lo : lo + batch_size]))
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


def predict_proba(judge: JudgeNet, x: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """x stored frames (N, T, *frame shape) -> class probabilities (N, K) per factor."""
    return _predict(judge, x, batch_size)[0]


def predict_frame_proba(
    judge: JudgeNet, x: np.ndarray, batch_size: int = 256
) -> dict[str, np.ndarray]:
    """x stored frames (N, T, *frame shape) -> class probabilities per frame (N, T, K)."""
    return _predict(judge, x, batch_size)[1]


def evaluate_judge(judge: JudgeNet, split: SequenceSplit) -> dict[str, float]:
    """Accuracy per factor on a labelled split (per frame for per-frame labels)."""
    labels = judge_labels(split, judge)
    seq, frame = _predict(judge, split.x, 256)
    acc = {}
    for k, y in labels.items():
        pred = seq[k].argmax(-1) if y.ndim == 1 else frame[k].argmax(-1)
        acc[k] = float((pred == y).mean()) if y.size else float("nan")
    return acc
