"""Generation samplers: objects that draw the codes f and z_1:T a model decodes."""

from __future__ import annotations

import torch

from dsae.models.base import SequentialVAE

LEARNT_PRIOR = "learnt_prior"


class Sampler:
    """Draws f (n, f_dim) and z_1:T (n, steps, z_dim) for generation."""

    name: str = ""

    def sample_f(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def sample_z(
        self, n: int, steps: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        raise NotImplementedError


class LearntPrior(Sampler):
    """The model's own p(f) and p(z_1:T), those of its ELBO; nothing to fit."""

    name = LEARNT_PRIOR

    def __init__(self, model: SequentialVAE):
        self.model = model

    def sample_f(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.model.sample_f(n, generator)

    def sample_z(
        self, n: int, steps: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return self.model.sample_z(n, steps, generator)
