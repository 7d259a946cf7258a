"""An optional swap-consistency term: codes that survive being swapped.

Decode the static code f_i of one sequence with the dynamic codes z_j,t of another, encode
the frames that come out, and ask the encoders for the codes that drew them:

    S = E_i [ ||mu_f(x~_i) - f_i||^2 / v_f + sum_t ||mu_z(x~_i,t) - z_j,t||^2 / v_z ],
    x~_i,t = E[x_t | f_i, z_j,t]

with the codes f_i and z_j,t held fixed as targets and each distance relative to the
codes' spread over the batch (v_f = E_i ||f_i - mean f||^2, v_z likewise per frame), so that
S does not fall by shrinking the codes; its gradient reaches the decoder and both encoders.
When f and z_t both carry a factor and the decoder draws it from z_t, the frames show the
other sequence's factor and f reads back wrong; when the decoder draws it from f, a z_t
that carries it reads back wrong: either way S pays. A factor that z_t alone carries reads
back as it was, so S does not move it into f. k random frames of each sequence are
swapped (an extra decoder pass and encoder pass over B x k frames).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from dsae.models.base import random_frames, take_frames
from dsae.models.blocks import Gaussian


class Swappable(Protocol):
    """A model whose codes can be decoded and read back with gradients."""

    def decode_param(self, f: torch.Tensor, h: torch.Tensor) -> torch.Tensor: ...

    def frame_mean(self, param: torch.Tensor) -> torch.Tensor: ...

    def posteriors(self, x: torch.Tensor) -> tuple[Gaussian, Gaussian]: ...


@dataclass
class SwapTerms:
    penalty: torch.Tensor  # S above, batch mean
    f_error: torch.Tensor  # ||mu_f(x~) - f||^2 / v_f, batch mean (detached)
    z_error: torch.Tensor  # ||mu_z(x~_t) - z_t||^2 / v_z per frame, mean (detached)


def spread(codes: torch.Tensor) -> torch.Tensor:
    """E_i ||c_i - mean c||^2 of codes (N, d), floored at 1e-8."""
    return (codes - codes.mean(0)).pow(2).sum(-1).mean().clamp_min(1e-8)


def swap_terms(model: Swappable, f: torch.Tensor, z: torch.Tensor, k: int) -> SwapTerms:
    """S for the codes of a batch, f (B, f_dim) and z (B, T, z_dim); sequence i takes its
    dynamics from sequence i - 1 (B >= 2)."""
    b, t = z.shape[:2]
    other = torch.roll(torch.arange(b, device=z.device), 1)
    z_other = take_frames(z[other], random_frames(b, t, k, z.device))
    x_swap = model.frame_mean(model.decode_param(f, z_other))
    q_f, q_z = model.posteriors(x_swap)
    f_t, z_t = f.detach().float(), z_other.detach().float()
    f_err = (q_f.mean.float() - f_t).pow(2).sum(-1) / spread(f_t)
    z_err = (q_z.mean.float() - z_t).pow(2).sum(-1) / spread(z.detach().float().flatten(0, 1))
    return SwapTerms(
        penalty=(f_err + z_err.sum(1)).mean(),
        f_error=f_err.mean().detach(),
        z_error=z_err.mean().detach(),
    )
