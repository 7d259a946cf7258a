"""Disentangled VRNN (Prasanna & Vidyasagar): a content code f and VRNN style codes z_t.

The VRNN of Chung et al. (2015) with a static code f beside it. Feature extractors phi_x
(the shared frame encoder, ``frame_features``) and phi_z (an MLP); a GRU state h_t with
h_0 = 0. Section 2 of the paper, the ``full`` variant (``model.dvrnn_posterior: full``):

- p(f) = N(0, I); p(z_t | z_<t, x_<t, f) = N(mu_0,t, sigma_0,t), (mu_0,t, sigma_0,t) =
  psi_prior(h_{t-1}), a Gaussian head on the state;
- p(x_t | z_<=t, x_<t, f) = p(x_t | phi_z(z_t), h_{t-1}, f), the frame decoder on
  [f, phi_z(z_t), h_{t-1}] and its likelihood;
- q(f | x_1:T) as the DSAE's (the same static readers), then
  q(z_t | x_<=t, z_<t, f) = q(z_t | phi_x(x_t), h_{t-1}, f);
- h_t = GRU([phi_x(x_t), phi_z(z_t), f], h_{t-1}): "at each time step we pass in the
  learned content code f in order to infer the next hidden state".

Section 4.3's ``factorized`` variant assumes content and style independent: f leaves the
recurrence and the posterior of z_t, q(z_1:T, f | x_1:T) = q(f | x_1:T) prod_t
q(z_t | phi_x(x_t), h_{t-1}) with h_t = GRU([phi_x(x_t), phi_z(z_t)], h_{t-1}), so z_1:T and
its prior p(z_t | h_{t-1}) see f only through the frames x_<t; f reaches the frames through
the decoder alone.

The objective (section 2): -log p(x | .) + beta_f KL(q(f | x) || p(f)) + beta_z sum_t
KL(q(z_t | .) || p(z_t | h_{t-1})), both KLs closed-form Gaussian (the paper's best
beta_f = 0.5, beta_z = 25, section 4.2; ``objective.beta_f``, ``objective.beta_z``).

Where x is not observed (``decode``, ``sample_z``, ``continue_z``) the recurrence reads
phi_x of the DECODED frame means: h_t = GRU([phi_x(E[x_t | .]), phi_z(z_t), f?], h_{t-1}).
``sample_z`` draws z_1:T from the marginal p(z_1:T), f ~ p(f) drawn for the rollout and
dropped; ``continue_z`` conditions on a given f (``impute`` passes the posterior mean)
or the mean of p(f). ``model.encoder`` and ``model.dynamic_input`` (the DSAE's choices of
q(z_t | .)) are not read here.
"""

from __future__ import annotations

import torch
from torch import nn

from dsae.config import ModelConfig
from dsae.models.base import Encoding, LossTerms, TrainPass, take_frames
from dsae.models.blocks import Gaussian, GaussianHead, mlp_features
from dsae.models.frame_nets import build_decoder, frame_net
from dsae.models.framed import FramedVAE, check_output, log_scale
from dsae.models.likelihoods import LIKELIHOODS
from dsae.models.views import FrameSubset, build_static_reader

POSTERIORS = ("full", "factorized")


