"""Fitted parts of a configured sampler: Gaussian mixtures over f and over z_1:T.

Ex-post density estimation (Ghosh et al. 2020, "From variational to deterministic
autoencoders", section 4): after training, ``mixture`` fits a Gaussian mixture to the
aggregate posterior over the training split, p(f) to one sample of q(f | x_i) per sequence
and p(z_1:T) to the posterior means of z_1:T (flattened to T * z_dim). ``aggregate`` keeps
the aggregate posterior itself, (1/N) sum_i q(. | x_i): one component per training sequence
with the posterior's own mean and variance (the prior that maximises the ELBO for a trained
encoder, Hoffman & Johnson 2016; no EM fit). Only generation changes; the model stays as
trained.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from sklearn.mixture import GaussianMixture

from dsae.config import ModelConfig
from dsae.models.base import Encoding


class Mixture:
    """sum_k pi_k N(mean_k, diag(exp(logvar_k))) or, with ``scale_tril``, N(mean_k, L_k L_k^T):
    (K,) logits, (K, D) means and log-variances, (K, D, D) Cholesky factors."""

    def __init__(
        self,
        kind: str,
        logits: torch.Tensor,
        mean: torch.Tensor,
        logvar: torch.Tensor,
        scale_tril: torch.Tensor | None = None,
        steps: int = 0,
    ):
        self.kind, self.logits, self.mean, self.logvar = kind, logits, mean, logvar
        self.scale_tril, self.steps = scale_tril, steps

    @property
    def dim(self) -> int:
        return int(self.mean.shape[1])

    def sample_f(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """(n, D): the noise first, then the components (the order p(f) has always drawn)."""
        eps = torch.randn(n, self.dim, generator=generator)
        k = torch.multinomial(self.logits.softmax(0), n, True, generator=generator)
        return self.mean[k] + eps * torch.exp(0.5 * self.logvar[k])

    def sample_leading(self, n: int, d: int, generator: torch.Generator | None) -> torch.Tensor:
        """(n, d) from the marginal of the first d <= D units: a full covariance's leading
        block, whose Cholesky factor is the leading block of the full one's."""
        k = torch.multinomial(self.logits.softmax(0), n, True, generator=generator)
        eps = torch.randn(n, d, generator=generator)
        if self.scale_tril is not None:
            tril = self.scale_tril[k, :d, :d]  # (n, d, d)
            return self.mean[k, :d] + (tril @ eps.unsqueeze(-1)).squeeze(-1)
        return self.mean[k, :d] + eps * torch.exp(0.5 * self.logvar[k, :d])

    def state_dict(self) -> dict:
        out = {"kind": self.kind, "logits": self.logits, "mean": self.mean, "logvar": self.logvar}
        if self.scale_tril is not None:
            out["scale_tril"] = self.scale_tril
        if self.steps:
            out["steps"] = self.steps
        return out

    @classmethod
    def from_state(cls, d: dict) -> Mixture:
        return cls(
            d["kind"],
            d["logits"],
            d["mean"],
            d["logvar"],
            d.get("scale_tril"),
            int(d.get("steps", 0)),
        )


def fit_mixture(
    samples: np.ndarray, components: int, seed: int, covariance: str = "diag"
) -> GaussianMixture:
    """A seeded Gaussian mixture of at most ``components`` components (N, D), each with a
    diagonal (``covariance="diag"``) or full covariance."""
    k = min(components, len(samples))
    return GaussianMixture(k, covariance_type=covariance, reg_covar=1e-4, random_state=seed).fit(
        samples
    )


