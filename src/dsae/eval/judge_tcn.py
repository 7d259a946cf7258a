"""A second judge of another architecture: residual convolutions over pixels, temporal
convolutions over frames, no recurrence.

A judge's figures are only as trustworthy as the judge; reporting them under two judges
that share no architecture (and are trained independently) shows how much of a figure is
the judge's own bias. :class:`TemporalConvJudge` offers exactly the interface of
:class:`dsae.eval.judge_model.Judge` (the same attributes, ``frame_logits`` and
``forward``), so everything that reads a judge reads this one too.

Architecture. A frame encoder turns x_t into features m_t,p at positions p: for images a
small residual CNN (a 3x3 stride-2 stem, then stages of stride-1 3x3 pre-activation
residual blocks with a 3x3 stride-2 convolution between stages; GroupNorm and ReLU before
every convolution but the stem's, whose output is not normalised; weight-standardised
convolutions; the positions are the h x w cells of its last map), for vector frames an MLP
with a residual block (one position). Static heads read h_t = ReLU(W mean_p m_t,p + b), the
globally average-pooled features (no flatten of the map). Dynamic heads read
u_t = mean_p ReLU(TCN(m_1:T,p)): residual 1-D temporal convolutions over the frames
(kernel 3, dilations 1 and 2, padding that keeps T, so u_t sees 7 frames around t), run at
every position and pooled afterwards. A sequence's logits are the time-average of its frame
logits, as for :class:`~dsae.eval.judge_model.Judge`.

On small datasets like the tests' (moving squares, toy sprites) each of these alternatives
learnt far slower, or not at all, in a few epochs: temporal convolutions over the pooled
features (pooling forgets where things are, and so which way they move); GroupNorm after
every convolution, the stem's included (a small part's colour, such as a toy sprite's skin,
is then normalised with the rest of the frame); convolutions without weight
standardisation (Qiao et al. 2019); a LayerNorm in the temporal blocks.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from dsae.data.modality import modality_for
from dsae.errors import DsaeError
from dsae.eval.judge_model import judge_fields

TCN_CHANNELS = (16, 32, 64)
TCN_DILATIONS = (1, 2)
KERNEL = 3

__all__ = ["TCN_CHANNELS", "TCN_DILATIONS", "TemporalConvJudge"]


def _norm(c: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups that divide ``c`` channels."""
    return nn.GroupNorm(math.gcd(c, 8), c)


class StdConv2d(nn.Conv2d):
    """y = conv(x, (W - mean W) / std W): each filter standardised (weight standardisation)."""

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C_in, H, W) -> (N, C_out, H', W')."""
        w = self.weight
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = w.var(dim=(1, 2, 3), keepdim=True, unbiased=False)
        return self._conv_forward(x, (w - mean) / torch.sqrt(var + 1e-5), self.bias)


class ResidualBlock(nn.Module):
    """y = x + conv3x3(ReLU(GN(conv3x3(ReLU(GN(x)))))): pre-activation, stride 1."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(
            _norm(c), nn.ReLU(), StdConv2d(c, c, 3, 1, 1, bias=False),
            _norm(c), nn.ReLU(), StdConv2d(c, c, 3, 1, 1),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C, H, W) -> (N, C, H, W)."""
        return x + self.body(x)


class ResidualCNN(nn.Module):
    """m = ReLU(stages(stem(x))): C features at each of the h x w positions, not pooled yet."""

    def __init__(self, in_channels: int, channels: tuple[int, ...]):
        super().__init__()
        c0 = channels[0]
        layers: list[nn.Module] = [StdConv2d(in_channels, c0, 3, 2, 1), ResidualBlock(c0)]
        for c_in, c in zip(channels[:-1], channels[1:], strict=True):
            layers += [_norm(c_in), nn.ReLU(), StdConv2d(c_in, c, 3, 2, 1), ResidualBlock(c)]
        self.stages = nn.Sequential(*layers, nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        """x (N, C_in, H, W) -> features per position (N, h * w, C)."""
        return self.stages(x).flatten(2).transpose(1, 2)


class ResidualMLP(nn.Module):
    """m = ReLU(a + W_2 ReLU(W_1 LN(a))) with a = W_0 x: an MLP with one residual block."""

    def __init__(self, dim: int, feature_dim: int, hidden: int = 256):
        super().__init__()
        self.inp = nn.Linear(dim, feature_dim)
        self.body = nn.Sequential(
            nn.LayerNorm(feature_dim), nn.Linear(feature_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, feature_dim),
        )  # fmt: skip
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        """x (N, D) -> features (N, 1, feature_dim): one position."""
        a = self.inp(x)
        return self.act(a + self.body(a)).unsqueeze(1)


class TemporalBlock(nn.Module):
    """u' = u + conv1d_d(ReLU(u)) over time: kernel 3, dilation d, length T kept."""

    def __init__(self, dim: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, KERNEL, padding=dilation * (KERNEL - 1) // 2,
                              dilation=dilation)  # fmt: skip

    def forward(self, u: Tensor) -> Tensor:
        """u (B, T, dim) -> (B, T, dim)."""
        v = torch.relu(u).transpose(1, 2)  # (B, dim, T) for the convolution
        return u + self.conv(v).transpose(1, 2)


