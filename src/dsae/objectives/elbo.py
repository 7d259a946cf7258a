"""The negative ELBO of the DSAE, term by term (seed 000, section 2):

    L = -E_q[log p(x_1:T | z_1:T, f)] + beta_f KL(q(f|x) || p(f))
        + beta_z sum_t E_q[KL(q(z_t|.) || p(z_t | z_<t))]

with both KL terms in closed form and p(z_t | z_<t) evaluated on posterior samples z_<t.
Every term is summed over dimensions and time and averaged over the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dsae.config import ObjectiveConfig
from dsae.models.blocks import Gaussian
from dsae.models.dsae import DSAEOutput, take_frames


def gaussian_kl(q: Gaussian, p: Gaussian | None = None) -> torch.Tensor:
    """KL(N(mu_q, s_q^2) || N(mu_p, s_p^2)) summed over the last dim; p = N(0, I) if None."""
    if p is None:
        return 0.5 * (q.mean.pow(2) + q.logvar.exp() - 1.0 - q.logvar).sum(-1)
    return 0.5 * (
        p.logvar
        - q.logvar
        + (q.logvar.exp() + (q.mean - p.mean).pow(2)) * torch.exp(-p.logvar)
        - 1.0
    ).sum(-1)


def gaussian_nll(
    x: torch.Tensor,
    mean: torch.Tensor,
    log_sigma: torch.Tensor,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """-log N(x; mean, sigma^2 I) summed over all but the batch dim: (B,); a pixel weight w
    scales its squared error (as a variance sigma^2 / w, up to a constant)."""
    d = x[0].numel()
    sq = (x - mean).pow(2)
    if weight is not None:
        sq = sq * weight
    sq = sq.reshape(x.shape[0], -1).sum(-1)
    return 0.5 * sq * torch.exp(-2 * log_sigma) + d * (log_sigma + 0.5 * math.log(2 * math.pi))


def laplace_nll(
    x: torch.Tensor,
    mean: torch.Tensor,
    log_b: torch.Tensor,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """-log Laplace(x; mean, b) = |x - mean| / b + log 2b, summed over all but the batch dim: (B,);
    a pixel weight w scales its absolute error (as a scale b / w, up to a constant)."""
    d = x[0].numel()
    ab = (x - mean).abs()
    if weight is not None:
        ab = ab * weight
    ab = ab.reshape(x.shape[0], -1).sum(-1)
    return ab * torch.exp(-log_b) + d * (log_b + math.log(2.0))


def bernoulli_nll(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """-log Bernoulli(x; sigmoid(logits)) summed over all but the batch dim: (B,)."""
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return bce.reshape(x.shape[0], -1).sum(-1)


# two neighbouring pixels whose colours differ by more than this (any channel, in [0, 1])
# lie on an edge
EDGE_THRESHOLD = 0.05


def edge_mask(x: torch.Tensor) -> torch.Tensor:
    """1 where an image pixel differs from a 4-neighbour by > EDGE_THRESHOLD, else 0.

    x: (..., C, H, W) -> (..., 1, H, W). Outlines one pixel wide are marked whole, with the
    pixels on either side of them."""
    dv = (x[..., 1:, :] - x[..., :-1, :]).abs().amax(-3, keepdim=True) > EDGE_THRESHOLD
    dh = (x[..., :, 1:] - x[..., :, :-1]).abs().amax(-3, keepdim=True) > EDGE_THRESHOLD
    m = torch.zeros_like(x[..., :1, :, :], dtype=torch.bool)
    m[..., 1:, :] |= dv
    m[..., :-1, :] |= dv
    m[..., :, 1:] |= dh
    m[..., :, :-1] |= dh
    return m.to(x.dtype)


def pixel_weight(x: torch.Tensor, edge_weight: float) -> torch.Tensor | None:
    """w = 1 + edge_weight * edge_mask(x) for images; None when off or x is not an image."""
    if edge_weight <= 0 or x.dim() < 4:
        return None
    return 1.0 + edge_weight * edge_mask(x)


@dataclass
class ElboTerms:
    loss: torch.Tensor  # the weighted objective that is minimised
    recon: torch.Tensor  # -E_q log p(x | z, f) per sequence
    kl_f: torch.Tensor  # KL(q(f|x) || p(f)) per sequence
    kl_z: torch.Tensor  # sum_t KL(q(z_t|.) || p(z_t|z_<t)) per sequence
    beta_f: float
    beta_z: float

    @property
    def elbo(self) -> torch.Tensor:
        """The unweighted ELBO per sequence (a lower bound on log p(x_1:T))."""
        return -(self.recon + self.kl_f + self.kl_z)

    def as_floats(self) -> dict[str, float]:
        return {
            "loss": float(self.loss.detach()),
            "recon": float(self.recon.detach()),
            "kl_f": float(self.kl_f.detach()),
            "kl_z": float(self.kl_z.detach()),
            "elbo": float(self.elbo.detach()),
            "beta_f": self.beta_f,
            "beta_z": self.beta_z,
        }


def kl_weight(step: int, warmup_steps: int) -> float:
    """Linear KL warm-up factor in [0, 1]."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, (step + 1) / warmup_steps)


def elbo_terms(
    out: DSAEOutput,
    x: torch.Tensor,
    cfg: ObjectiveConfig,
    likelihood: str,
    log_sigma: torch.Tensor,
    step: int = 0,
) -> ElboTerms:
    """The weighted negative ELBO of a batch, averaged over sequences.

    When the pass decoded only some frames (``out.frames``, the model's ``decode_frames``),
    the reconstruction term is their likelihood scaled by T / k: an unbiased estimate of the
    sum over all T frames.
    """
    scale = 1.0
    if out.frames is not None:
        t, k = x.shape[1], out.frames.shape[1]
        x = take_frames(x, out.frames)
        scale = t / k
    weight = pixel_weight(x, cfg.edge_weight)
    if weight is not None and likelihood == "bernoulli":
        raise ValueError("objective.edge_weight needs a gaussian or laplace likelihood")
    if likelihood == "gaussian":
        recon = gaussian_nll(x, out.x_param, log_sigma, weight)
    elif likelihood == "laplace":
        recon = laplace_nll(x, out.x_param, log_sigma, weight)
    else:
        recon = bernoulli_nll(x, out.x_param)
    if scale != 1.0:
        recon = recon * scale
    kl_f = gaussian_kl(out.q_f)
    kl_z = gaussian_kl(out.q_z, out.p_z).sum(-1)
    w = kl_weight(step, cfg.kl_warmup_steps)
    bf, bz = cfg.beta_f * w, cfg.beta_z * w
    recon, kl_f, kl_z = recon.mean(), kl_f.mean(), kl_z.mean()
    loss = recon + bf * kl_f + bz * kl_z
    return ElboTerms(loss=loss, recon=recon, kl_f=kl_f, kl_z=kl_z, beta_f=bf, beta_z=bz)
