"""Input views: what each posterior reads, chosen by name.

Static readers (``model.static_encoder``) give q(f | x_1:T): ``lstm`` (a bi-LSTM over the
frame features, Li & Mandt 2018), ``mean`` (an average of per-frame features: blind to
frame order), ``palette`` (which quantised colours occur: blind to the pose) and ``local``
(learnt features of small patches pooled over the frame: what it is made of, not where).
Dynamic inputs (``model.dynamic_input``) are the frame features q(z_t | .) reads: ``frames``
(the shared features h_t), ``luminance`` (a colour-free frame), ``silhouette`` (the
figure's mask over a black background), ``figure`` (the mask of what differs from the
frame's background colour, whatever it is), ``recolour`` (the colour frames through an
encoder of their own, recoloured at random in training), ``remix`` (likewise, each channel a
random mix of the channels at a random power) and, for vector frames such as
spectra, ``envelope`` (each frame smoothed along its feature axis: a spectrum's envelope
without the pitch harmonics) and ``contour`` (the envelope minus its mean over the
sequence). The frame subset
(``model.static_frames``) shows q(f | x) k random frames in training. The last ones are
augmentations in the spirit of C-DSVAE's content- and motion-preserving views, applied to
the encoders' inputs instead of extra passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from dsae.config import ModelConfig
from dsae.models.base import random_frames, take_frames
from dsae.models.blocks import Gaussian, GaussianHead
from dsae.models.frame_nets import FRAME_NETS, needs_images

SILHOUETTE_THRESHOLD = 0.02  # silhouette: figure pixels over a black background

Fold = Callable[[torch.Tensor], torch.Tensor]  # (B, T, ...) -> (B*T, ...) for frame networks


class StaticEncoder(nn.Module):
    """q(f | x_1:T): a bidirectional LSTM over frame features, read at both ends."""

    reads = "features"

    def __init__(self, frame_dim: int, hidden_dim: int, f_dim: int):
        super().__init__()
        self.lstm = nn.LSTM(frame_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.head = GaussianHead(2 * hidden_dim, f_dim)

    def forward(self, h: torch.Tensor) -> Gaussian:  # h: (B, T, frame_dim)
        out, _ = self.lstm(h)
        hd = out.shape[-1] // 2
        summary = torch.cat([out[:, -1, :hd], out[:, 0, hd:]], dim=-1)
        return self.head(summary)


class MeanStaticEncoder(nn.Module):
    """q(f | x_1:T): an MLP on each frame's features, averaged over the frames it reads."""

    reads = "features"

    def __init__(self, frame_dim: int, hidden_dim: int, f_dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(frame_dim, hidden_dim), nn.LeakyReLU(0.2))
        self.head = GaussianHead(hidden_dim, f_dim)

    def forward(self, h: torch.Tensor) -> Gaussian:  # h: (B, T, frame_dim)
        return self.head(self.net(h).mean(1))


