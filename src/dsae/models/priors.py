"""Priors the ELBO trains, by name: p(f) (``model.p_f``) and the output of the LSTM prior
p(z_t | z_<t) (``model.p_z``).

``normal`` p(f) = N(0, I) and ``gaussian`` outputs are the model of Li & Mandt (2018); their
KL terms are closed forms. ``mixture`` makes either a mixture of K diagonal Gaussians whose
weights, means and variances are learnt with the rest of the model through the ELBO: a
density that can put its mass where the posteriors are (several clusters of characters,
several actions a sequence may start with) without storing any training code. Its KL term
is the one-sample estimate log q(x) - log p(x) at the reparameterised draw the decoder
reads, unbiased for KL(q || p).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from dsae.models.blocks import Gaussian, GaussianHead


@dataclass
class GaussianMixture:
    """sum_k pi_k N(mean_k, diag exp(logvar_k)): logits (..., K), mean and logvar (..., K, D)."""

    logits: torch.Tensor
    mean: torch.Tensor
    logvar: torch.Tensor

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) for x (..., D): (...)."""
        sq = (x.unsqueeze(-2) - self.mean).pow(2) * torch.exp(-self.logvar)
        comp = -0.5 * (sq + self.logvar + math.log(2 * math.pi)).sum(-1)
        return torch.logsumexp(torch.log_softmax(self.logits, -1) + comp, dim=-1)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """A draw without gradient: a component k ~ pi, then x ~ N(mean_k, exp(logvar_k))."""
        probs = torch.softmax(self.logits.float(), -1).reshape(-1, self.logits.shape[-1])
        k = torch.multinomial(probs, 1, generator=generator).view(*self.logits.shape[:-1], 1, 1)
        idx = k.expand(*k.shape[:-1], self.mean.shape[-1])
        chosen = Gaussian(
            self.mean.gather(-2, idx).squeeze(-2), self.logvar.gather(-2, idx).squeeze(-2)
        )
        return chosen.sample(generator)

    def mode_mean(self) -> torch.Tensor:
        """The mean of the most probable component: (..., D)."""
        k = self.logits.argmax(-1)[..., None, None].expand(
            *self.logits.shape[:-1], 1, self.mean.shape[-1]
        )
        return self.mean.gather(-2, k).squeeze(-2)

    def kl_from(self, q: Gaussian, x: torch.Tensor) -> torch.Tensor:
        """log q(x) - log p(x) at a draw x ~ q, summed over the last dim: an estimate of KL(q || p)."""
        return q.log_prob(x) - self.log_prob(x)


def kl_term(q: Gaussian, p: Gaussian | GaussianMixture | None, x: torch.Tensor) -> torch.Tensor:
    """KL(q || p) summed over the last dim: closed form for a Gaussian p (N(0, I) if None),
    the one-sample estimate at ``x`` ~ q for a mixture."""
    if isinstance(p, GaussianMixture):
        return p.kl_from(q, x)
    return q.kl(p)


class NormalPrior(nn.Module):
    """p(f) = N(0, I)."""

    def __init__(self, dim: int, components: int = 1, groups: int = 1):
        super().__init__()
        self.dim = dim

    def kl(self, q: Gaussian, x: torch.Tensor) -> torch.Tensor:
        """KL(q(f | x) || N(0, I)) in closed form: (B,)."""
        return q.kl()

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """f ~ N(0, I): (n, dim)."""
        return torch.randn(n, self.dim, generator=generator)


class LearntNormalPrior(nn.Module):
    """p(f) = N(mu, diag sigma^2), mu and sigma learnt through the ELBO (closed-form KL): for
    fixed posteriors the ELBO's best such prior has the mean and variance of their
    aggregate, so f ~ p(f) falls where the codes are, also when they do not fill N(0, I)."""

    def __init__(self, dim: int, components: int = 1, groups: int = 1):
        super().__init__()
        self.dim = dim
        self.mean = nn.Parameter(torch.zeros(dim))
        self.logvar = nn.Parameter(torch.zeros(dim))

    def density(self) -> Gaussian:
        return Gaussian(self.mean, self.logvar.clamp(-12.0, 8.0))

    def kl(self, q: Gaussian, x: torch.Tensor) -> torch.Tensor:
        """KL(q(f | x) || N(mu, diag sigma^2)) in closed form: (B,)."""
        return q.kl(self.density())

    def log_prob(self, f: torch.Tensor) -> torch.Tensor:
        """log p(f) for f (..., dim): (...)."""
        return self.density().log_prob(f)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """f ~ N(mu, diag sigma^2): (n, dim)."""
        d = self.density()
        return Gaussian(d.mean.expand(n, -1), d.logvar.expand(n, -1)).sample(generator)


