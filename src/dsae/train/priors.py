"""Ex-post density estimation of the priors used for generation (Ghosh et al., 2020, "From
variational to deterministic autoencoders", section 4): after training, fit Gaussian
mixtures to the aggregate posterior over the training split, p(f) to one sample of
q(f | x_i) per sequence and p(z_1:T) to the posterior means of z_1:T (flattened), and sample
generated codes from them instead of from N(0, I) or the LSTM prior. Only generation
changes; the model's encoders, decoder and ELBO stay as trained. ``aggregate`` skips the
density estimate and keeps the aggregate posterior itself, (1/N) sum_i q(. | x_i): one
Gaussian component per training sequence, the posterior's own mean and variance (the prior
that maximises the ELBO for a trained encoder, Hoffman & Johnson 2016; no EM fit).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.mixture import GaussianMixture

from dsae.data.base import SequenceSplit
from dsae.models import DSAE
from dsae.models.dsae import FITTED_PRIORS


def fit_mixture(
    samples: np.ndarray, components: int, seed: int, covariance: str = "diag"
) -> GaussianMixture:
    """A seeded Gaussian mixture of at most ``components`` components (N, D), each with a
    diagonal (``covariance="diag"``) or full covariance."""
    k = min(components, len(samples))
    return GaussianMixture(k, covariance_type=covariance, reg_covar=1e-4, random_state=seed).fit(
        samples
    )


def _store(gmm: GaussianMixture, n: int, logits, mean, logvar) -> None:  # type: ignore[no-untyped-def]
    """Copy a fitted mixture into buffers of ``n`` >= its components (the rest weigh ~0)."""
    k, d = gmm.means_.shape
    weights, means, variances = np.full(n, 1e-12), np.zeros((n, d)), np.ones((n, d))
    weights[:k], means[:k] = gmm.weights_, gmm.means_
    cov = gmm.covariances_  # (k, d) diagonal or (k, d, d) full: the diagonal as variances
    variances[:k] = np.diagonal(cov, axis1=1, axis2=2) if cov.ndim == 3 else cov
    with torch.no_grad():
        logits.copy_(torch.from_numpy(np.log(weights)))
        mean.copy_(torch.from_numpy(means))
        logvar.copy_(torch.from_numpy(np.log(variances)))


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


def _encode(model: DSAE, split: SequenceSplit, batch_size: int):  # type: ignore[no-untyped-def]
    from dsae.eval.protocols import encode_split  # imports the loop, which imports this

    return encode_split(model, split.x, batch_size)


def fit_f_prior(
    model: DSAE, split: SequenceSplit, seed: int, batch_size: int = 256, encoding=None
) -> dict:  # type: ignore[no-untyped-def]
    """Fit ``model``'s mixture p(f) (``f_prior: mixture``) to one sample of q(f | x) per
    training sequence, or store the posteriors themselves (``aggregate``); returns what was
    fitted and how long it took."""
    if model.cfg.f_prior not in FITTED_PRIORS:
        raise ValueError("fit_f_prior needs a model with f_prior: mixture or aggregate")
    t0 = time.perf_counter()
    e = encoding if encoding is not None else _encode(model, split, batch_size)
    if model.cfg.f_prior == "aggregate":
        model.f_mix_logits = torch.zeros(len(e.f_mean))
        model.f_mix_mean = e.f_mean.float().clone()
        model.f_mix_logvar = e.f_logvar.float().clone()
        return _aggregate_report(len(e.f_mean), t0)
    g = torch.Generator().manual_seed(seed)
    eps = torch.cat(  # drawn batch by batch, as the fit always has
        [torch.randn(m.shape, generator=g) for m in e.f_mean.split(batch_size)]
    )
    f = (e.f_mean + eps * torch.exp(0.5 * e.f_logvar)).double().numpy()
    gmm = fit_mixture(f, model.cfg.f_prior_components, seed)
    _store(
        gmm, model.cfg.f_prior_components, model.f_mix_logits, model.f_mix_mean, model.f_mix_logvar
    )
    return _report(gmm, f, t0)


def fit_z_prior(
    model: DSAE, split: SequenceSplit, seed: int, batch_size: int = 256, encoding=None
) -> dict:  # type: ignore[no-untyped-def]
    """Fit ``model``'s mixture p(z_1:T) (``z_prior: mixture``) to the posterior means of
    z_1:T of the training sequences, flattened to T * z_dim, or store their posteriors
    (``aggregate``: means and variances); sets the buffers' length T."""
    if model.cfg.z_prior not in FITTED_PRIORS:
        raise ValueError("fit_z_prior needs a model with z_prior: mixture or aggregate")
    t0 = time.perf_counter()
    e = encoding if encoding is not None else _encode(model, split, batch_size)
    if model.cfg.z_prior == "aggregate":
        model.z_mix_logits = torch.zeros(len(e.z_mean))
        model.z_mix_mean = e.z_mean.flatten(1).float().clone()
        model.z_mix_logvar = e.z_logvar.flatten(1).float().clone()
        return {**_aggregate_report(len(e.z_mean), t0), "steps": int(e.z_mean.shape[1])}
    z = e.z_mean.flatten(1).double().numpy()
    full = model.cfg.z_prior_covariance == "full"
    gmm = fit_mixture(z, model.cfg.z_prior_components, seed, "full" if full else "diag")
    n, d = model.cfg.z_prior_components, z.shape[1]
    model.z_mix_mean = torch.zeros(n, d)
    model.z_mix_logvar = torch.zeros(n, d)
    _store(gmm, n, model.z_mix_logits, model.z_mix_mean, model.z_mix_logvar)
    if full:  # Cholesky factors; unused components (weight ~0) get the identity
        tril = np.tile(np.eye(d), (n, 1, 1))
        tril[: gmm.n_components] = np.linalg.cholesky(gmm.covariances_)
        model.z_mix_scale_tril = torch.from_numpy(tril).float()
    return {**_report(gmm, z, t0), "steps": int(e.z_mean.shape[1])}


def fit_priors(model: DSAE, split: SequenceSplit, seed: int, batch_size: int = 256) -> dict:
    """Fit every mixture prior ``model`` asks for, from one pass over ``split``:
    {"f": report, "z": report} for those configured, and the pass's time "encode_s"."""
    wanted = {"f": model.cfg.f_prior in FITTED_PRIORS, "z": model.cfg.z_prior in FITTED_PRIORS}
    if not any(wanted.values()):
        return {}
    t0 = time.perf_counter()
    e = _encode(model, split, batch_size)
    out: dict = {"encode_s": round(time.perf_counter() - t0, 3)}
    if wanted["f"]:
        out["f"] = fit_f_prior(model, split, seed, batch_size, encoding=e)
    if wanted["z"]:
        out["z"] = fit_z_prior(model, split, seed, batch_size, encoding=e)
    return out
