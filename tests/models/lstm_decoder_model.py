"""A test-only model family: a deterministic LSTM decoder, h_t = LSTM(h_{t-1}, [f, z_t]) -> x_t.

It shows what a new family takes: one module implementing ``SequentialVAE`` and one line
registering it in ``dsae.models.MODELS``. q(f | x_1:T) and q(z | .) read an MLP of each
frame; p(f) and p(z) are N(0, I). ``per_sequence`` families draw one z per sequence (held
over every step) instead of one per step.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dsae.config import ModelConfig
from dsae.models.base import Encoding, LossTerms, SequentialVAE, TrainPass
from dsae.models.blocks import GaussianHead
from dsae.models.likelihoods import GaussianLikelihood


class LSTMDecoderModel(SequentialVAE):
    """p(f) p(z) prod_t p(x_t | h_t), h_t = LSTM(h_{t-1}, [f, z_t]); z one per step."""

    name = "lstm_decoder"
    per_sequence = False

    def __init__(self, cfg: ModelConfig, frame_shape: tuple[int, ...]):
        super().__init__()
        self.cfg, self.f_dim, self.z_dim = cfg, cfg.f_dim, cfg.z_dim
        self.frame_shape = tuple(frame_shape)
        d = math.prod(self.frame_shape)
        self.features = nn.Sequential(nn.Linear(d, cfg.hidden_dim), nn.LeakyReLU(0.2))
        self.q_f = GaussianHead(cfg.hidden_dim, cfg.f_dim)
        self.q_z = GaussianHead(cfg.hidden_dim, cfg.z_dim)
        self.rnn = nn.LSTM(cfg.f_dim + cfg.z_dim, cfg.hidden_dim, batch_first=True)
        self.out = nn.Linear(cfg.hidden_dim, d)
        self.likelihood = GaussianLikelihood()
        self.log_sigma = nn.Parameter(torch.tensor(math.log(cfg.sigma_x)), requires_grad=False)

    def _posteriors(self, x: torch.Tensor):  # type: ignore[no-untyped-def]
        h = self.features(x.flatten(2))  # (B, T, hidden)
        q_z = self.q_z(h.mean(1, keepdim=True) if self.per_sequence else h)
        return self.q_f(h.mean(1)), q_z

    def _steps(self, z: torch.Tensor, t: int) -> torch.Tensor:
        return z.expand(-1, t, -1) if self.per_sequence else z

    def forward(self, x: torch.Tensor) -> TrainPass:
        q_f, q_z = self._posteriors(x)
        f, z = q_f.rsample(), self._steps(q_z.rsample(), x.shape[1])
        return TrainPass(x_param=self._decode(f, z), q_f=q_f, q_z=q_z, p_z=None, f=f, z=z)

    def loss_terms(
        self, x: torch.Tensor, out: TrainPass, weight: torch.Tensor | None = None
    ) -> LossTerms:
        recon = self.likelihood.nll(x, out.x_param, self.log_sigma, weight)
        return LossTerms(recon=recon, kl_f=out.q_f.kl(), kl_z=out.q_z.kl(out.p_z).sum(-1))

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> Encoding:
        q_f, q_z = self._posteriors(x)
        t = x.shape[1]
        return Encoding(q_f.mean, q_f.logvar, self._steps(q_z.mean, t), self._steps(q_z.logvar, t))

    def _decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        b, t = z.shape[:2]
        h, _ = self.rnn(torch.cat([f.unsqueeze(1).expand(-1, t, -1), z], -1))
        return torch.sigmoid(self.out(h)).view(b, t, *self.frame_shape)

    @torch.no_grad()
    def decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self._decode(f, z)

    @torch.no_grad()
    def sample_f(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.f_dim, generator=generator)

    @torch.no_grad()
    def sample_z(
        self, n: int, steps: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if self.per_sequence:
            return torch.randn(n, 1, self.z_dim, generator=generator).expand(-1, steps, -1)
        return torch.randn(n, steps, self.z_dim, generator=generator)


class PerSequenceLSTMDecoderModel(LSTMDecoderModel):
    """The same with one z per sequence: h_t = LSTM(h_{t-1}, [f, z])."""

    name = "lstm_decoder_seq"
    per_sequence = True
