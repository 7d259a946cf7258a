"""A tiny speech-like dataset of vector frames (shared by the verification and judge tests):
utterances cut into segments, a speaker written as a fixed offset pattern in every frame, a
digit as a per-utterance pattern that rises and falls over the segment, and noise."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dsae.data.base import DatasetMeta, SequenceSplit
from dsae.models import Encoding

T, D = 5, 12
SPEAKERS, DIGITS = 4, 3
ENVELOPE = np.sin(np.pi * (np.arange(T) + 0.5) / T)  # (T,) the digit's loudness over a segment


def vector_split(
    n_utterances: int, seed: int, segments: int = 3, grouped: bool = True, noise: float = 0.4
) -> SequenceSplit:
    """``n_utterances`` recordings of ``segments`` segments each: x (N, T, D) float32 with the
    speaker's one-hot in dims 0..3 and the digit's, times ``ENVELOPE``, in dims 4..6."""
    rng = np.random.default_rng(seed)
    speaker = rng.integers(0, SPEAKERS, n_utterances)
    digit = rng.integers(0, DIGITS, n_utterances)
    utterance = np.repeat(np.arange(n_utterances), segments)
    n = utterance.size
    x = rng.normal(scale=noise, size=(n, T, D))
    x[:, :, :SPEAKERS] += 2.0 * np.eye(SPEAKERS)[speaker[utterance]][:, None, :]
    x[:, :, SPEAKERS : SPEAKERS + DIGITS] += (
        2.0 * np.eye(DIGITS)[digit[utterance]][:, None, :] * ENVELOPE[None, :, None]
    )
    meta = DatasetMeta(
        "vectors",
        T,
        (D,),
        {"speaker": SPEAKERS},
        {"digit": DIGITS},
        groups=["utterance"] if grouped else [],
    )
    return SequenceSplit(
        x=x.astype(np.float32),
        static=speaker[utterance][:, None].astype(np.int64),
        dynamic={"digit": digit[utterance].astype(np.int64)},
        meta=meta,
        groups={"utterance": utterance.astype(np.int64)} if grouped else {},
    )


class IdealCodec(nn.Module):
    """A perfectly disentangled stand-in: f reads the speaker's dims, z_t the digit's."""

    frame_shape = (D,)

    def encode(self, x: torch.Tensor) -> Encoding:  # x: (B, T, D)
        f = x[:, :, :SPEAKERS].mean(dim=1)
        z = x[:, :, SPEAKERS : SPEAKERS + DIGITS]
        return Encoding(f, torch.zeros_like(f), z, torch.zeros_like(z))

    def decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        b, t = z.shape[:2]
        return torch.cat([f[:, None].expand(b, t, -1), z, torch.zeros(b, t, D - 7)], dim=-1)


class SwappedCodec(IdealCodec):
    """The wrong way round: f reads the digit, z_t the speaker."""

    def encode(self, x: torch.Tensor) -> Encoding:
        e = IdealCodec.encode(self, x)
        f = e.z_mean.mean(dim=1)
        z = e.f_mean[:, None].expand(-1, x.shape[1], -1)
        return Encoding(f, torch.zeros_like(f), z, torch.zeros_like(z))


class RandomCodec(IdealCodec):
    """Codes that ignore the frames: seeded noise, the same for every call."""

    def encode(self, x: torch.Tensor) -> Encoding:
        g = torch.Generator().manual_seed(int(x.shape[0]))
        f = torch.randn(x.shape[0], 4, generator=g)
        z = torch.randn(x.shape[0], x.shape[1], 3, generator=g)
        return Encoding(f, torch.zeros_like(f), z, torch.zeros_like(z))
