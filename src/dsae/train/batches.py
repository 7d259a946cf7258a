"""Training batches: a stateless epoch sampler."""

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
