"""Linear latent dynamics z_t = A_t z_{t-1} + noise: the transition matrices, the
linear-Gaussian prior p(z_1:T) and the Gauss-Markov posterior q(z_1:T | x_1:T) whose
precision is block tri-diagonal (Archer et al. 2016).

A transition is A = diag(lambda) + N + U V^T: eigenvalues lambda (one per latent, the
eigenvector basis L = I), an optional rank-r interaction U V^T between latents (r = 0:
A = diag(lambda), the factorised dynamics) and optional Jordan blocks: with blocks of size
b > 1 the latents come in consecutive groups of b that share one eigenvalue, and N holds
ones on the superdiagonal inside each group (z_t,i = lambda z_t-1,i + z_t-1,i+1: with
lambda = 1 and b = 2, a position that moves by a velocity).

The posterior: w_t = z_t - mu_t follows w_1 = s_1 * eps_1, w_t = A_t w_{t-1} + s_t * eps_t,
eps_t ~ N(0, I), so with the innovations e = U w (U lower block-bidiagonal, U[t, t] =
diag(1/s_t), U[t, t-1] = -diag(1/s_t) A_t) its precision is J = U^T U: J[t, t] =
diag(1/s_t^2) + A_{t+1}^T diag(1/s_{t+1}^2) A_{t+1}, J[t+1, t] = -diag(1/s_{t+1}^2) A_{t+1}.
J is positive definite for every A_t, lambda = 1 included.

``BlockTridiagGaussian`` factorises J = R R^T with R LOWER block-bidiagonal; U^T is upper,
so the posterior is held over reversed time, where R = P U^T P (P reverses the steps) is
lower block-bidiagonal with diagonal blocks diag(1/s_t) and blocks R[r+1, r] = -A_t^T
diag(1/s_t) (t = T-1-r): no factorisation, exact for any A_t.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dsae.models.blocks import Gaussian
from dsae.models.tridiag import BlockTridiagGaussian


def jordan_links(d: int, block: int) -> torch.Tensor:
    """(D,) mask: 1 where latent i takes z_t-1,i+1 (i and i+1 in one Jordan block of size
    ``block``), else 0."""
    i = torch.arange(d)
    return ((i + 1) % block != 0).float() if block > 1 else torch.zeros(d)


@dataclass
class Transition:
    """A = diag(lambda) + N + U V^T: lambda (..., D), U and V (..., D, r) (r may be 0), N
    the superdiagonal ones of Jordan blocks of size ``jordan`` (1: none)."""

    eigenvalues: torch.Tensor
    u: torch.Tensor
    v: torch.Tensor
    jordan: int = 1

    @property
    def rank(self) -> int:
        return self.u.shape[-1]

    def _links(self) -> torch.Tensor:
        d = self.eigenvalues.shape[-1]
        return jordan_links(d, self.jordan).to(self.eigenvalues)

    def jordan_matrix(self) -> torch.Tensor:
        """N as a dense (D, D) matrix (zero without Jordan blocks)."""
        return torch.diag_embed(self._links()[:-1], offset=1)

    def matrix(self) -> torch.Tensor:
        """A as a dense (..., D, D) matrix."""
        a = torch.diag_embed(self.eigenvalues) + self.u @ self.v.mT
        return a + self.jordan_matrix() if self.jordan > 1 else a

    def apply(self, z: torch.Tensor) -> torch.Tensor:
        """A z for z (..., D) broadcast against A's leading dims."""
        out = self.eigenvalues * z
        if self.jordan > 1:
            out = out + self._links() * torch.cat([z[..., 1:], z[..., :1] * 0], dim=-1)
        if self.rank:
            out = out + (self.u @ (self.v.mT @ z.unsqueeze(-1))).squeeze(-1)
        return out

    def shifted(self) -> torch.Tensor:
        """A - I - N for the slow-dynamics regulariser (N is fixed): lambda - 1 (..., D) when
        r = 0, else the dense (..., D, D) matrix."""
        if not self.rank:
            return self.eigenvalues - 1.0
        eye = torch.eye(self.eigenvalues.shape[-1], dtype=self.u.dtype, device=self.u.device)
        return torch.diag_embed(self.eigenvalues) + self.u @ self.v.mT - eye


