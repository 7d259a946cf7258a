"""Building blocks: Gaussians, Gaussian heads and frame encoders.

Frames are (B*T, C, H, W) images or (B*T, D) vectors; each block works on one frame at a
time, so sequence models fold time into the batch before calling them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Gaussian:
    """A diagonal Gaussian N(mean, exp(logvar))."""

    mean: torch.Tensor
    logvar: torch.Tensor

    def rsample(self) -> torch.Tensor:
        return self.mean + torch.randn_like(self.mean) * torch.exp(0.5 * self.logvar)

    def detach(self) -> Gaussian:
        return Gaussian(self.mean.detach(), self.logvar.detach())

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """A draw without gradient, from ``generator`` when given."""
        eps = torch.randn(self.mean.shape, generator=generator, dtype=self.mean.dtype)
        return self.mean + eps * torch.exp(0.5 * self.logvar)

    def kl(self, other: Gaussian | None = None) -> torch.Tensor:
        """KL(self || other) in closed form, summed over the last dim; other = N(0, I) if None."""
        if other is None:
            return 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar).sum(-1)
        return 0.5 * (
            other.logvar
            - self.logvar
            + (self.logvar.exp() + (self.mean - other.mean).pow(2)) * torch.exp(-other.logvar)
            - 1.0
        ).sum(-1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log N(x; mean, exp(logvar)) summed over the last dim."""
        sq = (x - self.mean).pow(2) * torch.exp(-self.logvar)
        return -0.5 * (sq + self.logvar + math.log(2 * math.pi)).sum(-1)


class GaussianHead(nn.Module):
    """h -> (mean, log variance) of a diagonal Gaussian."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.proj = nn.Linear(in_dim, 2 * out_dim)

    def forward(self, h: torch.Tensor) -> Gaussian:
        # float32 out, also under bfloat16 autocast: the KL terms are sums of these
        mean, logvar = self.proj(h).float().chunk(2, dim=-1)
        return Gaussian(mean, logvar.clamp(-12.0, 8.0))

    @torch.no_grad()
    def start_logvar(self, value: float) -> None:
        """Start log sigma^2 at ``value`` for every input (its weights 0, its bias the value)."""
        half = self.proj.out_features // 2
        self.proj.weight[half:].zero_()
        self.proj.bias[half:].fill_(value)


def norm2d(kind: str, c: int) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(c)
    if kind == "group":
        return nn.GroupNorm(min(8, c), c)
    raise ValueError(f"unknown norm {kind!r} (none, batch, group)")


def conv_out_size(image_size: int, n_layers: int) -> int:
    """Spatial size after ``n_layers`` stride-2 convolutions."""
    s = image_size
    for _ in range(n_layers):
        s //= 2
    return s


class ConvFrameEncoder(nn.Module):
    """x_t -> h_t: stride-2 convolutions then a linear layer."""

    def __init__(
        self, in_channels: int, image_size: int, channels: list[int], out_dim: int, norm: str
    ):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for c in channels:
            layers += [
                nn.Conv2d(c_in, c, 4, 2, 1, bias=norm == "none"),
                norm2d(norm, c),
                nn.LeakyReLU(0.2),
            ]
            c_in = c
        self.convs = nn.Sequential(*layers)
        s = conv_out_size(image_size, len(channels))
        if s < 1 or image_size % (2 ** len(channels)):
            raise ValueError(
                f"image size {image_size} is not divisible by 2^{len(channels)} (one halving "
                "per conv layer): use fewer model.channels"
            )
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c_in * s * s, out_dim), nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (N, C, H, W) -> (N, out_dim)
        return self.fc(self.convs(x))


def mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """in -> hidden -> hidden -> out: linear layers with LeakyReLU(0.2) between them."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, out_dim),
    )


def mlp_features(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """in -> hidden -> out, each linear layer followed by LeakyReLU(0.2): features."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, out_dim), nn.LeakyReLU(0.2)
    )


class MLPFrameEncoder(nn.Module):
    """x_t -> h_t for vector frames (e.g. spectra)."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.net = mlp_features(in_dim, hidden, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
