"""The negative ELBO, weighted (Li & Mandt 2018, section 2):

    L = -E_q[log p(x_1:T | z_1:T, f)] + beta_f KL(q(f|x) || p(f)) + beta_z KL(q(z_1:T|.) || p(z_1:T))

The model gives the three terms per sequence (``SequentialVAE.loss_terms``); this module
weighs them (beta_f, beta_z, a linear KL warm-up) and averages over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from dsae.config import ObjectiveConfig
from dsae.models.base import LossTerms, SequentialVAE, TrainPass
from dsae.models.blocks import Gaussian
from dsae.objectives.capacity import capacity, capacity_term
from dsae.objectives.weights import pixel_weight


def gaussian_kl(q: Gaussian, p: Gaussian | None = None) -> torch.Tensor:
    """KL(N(mu_q, s_q^2) || N(mu_p, s_p^2)) summed over the last dim; p = N(0, I) if None."""
    return q.kl(p)


@dataclass
class ElboTerms:
    loss: torch.Tensor  # the weighted objective that is minimised
    recon: torch.Tensor  # -E_q log p(x | z, f), batch mean
    kl_f: torch.Tensor  # KL(q(f|x) || p(f)), batch mean
    kl_z: torch.Tensor  # KL of z_1:T, batch mean
    beta_f: float
    beta_z: float
    extra: dict[str, float] = field(default_factory=dict)  # logged as they are (capacity)

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
            **self.extra,
        }


def kl_weight(step: int, warmup_steps: int) -> float:
    """Linear KL warm-up factor in [0, 1]."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, (step + 1) / warmup_steps)


def weigh(terms: LossTerms, cfg: ObjectiveConfig, step: int = 0) -> ElboTerms:
    """The weighted negative ELBO of per-sequence terms, averaged over the batch.

    With ``capacity_gamma > 0`` the KL terms pay gamma |KL - C(step)| instead (batch means,
    dsae.objectives.capacity); beta_f and beta_z then log gamma, capacity_f and capacity_z
    the current C.
    """
    recon, kl_f, kl_z = terms.recon.mean(), terms.kl_f.mean(), terms.kl_z.mean()
    if cfg.capacity_gamma > 0:
        g = cfg.capacity_gamma
        c_f = capacity(step, cfg.capacity_f, cfg.capacity_steps)
        c_z = capacity(step, cfg.capacity_z, cfg.capacity_steps)
        loss = recon + capacity_term(kl_f, c_f, g) + capacity_term(kl_z, c_z, g)
        extra = {"capacity_f": c_f, "capacity_z": c_z}
        return ElboTerms(loss, recon, kl_f, kl_z, beta_f=g, beta_z=g, extra=extra)
    w = kl_weight(step, cfg.kl_warmup_steps)
    bf, bz = cfg.beta_f * w, cfg.beta_z * w
    loss = recon + bf * free_nats(kl_f, cfg.free_nats_f) + bz * free_nats(kl_z, cfg.free_nats_z)
    return ElboTerms(loss=loss, recon=recon, kl_f=kl_f, kl_z=kl_z, beta_f=bf, beta_z=bz)


def free_nats(kl: torch.Tensor, floor: float) -> torch.Tensor:
    """max(KL, floor) of a batch-mean KL (free bits, Kingma et al. 2016): below the floor the
    term has no gradient, so the encoders keep that much information while the decoder
    learns to read it."""
    return kl if floor <= 0 else torch.clamp(kl, min=floor)


def elbo_terms(
    model: SequentialVAE, x: torch.Tensor, out: TrainPass, cfg: ObjectiveConfig, step: int = 0
) -> ElboTerms:
    """The weighted negative ELBO of a batch ``x`` and its training pass ``out``."""
    weight = pixel_weight(x, cfg.edge_weight)
    try:
        terms = model.loss_terms(x, out, weight)
    except ValueError as e:
        if weight is None:
            raise
        raise ValueError(f"objective.edge_weight: {e}") from None
    return weigh(terms, cfg, step)