class LinearGaussianPrior(nn.Module):
    """p(z_1:T) = N(z_1; 0, I) prod_t N(z_t; A z_{t-1}, diag(sigma^2)): learnt eigenvalues
    lambda (one per latent, one per Jordan block of size ``jordan`` > 1; starting at 1),
    rank-r U, V and log sigma^2 (starting at 0)."""

    def __init__(self, z_dim: int, rank: int, jordan: int = 1):
        super().__init__()
        self.rank, self.jordan = rank, jordan
        self.eigenvalues = nn.Parameter(torch.ones(z_dim // jordan))
        if rank:
            self.u = nn.Parameter(0.01 * torch.randn(z_dim, rank))
            self.v = nn.Parameter(0.01 * torch.randn(z_dim, rank))
        self.logvar = nn.Parameter(torch.zeros(z_dim))  # log sigma^2 of the transition noise

    @property
    def per_latent(self) -> torch.Tensor:
        """lambda_i of every latent (D,): a Jordan block's eigenvalue repeated over it."""
        return self.eigenvalues.repeat_interleave(self.jordan)

    @property
    def transition(self) -> Transition:
        lam = self.per_latent
        if not self.rank:
            none = lam.new_zeros(lam.shape[0], 0)
            return Transition(lam, none, none, self.jordan)
        return Transition(lam, self.u, self.v, self.jordan)

    def conditionals(self, z: torch.Tensor) -> Gaussian:
        """p(z_t | z_{t-1}) for t = 1..T on given z_1:T (B, T, D): N(0, I) at t = 1."""
        first = torch.zeros_like(z[:, :1])
        mean = torch.cat([first, self.transition.apply(z[:, :-1])], dim=1)
        logvar = torch.cat([torch.zeros_like(z[:, :1]), self.logvar.expand_as(z[:, 1:])], dim=1)
        return Gaussian(mean, logvar)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z_1:T), (B, T, D) -> (B,)."""
        return self.conditionals(z).log_prob(z).sum(-1)

    @torch.no_grad()
    def extend(
        self,
        z_seen: torch.Tensor,
        steps: int,
        generator: torch.Generator | None = None,
        most_likely: bool = False,
    ) -> torch.Tensor:
        """z_1:t given (B, t, D) (t may be 0: z_1 ~ N(0, I)), then z_s = A z_{s-1} + sigma
        eps_s up to ``steps`` (``most_likely``: eps = 0): (B, steps, D)."""
        b, t, d = z_seen.shape
        if steps < t:
            raise ValueError(f"steps ({steps}) must be >= the {t} seen codes")
        zs = list(z_seen.unbind(1))
        sigma = torch.exp(0.5 * self.logvar).to(z_seen.dtype)
        a = self.transition
        for _ in range(t, steps):
            noise = z_seen.new_zeros(b, d)
            if not most_likely:
                noise = torch.randn(b, d, generator=generator, dtype=z_seen.dtype)
            if zs:
                zs.append(a.apply(zs[-1]) + sigma * noise)
            else:
                zs.append(noise)  # z_1 ~ N(0, I)
        return torch.stack(zs, 1) if zs else z_seen


class MarkovPosterior:
    """q(z_1:T | x) = N(mu, J^-1) of w_t = z_t - mu_t = A_t w_{t-1} + s_t eps_t (module
    docstring), a ``BlockTridiagGaussian`` over reversed time. Shapes: mean, logvar
    (log s_t^2) (B, T, D); the transitions A_2..A_T of leading shape (B, T-1)."""

    def __init__(self, mean: torch.Tensor, logvar: torch.Tensor, transition: Transition):
        self.mean = mean
        inv_s = torch.exp(-0.5 * logvar)  # 1 / s_t
        # R[r+1, r] = -A_t^T diag(1/s_t), t = T-1-r
        off = -(transition.matrix() * inv_s[:, 1:].unsqueeze(-1)).mT
        self.reversed = BlockTridiagGaussian(
            mean.flip(1), torch.diag_embed(inv_s.flip(1)), off.flip(1)
        )

    def rsample(
        self, sample_shape: tuple[int, ...] = (), generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """A reparameterised draw z_1:T, (*sample_shape, B, T, D)."""
        return self.reversed.rsample(sample_shape, generator).flip(-2)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z_1:T), (*S, B, T, D) -> (*S, B)."""
        return self.reversed.log_prob(z.flip(-2))

    def entropy(self) -> torch.Tensor:
        """H[q] in closed form, (B,): TD/2 (1 + log 2 pi) + sum_t,i log s_t,i."""
        return self.reversed.entropy()

    def marginal_variances(self) -> torch.Tensor:
        """Var[z_t,i] under q, (B, T, D)."""
        return self.reversed.marginal_variances().flip(1)

    def to_dense_precision(self) -> torch.Tensor:
        """J in time order as a dense (B, T D, T D) matrix (tests, small T)."""
        _, t, d = self.mean.shape
        order = torch.arange(t * d).view(t, d).flip(0).reshape(-1)
        return self.reversed.to_dense_precision()[:, order][:, :, order]