class PaletteStaticEncoder(nn.Module):
    """q(f | x_1:T) from the palette: an MLP on which quantised colours occur in the frames.

    Every channel is cut into ``levels`` equal bins, so a pixel falls into one of
    levels^C colour cells; the encoder sees, per cell, only whether any pixel of the frames
    it reads falls there (not where, nor how many). A content view that keeps appearance
    and hides almost all of the pose; it has no parameters before the MLP.
    """

    reads = "pixels"

    def __init__(self, in_channels: int, hidden_dim: int, f_dim: int, levels: int = 8):
        super().__init__()
        self.levels = levels
        self.cells = levels**in_channels
        self.net = nn.Sequential(nn.Linear(self.cells, hidden_dim), nn.LeakyReLU(0.2))
        self.head = GaussianHead(hidden_dim, f_dim)

    def palette(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) in [0, 1] -> (B, levels^C) 0/1 presence of each colour cell."""
        b, c = x.shape[0], x.shape[2]
        # the cell index fits int32 and x >= 0 truncates to the floor: int32 halves the traffic
        q = (x.detach() * self.levels).clamp_(0, self.levels - 1).to(torch.int32)
        code = q[:, :, 0]
        for i in range(1, c):
            code = code * self.levels + q[:, :, i]
        out = torch.zeros(b, self.cells, device=x.device, dtype=x.dtype)
        return out.scatter_(1, code.reshape(b, -1).long(), 1.0)

    def forward(self, x: torch.Tensor) -> Gaussian:  # x: (B, T, C, H, W)
        return self.head(self.net(self.palette(x)))


class LocalStaticEncoder(nn.Module):
    """q(f | x_1:T) from what the frames are made of, not where: features of 4 x 4 patches
    (a stride-2 convolution, then a 1 x 1 one), their mean and maximum over each frame,
    averaged over the frames it reads, then an MLP. Learnt from the pixels, like the frame
    encoder, but with a receptive field too small to see a pose."""

    reads = "pixels"

    def __init__(self, in_channels: int, hidden_dim: int, f_dim: int):
        super().__init__()
        width = max(16, hidden_dim // 2)
        self.patches = nn.Sequential(
            nn.Conv2d(in_channels, width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, width, 1),
            nn.LeakyReLU(0.2),
        )
        self.net = nn.Sequential(nn.Linear(2 * width, hidden_dim), nn.LeakyReLU(0.2))
        self.head = GaussianHead(hidden_dim, f_dim)

    def forward(self, x: torch.Tensor) -> Gaussian:  # x: (B, T, C, H, W)
        b, t = x.shape[:2]
        maps = self.patches(x.reshape(b * t, *x.shape[2:])).flatten(2)  # (B*T, width, HW/4)
        pooled = torch.cat([maps.mean(-1), maps.amax(-1)], dim=-1).view(b, t, -1)
        return self.head(self.net(pooled.mean(1)))


def envelope(x: torch.Tensor, k: int) -> torch.Tensor:
    """(B, T, D) vector frames smoothed by a moving average of k neighbouring features
    (edges replicated): for log spectra, the envelope without the pitch harmonics."""
    b, t, d = x.shape
    padded = nn.functional.pad(x.reshape(b * t, 1, d), (k // 2, k // 2), mode="replicate")
    return nn.functional.avg_pool1d(padded, k, stride=1).view(b, t, d)


class HarmonicsStaticEncoder(nn.Module):
    """q(f | x_1:T) from each vector frame minus its envelope (``envelope``): for log
    spectra the harmonic fine structure (the pitch: who speaks) without the formants (what
    is said), through its own MLP and a bi-LSTM read at both ends."""

    reads = "pixels"

    def __init__(self, cfg: ModelConfig, frame_shape: tuple[int, ...]):
        super().__init__()
        self.k = _odd_bins(cfg.envelope_bins)
        self.frames = FRAME_NETS["mlp"].encoder(cfg, frame_shape)
        self.reader = StaticEncoder(cfg.frame_dim, cfg.hidden_dim, cfg.f_dim)
        self.head = self.reader.head

    def forward(self, x: torch.Tensor) -> Gaussian:  # x: (B, T, D)
        b, t = x.shape[:2]
        residual = x - envelope(x, self.k)
        return self.reader(self.frames(residual.reshape(b * t, -1)).view(b, t, -1))


def _odd_bins(k: int) -> int:
    if k < 1 or k % 2 == 0:
        raise ValueError(f"envelope_bins must be odd and positive, got {k}")
    return k


STATIC_READERS: dict[str, type[nn.Module]] = {
    "lstm": StaticEncoder,
    "mean": MeanStaticEncoder,
    "palette": PaletteStaticEncoder,
    "local": LocalStaticEncoder,
    "harmonics": HarmonicsStaticEncoder,
}


def build_static_reader(cfg: ModelConfig, frame_shape: tuple[int, ...]) -> nn.Module:
    """q(f | x_1:T) of ``cfg.static_encoder``; ``reads`` says whether it takes features or pixels."""
    if cfg.static_encoder not in STATIC_READERS:
        raise ValueError(
            f"unknown static_encoder {cfg.static_encoder!r} ({', '.join(STATIC_READERS)})"
        )
    if cfg.static_encoder == "palette":
        needs_images(cfg, frame_shape, "static_encoder palette")
        if cfg.palette_levels < 2:
            raise ValueError(f"palette_levels must be >= 2, got {cfg.palette_levels}")
        return PaletteStaticEncoder(frame_shape[0], cfg.hidden_dim, cfg.f_dim, cfg.palette_levels)
    if cfg.static_encoder == "local":
        needs_images(cfg, frame_shape, "static_encoder local")
        return LocalStaticEncoder(frame_shape[0], cfg.hidden_dim, cfg.f_dim)
    if cfg.static_encoder == "harmonics":
        if len(frame_shape) != 1:
            raise ValueError("static_encoder harmonics needs vector frames (frame_net mlp)")
        return HarmonicsStaticEncoder(cfg, frame_shape)
    return STATIC_READERS[cfg.static_encoder](cfg.frame_dim, cfg.hidden_dim, cfg.f_dim)


class FrameSubset:
    """The frames q(f | x) reads: all, or (training, k > 0) k random ones per sequence in
    time order, a content-preserving augmentation."""

    def __init__(self, k: int):
        if k < 0:
            raise ValueError(f"static_frames must be >= 0, got {k}")
        self.k = k

    def __call__(self, h: torch.Tensor, training: bool) -> torch.Tensor:  # (B, T, ...)
        b, t = h.shape[:2]
        if not training or self.k <= 0 or self.k >= t:
            return h
        return take_frames(h, random_frames(b, t, self.k, h.device))


def posterior_inputs(
    x: torch.Tensor,
    training: bool,
    subset: FrameSubset,
    reader: nn.Module,
    dynamic: nn.Module,
    features: Callable[[torch.Tensor], torch.Tensor] | None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """What q(f | x) reads (``subset`` of the frames in training) and the shared features
    h_1:T that q(z_t | .) reads (None when it has its own view). ``features`` maps frames
    (B, T, ...) to h (B, T, frame_dim); when only q(f) reads h, it sees only the frames in
    the subset, not every frame."""
    h = features(x) if dynamic.uses_shared and features is not None else None
    if reader.reads == "pixels":
        return subset(x, training), h
    if h is not None:
        return subset(h, training), h
    assert features is not None
    return features(subset(x, training)), None


class FramesInput(nn.Module):
    """q(z_t | .) reads the shared frame features h_t."""

    uses_shared = True

    def forward(self, x: torch.Tensor, h: torch.Tensor | None, fold: Fold) -> torch.Tensor:
        assert h is not None
        return h


class ImageViewInput(nn.Module):
    """q(z_t | .) reads ``view(x)`` of the image frames through its own conv encoder (of
    ``view_channels`` input channels; None: the frames' own)."""

    uses_shared = False
    view_channels: int | None = None

    def __init__(self, cfg: ModelConfig, frame_shape: tuple[int, ...]):
        super().__init__()
        kw = {} if self.view_channels is None else {"channels": self.view_channels}
        self.encoder = FRAME_NETS["conv"].encoder(cfg, frame_shape, **kw)

    def view(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, h: torch.Tensor | None, fold: Fold) -> torch.Tensor:
        b, t = x.shape[:2]
        return self.encoder(fold(self.view(x))).view(b, t, -1)


class LuminanceInput(ImageViewInput):
    """q(z_t | .) reads a one-channel frame sum_c w_c x_c through its own encoder, with
    w_c ~ U(0.2, 1) normalised to sum 1 per sequence in training (no part of a figure goes
    dark) and w = 1/C otherwise: it keeps the motion and hides colour from z."""

    view_channels = 1

    def view(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C, H, W) -> (B, T, 1, H, W)
        b, c = x.shape[0], x.shape[2]
        if self.training:
            w = 0.2 + 0.8 * torch.rand(b, 1, c, 1, 1, device=x.device, dtype=x.dtype)
            w = w / w.sum(2, keepdim=True)
        else:
            w = torch.full((1, 1, c, 1, 1), 1.0 / c, device=x.device, dtype=x.dtype)
        return (x * w).sum(2, keepdim=True)


class SilhouetteInput(LuminanceInput):
    """q(z_t | .) reads the figure's mask (1 where any channel exceeds SILHOUETTE_THRESHOLD
    over a black background): the shape and pose, no colour nor shading inside."""

    def view(self, x: torch.Tensor) -> torch.Tensor:
        return (x.amax(2, keepdim=True) > SILHOUETTE_THRESHOLD).to(x.dtype)


class FigureInput(LuminanceInput):
    """q(z_t | .) reads the mask of the pixels that differ by more than SILHOUETTE_THRESHOLD in
    any channel from the frame's background colour, taken per channel as the median of its
    four corner pixels: a silhouette on any plain background, with no colour nor brightness."""

    def view(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C, H, W) -> (B, T, 1, H, W)
        corners = torch.stack(
            [x[..., 0, 0], x[..., 0, -1], x[..., -1, 0], x[..., -1, -1]], dim=-1
        )  # (B, T, C, 4)
        background = corners.median(dim=-1).values[..., None, None]
        return ((x - background).abs().amax(2, keepdim=True) > SILHOUETTE_THRESHOLD).to(x.dtype)


class RecolourInput(ImageViewInput):
    """q(z_t | .) reads the colour frames through its own encoder, recoloured in training by a
    random map per sequence, x_c <- g_c x_pi(c) (pi a permutation of the channels, gains
    g_c ~ U(0.4, 1)), and as they are otherwise: an augmentation, not a view, that leaves the
    shapes, the pose and the dark background in place while no colour means one thing to z."""

    def view(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C, H, W) -> (B, T, C, H, W)
        if not self.training:
            return x
        b, c = x.shape[0], x.shape[2]
        perm = torch.rand(b, c, device=x.device).argsort(1)  # (B, C): pi per sequence
        gains = 0.4 + 0.6 * torch.rand(b, 1, c, 1, 1, device=x.device, dtype=x.dtype)
        picked = x.gather(2, perm.view(b, 1, c, 1, 1).expand(-1, x.shape[1], -1, *x.shape[3:]))
        return picked * gains


class RemixInput(ImageViewInput):
    """q(z_t | .) reads the colour frames through its own encoder, remixed in training by a
    random map per sequence, x_c <- (sum_d m_cd x_d)^gamma_c (m_cd ~ U(0, 1) scaled so each
    row sums to 1, log gamma_c ~ U(-log 2, log 2)), and by the map's middle otherwise (every
    channel the mean of the channels): an augmentation that keeps the shapes, the pose and
    the dark background while the colours, and which of two is the brighter, change from
    sequence to sequence."""

    def view(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C, H, W) -> (B, T, C, H, W)
        b, c = x.shape[0], x.shape[2]
        if not self.training:
            return x.mean(2, keepdim=True).expand_as(x)
        m = torch.rand(b, c, c, device=x.device, dtype=x.dtype)
        m = m / m.sum(-1, keepdim=True)
        log_gamma = torch.empty(b, 1, c, 1, 1, device=x.device, dtype=x.dtype)
        log_gamma.uniform_(-math.log(2), math.log(2))
        mixed = torch.einsum("bcd,btdhw->btchw", m, x).clamp(0, 1)
        return mixed.pow(log_gamma.exp())


class EnvelopeInput(nn.Module):
    """q(z_t | .) reads each vector frame smoothed by a moving average of
    ``cfg.envelope_bins`` neighbouring features, through its own MLP: for log spectra the
    envelope (formants: what is said) without the harmonics of the pitch (who says it)."""

    uses_shared = False

    def __init__(self, cfg: ModelConfig, frame_shape: tuple[int, ...]):
        super().__init__()
        self.k = _odd_bins(cfg.envelope_bins)
        self.encoder = FRAME_NETS["mlp"].encoder(cfg, frame_shape)

    def view(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, T, D)
        return envelope(x, self.k)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None, fold: Fold) -> torch.Tensor:
        b, t = x.shape[:2]
        return self.encoder(fold(self.view(x))).view(b, t, -1)


