"""Training batches: a stateless epoch sampler and the frame conversion of the data."""

from __future__ import annotations

import numpy as np
import torch

from dsae.errors import DsaeError


class EpochSampler:
    """Batch indices for a global step: shuffled epochs, the last partial batch dropped.
    The permutation of epoch e is a function of the seed and e, so a resumed run draws the
    batches of an uninterrupted one."""

    def __init__(self, n: int, batch_size: int, seed: int):
        if n <= 0:
            raise DsaeError("the training split is empty")
        self.n, self.batch_size, self.seed = n, min(batch_size, n), seed
        self.steps_per_epoch = max(1, n // self.batch_size)
        self._epoch, self._perm = -1, np.arange(n)

    def indices(self, step: int) -> np.ndarray:
        epoch, i = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm, self._epoch = torch.randperm(self.n, generator=g).numpy(), epoch
        return np.sort(self._perm[i * self.batch_size : (i + 1) * self.batch_size])


def frames_to_tensor(x: np.ndarray) -> torch.Tensor:
    """(B, T, H, W, C) uint8 -> (B, T, C, H, W) float in [0, 1] (NHWC strides kept);
    (B, T, D) float vectors pass through as float32."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    if t.dim() == 5:
        t = t.permute(0, 1, 4, 2, 3)
    if t.dtype == torch.uint8:
        return t.float().div_(255.0)
    return t.float()


def tensor_to_frames(x: torch.Tensor) -> np.ndarray:
    """Inverse of :func:`frames_to_tensor` for images: -> (B, T, H, W, C) uint8."""
    if x.dim() == 5:
        return (x.clamp(0, 1).permute(0, 1, 3, 4, 2) * 255).round().to(torch.uint8).numpy()
    return x.float().numpy()
