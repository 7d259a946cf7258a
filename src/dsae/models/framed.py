"""What every family that reads and draws frames shares: the frames' layout for the frame
networks, p(x_t | .) from the decoder's output, the training pass's choice of decoded
frames, and p(f) = N(0, I).

:class:`FramedVAE` holds methods only: a family builds its own networks (their order fixes
the initialisation and the checkpoint's keys) and names them ``frame_encoder`` (optional),
``decoder``, ``likelihood`` and ``log_sigma``, with ``cfg``, ``frame_shape``, ``f_dim``,
``is_image`` and ``_channels_last``.
"""

from __future__ import annotations

import torch
from torch import nn

from dsae.config import ModelConfig
from dsae.models.base import SequentialVAE, TrainPass, random_frames, take_frames
from dsae.models.likelihoods import LIKELIHOODS

WIDE_SIGMOID_MARGIN = 0.05  # e of the wide sigmoid: its range is (-e, 1 + e)


def wide_sigmoid(o: torch.Tensor) -> torch.Tensor:
    """(1 + 2e) sigmoid(o) - e: a sigmoid whose range overshoots [0, 1] by e each side, so
    0 and 1 are reached at finite o (about -+3 for e = 0.05); a pixel at 0 stops pulling o
    down there, where a sigmoid's pull toward 0 never ends."""
    e = WIDE_SIGMOID_MARGIN
    return torch.sigmoid(o) * (1 + 2 * e) - e


# image pixel means from the decoder output o (gaussian and laplace likelihoods)
MEAN_ACTIVATIONS = {
    "sigmoid": torch.sigmoid,  # 1 / (1 + e^-o)
    "wide_sigmoid": wide_sigmoid,  # (1 + 2e) / (1 + e^-o) - e
    "linear": lambda o: o,  # o
    "softplus": nn.functional.softplus,  # log(1 + e^o)
}


def check_output(cfg: ModelConfig) -> None:
    """ValueError unless the likelihood, mean activation and decoded frames fit together."""
    if cfg.likelihood not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {cfg.likelihood!r} (gaussian, laplace, bernoulli)")
    if cfg.mean_activation not in MEAN_ACTIVATIONS:
        raise ValueError(
            f"unknown mean_activation {cfg.mean_activation!r} ({', '.join(MEAN_ACTIVATIONS)})"
        )
    if cfg.mean_activation != "sigmoid" and cfg.likelihood == "bernoulli":
        raise ValueError(
            f"mean_activation {cfg.mean_activation} gives pixel means: it needs gaussian or laplace"
        )
    if cfg.decode_frames < 0:
        raise ValueError(f"decode_frames must be >= 0, got {cfg.decode_frames}")


def log_scale(cfg: ModelConfig) -> nn.Parameter:
    """log sigma_x of p(x_t | .) (b for Laplace), learnt when ``cfg.learn_sigma``."""
    return nn.Parameter(
        torch.tensor(float(torch.log(torch.tensor(cfg.sigma_x)))), requires_grad=cfg.learn_sigma
    )


class FramedVAE(SequentialVAE):
    """Shared methods of the families with frame networks (see the module docstring)."""

    cfg: ModelConfig
    is_image: bool
    _channels_last: bool = False

    # -- layout -------------------------------------------------------------------------
    def _frames_in(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, *frame) -> (B*T, *frame) for the frame networks."""
        flat = x.reshape(-1, *x.shape[2:])
        if self.is_image and self._channels_last:
            flat = flat.contiguous(memory_format=torch.channels_last)
        return flat

    def use_channels_last(self, on: bool = True) -> FramedVAE:
        """Keep conv weights and activations in NHWC layout (faster on CPU)."""
        self._channels_last = on and self.is_image
        if self._channels_last:
            self.to(memory_format=torch.channels_last)
        return self

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 2 + len(self.frame_shape) or tuple(x.shape[2:]) != self.frame_shape:
            raise ValueError(
                f"expected input of shape (B, T, {', '.join(map(str, self.frame_shape))}), "
                f"got {tuple(x.shape)}"
            )

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """x_1:T -> h_1:T: (B, T, frame_dim)."""
        b, t = x.shape[:2]
        return self.frame_encoder(self._frames_in(x)).view(b, t, -1)

    # -- p(x_t | .) -----------------------------------------------------------------------
    def decode_param(self, f: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """(f, h_1:T) -> parameters of p(x_t | h_t, f): (B, T, *frame); h_t is z_t or a
        rollout's state."""
        b, t = h.shape[:2]
        fh = torch.cat([f.unsqueeze(1).expand(-1, t, -1), h], dim=-1).reshape(b * t, -1)
        out = self.decoder(fh).float()  # float32 also under bfloat16 autocast (the likelihood)
        if self._mean_link:
            out = MEAN_ACTIVATIONS[self.cfg.mean_activation](out)
        return out.reshape(b, t, *out.shape[1:])

    @property
    def _mean_link(self) -> bool:
        """Whether the decoder output goes through ``mean_activation`` to give pixel means."""
        return (
            self.is_image and self.cfg.likelihood != "bernoulli" and not self.decoder.outputs_mean
        )

    def frame_mean(self, param: torch.Tensor) -> torch.Tensor:
        """The mean of p(x_t | .) in data space (images in [0, 1]) from its parameters."""
        out = self.likelihood.mean(param)
        if self._mean_link and self.cfg.mean_activation != "sigmoid":
            out = out.clamp(0, 1)
        return out.contiguous()

    def decoded_frames(self, b: int, t: int, device: torch.device) -> torch.Tensor | None:
        """(B, k) distinct random frame indices per sequence in time order (training with
        ``decode_frames`` = k), or None (all frames; always in eval mode)."""
        k = self.cfg.decode_frames
        if not self.training or k <= 0 or k >= t:
            return None
        return random_frames(b, t, k, device)

    def frames_nll(
        self, x: torch.Tensor, out: TrainPass, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        """-log p(x | .) per sequence: (B,); with decoded frames, theirs scaled by T / k."""
        if out.frames is None:
            return self.likelihood.nll(x, out.x_param, self.log_sigma, weight)
        t, k = x.shape[1], out.frames.shape[1]
        x = take_frames(x, out.frames)
        weight = None if weight is None else take_frames(weight, out.frames)
        return self.likelihood.nll(x, out.x_param, self.log_sigma, weight) * (t / k)

    # -- p(f) -----------------------------------------------------------------------------
    @torch.no_grad()
    def sample_f(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """f ~ p(f) = N(0, I): (n, f_dim)."""
        return torch.randn(n, self.f_dim, generator=generator)