class TemporalConvJudge(nn.Module):
    """Factor classifier: static heads on pooled h_t, dynamic on mean_p ReLU(TCN(m_1:T,p))."""

    family = "tcn"
    # the architecture in one line, as reports name it
    summary = "a per-frame residual CNN or MLP, temporal convolutions, no recurrence"

    def __init__(
        self,
        frame_shape: tuple[int, ...],
        static_factors: dict[str, int],
        dynamic_factors: dict[str, int],
        channels: tuple[int, ...] | list[int] = TCN_CHANNELS,
        feature_dim: int = 128,
        hidden_dim: int = 128,
        dilations: tuple[int, ...] | list[int] = TCN_DILATIONS,
    ):
        super().__init__()
        modality = modality_for(frame_shape)  # image (H, W, C) or vector (D,) frames
        if not static_factors and not dynamic_factors:
            raise DsaeError("the dataset has no labelled factors to judge")
        if not channels or min(channels) <= 0 or not dilations or min(dilations) <= 0:
            raise DsaeError(
                f"judge channels and dilations must be positive, got {list(channels)} and "
                f"{list(dilations)}"
            )
        self.arch = judge_fields(
            self, frame_shape, static_factors, dynamic_factors, channels, feature_dim, hidden_dim
        )
        self.arch["dilations"] = [int(d) for d in dilations]
        self.is_image = modality.name == "image"
        if self.is_image:
            self.frame_encoder: nn.Module = ResidualCNN(self.frame_shape[2], tuple(channels))
            enc_dim = int(channels[-1])
        else:
            self.frame_encoder = ResidualMLP(self.frame_shape[0], feature_dim)
            enc_dim = feature_dim
        self.frame_out = nn.Sequential(nn.Linear(enc_dim, feature_dim), nn.ReLU())
        self.temporal_in = nn.Linear(enc_dim, hidden_dim)
        self.temporal = nn.Sequential(*(TemporalBlock(hidden_dim, d) for d in dilations))
        self.static_heads = nn.ModuleDict(
            {k: nn.Linear(feature_dim, n) for k, n in static_factors.items()}
        )
        self.dynamic_heads = nn.ModuleDict(
            {k: nn.Linear(hidden_dim, n) for k, n in dynamic_factors.items()}
        )

    @classmethod
    def from_arch(cls, arch: dict[str, Any]) -> TemporalConvJudge:
        """The judge (untrained weights) that ``arch`` describes, as saved in a judge file."""
        return cls(
            frame_shape=tuple(arch["frame_shape"]),
            static_factors=dict(arch["static_factors"]),
            dynamic_factors=dict(arch["dynamic_factors"]),
            channels=list(arch["channels"]),
            feature_dim=int(arch["feature_dim"]),
            hidden_dim=int(arch["hidden_dim"]),
            dilations=list(arch["dilations"]),
        )

    def frame_logits(self, x: Tensor) -> dict[str, Tensor]:
        """x (B, T, *model frame shape) -> logits (B, T, K) per factor, one per frame."""
        b, t = x.shape[:2]
        m = self.frame_encoder(x.reshape(b * t, *x.shape[2:]))  # (B * T, S positions, C)
        s = m.shape[1]
        h = self.frame_out(m.mean(dim=1)).view(b, t, -1)  # h_t: (B, T, feature_dim)
        out = {k: head(h) for k, head in self.static_heads.items()}
        if self.dynamic_heads:  # a sequence over time at every position, pooled afterwards
            v = self.temporal_in(m).view(b, t, s, -1).transpose(1, 2).reshape(b * s, t, -1)
            u = torch.relu(self.temporal(v)).view(b, s, t, -1).mean(dim=1)  # (B, T, H)
            out.update({k: head(u) for k, head in self.dynamic_heads.items()})
        return out

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """x (B, T, *model frame shape) -> sequence logits (B, K) per factor."""
        return {k: v.mean(dim=1) for k, v in self.frame_logits(x).items()}
