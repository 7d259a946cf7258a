"""A digits-like dataset of drawn bars whose style is known, a judge that reads the class off
a faint corner pixel, and stand-in models that keep or lose what the style protocol scores
(shared by the style tests)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dsae.data.base import DatasetMeta, SequenceSplit
from dsae.data.digits import STATES, measure_frames
from dsae.models import Encoding

SIZE, T, K = 28, 4, 4
SHEARS = np.linspace(-0.5, 0.5, 6)
WIDTHS = (1.5, 3.0, 4.5)


def bar(width: float, shear: float = 0.0, rows: tuple[int, int] = (2, 26)) -> np.ndarray:
    """A 28 x 28 bar of ``width`` pixels down the middle, its column moved by
    ``shear * (14 - row)``: pixel (r, c) is ink when its centre is inside."""
    im = np.zeros((SIZE, SIZE), np.uint8)
    r = np.arange(*rows)[:, None]
    c = np.arange(SIZE)[None, :] + 0.5
    left = 14 + shear * (14 - (r + 0.5)) - width / 2
    im[rows[0] : rows[1]] = np.where((c >= left) & (c < left + width), 255, 0)
    return im


# Every style a frame can have: (M, H, W) uint8, M = len(SHEARS) * len(WIDTHS)
BANK = np.stack([bar(w, s) for s in SHEARS for w in WIDTHS])


def code_level(c: np.ndarray | int) -> np.ndarray:
    """Pixel (0, 0)'s value in [0, 1] for class c: faint (below the ink threshold)."""
    return (np.asarray(c) + 1) * 25 / 255


def bar_split(n: int, seed: int, name: str = "digits", states: bool = True) -> SequenceSplit:
    """n sequences of T bars of random styles, one class each written in pixel (0, 0); the
    stored states are the frames' measured ones (as ``dsae data build digits`` stores them)."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, K, n)
    index = rng.integers(0, len(BANK), (n, T))
    x = BANK[index][..., None].copy()  # (n, T, H, W, 1)
    x[:, :, 0, 0, 0] = np.round(code_level(classes) * 255).astype(np.uint8)[:, None]
    measured = measure_frames(x)
    meta = DatasetMeta(
        name, T, (SIZE, SIZE, 1), {"digit": K}, {}, states=list(STATES) if states else []
    )
    split = SequenceSplit(
        x=x,
        static=classes[:, None].astype(np.int64),
        dynamic={},
        meta=meta,
        states={k: measured[k][..., None].astype(np.float32) for k in STATES} if states else {},
    )
    split.validate()
    return split


class CornerJudge:
    """Reads the class off pixel (0, 0) of the first frame: the nearest class level."""

    factor_names = ["digit"]
    n_classes = {"digit": K}

    def _frame_proba(self, x: np.ndarray) -> np.ndarray:
        v = x[:, :, 0, 0, 0].astype(np.float64) / 255  # (N, T)
        logits = -(((v[..., None] - code_level(np.arange(K))) * 40) ** 2)
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def predict_proba(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {"digit": self._frame_proba(x).mean(axis=1)}

    def predict_frame_proba(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {"digit": self._frame_proba(x)}


class BarCodec(nn.Module):
    """A perfectly disentangled stand-in: f is the class level, z_t the index of the frame's
    style in :data:`BANK`; the decoder redraws the bar and writes the class level."""

    frame_shape = (1, SIZE, SIZE)

    def __init__(self):
        super().__init__()
        self.bank = torch.from_numpy(BANK.astype(np.float32) / 255)  # (M, H, W)

    def encode(self, x: torch.Tensor) -> Encoding:  # x: (B, T, 1, H, W)
        f = x[:, 0, 0, 0, :1]  # (B, 1)
        pixels = x[:, :, 0].clone()
        pixels[:, :, 0, 0] = 0.0
        dist = ((pixels.unsqueeze(2) - self.bank) ** 2).sum(dim=(-2, -1))  # (B, T, M)
        z = dist.argmin(dim=-1, keepdim=True).float()  # (B, T, 1)
        return Encoding(f, torch.zeros_like(f), z, torch.zeros_like(z))

    def decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        idx = z[..., 0].round().long().clamp(0, len(self.bank) - 1)  # (B, T)
        x = self.bank[idx].clone()  # (B, T, H, W)
        x[:, :, 0, 0] = f[:, :1]
        return x.unsqueeze(2)

    def sample_f(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        c = torch.randint(0, K, (n, 1), generator=generator)
        return (c + 1).float() * 25 / 255

    def sample_z(self, n: int, steps: int, generator: torch.Generator | None = None):
        return torch.randint(0, len(self.bank), (n, steps, 1), generator=generator).float()


class Unrelated(BarCodec):
    """A stand-in whose posterior is that of another sequence (the next one in the batch):
    whatever it keeps is unrelated to the source."""

    def encode(self, x: torch.Tensor) -> Encoding:
        e = BarCodec.encode(self, x)
        return Encoding(*(v.roll(1, dims=0) for v in (e.f_mean, e.f_logvar, e.z_mean, e.z_logvar)))


class OneStyle:
    """A sampler that always draws the same style (bank image 0) and class 0."""

    def sample_f(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.full((n, 1), float(code_level(0)))

    def sample_z(self, n: int, steps: int, generator: torch.Generator | None = None):
        return torch.zeros(n, steps, 1)
