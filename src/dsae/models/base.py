"""The sequential-VAE contract every model family implements.

A model is p(f) p(z_1:T) p(x_1:T | z_1:T, f) with inference q(f | x_1:T) q(z_1:T | x_1:T, f).
A family implements seven things (``forward``, ``loss_terms``, ``encode``, ``decode``,
``sample_f``, ``sample_z``, ``continue_z``); reconstruction, swaps, generation and
imputation follow from them here.

A family whose dynamics are one code z for the whole sequence (a deterministic rollout)
fits the same contract with z_1:T that code repeated at every step: ``decode`` rolls
out from z[:, 0] for z.shape[1] steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from dsae.models.blocks import Gaussian

FIXES = ("none", "static", "dynamic")  # generate(fix=...): which code the n sequences share


@dataclass
class Encoding:
    """Posterior means and marginal log-variances of f and z_1:T for a batch of sequences."""

    f_mean: torch.Tensor  # (B, f_dim)
    f_logvar: torch.Tensor
    z_mean: torch.Tensor  # (B, T, z_dim)
    z_logvar: torch.Tensor


@dataclass
class TrainPass:
    """Everything one training pass computes; B sequences of T frames."""

    x_param: torch.Tensor  # (B, T', *frame): decoder parameters (T' = T, or k decoded frames)
    q_f: Gaussian  # q(f | x_1:T): (B, f_dim)
    q_z: Gaussian  # q(z_t | .): (B, T, z_dim)
    p_z: Gaussian | None  # p(z_t | z_<t) on the posterior samples, or None for N(0, I)
    f: torch.Tensor  # sample of q(f | x): (B, f_dim)
    z: torch.Tensor  # sample of q(z | .): (B, T, z_dim)
    frames: torch.Tensor | None = None  # (B, k) indices of the decoded frames; None: all
    # linear latent dynamics z_t = A_t z_{t-1} + noise: A_t - I for t = 2..T, (B, T-1, z_dim)
    # (lambda_t - 1 for diagonal A_t) or (B, T-1, z_dim, z_dim); None for other dynamics
    transition_offset: torch.Tensor | None = None


@dataclass
class LossTerms:
    """The ELBO's terms per sequence, each (B,)."""

    recon: torch.Tensor  # -E_q log p(x_1:T | z_1:T, f)
    kl_f: torch.Tensor  # KL(q(f | x) || p(f))
    kl_z: torch.Tensor  # KL of z_1:T (summed over time)


