"""Capacity annealing (Burgess et al. 2018): beta KL is replaced by gamma |KL - C(step)|.

C(step) = target * min(1, step / steps) rises linearly from 0 to its target (nats), so the
codes are let carry more information step by step; gamma (Burgess et al. used 1000 with C
up to 25 nats) holds the KL near C from either side.
"""

from __future__ import annotations

import torch


def capacity(step: int, target: float, steps: int) -> float:
    """C(step) = target * min(1, step / steps); the target from step 0 when steps <= 0."""
    if steps <= 0:
        return float(target)
    return float(target) * min(1.0, step / steps)


def capacity_term(kl: torch.Tensor, c: float, gamma: float) -> torch.Tensor:
    """gamma |KL - C|: pushes KL down above C and up below it."""
    return gamma * (kl - c).abs()