class GaussianMLP(nn.Module):
    """An MLP then a Gaussian head: psi_prior(h_{t-1}) or psi_q(phi_x(x_t), h_{t-1}, f?)."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.net = mlp_features(in_dim, hidden, hidden)
        self.head = GaussianHead(hidden, out_dim)

    def forward(self, *parts: torch.Tensor) -> Gaussian:
        return self.head(self.net(torch.cat(parts, dim=-1)))


def _check(cfg: ModelConfig) -> None:
    check_output(cfg)
    if cfg.dvrnn_posterior not in POSTERIORS:
        raise ValueError(f"unknown dvrnn_posterior {cfg.dvrnn_posterior!r} (full, factorized)")


class DisentangledVRNN(FramedVAE):
    """p(f) prod_t p(z_t|h_{t-1}) p(x_t|z_t,h_{t-1},f);  q(f|x) prod_t q(z_t|x_t,h_{t-1},f)."""

    name = "dvrnn"

    def __init__(self, cfg: ModelConfig, frame_shape: tuple[int, ...]):
        super().__init__()
        self.frame_shape = tuple(frame_shape)  # (C, H, W) images or (D,) vectors
        _check(cfg)
        self.cfg, self.f_dim, self.z_dim = cfg, cfg.f_dim, cfg.z_dim
        self.full = cfg.dvrnn_posterior == "full"
        nets = frame_net(cfg, self.frame_shape)
        self.is_image = nets.spatial
        self._channels_last = False
        hid, f_in = cfg.hidden_dim, cfg.f_dim if self.full else 0
        self.frame_encoder = nets.encoder(cfg, self.frame_shape)  # phi_x
        self.static_view = FrameSubset(cfg.static_frames)
        self.static_encoder = build_static_reader(cfg, self.frame_shape)
        self.phi_z = mlp_features(cfg.z_dim, hid, hid)
        self.cell = nn.GRUCell(cfg.frame_dim + hid + f_in, hid)  # h_t
        self.prior = GaussianMLP(hid, hid, cfg.z_dim)  # p(z_t | h_{t-1})
        self.posterior = GaussianMLP(cfg.frame_dim + hid + f_in, hid, cfg.z_dim)
        if cfg.posterior_init_logvar != 0.0:
            self.static_encoder.head.start_logvar(cfg.posterior_init_logvar)
            self.posterior.head.start_logvar(cfg.posterior_init_logvar)
        self.decoder = build_decoder(cfg, self.frame_shape, cfg.f_dim + 2 * hid)
        self.likelihood = LIKELIHOODS[cfg.likelihood]()
        self.log_sigma = log_scale(cfg)

    # -- the recurrence -------------------------------------------------------------------
    def _f_in(self, f: torch.Tensor) -> list[torch.Tensor]:
        """What the recurrence and q(z_t | .) read of f: [f] (full) or nothing (factorized)."""
        return [f] if self.full else []

    def step(
        self, h: torch.Tensor, x_feat: torch.Tensor, z_feat: torch.Tensor, f: torch.Tensor
    ) -> torch.Tensor:
        """h_t = GRU([phi_x(x_t), phi_z(z_t), f?], h_{t-1}): (B, hidden_dim)."""
        return self.cell(torch.cat([x_feat, z_feat, *self._f_in(f)], dim=-1), h)

    def infer_z(
        self, feats: torch.Tensor, f: torch.Tensor, sample: bool
    ) -> tuple[Gaussian, Gaussian, torch.Tensor, torch.Tensor]:
        """The recurrence over observed frames: q(z_t | phi_x(x_t), h_{t-1}, f?), the prior
        p(z_t | h_{t-1}) on the same states, z_1:T (samples of q with ``sample``, else its
        means) and the decoder's inputs [phi_z(z_t), h_{t-1}]; feats = phi_x(x_1:T)."""
        b, t = feats.shape[:2]
        h = feats.new_zeros(b, self.cfg.hidden_dim)
        qs, ps, zs, states = [], [], [], []
        for s in range(t):
            q = self.posterior(feats[:, s], h, *self._f_in(f))
            z = q.rsample() if sample else q.mean
            z_feat = self.phi_z(z)
            qs.append(q)
            ps.append(self.prior(h))
            zs.append(z)
            states.append(torch.cat([z_feat, h], dim=-1))
            if s + 1 < t:
                h = self.step(h, feats[:, s], z_feat, f)

        def stack(gs: list[Gaussian]) -> Gaussian:
            return Gaussian(
                torch.stack([g.mean for g in gs], 1), torch.stack([g.logvar for g in gs], 1)
            )

        return stack(qs), stack(ps), torch.stack(zs, 1), torch.stack(states, 1)

    def rollout_states(self, f: torch.Tensor, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The decoder's inputs [phi_z(z_t), h_{t-1}] of the recurrence over given frames
        x_1:T and codes z_1:T: (B, T, 2 * hidden_dim)."""
        feats = self.frame_features(x)
        h = feats.new_zeros(x.shape[0], self.cfg.hidden_dim)
        states = []
        for s in range(x.shape[1]):
            z_feat = self.phi_z(z[:, s])
            states.append(torch.cat([z_feat, h], dim=-1))
            h = self.step(h, feats[:, s], z_feat, f)
        return torch.stack(states, 1)

    @torch.no_grad()
    def rollout(
        self,
        f: torch.Tensor,
        z_given: torch.Tensor,
        steps: int,
        generator: torch.Generator | None = None,
        most_likely: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The recurrence without observed frames: z_1:t as given (B, t, z_dim), then
        z_s ~ p(z_s | h_{s-1}) (its mean with ``most_likely``); each frame decoded and
        fed back, h_s = GRU([phi_x(E[x_s | .]), phi_z(z_s), f?], h_{s-1}).
        Returns z_1:steps (B, steps, z_dim) and the frame means (B, steps, *frame)."""
        t = z_given.shape[1]
        if steps < t:
            raise ValueError(f"steps ({steps}) must be >= the {t} given codes")
        h = f.new_zeros(f.shape[0], self.cfg.hidden_dim)
        zs, frames = [], []
        for s in range(steps):
            if s < t:
                z = z_given[:, s].to(f.dtype)
            else:
                p = self.prior(h)
                z = p.mean if most_likely else p.sample(generator).to(f.dtype)
            z_feat = self.phi_z(z)
            x_s = self.frame_mean(self.decode_param(f, torch.cat([z_feat, h], -1).unsqueeze(1)))
            zs.append(z)
            frames.append(x_s)
            if s + 1 < steps:
                h = self.step(h, self.frame_features(x_s)[:, 0], z_feat, f)
        return torch.stack(zs, 1), torch.cat(frames, 1)

    # -- inference ----------------------------------------------------------------------
    def _q_f(self, x: torch.Tensor) -> tuple[Gaussian, torch.Tensor]:
        """q(f | x_1:T) and phi_x(x_1:T)."""
        self._check_input(x)
        feats = self.frame_features(x)
        seen = x if self.static_encoder.reads == "pixels" else feats
        return self.static_encoder(self.static_view(seen, self.training)), feats

    def forward(self, x: torch.Tensor) -> TrainPass:
        q_f, feats = self._q_f(x)
        f = q_f.rsample()
        q_z, p_z, z, states = self.infer_z(feats, f, sample=True)
        frames = self.decoded_frames(z.shape[0], z.shape[1], z.device)
        if frames is not None:
            states = take_frames(states, frames)
        return TrainPass(
            x_param=self.decode_param(f, states), q_f=q_f, q_z=q_z, p_z=p_z, f=f, z=z, frames=frames
        )

    def loss_terms(
        self, x: torch.Tensor, out: TrainPass, weight: torch.Tensor | None = None
    ) -> LossTerms:
        """-log p(x | z, f) (its decoded frames scaled by T / k), KL of f against N(0, I)
        and sum_t KL(q(z_t | .) || p(z_t | h_{t-1})), per sequence."""
        recon = self.frames_nll(x, out, weight)
        return LossTerms(recon=recon, kl_f=out.q_f.kl(), kl_z=out.q_z.kl(out.p_z).sum(-1))

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> Encoding:
        """Posterior parameters of f and z_1:T, the recurrence run on the posterior means
        (of f, and of z_<t for z_t)."""
        q_f, feats = self._q_f(x)
        q_z, _, _, _ = self.infer_z(feats, q_f.mean, sample=False)
        return Encoding(q_f.mean, q_f.logvar, q_z.mean, q_z.logvar)

    # -- generation ---------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The mean of p(x_1:T | z_1:T, f): a rollout with the given z_1:T, the decoded
        frame means fed back to the recurrence."""
        return self.rollout(f, z, z.shape[1])[1]

    @torch.no_grad()
    def sample_z(
        self, n: int, steps: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z_1:T ~ p(z_1:T) = E_p(f) prod_t p(z_t | h_{t-1}): f ~ p(f), then the prior
        rolled out on its own samples and decoded frames; (n, steps, z_dim)."""
        f = self.sample_f(n, generator)
        return self.rollout(f, f.new_zeros(n, 0, self.z_dim), steps, generator)[0]

    @torch.no_grad()
    def continue_z(
        self,
        z_seen: torch.Tensor,
        steps: int,
        generator: torch.Generator | None = None,
        most_likely: bool = False,
        f: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """z_1:t as given, then z_t+1:steps ~ p(z_s | h_{s-1}) after the recurrence has read
        z_1:t and their decoded frames given ``f`` (None: 0, the mean of p(f))."""
        if f is None:
            f = z_seen.new_zeros(z_seen.shape[0], self.f_dim)
        return self.rollout(f, z_seen, steps, generator, most_likely)[0]

    @torch.no_grad()
    def impute(
        self,
        x_seen: torch.Tensor,
        steps: int,
        generator: torch.Generator | None = None,
        most_likely: bool = False,
    ) -> torch.Tensor:
        """Frames 1..steps given the first t: the posterior means of f and z_1:t, then
        z_t+1:steps from the prior dynamics given that f."""
        e = self.encode(x_seen)
        z = self.continue_z(e.z_mean, steps, generator, most_likely, f=e.f_mean)
        return self.decode(e.f_mean, z)
