"""Disentangled Sequential Autoencoder (Li & Mandt, ICML 2018, section 2).

Generative model (eq. 1): p(f) prod_t p(z_t | z_<t) p(x_t | z_t, f), with z_0 = 0,
p(f) = N(0, I) and an LSTM prior p(z_t | z_<t) with Gaussian outputs (``model.p_f`` and
``model.p_z`` make either a mixture learnt through the ELBO: ``dsae.models.priors``).

Inference: "factorised q" (eq. 3) q(f | x_1:T) prod_t q(z_t | x_t), or "full q" (eq. 4)
q(f | x_1:T) q(z_1:T | f, x_1:T). Both share one frame encoder x_t -> h_t.

Departures from the paper, each a choice rather than a change of the model: the frame
networks are sized for 64 x 64 frames (the 2018 networks are far larger than the data
needs), and the full-q posterior of z_t is read off a forward RNN over the bi-LSTM states
(the paper's "bidirectional LSTM conditioned on f, followed by an RNN").

What each posterior reads (``dsae.models.views``), the decoder's add-ons
(``dsae.models.decoders``) and the likelihood (``dsae.models.likelihoods``) are parts chosen
by name; the defaults give the model of the paper. ``decode_frames`` = k decodes k random
frames per sequence in training and scales their likelihood by T / k (unbiased).
"""

from __future__ import annotations

import torch
from torch import nn

from dsae.config import ModelConfig
from dsae.models.base import Encoding, LossTerms, TrainPass, take_frames
from dsae.models.blocks import Gaussian, GaussianHead
from dsae.models.frame_nets import build_decoder, frame_net
from dsae.models.framed import FramedVAE, check_output, log_scale
from dsae.models.likelihoods import LIKELIHOODS
from dsae.models.priors import GaussianMixture, kl_term, output_head, static_prior
from dsae.models.views import (
    FrameSubset,
    build_dynamic_input,
    build_static_reader,
    posterior_inputs,
)


class FactorisedDynamicEncoder(nn.Module):
    """q(z_t | x_t): one frame's features alone give z_t (eq. 3)."""

    def __init__(self, frame_dim: int, hidden_dim: int, z_dim: int, f_dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(frame_dim, hidden_dim), nn.LeakyReLU(0.2))
        self.head = GaussianHead(hidden_dim, z_dim)

    def forward(self, h: torch.Tensor, f: torch.Tensor) -> Gaussian:  # h: (B, T, frame_dim)
        return self.head(self.net(h))


