"""Frame likelihoods p(x | param): the negative log-likelihood per sequence and the mean.

``param`` is what the decoder gives: a mean (gaussian, laplace) or logits (bernoulli).
A pixel weight w, where given, scales each pixel's error term (as a variance sigma^2 / w
or a scale b / w, up to a constant).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _flat_sum(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1).sum(-1)


class GaussianLikelihood:
    """-log N(x; mean, sigma^2 I), log_scale = log sigma."""

    def nll(self, x, param, log_scale, weight=None):  # type: ignore[no-untyped-def]
        d = x[0].numel()
        sq = (x - param).pow(2)
        if weight is not None:
            sq = sq * weight
        return 0.5 * _flat_sum(sq) * torch.exp(-2 * log_scale) + d * (
            log_scale + 0.5 * math.log(2 * math.pi)
        )

    def mean(self, param: torch.Tensor) -> torch.Tensor:
        return param


class LaplaceLikelihood:
    """-log Laplace(x; mean, b) = |x - mean| / b + log 2b, log_scale = log b."""

    def nll(self, x, param, log_scale, weight=None):  # type: ignore[no-untyped-def]
        d = x[0].numel()
        ab = (x - param).abs()
        if weight is not None:
            ab = ab * weight
        return _flat_sum(ab) * torch.exp(-log_scale) + d * (log_scale + math.log(2.0))

    def mean(self, param: torch.Tensor) -> torch.Tensor:
        return param


class BernoulliLikelihood:
    """-log Bernoulli(x; sigmoid(logits)); no scale, no pixel weight."""

    def nll(self, x, param, log_scale=None, weight=None):  # type: ignore[no-untyped-def]
        if weight is not None:
            raise ValueError("a pixel weight needs a gaussian or laplace likelihood")
        return _flat_sum(F.binary_cross_entropy_with_logits(param, x, reduction="none"))

    def mean(self, param: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(param)


LIKELIHOODS = {
    "gaussian": GaussianLikelihood,
    "laplace": LaplaceLikelihood,
    "bernoulli": BernoulliLikelihood,
}


def gaussian_nll(x, mean, log_sigma, weight=None):  # type: ignore[no-untyped-def]
    """-log N(x; mean, sigma^2 I) summed over all but the batch dim: (B,)."""
    return GaussianLikelihood().nll(x, mean, log_sigma, weight)


def laplace_nll(x, mean, log_b, weight=None):  # type: ignore[no-untyped-def]
    """-log Laplace(x; mean, b) summed over all but the batch dim: (B,)."""
    return LaplaceLikelihood().nll(x, mean, log_b, weight)


def bernoulli_nll(x, logits):  # type: ignore[no-untyped-def]
    """-log Bernoulli(x; sigmoid(logits)) summed over all but the batch dim: (B,)."""
    return BernoulliLikelihood().nll(x, logits)
