"""Frame decoders: (z_t, f) -> parameters of p(x_t | z_t, f), by frame kind.

The conv decoder takes add-on parts that let f reach more than its first layer: FiLM
(f scales and shifts every hidden feature map; Perez et al. 2018), a FiLM channel mix
(a matrix of f mixes the last hidden maps' channels) and indexed colours (each pixel a
softmax over a palette made from f alone). Each is off by default and starts as the
identity where it can, so the plain decoder of Li & Mandt (2018) is the default.
"""

from __future__ import annotations

import torch
from torch import nn

from dsae.models.blocks import conv_out_size, mlp, norm2d


class ConvFrameDecoder(nn.Module):
    """(z_t, f) -> parameters of p(x_t | z_t, f): linear then stride-2 transposed convs.

    With ``film_dim`` = d > 0 the first d inputs (f) also scale and shift every hidden
    feature map channel by channel, h <- h (1 + gamma(f)) + beta(f) (FiLM), so the
    appearance reaches each resolution directly instead of only through the first layer.
    With ``film_hidden`` = H > 0, gamma and beta come from an MLP with one hidden layer of
    width H (nonlinear in f) instead of a linear map.
    With ``film_mix`` = k > 0 (needs ``film_dim``) the last k hidden feature maps are also
    mixed across channels by a matrix of f, h <- h + A(f) h with A(f) = reshape(W f + b)
    (C x C), so each channel's colour in the output can depend on f, not only its strength
    (zero at start).

    With ``colours`` = K > 0 the output is indexed colour: the last layer gives each pixel
    logits over K colours, and the pixel is x = sum_k softmax(logits)_k c_k(f), where the
    palette c_1..c_K in [0, 1]^C is a function of the first ``colour_dim`` inputs (f) alone.
    The output is then already a mean in [0, 1] (``outputs_mean``), colours come from f
    only, and a small region gets its exact colour as soon as the right slot wins there.
    """

    def __init__(
        self,
        in_dim: int,
        out_channels: int,
        image_size: int,
        channels: list[int],
        norm: str,
        film_dim: int = 0,
        colours: int = 0,
        colour_dim: int = 0,
        film_hidden: int = 0,
        film_mix: int = 0,
    ):
        super().__init__()
        if film_hidden < 0:
            raise ValueError(f"film_hidden must be >= 0, got {film_hidden}")
        if film_mix and film_dim <= 0:
            raise ValueError("film_mix needs film_dim > 0 (f modulates the decoder)")
        if not 0 <= film_mix <= len(channels) - 1:
            raise ValueError(f"film_mix must be in [0, {len(channels) - 1}], got {film_mix}")
        if colours < 0 or (colours > 0 and not 0 < colour_dim <= in_dim):
            raise ValueError("colours needs colours > 0 and 0 < colour_dim <= in_dim")
        rev = list(reversed(channels))
        self.s = conv_out_size(image_size, len(channels))
        self.c0 = rev[0]
        self.film_dim = film_dim
        self.fc = nn.Sequential(nn.Linear(in_dim, rev[0] * self.s * self.s), nn.LeakyReLU(0.2))
        layers: list[nn.Module] = []
        for c_in, c_out in zip(rev[:-1], rev[1:], strict=True):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=norm == "none"),
                norm2d(norm, c_out),
                nn.LeakyReLU(0.2),
            ]
        layers.append(nn.ConvTranspose2d(rev[-1], colours or out_channels, 4, 2, 1))
        self.deconvs = nn.Sequential(*layers)
        self.out_channels, self.colours, self.colour_dim = out_channels, colours, colour_dim
        self.outputs_mean = colours > 0
        if colours:  # c_k(f): (N, K, C) in [0, 1]
            self.palette = nn.Linear(colour_dim, colours * out_channels)
        self.widths = rev[1:]
        self.film: nn.Module | None = None
        if film_dim > 0:
            out = nn.Linear(film_hidden or film_dim, 2 * sum(self.widths))
            nn.init.zeros_(out.weight)  # starts as the identity
            nn.init.zeros_(out.bias)
            self.film = (
                nn.Sequential(nn.Linear(film_dim, film_hidden), nn.LeakyReLU(0.2), out)
                if film_hidden
                else out
            )
        self.mix: nn.Linear | None = None
        self.mixed = self.widths[len(self.widths) - film_mix :] if film_mix else []
        if film_mix:  # A(f): (N, C, C) for each mixed hidden width C; starts at zero
            self.mix = nn.Linear(film_dim, sum(c * c for c in self.mixed))
            nn.init.zeros_(self.mix.weight)
            nn.init.zeros_(self.mix.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # h: (N, in_dim) -> (N, C, H, W)
        x = self.fc(h).view(-1, self.c0, self.s, self.s)
        if self.film is None:
            out = self.deconvs(x)
        else:
            mods = self.film(h[:, : self.film_dim]).split([w for w in self.widths for _ in "gb"], 1)
            layers = list(self.deconvs)
            first_mixed = len(self.widths) - len(self.mixed)
            mats = (
                self.mix(h[:, : self.film_dim]).split([c * c for c in self.mixed], 1)
                if self.mix is not None
                else ()
            )
            for i in range(len(self.widths)):
                for layer in layers[3 * i : 3 * i + 3]:
                    x = layer(x)
                gamma, beta = mods[2 * i], mods[2 * i + 1]
                if i >= first_mixed:
                    x = self.modulate_and_mix(x, 1 + gamma, beta, mats[i - first_mixed])
                else:
                    x = x * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]
            out = layers[-1](x)
        if not self.colours:
            return out
        return self.index_colours(out, self.colour_palette(h))

    @staticmethod
    def modulate_and_mix(
        x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, a: torch.Tensor
    ) -> torch.Tensor:
        """(I + A)(h s + b) per pixel, as one batched matmul of the pixel rows, h^T diag(s)
        (I + A)^T + b^T (I + A)^T, instead of four passes over the map. (N, C, H, W),
        (N, C), (N, C), (N, C * C) -> (N, C, H, W); a channels-last x stays channels-last."""
        n, c, hh, ww = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(n, hh * ww, c)  # a view when channels-last
        m = (a.view(n, c, c) + torch.eye(c, dtype=a.dtype, device=a.device)).transpose(1, 2)
        offset = torch.bmm(shift[:, None, :], m)  # ((I + A) b)^T
        out = torch.baddbmm(offset, rows, scale[:, :, None] * m)
        return out.view(n, hh, ww, c).permute(0, 3, 1, 2)

    def colour_palette(self, h: torch.Tensor) -> torch.Tensor:
        """c_1..c_K(f): (N, K, C) in [0, 1] from the first ``colour_dim`` inputs."""
        c = self.palette(h[:, : self.colour_dim]).view(-1, self.colours, self.out_channels)
        return torch.sigmoid(c)

    @staticmethod
    def index_colours(logits: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
        """x = sum_k softmax(logits)_k c_k: (N, K, H, W), (N, K, C) -> (N, C, H, W)."""
        w = logits.permute(0, 2, 3, 1).softmax(-1)  # (N, H, W, K): a view in channels-last
        n, hh, ww, k = w.shape
        out = torch.bmm(w.reshape(n, hh * ww, k), palette)  # (N, H*W, C)
        return out.view(n, hh, ww, -1).permute(0, 3, 1, 2)


class MLPFrameDecoder(nn.Module):
    """(z_t, f) -> parameters of p(x_t | z_t, f) for vector frames."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.net = mlp(in_dim, hidden, out_dim)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)
