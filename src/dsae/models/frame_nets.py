"""Frame networks by name: the per-frame encoder x_t -> h_t and decoder (z_t, f) -> x_t of one
kind of frame, and the frame shapes each accepts.

- ``conv``: square images (C, H, W); stride-2 convolutions and transposed convolutions, the
  decoder with its add-ons (FiLM, channel mix, indexed colours: ``dsae.models.decoders``).
- ``mlp``: vectors (D,) such as spectra; multi-layer perceptrons.

A model asks its frame network, never the number of dimensions of a frame.
"""

from __future__ import annotations

from torch import nn

from dsae.config import ModelConfig
from dsae.models.blocks import ConvFrameEncoder, MLPFrameEncoder
from dsae.models.decoders import ConvFrameDecoder, MLPFrameDecoder


class ConvFrames:
    """Square images (C, H, W): convolutional frame networks."""

    name = "conv"
    spatial = True  # frames are images: pixel views and NHWC layouts apply

    def check(self, frame_shape: tuple[int, ...]) -> None:
        if len(frame_shape) != 3:
            raise ValueError(
                f"frame_net conv needs image frames (C, H, W), got frames of shape {frame_shape}: "
                "use frame_net mlp for vectors"
            )
        if frame_shape[1] != frame_shape[2]:
            raise ValueError(f"conv frames must be square, got {frame_shape[1]} x {frame_shape[2]}")

    def encoder(
        self, cfg: ModelConfig, frame_shape: tuple[int, ...], channels: int | None = None
    ) -> nn.Module:
        """x_t -> h_t (N, frame_dim); ``channels`` replaces the frames' own (a 1-channel view)."""
        c, s, _ = frame_shape
        return ConvFrameEncoder(channels or c, s, cfg.channels, cfg.frame_dim, cfg.norm)

    def decoder(self, cfg: ModelConfig, frame_shape: tuple[int, ...], in_dim: int) -> nn.Module:
        c, s, _ = frame_shape
        return ConvFrameDecoder(
            in_dim,
            c,
            s,
            cfg.decoder_channels or cfg.channels,
            cfg.norm,
            film_dim=cfg.f_dim if cfg.decoder_film else 0,
            film_hidden=cfg.film_hidden,
            film_mix=cfg.film_mix_layers if cfg.film_mix else 0,
            colours=cfg.decoder_colours,
            colour_dim=cfg.f_dim,
        )


class MLPFrames:
    """Vectors (D,): multi-layer perceptrons."""

    name = "mlp"
    spatial = False

    def check(self, frame_shape: tuple[int, ...]) -> None:
        if len(frame_shape) != 1:
            raise ValueError(
                f"frame_net mlp needs vector frames (D,), got frames of shape {frame_shape}: "
                "use frame_net conv for images"
            )

    def encoder(
        self, cfg: ModelConfig, frame_shape: tuple[int, ...], channels: int | None = None
    ) -> nn.Module:
        return MLPFrameEncoder(frame_shape[0], cfg.mlp_hidden, cfg.frame_dim)

    def decoder(self, cfg: ModelConfig, frame_shape: tuple[int, ...], in_dim: int) -> nn.Module:
        if cfg.decoder_colours:
            raise ValueError("decoder_colours needs image frames (frame_net conv)")
        return MLPFrameDecoder(in_dim, cfg.mlp_hidden, frame_shape[0])


FRAME_NETS = {"conv": ConvFrames(), "mlp": MLPFrames()}


def frame_net(cfg: ModelConfig, frame_shape: tuple[int, ...]) -> ConvFrames | MLPFrames:
    """The frame networks named by ``cfg.frame_net``, checked against ``frame_shape``."""
    if cfg.frame_net not in FRAME_NETS:
        raise ValueError(f"unknown frame_net {cfg.frame_net!r} ({', '.join(FRAME_NETS)})")
    nets = FRAME_NETS[cfg.frame_net]
    nets.check(tuple(frame_shape))
    return nets


def build_decoder(cfg: ModelConfig, frame_shape: tuple[int, ...], in_dim: int) -> nn.Module:
    """The frame decoder of ``cfg`` for frames of ``frame_shape``, its add-ons chosen by the
    config's keys."""
    if cfg.film_mix and not cfg.decoder_film:
        raise ValueError("film_mix needs decoder_film: true")
    if cfg.film_mix and cfg.film_mix_layers < 1:
        raise ValueError(f"film_mix_layers must be >= 1, got {cfg.film_mix_layers}")
    if cfg.decoder_colours < 0:
        raise ValueError(f"decoder_colours must be >= 0, got {cfg.decoder_colours}")
    if cfg.decoder_colours and cfg.likelihood == "bernoulli":
        raise ValueError("decoder_colours gives pixel means: it needs gaussian or laplace")
    return frame_net(cfg, frame_shape).decoder(cfg, frame_shape, in_dim)


def needs_images(cfg: ModelConfig, frame_shape: tuple[int, ...], what: str) -> None:
    """ValueError unless the frames are images (a pixel view or add-on needs them)."""
    if not frame_net(cfg, frame_shape).spatial:
        raise ValueError(f"{what} needs image frames (frame_net conv)")