class ContourInput(EnvelopeInput):
    """q(z_t | .) reads each frame's envelope minus the envelope's mean over the sequence
    (as cepstral mean normalisation does for speech): how the envelope moves, not where
    it sits, so a voice's constant colouring is left to f."""

    def view(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, T, D)
        env = envelope(x, self.k)
        return env - env.mean(dim=1, keepdim=True)


DYNAMIC_INPUTS: dict[str, type[nn.Module]] = {
    "frames": FramesInput,
    "luminance": LuminanceInput,
    "silhouette": SilhouetteInput,
    "figure": FigureInput,
    "recolour": RecolourInput,
    "remix": RemixInput,
    "envelope": EnvelopeInput,
    "contour": ContourInput,
}
VECTOR_INPUTS = ("envelope", "contour")  # dynamic inputs that read vector frames


def build_dynamic_input(cfg: ModelConfig, frame_shape: tuple[int, ...]) -> nn.Module:
    """The input view of q(z_t | .) named by ``cfg.dynamic_input``."""
    kind = cfg.dynamic_input
    if kind not in DYNAMIC_INPUTS:
        raise ValueError(f"unknown dynamic_input {kind!r} ({', '.join(DYNAMIC_INPUTS)})")
    if kind == "frames":
        return FramesInput()
    if kind in VECTOR_INPUTS:
        if len(frame_shape) != 1:
            raise ValueError(f"dynamic_input {kind} needs vector frames (frame_net mlp)")
        return DYNAMIC_INPUTS[kind](cfg, frame_shape)
    needs_images(cfg, frame_shape, f"dynamic_input {kind}")
    return DYNAMIC_INPUTS[kind](cfg, frame_shape)
