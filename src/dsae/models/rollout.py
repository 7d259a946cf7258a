"""Deterministic-dynamics baselines of Li & Mandt (2018), section 4.3.

Generative model: p(f) p(z) prod_t p(x_t | h_t, f), with p(f) = N(0, I), ONE global code
z ~ N(0, I) per sequence, and h_1:T a deterministic rollout of z by an LSTM:

- ``lstm_f`` (``LSTMf``): h_0 = z, h_t = LSTM(h_{t-1}): z only sets the start and is
  forward-propagated. Here z (64 dims) is smaller than the LSTM state (512), so h_0 and
  c_0 are linear maps of z, and the LSTM has no input (its gates read h_{t-1} alone).
- ``lstm_c`` (``LSTMc``): h_0 = 0, h_t = LSTM(h_{t-1}, z): z is the input at every step
  (the FHVAE's transition).

Inference: q(f | x_1:T) as the DSAE's (the same static readers and frame encoder), and
q(z | x_1:T, f) a bi-LSTM over [h_t, f] (h_t the frame features) read at both ends.
p(x_t | h_t, f) is the DSAE's frame decoder on [f, h_t] (f first, so the decoder's
add-ons that read f find it) and its likelihood.

In the ``SequentialVAE`` contract z_1:T is z repeated at every step: ``encode``, the
training pass and ``sample_z`` give (B, T, z_dim) constant over time, and ``decode``
rolls out z.shape[1] steps from z[:, 0] (the codes at later steps are not read). The KL
of z is counted once per sequence. A critic of I(f; z_t) (``objective.mi_weight``) sees
the same z at every frame, so its estimate is I(f; z). ``model.encoder`` (the DSAE's
choice of q(z_t | .)) is not read here.
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
from dsae.models.views import (
    FrameSubset,
    build_dynamic_input,
    build_static_reader,
    posterior_inputs,
)


class GlobalDynamicEncoder(nn.Module):
    """q(z | x_1:T, f): a bi-LSTM over [h_t, f], read at both ends: (B, z_dim)."""

    def __init__(self, frame_dim: int, hidden_dim: int, z_dim: int, f_dim: int):
        super().__init__()
        self.lstm = nn.LSTM(frame_dim + f_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.head = GaussianHead(2 * hidden_dim, z_dim)

    def forward(self, h: torch.Tensor, f: torch.Tensor) -> Gaussian:  # h: (B, T, frame_dim)
        f_rep = f.unsqueeze(1).expand(-1, h.shape[1], -1)
        out, _ = self.lstm(torch.cat([h, f_rep], dim=-1))
        hd = out.shape[-1] // 2
        return self.head(torch.cat([out[:, -1, :hd], out[:, 0, hd:]], dim=-1))


def _check(cfg: ModelConfig) -> None:
    check_output(cfg)
    if cfg.rollout_dim < 1:
        raise ValueError(f"rollout_dim must be >= 1, got {cfg.rollout_dim}")


class RolloutVAE(FramedVAE):
    """p(f) p(z) prod_t p(x_t | h_t, f), h_1:T = rollout(z); a subclass gives the rollout."""

    def __init__(self, cfg: ModelConfig, frame_shape: tuple[int, ...]):
        super().__init__()
        self.frame_shape = tuple(frame_shape)  # (C, H, W) images or (D,) vectors
        _check(cfg)
        self.cfg, self.f_dim, self.z_dim = cfg, cfg.f_dim, cfg.z_dim
        nets = frame_net(cfg, self.frame_shape)
        self.is_image = nets.spatial
        self._channels_last = False
        self.frame_encoder = nets.encoder(cfg, self.frame_shape)
        self.dynamic_input = build_dynamic_input(cfg, self.frame_shape)
        self.static_view = FrameSubset(cfg.static_frames)
        self.static_encoder = build_static_reader(cfg, self.frame_shape)
        if self.static_encoder.reads == "pixels" and not self.dynamic_input.uses_shared:
            del self.frame_encoder  # neither posterior reads the shared frame features
        self.dynamic_encoder = GlobalDynamicEncoder(
            cfg.frame_dim, cfg.hidden_dim, cfg.z_dim, cfg.f_dim
        )
        if cfg.posterior_init_logvar != 0.0:
            self.static_encoder.head.start_logvar(cfg.posterior_init_logvar)
            self.dynamic_encoder.head.start_logvar(cfg.posterior_init_logvar)
        self.decoder = build_decoder(cfg, self.frame_shape, cfg.f_dim + cfg.rollout_dim)
        self.likelihood = LIKELIHOODS[cfg.likelihood]()
        self.log_sigma = log_scale(cfg)

    def rollout(self, z: torch.Tensor, steps: int) -> torch.Tensor:
        """The deterministic states h_1:steps from one z (B, z_dim): (B, steps, rollout_dim)."""
        raise NotImplementedError

    # -- inference ----------------------------------------------------------------------
    def _posteriors(self, x: torch.Tensor, sample: bool) -> tuple[Gaussian, Gaussian, torch.Tensor]:
        """q(f | x_1:T), q(z | x_1:T, f) (B, z_dim) and the f that q(z) was given (a
        sample of q(f) with ``sample``, else its mean)."""
        self._check_input(x)
        features = self.frame_features if hasattr(self, "frame_encoder") else None
        seen, h = posterior_inputs(
            x, self.training, self.static_view, self.static_encoder, self.dynamic_input, features
        )
        q_f = self.static_encoder(seen)
        f = q_f.rsample() if sample else q_f.mean
        q_z = self.dynamic_encoder(self.dynamic_input(x, h, self._frames_in), f)
        return q_f, q_z, f

    def forward(self, x: torch.Tensor) -> TrainPass:
        b, t = x.shape[:2]
        q_f, q_z, f = self._posteriors(x, sample=True)
        z = q_z.rsample()  # (B, z_dim)
        states = self.rollout(z, t)
        frames = self.decoded_frames(b, t, x.device)
        if frames is not None:
            states = take_frames(states, frames)
        steps = (b, t, self.z_dim)
        return TrainPass(
            x_param=self.decode_param(f, states),
            q_f=q_f,
            q_z=Gaussian(
                q_z.mean.unsqueeze(1).expand(steps), q_z.logvar.unsqueeze(1).expand(steps)
            ),
            p_z=None,
            f=f,
            z=z.unsqueeze(1).expand(steps),
            frames=frames,
        )

    def loss_terms(
        self, x: torch.Tensor, out: TrainPass, weight: torch.Tensor | None = None
    ) -> LossTerms:
        """-log p(x | z, f) (its decoded frames scaled by T / k), KL of f and KL of the one
        z against N(0, I), per sequence."""
        recon = self.frames_nll(x, out, weight)
        q_z = Gaussian(out.q_z.mean[:, 0], out.q_z.logvar[:, 0])  # the same at every step
        return LossTerms(recon=recon, kl_f=out.q_f.kl(), kl_z=q_z.kl())

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> Encoding:
        """Posterior parameters of f and of z (given the mean of f), z's repeated over T."""
        q_f, q_z, _ = self._posteriors(x, sample=False)
        steps = (x.shape[0], x.shape[1], self.z_dim)
        return Encoding(
            q_f.mean,
            q_f.logvar,
            q_z.mean.unsqueeze(1).expand(steps).contiguous(),
            q_z.logvar.unsqueeze(1).expand(steps).contiguous(),
        )

    # -- generation ---------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The mean of p(x_1:T | z, f), rolled out for z.shape[1] steps from z[:, 0]."""
        return self.frame_mean(self.decode_param(f, self.rollout(z[:, 0], z.shape[1])))

    @torch.no_grad()
    def sample_z(
        self, n: int, steps: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z ~ N(0, I), one per sequence, repeated over the steps: (n, steps, z_dim)."""
        return torch.randn(n, 1, self.z_dim, generator=generator).expand(-1, steps, -1)

    @torch.no_grad()
    def continue_z(
        self,
        z_seen: torch.Tensor,
        steps: int,
        generator: torch.Generator | None = None,
        most_likely: bool = False,
    ) -> torch.Tensor:
        """z_seen[:, 0] repeated for ``steps``: given z the dynamics are deterministic, so
        nothing is drawn (``generator`` and ``most_likely`` change nothing)."""
        t = z_seen.shape[1]
        if not 0 < t <= steps:
            raise ValueError(
                f"continue_z needs 1 <= t <= steps seen codes, got t={t}, steps={steps}"
            )
        return z_seen[:, :1].expand(-1, steps, -1).contiguous()


class LSTMf(RolloutVAE):
    """LSTM-f: h_0 = z, h_t = LSTM(h_{t-1}); (h_0, c_0) are linear maps of z."""

    name = "lstm_f"

    def __init__(self, cfg: ModelConfig, frame_shape: tuple[int, ...]):
        super().__init__(cfg, frame_shape)
        r = cfg.rollout_dim
        self.start = nn.Linear(cfg.z_dim, 2 * r)  # z -> (h_0, c_0)
        self.gates = nn.Linear(r, 4 * r)  # h_{t-1} -> input, forget, cell and output gates

    def rollout(self, z: torch.Tensor, steps: int) -> torch.Tensor:
        h, c = self.start(z).chunk(2, dim=-1)
        states = []
        for _ in range(steps):
            i, f, g, o = self.gates(h).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            states.append(h)
        return torch.stack(states, dim=1)


class LSTMc(RolloutVAE):
    """LSTM-c: h_0 = 0, h_t = LSTM(h_{t-1}, z) with z the input at every step."""

    name = "lstm_c"

    def __init__(self, cfg: ModelConfig, frame_shape: tuple[int, ...]):
        super().__init__(cfg, frame_shape)
        self.lstm = nn.LSTM(cfg.z_dim, cfg.rollout_dim, batch_first=True)

    def rollout(self, z: torch.Tensor, steps: int) -> torch.Tensor:
        states, _ = self.lstm(z.unsqueeze(1).expand(-1, steps, -1).contiguous())
        return states
