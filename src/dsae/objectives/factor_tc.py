"""FactorVAE's total correlation (Kim & Mnih 2018): TC(c) = KL(q(c) || prod_j q(c_j)).

The code c is the per-frame joint code c_t = [f, z_t] (f repeated over the frames), so the
penalty reaches the units within f, within z_t, and between f and z_t. A discriminator
D learns to tell codes of the batch (samples of q(c)) from codes whose every unit is
permuted independently across the batch and frames (samples of prod_j q(c_j)); with
balanced classes its logit estimates log q(c) / prod_j q(c_j), and the mean logit on real
codes estimates TC in nats per frame.

One batch serves both sides (FactorVAE draws a second batch for the permuted codes; one
batch of B x T frames is permuted here, as the MI critic's pairs are mismatched): D learns
on detached codes, and the encoders' penalty runs through a detached copy of D's weights,
so one backward pass gives each side the gradient of its own loss only. D has its own
optimiser (dsae.train.extras.TCPenalty).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from dsae.models.blocks import mlp


class TCDiscriminator(nn.Module):
    """D(c) ~ log q(c) / prod_j q(c_j): an MLP logit on the joint code."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.net = mlp(dim, hidden, 1)

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        """c (..., dim) -> logits (...)."""
        return self.net(c).squeeze(-1).float()


def joint_codes(f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """c_t = [f, z_t]: f (B, f_dim), z (B, T, z_dim) -> (B, T, f_dim + z_dim)."""
    return torch.cat([f.unsqueeze(1).expand(-1, z.shape[1], -1), z], dim=-1)


def permute_dims(c: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each column of c (N, D) shuffled on its own across the N rows: a sample of
    prod_j q(c_j) from one of q(c)."""
    n, d = c.shape
    idx = torch.argsort(torch.rand(n, d, generator=generator), dim=0).to(c.device)
    return torch.gather(c, 0, idx)


@dataclass
class TCTerms:
    penalty: torch.Tensor  # the encoders' term: real-code logits summed over frames, batch mean
    disc_loss: torch.Tensor  # the discriminator's cross-entropy (inputs detached)
    estimate: torch.Tensor  # TC estimate in nats per frame (detached)


def tc_terms(
    disc: TCDiscriminator, c: torch.Tensor, generator: torch.Generator | None = None
) -> TCTerms:
    """Both sides of the game on joint codes c (B, T, D) (or (N, D): one frame each)."""
    codes = c if c.dim() == 3 else c.unsqueeze(1)
    b, t, d = codes.shape
    flat = codes.detach().reshape(b * t, d)
    real, fake = disc(flat), disc(permute_dims(flat, generator))
    disc_loss = F.binary_cross_entropy_with_logits(
        real, torch.ones_like(real)
    ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    frozen = {k: v.detach() for k, v in disc.named_parameters()}
    logits = functional_call(disc, frozen, (codes,))
    penalty = logits.sum(1).mean()  # per frame, summed over T like the KL of z
    return TCTerms(penalty=penalty, disc_loss=disc_loss, estimate=real.mean().detach())
