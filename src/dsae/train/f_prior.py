"""Ex-post density estimation of p(f) (Ghosh et al., 2020, "From variational to deterministic
autoencoders", section 4): after training, fit a Gaussian mixture to samples of the
aggregate posterior q(f) = mean_i q(f | x_i) over the training split, and sample
generated content codes from it instead of from N(0, I). Only generation changes; the
model's encoders, decoder and ELBO stay as trained.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.mixture import GaussianMixture

from dsae.data.base import SequenceSplit
from dsae.models import DSAE


def fit_mixture(samples: np.ndarray, components: int, seed: int) -> GaussianMixture:
    """A seeded diagonal Gaussian mixture of at most ``components`` components (N, D)."""
    k = min(components, len(samples))
    return GaussianMixture(k, covariance_type="diag", reg_covar=1e-4, random_state=seed).fit(
        samples
    )


def fit_f_prior(model: DSAE, split: SequenceSplit, seed: int, batch_size: int = 256) -> dict:
    """Fit ``model``'s mixture p(f) (``f_prior: mixture``) to one sample of q(f | x) per
    training sequence; returns what was fitted and how long it took."""
    from dsae.eval.protocols import encode_split  # imports the loop, which imports this

    if model.cfg.f_prior != "mixture":
        raise ValueError("fit_f_prior needs a model with f_prior: mixture")
    t0 = time.perf_counter()
    e = encode_split(model, split.x, batch_size)
    g = torch.Generator().manual_seed(seed)
    eps = torch.cat(  # drawn batch by batch, as the fit always has
        [torch.randn(m.shape, generator=g) for m in e.f_mean.split(batch_size)]
    )
    f = (e.f_mean + eps * torch.exp(0.5 * e.f_logvar)).double().numpy()
    gmm = fit_mixture(f, model.cfg.f_prior_components, seed)
    k = gmm.n_components
    n = model.cfg.f_prior_components
    weights = np.full(n, 1e-12)
    means = np.zeros((n, f.shape[1]))
    variances = np.ones((n, f.shape[1]))
    weights[:k], means[:k], variances[:k] = gmm.weights_, gmm.means_, gmm.covariances_
    with torch.no_grad():
        model.f_mix_logits.copy_(torch.from_numpy(np.log(weights)))
        model.f_mix_mean.copy_(torch.from_numpy(means))
        model.f_mix_logvar.copy_(torch.from_numpy(np.log(variances)))
    return {
        "components": k,
        "sequences": len(f),
        "mean_log_likelihood": float(gmm.score(f)),
        "converged": bool(gmm.converged_),
        "fit_s": round(time.perf_counter() - t0, 3),
    }
