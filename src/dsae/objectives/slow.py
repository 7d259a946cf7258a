"""Slow latent dynamics (Benjamin & Andrew, "Disentangling via dynamics", sections 2.2 and
2.3.1): for linear dynamics z_t = A_t z_{t-1} + noise,

    R = sum_t sum_i gamma(i) |lambda_t,i - 1|          (A_t = diag(lambda_t))
    R = sum_t sum_ij gamma(i) |(A_t - I)_ij|           (A_t with interactions)

per sequence, averaged over the batch; gamma(i) = w (i / (D - 1))^p by default, rising with
the latent's index so the later latents are pushed hardest toward slow (static) dynamics.
"""

from __future__ import annotations

import torch

from dsae.config import ObjectiveConfig
from dsae.errors import DsaeError


def slow_gammas(cfg: ObjectiveConfig, z_dim: int) -> torch.Tensor | None:
    """gamma(i) for i = 0..z_dim-1 (z_dim,), or None when the regulariser is off.

    ``slow_weights`` (z_dim values) is taken as listed; else slow_weight (i / (z_dim-1))^p
    (one latent: slow_weight)."""
    if cfg.slow_weight < 0:
        raise DsaeError(f"objective.slow_weight must be >= 0, got {cfg.slow_weight}")
    if cfg.slow_power < 0:
        raise DsaeError(f"objective.slow_power must be >= 0, got {cfg.slow_power}")
    if cfg.slow_weights:
        if len(cfg.slow_weights) != z_dim or min(cfg.slow_weights) < 0:
            raise DsaeError(
                f"objective.slow_weights must list {z_dim} values >= 0 (model.z_dim), "
                f"got {len(cfg.slow_weights)}"
            )
        return torch.tensor(cfg.slow_weights, dtype=torch.float32)
    if cfg.slow_weight == 0:
        return None
    rank = torch.arange(z_dim, dtype=torch.float32) / max(z_dim - 1, 1)
    return cfg.slow_weight * rank.pow(cfg.slow_power)


def slow_penalty(offset: torch.Tensor, gammas: torch.Tensor) -> torch.Tensor:
    """R of A_t - I (``TrainPass.transition_offset``): lambda_t - 1 (B, T-1, D) or
    A_t - I (B, T-1, D, D), row i weighed by gamma(i); the batch mean of the sums."""
    g = gammas.to(offset.device, torch.promote_types(offset.dtype, torch.float32))
    if offset.dim() == 4:
        g = g.unsqueeze(-1)  # rows i of A_t - I
    per_seq = (g * offset.abs()).flatten(1).sum(1)
    return per_seq.mean()
