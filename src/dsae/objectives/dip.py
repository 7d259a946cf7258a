"""DIP-VAE (Kumar et al. 2018): lambda_od sum_{i!=j} Cov_ij^2 + lambda_d sum_i (Cov_ii - 1)^2.

DIP-I matches Cov[mu] (the covariance of the posterior means over the codes) to the
identity; DIP-II matches the covariance of the aggregate posterior,
Cov_q(c) = E[Sigma] + Cov[mu]. Covariances are over the rows (divided by N): the batch for
f, the batch and its frames for z_t.
"""

from __future__ import annotations

import torch

from dsae.models.blocks import Gaussian

DIP_KINDS = ("none", "i", "ii")


def _rows(x: torch.Tensor) -> torch.Tensor:
    """(..., D) -> (N, D), at least float32 (also under bfloat16 autocast)."""
    return x.reshape(-1, x.shape[-1]).to(torch.promote_types(x.dtype, torch.float32))


def dip_covariance(q: Gaussian, kind: str) -> torch.Tensor:
    """Cov[mu] (i) or E[Sigma] + Cov[mu] (ii) of q (..., D) over all leading dims: (D, D)."""
    if kind not in ("i", "ii"):
        raise ValueError(f"kind must be i or ii, got {kind!r}")
    mu = _rows(q.mean)
    centred = mu - mu.mean(0, keepdim=True)
    cov = centred.T @ centred / mu.shape[0]
    if kind == "ii":
        var = _rows(q.logvar).exp()
        cov = cov + torch.diag(var.mean(0))
    return cov


def dip_penalty(cov: torch.Tensor, lambda_od: float, lambda_d: float) -> torch.Tensor:
    """lambda_od sum_{i!=j} Cov_ij^2 + lambda_d sum_i (Cov_ii - 1)^2."""
    diag = torch.diagonal(cov)
    off = cov - torch.diag(diag)
    return lambda_od * off.pow(2).sum() + lambda_d * (diag - 1).pow(2).sum()


def dip_terms(
    q_f: Gaussian, q_z: Gaussian, kind: str, lambda_od: float, lambda_d: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The penalties of f (over the batch) and of z_t (over batch x frames)."""
    pf = dip_penalty(dip_covariance(q_f, kind), lambda_od, lambda_d)
    pz = dip_penalty(dip_covariance(q_z, kind), lambda_od, lambda_d)
    return pf, pz
