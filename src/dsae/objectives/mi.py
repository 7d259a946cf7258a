"""An optional penalty on the mutual information I(f; z_1:T) of the posterior codes.

A critic learns the log density ratio log q(f, z_t) / (q(f) q(z_t)) per frame by telling
posterior pairs (f_i, z_i,t) of one sequence from mismatched pairs (f_j, z_i,t) of two
(the density-ratio trick of FactorVAE, applied between f and z as the MI terms of DSVAE-MI
and C-DSVAE are). Its mean logit on matched pairs estimates I(f; z_t) and the encoders
minimise that estimate: content that f carries then cannot also sit in z, and the other way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from dsae.models.blocks import mlp


class MICritic(nn.Module):
    """T(f, z_t) ~ log q(f, z_t) / (q(f) q(z_t)): an MLP on [f, z_t]."""

    def __init__(self, f_dim: int, z_dim: int, hidden: int):
        super().__init__()
        self.net = mlp(f_dim + z_dim, hidden, 1)

    def forward(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """f (B, f_dim), z (B, T, z_dim) -> logits (B, T)."""
        fr = f.unsqueeze(1).expand(-1, z.shape[1], -1)
        return self.net(torch.cat([fr, z], dim=-1)).squeeze(-1).float()


@dataclass
class MITerms:
    penalty: torch.Tensor  # the encoders' term: matched logits summed over frames
    critic_loss: torch.Tensor  # the critic's own classification loss (inputs detached)
    estimate: torch.Tensor  # I(f; z_t) estimate in nats per frame (detached)


MI_THROUGH = ("both", "f")  # which encoders the penalty's gradient reaches


def mi_terms(critic: MICritic, f: torch.Tensor, z: torch.Tensor, through: str = "both") -> MITerms:
    """Both sides of the game in one graph: the critic learns on detached codes, and the
    encoders' penalty runs through a detached copy of the critic's weights, so one backward
    pass trains each side on its own loss only.

    ``through="f"`` stops the penalty at z: only q(f | x) is pushed to drop what z_t knows,
    and z cannot satisfy the critic by giving up (or scrambling) the motion it carries.
    """
    if through not in MI_THROUGH:
        raise ValueError(f"through must be one of {MI_THROUGH}, got {through!r}")
    b = f.shape[0]
    perm = torch.roll(torch.arange(b), 1)  # every f meets another sequence's z (b >= 2)
    fd, zd = f.detach(), z.detach()
    matched, mismatched = critic(fd, zd), critic(fd[perm], zd)
    critic_loss = F.binary_cross_entropy_with_logits(
        matched, torch.ones_like(matched)
    ) + F.binary_cross_entropy_with_logits(mismatched, torch.zeros_like(mismatched))
    frozen = {k: v.detach() for k, v in critic.named_parameters()}
    logits = functional_call(critic, frozen, (f, zd if through == "f" else z))
    penalty = logits.sum(1).mean()  # sum over frames, like the ELBO's KL of z
    return MITerms(penalty=penalty, critic_loss=critic_loss, estimate=matched.mean().detach())


def adapt_weight(
    weight: float, estimate: float, target: float, rate: float, floor: float, ceiling: float
) -> float:
    """lambda <- clip(lambda * exp(rate * (I_hat - target)), floor, ceiling).

    A multiplicative dual step on the constraint I(f; z_t) <= target: while the critic's
    estimate stays above the target the penalty grows geometrically, and it decays back to
    the floor once the estimate stays below it. One batch's estimate is noisy; a small rate
    averages it over hundreds of steps.
    """
    return min(ceiling, max(floor, weight * math.exp(rate * (estimate - target))))