class FullDynamicEncoder(nn.Module):
    """q(z_1:T | f, x_1:T): a bi-LSTM over [h_t, f], then a forward RNN (eq. 4)."""

    def __init__(self, frame_dim: int, hidden_dim: int, z_dim: int, f_dim: int):
        super().__init__()
        self.bilstm = nn.LSTM(frame_dim + f_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.rnn = nn.RNN(2 * hidden_dim, hidden_dim, batch_first=True)
        self.head = GaussianHead(hidden_dim, z_dim)

    def forward(self, h: torch.Tensor, f: torch.Tensor) -> Gaussian:
        f_rep = f.unsqueeze(1).expand(-1, h.shape[1], -1)
        g, _ = self.bilstm(torch.cat([h, f_rep], dim=-1))
        r, _ = self.rnn(g)
        return self.head(r)


class PriorLSTM(nn.Module):
    """p(z_t | z_<t): an LSTM over z_<t (z_0 = 0) with Gaussian (or mixture) outputs."""

    def __init__(self, z_dim: int, hidden_dim: int, output: str = "gaussian", components: int = 1):
        super().__init__()
        self.z_dim = z_dim
        self.lstm = nn.LSTM(z_dim, hidden_dim, batch_first=True)
        self.head = output_head(output, hidden_dim, z_dim, components)

    def forward(self, z: torch.Tensor) -> Gaussian | GaussianMixture:
        """Parameters of p(z_t | z_<t) for t = 1..T given a sequence z_1:T (B, T, z_dim).

        The LSTM reads the *given* z_<t (posterior samples during training), shifted by one
        step with z_0 = 0; it never rolls forward on its own samples here.
        """
        z_prev = torch.cat([torch.zeros_like(z[:, :1]), z[:, :-1]], dim=1)
        out, _ = self.lstm(z_prev)
        return self.head(out)

    @torch.no_grad()
    def sample(
        self, batch: int, steps: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z_1:T ~ prod_t p(z_t | z_<t), rolled out on its own samples: (B, T, z_dim)."""
        p = next(self.parameters())
        z_seen = torch.zeros(batch, 0, self.z_dim, device=p.device, dtype=p.dtype)
        return self.extend(z_seen, steps, generator)

    @torch.no_grad()
    def extend(
        self,
        z_seen: torch.Tensor,
        steps: int,
        generator: torch.Generator | None = None,
        most_likely: bool = False,
    ) -> torch.Tensor:
        """z_1:t given (B, t, z_dim), then z_t+1:steps ~ prod p(z_s | z_<s) rolled out on its
        own samples (``most_likely``: the mean at each step): (B, steps, z_dim).

        The LSTM first reads z_0 = 0, z_1..z_t as in training, which leaves it with
        p(z_t+1 | z_1:t) and its state after z_t."""
        t = z_seen.shape[1]
        if steps < t:
            raise ValueError(f"steps ({steps}) must be >= the {t} seen codes")
        if steps == t:
            return z_seen
        z_0 = z_seen.new_zeros(z_seen.shape[0], 1, z_seen.shape[2])
        out, state = self.lstm(torch.cat([z_0, z_seen], dim=1))
        out = out[:, -1:]
        zs = [z_seen]
        for s in range(t, steps):
            g = self.head(out)
            if most_likely:
                z_t = g.mode_mean() if isinstance(g, GaussianMixture) else g.mean
            else:
                z_t = g.sample(generator).to(z_seen.dtype)
            zs.append(z_t)
            if s + 1 < steps:
                out, state = self.lstm(z_t, state)
        return torch.cat(zs, dim=1)


DYNAMIC_ENCODERS = {"factorised": FactorisedDynamicEncoder, "full": FullDynamicEncoder}


def _check(cfg: ModelConfig, frame_shape: tuple[int, ...]) -> None:
    if cfg.encoder not in DYNAMIC_ENCODERS:
        raise ValueError(f"unknown encoder {cfg.encoder!r} (factorised, full)")
    check_output(cfg)


class DSAE(FramedVAE):
    """The Disentangled Sequential Autoencoder: p(f) prod_t p(z_t|z_<t) p(x_t|z_t,f)."""

    name = "dsae"
    learnt_priors = ("p_f", "p_z")

    def __init__(self, cfg: ModelConfig, frame_shape: tuple[int, ...]):
        super().__init__()
        self.frame_shape = tuple(frame_shape)  # (C, H, W) images or (D,) vectors
        _check(cfg, self.frame_shape)
        self.cfg, self.f_dim, self.z_dim = cfg, cfg.f_dim, cfg.z_dim
        nets = frame_net(cfg, self.frame_shape)
        self.is_image = nets.spatial  # pixel means, NHWC layout
        self._channels_last = False
        self.frame_encoder = nets.encoder(cfg, self.frame_shape)
        self.decoder = build_decoder(cfg, self.frame_shape, cfg.f_dim + cfg.z_dim)
        self.dynamic_input = build_dynamic_input(cfg, self.frame_shape)
        self.static_view = FrameSubset(cfg.static_frames)
        self.static_encoder = build_static_reader(cfg, self.frame_shape)
        if self.static_encoder.reads == "pixels" and not self.dynamic_input.uses_shared:
            del self.frame_encoder  # neither posterior reads the shared frame features
        self.dynamic_encoder = DYNAMIC_ENCODERS[cfg.encoder](
            cfg.frame_dim, cfg.hidden_dim, cfg.z_dim, cfg.f_dim
        )
        if cfg.posterior_init_logvar != 0.0:
            self.static_encoder.head.start_logvar(cfg.posterior_init_logvar)
            self.dynamic_encoder.head.start_logvar(cfg.posterior_init_logvar)
        self.prior = PriorLSTM(cfg.z_dim, cfg.hidden_dim, cfg.p_z, cfg.p_z_components)
        self.p_f = static_prior(cfg.p_f, cfg.f_dim, cfg.p_f_components, cfg.p_f_groups)
        self.likelihood = LIKELIHOODS[cfg.likelihood]()
        self.log_sigma = log_scale(cfg)

    # -- inference ----------------------------------------------------------------------
    def _q_f(self, x: torch.Tensor) -> tuple[Gaussian, torch.Tensor | None]:
        """q(f | x_1:T) and the shared frame features h_1:T (None when nothing reads them)."""
        self._check_input(x)
        features = self.frame_features if hasattr(self, "frame_encoder") else None
        seen, h = posterior_inputs(
            x, self.training, self.static_view, self.static_encoder, self.dynamic_input, features
        )
        return self.static_encoder(seen), h

    def forward(self, x: torch.Tensor) -> TrainPass:
        q_f, h = self._q_f(x)
        f = q_f.rsample()
        q_z = self.dynamic_encoder(self.dynamic_input(x, h, self._frames_in), f)
        z = q_z.rsample()
        p_z = self.prior(z)
        frames = self.decoded_frames(z.shape[0], z.shape[1], z.device)
        z_dec = z if frames is None else take_frames(z, frames)
        return TrainPass(
            x_param=self.decode_param(f, z_dec), q_f=q_f, q_z=q_z, p_z=p_z, f=f, z=z, frames=frames
        )

    def loss_terms(
        self, x: torch.Tensor, out: TrainPass, weight: torch.Tensor | None = None
    ) -> LossTerms:
        """-log p(x | z, f) (its decoded frames scaled by T / k), KL(q(f | x) || p(f)) and
        sum_t KL(q(z_t | .) || p(z_t | z_<t)), per sequence (one-sample estimates for
        mixture priors)."""
        recon = self.frames_nll(x, out, weight)
        kl_z = kl_term(out.q_z, out.p_z, out.z).sum(-1)
        return LossTerms(recon=recon, kl_f=self.p_f.kl(out.q_f, out.f), kl_z=kl_z)

    def posteriors(self, x: torch.Tensor) -> tuple[Gaussian, Gaussian]:
        """q(f | x_1:T) and q(z_1:T | ., E[f]), with gradients (in training each reads what
        ``forward`` reads)."""
        q_f, h = self._q_f(x)
        return q_f, self.dynamic_encoder(self.dynamic_input(x, h, self._frames_in), q_f.mean)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> Encoding:
        """Posterior parameters of f and z_1:T (full q conditions z on the mean of f)."""
        q_f, q_z = self.posteriors(x)
        return Encoding(q_f.mean, q_f.logvar, q_z.mean, q_z.logvar)

    # -- generation ---------------------------------------------------------------------
    @torch.no_grad()
    def sample_f(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """f ~ p(f), the prior the ELBO trained: (n, f_dim)."""
        return self.p_f.sample(n, generator)

    @torch.no_grad()
    def decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The mean of p(x_1:T | z_1:T, f) in data space (images in [0, 1])."""
        return self.frame_mean(self.decode_param(f, z))

    @torch.no_grad()
    def sample_z(
        self, n: int, steps: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z_1:T ~ prod_t p(z_t | z_<t), the LSTM prior rolled out: (n, steps, z_dim)."""
        return self.prior.sample(n, steps, generator)

    @torch.no_grad()
    def continue_z(
        self,
        z_seen: torch.Tensor,
        steps: int,
        generator: torch.Generator | None = None,
        most_likely: bool = False,
    ) -> torch.Tensor:
        """z_1:t as given, then z_t+1:steps from the LSTM prior p(z_t | z_<t) after z_1:t."""
        return self.prior.extend(z_seen, steps, generator, most_likely)