def _padded(gmm: GaussianMixture, n: int, kind: str, steps: int = 0) -> Mixture:
    """A fitted mixture in ``n`` >= its components (the rest weigh ~0)."""
    k, d = gmm.means_.shape
    weights, means, variances = np.full(n, 1e-12), np.zeros((n, d)), np.ones((n, d))
    weights[:k], means[:k] = gmm.weights_, gmm.means_
    cov = gmm.covariances_  # (k, d) diagonal or (k, d, d) full: the diagonal as variances
    variances[:k] = np.diagonal(cov, axis1=1, axis2=2) if cov.ndim == 3 else cov
    tril = None
    if cov.ndim == 3:  # Cholesky factors; unused components (weight ~0) get the identity
        full = np.tile(np.eye(d), (n, 1, 1))
        full[:k] = np.linalg.cholesky(cov)
        tril = torch.from_numpy(full).float()
    return Mixture(
        kind,
        torch.from_numpy(np.log(weights)).float(),
        torch.from_numpy(means).float(),
        torch.from_numpy(np.log(variances)).float(),
        tril,
        steps,
    )


def _report(gmm: GaussianMixture, x: np.ndarray, t0: float) -> dict:
    return {
        "components": int(gmm.n_components),
        "sequences": len(x),
        "mean_log_likelihood": float(gmm.score(x)),
        "converged": bool(gmm.converged_),
        "fit_s": round(time.perf_counter() - t0, 3),
    }


def _aggregate_report(n: int, t0: float) -> dict:
    return {"components": n, "sequences": n, "fit_s": round(time.perf_counter() - t0, 3)}


Fit = Callable[[Encoding, ModelConfig, int, int], tuple[Mixture, dict]]


def fit_f_mixture(
    e: Encoding, cfg: ModelConfig, seed: int, batch_size: int
) -> tuple[Mixture, dict]:
    """p(f): a mixture fitted to one sample of q(f | x_i) per training sequence."""
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(seed)
    eps = torch.cat(  # drawn batch by batch, as the fit always has
        [torch.randn(m.shape, generator=g) for m in e.f_mean.split(batch_size)]
    )
    f = (e.f_mean + eps * torch.exp(0.5 * e.f_logvar)).double().numpy()
    gmm = fit_mixture(f, cfg.f_prior_components, seed)
    return _padded(gmm, cfg.f_prior_components, "mixture"), _report(gmm, f, t0)


def fit_f_aggregate(
    e: Encoding, cfg: ModelConfig, seed: int, batch_size: int
) -> tuple[Mixture, dict]:
    """p(f) = (1/N) sum_i q(f | x_i) over the training sequences."""
    t0 = time.perf_counter()
    n = len(e.f_mean)
    mix = Mixture("aggregate", torch.zeros(n), e.f_mean.float().clone(), e.f_logvar.float().clone())
    return mix, _aggregate_report(n, t0)


def fit_z_mixture(
    e: Encoding, cfg: ModelConfig, seed: int, batch_size: int
) -> tuple[Mixture, dict]:
    """p(z_1:T): a mixture fitted to the posterior means of z_1:T, flattened."""
    t0 = time.perf_counter()
    z = e.z_mean.flatten(1).double().numpy()
    full = cfg.z_prior_covariance == "full"
    gmm = fit_mixture(z, cfg.z_prior_components, seed, "full" if full else "diag")
    steps = int(e.z_mean.shape[1])
    mix = _padded(gmm, cfg.z_prior_components, "mixture", steps)
    return mix, {**_report(gmm, z, t0), "steps": steps}


def fit_z_aggregate(
    e: Encoding, cfg: ModelConfig, seed: int, batch_size: int
) -> tuple[Mixture, dict]:
    """p(z_1:T) = (1/N) sum_i q(z_1:T | x_i) over the training sequences."""
    t0 = time.perf_counter()
    n, steps = len(e.z_mean), int(e.z_mean.shape[1])
    mix = Mixture(
        "aggregate",
        torch.zeros(n),
        e.z_mean.flatten(1).float().clone(),
        e.z_logvar.flatten(1).float().clone(),
        steps=steps,
    )
    return mix, {**_aggregate_report(n, t0), "steps": steps}


# the fitted parts by config value (model.f_prior, model.z_prior); the others are learnt
F_PARTS: dict[str, Fit] = {"mixture": fit_f_mixture, "aggregate": fit_f_aggregate}
Z_PARTS: dict[str, Fit] = {"mixture": fit_z_mixture, "aggregate": fit_z_aggregate}
LEARNT_F, LEARNT_Z = "normal", "lstm"
