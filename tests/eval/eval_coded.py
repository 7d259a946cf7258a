"""A constructed dataset whose labels can be read off its pixels, the oracle judge that reads
them, and stand-in models (shared by the evaluation tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from dsae.config import ModelConfig
from dsae.data.base import DatasetMeta, SequenceSplit, fingerprint, load_meta, write_dataset_dir
from dsae.eval.judge import Judge, save_judge
from dsae.models import DSAE, Encoding

SIZE, T = 16, 4
STATIC = {"colour": 3, "shape": 2}
DYNAMIC = {"action": 4}
# Where each factor is written: (rows, cols, channel) of a block holding the level of its class.
REGIONS = {
    "colour": (slice(0, 8), slice(0, 8), 0),
    "shape": (slice(0, 8), slice(8, 16), 1),
    "action": (slice(8, 16), slice(0, 16), 2),
}


def level(v: np.ndarray, k: int) -> np.ndarray:
    """Intensity in [0, 1] that codes class v of k: the centre of its bin."""
    return (np.asarray(v) + 0.5) / k


def coded_split(
    static: np.ndarray,
    action: np.ndarray,
    seed: int = 0,
    size: int = SIZE,
    static_factors: dict[str, int] | None = None,
    dynamic_factors: dict[str, int] | None = None,
) -> SequenceSplit:
    """Frames with one block per factor at its class's level; action (N,) or per frame (N, T).

    ``static_factors`` / ``dynamic_factors`` ({} for none) say which labels the split keeps;
    the pixels always hold all three factors."""
    n = static.shape[0]
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 0.05, (n, T, size, size, 3))
    act = action if action.ndim == 2 else np.repeat(action[:, None], T, axis=1)
    levels = {
        "colour": np.repeat(level(static[:, :1], 3), T, axis=1),
        "shape": np.repeat(level(static[:, 1:], 2), T, axis=1),
        "action": level(act, 4),
    }
    for name, (r, c, ch) in REGIONS.items():
        x[:, :, r, c, ch] = levels[name][:, :, None, None]
    sf = dict(STATIC) if static_factors is None else static_factors
    df = dict(DYNAMIC) if dynamic_factors is None else dynamic_factors
    meta = DatasetMeta("coded", T, (size, size, 3), sf, df)
    return SequenceSplit(
        x=np.round(x * 255).astype(np.uint8),
        static=static[:, : len(sf)] if sf else np.zeros((n, 0), dtype=np.int64),
        dynamic={"action": action} if df else {},
        meta=meta,
    )


def balanced_labels(n_per_action: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    action = np.repeat(np.arange(4), n_per_action)
    n = action.size
    static = np.stack([rng.integers(0, 3, n), rng.integers(0, 2, n)], axis=1)
    return static, action


class Oracle:
    """A judge that reads each factor's class off its block: a smooth softmax around the level."""

    factor_names = [*STATIC, *DYNAMIC]
    n_classes = {**STATIC, **DYNAMIC}

    def __init__(self):
        self.rows_seen = 0

    def _frame_logits(self, x: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for name in self.factor_names:
            r, c, ch = REGIONS[name]
            k = self.n_classes[name]
            m = x[:, :, r, c, ch].astype(np.float64).mean(axis=(2, 3)) / 255.0  # (N, T)
            out[name] = -(((m[..., None] - level(np.arange(k), k)) * 2 * k) ** 2)
        return out

    @staticmethod
    def _softmax(a: np.ndarray) -> np.ndarray:
        e = np.exp(a - a.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def predict_proba(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self.rows_seen += x.shape[0]
        return {k: self._softmax(v.mean(axis=1)) for k, v in self._frame_logits(x).items()}

    def predict_frame_proba(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {k: self._softmax(v) for k, v in self._frame_logits(x).items()}


class LabelCodec(nn.Module):
    """A perfectly disentangled stand-in model: f holds the static levels, z_t the action's."""

    frame_shape = (3, SIZE, SIZE)  # per frame, as models read it

    def encode(self, x: torch.Tensor) -> Encoding:  # x: (B, T, C, H, W)
        blocks = {k: x[:, :, ch, r, c].mean(dim=(-2, -1)) for k, (r, c, ch) in REGIONS.items()}
        f = torch.stack([blocks["colour"][:, 0], blocks["shape"][:, 0]], dim=1)
        z = blocks["action"].unsqueeze(-1)
        return Encoding(f, torch.zeros_like(f), z, torch.zeros_like(z))

    def decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        b, t = z.shape[:2]
        x = torch.zeros(b, t, 3, SIZE, SIZE)
        x[:, :, 0, :8, :8] = f[:, 0, None, None, None]
        x[:, :, 1, :8, 8:] = f[:, 1, None, None, None]
        x[:, :, 2, 8:, :] = z[:, :, 0, None, None]
        return x

    def sample_f(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.rand(batch, 2, generator=generator)

    def sample_z(self, batch: int, steps: int, generator: torch.Generator | None = None):
        return torch.rand(batch, 1, 1, generator=generator).expand(batch, steps, 1)


class ZOnlyCodec(LabelCodec):
    """A leaky stand-in: z_t carries every factor and the decoder ignores f."""

    def encode(self, x: torch.Tensor) -> Encoding:
        e = LabelCodec.encode(self, x)
        z = torch.cat([e.f_mean.unsqueeze(1).expand(-1, x.shape[1], -1), e.z_mean], dim=-1)
        return Encoding(e.f_mean, e.f_logvar, z, torch.zeros_like(z))

    def decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return LabelCodec.decode(self, z[:, 0, :2], z[:, :, 2:])


class ConstantSampler:
    """A sampler that always draws the same f and z_1:T (class 0 of every factor)."""

    def sample_f(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.tensor([level(0, 3), level(0, 2)], dtype=torch.float32).expand(n, 2)

    def sample_z(self, n: int, steps: int, generator: torch.Generator | None = None):
        return torch.full((n, steps, 1), float(level(0, 4)))


class EncodeOnly(LabelCodec):
    """A model with no priors of its own: it can encode and decode but not sample."""

    sample_f = None  # type: ignore[assignment]
    sample_z = None  # type: ignore[assignment]


def tiny_model(size: int = SIZE) -> DSAE:
    torch.manual_seed(0)
    cfg = ModelConfig(channels=[8, 16], frame_dim=16, hidden_dim=16, f_dim=4, z_dim=3)
    return DSAE(cfg, (3, size, size)).eval()


def write_coded_dataset(root: Path, size: int = SIZE) -> Path:
    train = coded_split(*balanced_labels(6, seed=4), seed=4, size=size)
    test = coded_split(*balanced_labels(5, seed=5), seed=5, size=size)
    return write_dataset_dir(root, {"train": train, "test": test})


def write_judge(path: Path, data_dir: Path, fp: str | None = None) -> Path:
    meta = load_meta(data_dir)
    torch.manual_seed(0)
    judge = Judge(meta.frame_shape, meta.static_factors, meta.dynamic_factors, channels=[8, 16])
    info = {"test_accuracy": {k: 0.5 for k in (*STATIC, *DYNAMIC)}, "epochs": 0}
    return save_judge(path, judge.eval(), meta, fp or fingerprint(data_dir), info)