class MixturePrior(nn.Module):
    """p(f) = prod_g sum_k pi_gk N(f_g; mu_gk, diag sigma_gk^2): f in G equal blocks, each a
    mixture of K (G = 1: one mixture over all of f), pi, mu and sigma learnt through the ELBO.

    With G > 1 the prior has K^G modes from G * K components: room for every combination
    of G independent discrete factors (a character's skin, top, ...) without a component
    per combination, so it cannot learn the training set's combinations one by one."""

    def __init__(self, dim: int, components: int, groups: int = 1):
        super().__init__()
        if components < 1 or groups < 1 or dim % groups:
            raise ValueError(
                f"a mixture prior needs >= 1 components and groups that divide f_dim {dim}, "
                f"got {components} components in {groups} groups"
            )
        self.dim, self.groups = dim, groups
        self.logits = nn.Parameter(torch.zeros(groups, components))
        # means start near 0, where N(0, I) would put the codes
        self.mean = nn.Parameter(0.1 * torch.randn(groups, components, dim // groups))
        self.logvar = nn.Parameter(torch.zeros(groups, components, dim // groups))

    def density(self) -> GaussianMixture:
        """The G block mixtures: logits (G, K), mean and logvar (G, K, dim / G)."""
        return GaussianMixture(self.logits, self.mean, self.logvar.clamp(-12.0, 8.0))

    def log_prob(self, f: torch.Tensor) -> torch.Tensor:
        """log p(f) for f (..., dim): (...)."""
        blocks = f.unflatten(-1, (self.groups, self.dim // self.groups))
        return self.density().log_prob(blocks).sum(-1)

    def kl(self, q: Gaussian, x: torch.Tensor) -> torch.Tensor:
        """log q(x) - log p(x) at the draw x ~ q(f | x_1:T): (B,)."""
        return q.log_prob(x) - self.log_prob(x)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """f ~ p(f), each block's component drawn independently: (n, dim)."""
        d = self.density()
        g, k, b = d.mean.shape
        mix = GaussianMixture(
            d.logits.expand(n, g, k), d.mean.expand(n, g, k, b), d.logvar.expand(n, g, k, b)
        )
        return mix.sample(generator).reshape(n, self.dim)


class MixtureHead(nn.Module):
    """h -> a mixture of K diagonal Gaussians over ``out_dim`` units (weights, means, log-variances)."""

    def __init__(self, in_dim: int, out_dim: int, components: int):
        super().__init__()
        self.k, self.d = components, out_dim
        self.proj = nn.Linear(in_dim, components * (1 + 2 * out_dim))

    def forward(self, h: torch.Tensor) -> GaussianMixture:
        out = self.proj(h).float()
        logits, rest = out.split([self.k, 2 * self.k * self.d], dim=-1)
        mean, logvar = rest.view(*rest.shape[:-1], self.k, 2 * self.d).chunk(2, dim=-1)
        return GaussianMixture(logits, mean, logvar.clamp(-12.0, 8.0))


def output_head(kind: str, in_dim: int, out_dim: int, components: int) -> nn.Module:
    """The output head of an autoregressive prior: ``gaussian`` or ``mixture`` of K."""
    if kind not in OUTPUT_HEADS:
        raise ValueError(f"unknown model.p_z {kind!r} ({', '.join(OUTPUT_HEADS)})")
    if kind == "gaussian":
        return GaussianHead(in_dim, out_dim)
    if components < 1:
        raise ValueError(f"model.p_z_components must be >= 1, got {components}")
    return MixtureHead(in_dim, out_dim, components)


def static_prior(kind: str, dim: int, components: int, groups: int = 1) -> nn.Module:
    """p(f) by name: ``normal`` or ``mixture`` of ``components`` in each of ``groups`` blocks."""
    if kind not in STATIC_PRIORS:
        raise ValueError(f"unknown model.p_f {kind!r} ({', '.join(STATIC_PRIORS)})")
    return STATIC_PRIORS[kind](dim, components, groups)


STATIC_PRIORS: dict[str, type[nn.Module]] = {
    "normal": NormalPrior,
    "learnt": LearntNormalPrior,
    "mixture": MixturePrior,
}
OUTPUT_HEADS = ("gaussian", "mixture")
