"""Disentangling via dynamics: latents with linear dynamics and a block tri-diagonal
Gaussian posterior (after Archer et al. 2016 for the posterior).

Generative model: p(z_1:T) prod_t p(x_t | z_t) with the linear-Gaussian prior

    z_1 ~ N(0, I),   z_t = A z_{t-1} + sigma * eps_t,   A = diag(lambda) (+ N) (+ U V^T),

lambda one learnt eigenvalue per latent (the eigenvector basis L = I), sigma^2 a learnt
noise variance per latent, and p(x_t | z_t) the DSAE's frame decoder and likelihood.

Inference: q(z_1:T | x_1:T) = N(mu, J^-1), mu_t = NN_mu(x_t) (the DSAE's factorised
q(z_t | x_t) head, which also gives s_t^2) and J block tri-diagonal, the precision of
z_t - mu_t = A_t (z_{t-1} - mu_{t-1}) + s_t eps_t with data-dependent transitions
A_t = diag(lambda_t) (+ U_t V_t^T), lambda_t = 1 + NN_lambda(x_t, x_{t-1})
(``dsae.models.linear_dynamics``).

Where this reads the proposal (Benjamin & Andrew, "Disentangling via dynamics", section
2) one way among several:

- The proposal's lambda_t = NN(x_t, x_{t-1}) are the variational parameters of q: a
  generative model cannot read x when it generates, so the prior has eigenvalues of its
  own, one per latent and the same at every step; generation and imputation follow them.
  Both sets are reported by ``eigenvalues``.
- The proposal sets the diagonal precision blocks D_t = I with B_t from A_t; that matrix is
  not positive definite once lambda_t nears 1 (the slow latents it asks for), so J is the
  precision of the linear Gauss-Markov process above instead, positive definite for every
  A_t, with per-step scales s_t from q(z_t | x_t) (D_t = I is the case s_t = 1, A_t = 0).
- The slow-dynamics regulariser sum_t sum_i gamma(i) |lambda_t,i - 1| (sections 2.2.1,
  2.2.2) acts on the posterior's lambda_t (``dsae.objectives.slow``); with
  ``model.lds_rank`` r > 0 it is section 2.3.1's sum_t sum_ij gamma(i) |(A_t - I)_ij| on
  A_t = diag(lambda_t) + U_t V_t^T of rank-r interactions. Section 2.3.2's small Jordan
  blocks: ``model.lds_jordan`` b > 1 groups the latents in blocks of b with one eigenvalue
  each and ones on the superdiagonal (``dsae.models.linear_dynamics``), in the prior and in
  the posterior's A_t alike.
- The model has no static code f: f_dim must be 0 (f is an empty (B, 0) tensor, KL_f = 0,
  and a swap returns the motion sequence's reconstruction). A static factor is meant to
  live in a slow latent (prior lambda = 1 with little noise keeps it constant); the rising
  gamma(i) pulls the posterior's transitions of the later latents toward 1, and the prior's
  eigenvalues follow them only through the KL.

KL of z_1:T: E_q[log q(z) - log p(z)] by one sample, with the exact entropy of q
(-E_q log q = H[q] in closed form) and log p(z) of the sample under the linear-Gaussian
prior: KL_z ~= -H[q] - log p(z), z ~ q (unbiased).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dsae.config import ModelConfig
from dsae.models.base import Encoding, LossTerms, TrainPass, take_frames
from dsae.models.blocks import Gaussian, mlp
from dsae.models.dsae import FactorisedDynamicEncoder
from dsae.models.frame_nets import build_decoder, frame_net
from dsae.models.framed import FramedVAE, check_output, log_scale
from dsae.models.likelihoods import LIKELIHOODS
from dsae.models.linear_dynamics import LinearGaussianPrior, MarkovPosterior, Transition


class TransitionNet(nn.Module):
    """A_t = diag(lambda_t) + N + U_t V_t^T = NN_lambda(x_t, x_{t-1}) for t = 2..T, read from
    the frame features of both frames; lambda_t = 1 + the network's output (one per Jordan
    block of size ``jordan``)."""

    def __init__(self, frame_dim: int, hidden_dim: int, z_dim: int, rank: int, jordan: int = 1):
        super().__init__()
        self.z_dim, self.rank, self.jordan = z_dim, rank, jordan
        self.n_eig = z_dim // jordan
        self.net = mlp(2 * frame_dim, hidden_dim, self.n_eig + 2 * z_dim * rank)

    def forward(self, h: torch.Tensor) -> Transition:  # h: (B, T, frame_dim)
        out = self.net(torch.cat([h[:, 1:], h[:, :-1]], dim=-1)).float()  # (B, T-1, .)
        d, r, k = self.z_dim, self.rank, self.n_eig
        u, v = out[..., k:].unflatten(-1, (2, d, r)).unbind(-3)
        lam = 1.0 + out[..., :k].repeat_interleave(self.jordan, dim=-1)
        return Transition(lam, u, v, self.jordan)


@dataclass
class LDSPass(TrainPass):
    """A training pass with the joint posterior q(z_1:T | x) its KL needs."""

    posterior: MarkovPosterior | None = None


def _check(cfg: ModelConfig) -> None:
    check_output(cfg)
    if cfg.f_dim != 0:
        raise ValueError(f"model lds has no static code f: set f_dim: 0, got {cfg.f_dim}")
    if cfg.decoder_film or cfg.decoder_colours:
        raise ValueError("decoder_film and decoder_colours read f, which model lds has not")
    if cfg.lds_rank < 0:
        raise ValueError(f"lds_rank must be >= 0, got {cfg.lds_rank}")
    if cfg.lds_jordan < 1 or cfg.z_dim % cfg.lds_jordan:
        raise ValueError(
            f"lds_jordan must be >= 1 and divide z_dim ({cfg.z_dim}), got {cfg.lds_jordan}"
        )


class LinearDynamicsVAE(FramedVAE):
    """p(z_1:T) prod_t p(x_t | z_t) with linear dynamics; q(z_1:T | x_1:T) Gauss-Markov."""

    name = "lds"

    def __init__(self, cfg: ModelConfig, frame_shape: tuple[int, ...]):
        super().__init__()
        self.frame_shape = tuple(frame_shape)  # (C, H, W) images or (D,) vectors
        _check(cfg)
        self.cfg, self.f_dim, self.z_dim = cfg, 0, cfg.z_dim
        nets = frame_net(cfg, self.frame_shape)
        self.is_image = nets.spatial
        self._channels_last = False
        self.frame_encoder = nets.encoder(cfg, self.frame_shape)
        self.step_encoder = FactorisedDynamicEncoder(cfg.frame_dim, cfg.hidden_dim, cfg.z_dim, 0)
        self.transition_net = TransitionNet(
            cfg.frame_dim, cfg.hidden_dim, cfg.z_dim, cfg.lds_rank, cfg.lds_jordan
        )
        if cfg.posterior_init_logvar != 0.0:
            self.step_encoder.head.start_logvar(cfg.posterior_init_logvar)
        self.prior = LinearGaussianPrior(cfg.z_dim, cfg.lds_rank, cfg.lds_jordan)
        self.decoder = build_decoder(cfg, self.frame_shape, cfg.z_dim)
        self.likelihood = LIKELIHOODS[cfg.likelihood]()
        self.log_sigma = log_scale(cfg)

    # -- inference ----------------------------------------------------------------------
    def posterior(self, x: torch.Tensor) -> tuple[MarkovPosterior, Transition]:
        """q(z_1:T | x_1:T) and its transitions A_2..A_T (leading dims (B, T-1))."""
        self._check_input(x)
        h = self.frame_features(x)
        step = self.step_encoder(h, h.new_zeros(h.shape[0], 0))  # mu_t, log s_t^2
        a = self.transition_net(h)
        return MarkovPosterior(step.mean, step.logvar, a), a

    def _no_f(self, like: torch.Tensor) -> torch.Tensor:
        return like.new_zeros(like.shape[0], 0)

    def forward(self, x: torch.Tensor) -> LDSPass:
        q, a = self.posterior(x)
        z = q.rsample()
        f = self._no_f(z)
        marginals = Gaussian(q.mean, q.marginal_variances().log())
        frames = self.decoded_frames(z.shape[0], z.shape[1], z.device)
        z_dec = z if frames is None else take_frames(z, frames)
        return LDSPass(
            x_param=self.decode_param(f, z_dec),
            q_f=Gaussian(f, f),
            q_z=marginals,
            p_z=self.prior.conditionals(z),
            f=f,
            z=z,
            frames=frames,
            transition_offset=a.shifted(),
            posterior=q,
        )

    def loss_terms(
        self, x: torch.Tensor, out: TrainPass, weight: torch.Tensor | None = None
    ) -> LossTerms:
        """-log p(x | z) (its decoded frames scaled by T / k), KL_f = 0 and the one-sample
        KL of z_1:T, -H[q] - log p(z) with H[q] exact; per sequence."""
        if not isinstance(out, LDSPass) or out.posterior is None:
            raise ValueError("model lds needs its own training pass (the joint posterior)")
        recon = self.frames_nll(x, out, weight)
        kl_z = -out.posterior.entropy() - out.p_z.log_prob(out.z).sum(-1)
        return LossTerms(recon=recon, kl_f=recon.new_zeros(recon.shape), kl_z=kl_z)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> Encoding:
        """Posterior means mu_t and marginal log-variances log Var_q[z_t,i]; f empty."""
        q, _ = self.posterior(x)
        f = self._no_f(q.mean)
        return Encoding(f, f, q.mean, q.marginal_variances().log())

    @torch.no_grad()
    def eigenvalues(self, x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The eigenvalues lambda of the dynamics, for analysis: ``prior`` (z_dim,) and, given
        x (B, T, *frame), ``posterior`` lambda_t (B, T-1, z_dim) for the steps 2..T. With
        ``model.lds_rank`` > 0 these are the diagonal parts of A = diag(lambda) + U V^T."""
        out = {"prior": self.prior.per_latent.detach().clone()}
        if x is not None:
            self._check_input(x)
            out["posterior"] = self.transition_net(self.frame_features(x)).eigenvalues
        return out

    # -- generation ---------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The mean of p(x_1:T | z_1:T) in data space; f (B, 0) carries nothing."""
        return self.frame_mean(self.decode_param(f, z))

    @torch.no_grad()
    def sample_z(
        self, n: int, steps: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z_1:T ~ p(z_1:T): z_1 ~ N(0, I), then z_t = A z_{t-1} + sigma eps_t."""
        p = self.prior.eigenvalues
        return self.prior.extend(p.new_zeros(n, 0, self.z_dim), steps, generator)

    @torch.no_grad()
    def continue_z(
        self,
        z_seen: torch.Tensor,
        steps: int,
        generator: torch.Generator | None = None,
        most_likely: bool = False,
    ) -> torch.Tensor:
        """z_1:t as given, then z_s = A z_{s-1} + sigma eps_s (eps = 0 with ``most_likely``)."""
        return self.prior.extend(z_seen, steps, generator, most_likely)