class Sampler(Protocol):
    """Anything that draws codes for generation: f (n, f_dim) and z_1:T (n, steps, z_dim)."""

    def sample_f(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor: ...

    def sample_z(
        self, n: int, steps: int, generator: torch.Generator | None = None
    ) -> torch.Tensor: ...


def random_frames(b: int, t: int, k: int, device: torch.device) -> torch.Tensor:
    """(B, k) distinct random frame indices per sequence in time order (all T if k >= T)."""
    if k >= t:
        return torch.arange(t, device=device).expand(b, t)
    return torch.rand(b, t, device=device).argsort(1)[:, :k].sort(1).values


def take_frames(seq: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """seq[b, frames[b]] per sequence: (B, T, ...), (B, k) indices -> (B, k, ...)."""
    return seq[torch.arange(seq.shape[0], device=seq.device).unsqueeze(1), frames]


class SequentialVAE(nn.Module):
    """p(f) p(z_1:T) p(x_1:T | z_1:T, f);  q(f | x_1:T) q(z_1:T | x_1:T, f).

    Inputs are (B, T, *frame_shape) float tensors: images (C, H, W) in [0, 1] or vectors (D,).
    """

    name: str = ""
    # the model-config keys of priors this family can learn (``dsae.models.priors``)
    learnt_priors: tuple[str, ...] = ()
    f_dim: int
    z_dim: int
    frame_shape: tuple[int, ...]

    def forward(self, x: torch.Tensor) -> TrainPass:
        """One training pass: posterior samples (rsample), the prior on them, p(x | z, f)."""
        raise NotImplementedError

    def loss_terms(
        self, x: torch.Tensor, out: TrainPass, weight: torch.Tensor | None = None
    ) -> LossTerms:
        """The ELBO's terms per sequence; ``weight`` (broadcast to x) weighs pixels."""
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> Encoding:
        """Posterior parameters of f and z_1:T (no gradient)."""
        raise NotImplementedError

    def decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The mean of p(x_1:T | z_1:T, f) in data space: (B, T, *frame_shape)."""
        raise NotImplementedError

    def sample_f(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """f ~ p(f), the model's own prior (the ELBO's): (n, f_dim)."""
        raise NotImplementedError

    def sample_z(
        self, n: int, steps: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z_1:T ~ p(z_1:T), the model's own prior: (n, steps, z_dim)."""
        raise NotImplementedError

    def continue_z(
        self,
        z_seen: torch.Tensor,
        steps: int,
        generator: torch.Generator | None = None,
        most_likely: bool = False,
    ) -> torch.Tensor:
        """z_1:steps from z_1:t (B, t, z_dim): the given codes, then z_t+1:steps ~
        p(z_t+1:steps | z_1:t) from the model's own prior dynamics; ``most_likely`` follows
        the prior's mean at each step instead of sampling. (B, steps, z_dim), steps >= t."""
        raise NotImplementedError

    def use_channels_last(self, on: bool = True) -> SequentialVAE:
        """Keep convolutions in NHWC layout where the family has any (default: nothing)."""
        return self

    # -- provided from the six above ---------------------------------------------------
    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior means of f and z_1:T."""
        e = self.encode(x)
        return self.decode(e.f_mean, e.z_mean)

    @torch.no_grad()
    def swap(self, x_content: torch.Tensor, x_motion: torch.Tensor) -> torch.Tensor:
        """f from ``x_content`` with z_1:T from ``x_motion`` (Li & Mandt 2018, fig. 3)."""
        return self.decode(self.encode(x_content).f_mean, self.encode(x_motion).z_mean)

    @torch.no_grad()
    def impute(
        self,
        x_seen: torch.Tensor,
        steps: int,
        generator: torch.Generator | None = None,
        most_likely: bool = False,
    ) -> torch.Tensor:
        """Frames 1..steps given the first t (Li & Mandt 2018, section 4.3): f and z_1:t the
        posterior means of q(. | x_1:t), z_t+1:steps from the prior dynamics; (B, steps, ...)."""
        e = self.encode(x_seen)
        return self.decode(e.f_mean, self.continue_z(e.z_mean, steps, generator, most_likely))

    @torch.no_grad()
    def generate(
        self,
        n: int,
        steps: int,
        fix: str = "none",
        generator: torch.Generator | None = None,
        f: torch.Tensor | None = None,
        z: torch.Tensor | None = None,
        sampler: Sampler | None = None,
    ) -> torch.Tensor:
        """n sequences of ``steps`` frames with codes drawn by ``sampler`` (None: the model's
        own priors).

        ``fix="static"`` shares one f (or the given ``f``) across the n sequences and draws
        their dynamics; ``fix="dynamic"`` shares one z_1:T (or the given ``z``) and draws f;
        ``fix="none"`` draws both for every sequence.
        """
        if fix not in FIXES:
            raise ValueError(f"fix must be none, static or dynamic, got {fix!r}")
        draw = self if sampler is None else sampler
        if f is None:
            f = draw.sample_f(1 if fix == "static" else n, generator)
        if z is None:
            z = draw.sample_z(1 if fix == "dynamic" else n, steps, generator)
        f = f.expand(n, -1) if f.shape[0] == 1 else f
        z = z.expand(n, -1, -1) if z.shape[0] == 1 else z
        return self.decode(f, z)
