"""Disentangled Sequential Autoencoder (Li & Mandt, ICML 2018; seed 002, section 2).

Generative model (eq. 1): p(f) prod_t p(z_t | z_<t) p(x_t | z_t, f), with z_0 = 0,
p(f) = N(0, I) and an LSTM prior p(z_t | z_<t) with Gaussian outputs.

Inference: "factorised q" (eq. 3) q(f | x_1:T) prod_t q(z_t | x_t), or "full q" (eq. 4)
q(f | x_1:T) q(z_1:T | f, x_1:T). Both share one frame encoder x_t -> h_t.

Departures from the paper, each a choice rather than a change of the model: the frame
networks are sized for 64 x 64 frames (the 2018 networks are far larger than the data
needs), and the full-q posterior of z_t is read off a forward RNN over the bi-LSTM states
(the paper's "bidirectional LSTM conditioned on f, followed by an RNN").

Optional inductive biases, off by default: ``static_encoder: mean`` (q(f | x) averages
per-frame features instead of reading a bi-LSTM, so it cannot depend on frame order;
``palette`` reads only which quantised colours occur, so it sees almost nothing of the pose),
``decoder_film`` (f also modulates every decoder layer, FiLM),
``dynamic_input: silhouette`` (q(z_t | .) reads only the figure's mask),
``f_prior: mixture`` (generation samples f from a Gaussian mixture fitted to the aggregate
posterior after training, ex-post density estimation; the ELBO still uses N(0, I)) or
``aggregate`` (from the aggregate posterior itself, one component per training sequence),
``static_frames`` (q(f | x) reads a random subset of frames in training, so f cannot depend
on the whole motion) and ``dynamic_input: luminance`` (q(z_t | .) reads a colour-free frame
through its own encoder, so z cannot carry colour). The last two are augmentations in the
spirit of C-DSVAE's content- and motion-preserving views, applied to the encoders' inputs
instead of through extra contrastive passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dsae.config import ModelConfig
from dsae.models.blocks import (
    ConvFrameDecoder,
    ConvFrameEncoder,
    Gaussian,
    GaussianHead,
    MLPFrameDecoder,
    MLPFrameEncoder,
)

# image pixel means from the decoder output o (gaussian and laplace likelihoods)
MEAN_ACTIVATIONS = {
    "sigmoid": torch.sigmoid,  # 1 / (1 + e^-o)
    "linear": lambda o: o,  # o
    "softplus": nn.functional.softplus,  # log(1 + e^o)
}


@dataclass
class DSAEOutput:
    """Everything one pass computes; shapes with B sequences of T frames."""

    x_param: torch.Tensor  # (B, T, *frame): mean (gaussian, laplace) or logits (bernoulli)
    q_f: Gaussian  # q(f | x_1:T): (B, f_dim)
    q_z: Gaussian  # q(z_t | .): (B, T, z_dim)
    p_z: Gaussian  # p(z_t | z_<t) evaluated on the posterior samples z_<t: (B, T, z_dim)
    f: torch.Tensor  # sample of q(f | x): (B, f_dim)
    z: torch.Tensor  # sample of q(z | .): (B, T, z_dim)
    # ``decode_frames``: the frames x_param draws, (B, k) indices into T; None: all of them
    frames: torch.Tensor | None = None


@dataclass
class Encoding:
    """Posterior parameters of f and z_1:T for a batch of sequences."""

    f_mean: torch.Tensor  # (B, f_dim)
    f_logvar: torch.Tensor
    z_mean: torch.Tensor  # (B, T, z_dim)
    z_logvar: torch.Tensor


class StaticEncoder(nn.Module):
    """q(f | x_1:T): a bidirectional LSTM over frame features, read at both ends."""

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


def take_frames(seq: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """seq[b, frames[b]] per sequence: (B, T, ...), (B, k) indices -> (B, k, ...)."""
    return seq[torch.arange(seq.shape[0], device=seq.device).unsqueeze(1), frames]


FITTED_PRIORS = ("mixture", "aggregate")  # p(f), p(z_1:T) set after training (train.priors)
_F_MIX = ("f_mix_logits", "f_mix_mean", "f_mix_logvar")

SILHOUETTE_THRESHOLD = 0.02  # dynamic_input silhouette: figure pixels over a black background

STATIC_ENCODERS = {
    "lstm": StaticEncoder,
    "mean": MeanStaticEncoder,
    "palette": PaletteStaticEncoder,
}


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
    """p(z_t | z_<t): an LSTM over z_<t (z_0 = 0) with Gaussian outputs."""

    def __init__(self, z_dim: int, hidden_dim: int):
        super().__init__()
        self.z_dim = z_dim
        self.lstm = nn.LSTM(z_dim, hidden_dim, batch_first=True)
        self.head = GaussianHead(hidden_dim, z_dim)

    def forward(self, z: torch.Tensor) -> Gaussian:
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
        z_prev = torch.zeros(batch, 1, self.z_dim, device=p.device, dtype=p.dtype)
        state = None
        zs = []
        for _ in range(steps):
            out, state = self.lstm(z_prev, state)
            g = self.head(out)
            eps = torch.randn(g.mean.shape, generator=generator, dtype=p.dtype)
            z_t = g.mean + eps * torch.exp(0.5 * g.logvar)
            zs.append(z_t)
            z_prev = z_t
        return torch.cat(zs, dim=1)


DYNAMIC_ENCODERS = {"factorised": FactorisedDynamicEncoder, "full": FullDynamicEncoder}


class DSAE(nn.Module):
    """The Disentangled Sequential Autoencoder: p(f) prod_t p(z_t|z_<t) p(x_t|z_t,f)."""

    def __init__(self, cfg: ModelConfig, frame_shape: tuple[int, ...]):
        super().__init__()
        self.cfg = cfg
        self.frame_shape = tuple(frame_shape)  # (H, W, C) images or (D,) vectors
        if cfg.encoder not in DYNAMIC_ENCODERS:
            raise ValueError(f"unknown encoder {cfg.encoder!r} (factorised, full)")
        if cfg.likelihood not in ("gaussian", "laplace", "bernoulli"):
            raise ValueError(
                f"unknown likelihood {cfg.likelihood!r} (gaussian, laplace, bernoulli)"
            )
        if cfg.mean_activation not in MEAN_ACTIVATIONS:
            raise ValueError(
                f"unknown mean_activation {cfg.mean_activation!r} ({', '.join(MEAN_ACTIVATIONS)})"
            )
        if cfg.mean_activation != "sigmoid" and cfg.likelihood == "bernoulli":
            raise ValueError(
                f"mean_activation {cfg.mean_activation} gives pixel means: "
                "it needs gaussian or laplace"
            )
        if cfg.film_mix and not cfg.decoder_film:
            raise ValueError("film_mix needs decoder_film: true")
        if cfg.film_mix and cfg.film_mix_layers < 1:
            raise ValueError(f"film_mix_layers must be >= 1, got {cfg.film_mix_layers}")
        if cfg.decoder_colours < 0:
            raise ValueError(f"decoder_colours must be >= 0, got {cfg.decoder_colours}")
        if cfg.decoder_colours and cfg.likelihood == "bernoulli":
            raise ValueError("decoder_colours gives pixel means: it needs gaussian or laplace")
        self.is_image = len(self.frame_shape) == 3
        if self.is_image != (cfg.frame_net == "conv"):
            raise ValueError(
                f"frame_net {cfg.frame_net!r} does not fit frames of shape {self.frame_shape}: "
                "use conv for images and mlp for vectors"
            )
        if self.is_image:
            h, w, c = self.frame_shape
            if h != w:
                raise ValueError(f"conv frames must be square, got {h} x {w}")
            self.frame_encoder = ConvFrameEncoder(c, h, cfg.channels, cfg.frame_dim, cfg.norm)
            self.decoder = ConvFrameDecoder(
                cfg.f_dim + cfg.z_dim,
                c,
                h,
                cfg.decoder_channels or cfg.channels,
                cfg.norm,
                film_dim=cfg.f_dim if cfg.decoder_film else 0,
                film_hidden=cfg.film_hidden,
                film_mix=cfg.film_mix_layers if cfg.film_mix else 0,
                colours=cfg.decoder_colours,
                colour_dim=cfg.f_dim,
            )
        else:
            (d,) = self.frame_shape
            if cfg.decoder_colours:
                raise ValueError("decoder_colours needs image frames")
            self.frame_encoder = MLPFrameEncoder(d, cfg.mlp_hidden, cfg.frame_dim)
            self.decoder = MLPFrameDecoder(cfg.f_dim + cfg.z_dim, cfg.mlp_hidden, d)
        if cfg.dynamic_input not in ("frames", "luminance", "silhouette"):
            raise ValueError(
                f"unknown dynamic_input {cfg.dynamic_input!r} (frames, luminance, silhouette)"
            )
        if cfg.dynamic_input != "frames":
            if not self.is_image:
                raise ValueError(f"dynamic_input {cfg.dynamic_input} needs image frames")
            self.dynamic_frame_encoder = ConvFrameEncoder(
                1, self.frame_shape[0], cfg.channels, cfg.frame_dim, cfg.norm
            )
        if cfg.static_frames < 0:
            raise ValueError(f"static_frames must be >= 0, got {cfg.static_frames}")
        if cfg.decode_frames < 0:
            raise ValueError(f"decode_frames must be >= 0, got {cfg.decode_frames}")
        if cfg.static_encoder not in STATIC_ENCODERS:
            raise ValueError(
                f"unknown static_encoder {cfg.static_encoder!r} ({', '.join(STATIC_ENCODERS)})"
            )
        self.reads_pixels = cfg.static_encoder == "palette"
        if self.reads_pixels and not self.is_image:
            raise ValueError("static_encoder palette needs image frames")
        if self.reads_pixels:
            if cfg.palette_levels < 2:
                raise ValueError(f"palette_levels must be >= 2, got {cfg.palette_levels}")
            self.static_encoder = PaletteStaticEncoder(
                self.frame_shape[-1], cfg.hidden_dim, cfg.f_dim, cfg.palette_levels
            )
        else:
            self.static_encoder = STATIC_ENCODERS[cfg.static_encoder](
                cfg.frame_dim, cfg.hidden_dim, cfg.f_dim
            )
        if self.reads_pixels and cfg.dynamic_input != "frames":
            del self.frame_encoder  # neither posterior reads the shared RGB frame features
        self.dynamic_encoder = DYNAMIC_ENCODERS[cfg.encoder](
            cfg.frame_dim, cfg.hidden_dim, cfg.z_dim, cfg.f_dim
        )
        if cfg.posterior_init_logvar != 0.0:
            self.static_encoder.head.start_logvar(cfg.posterior_init_logvar)
            self.dynamic_encoder.head.start_logvar(cfg.posterior_init_logvar)
        self.prior = PriorLSTM(cfg.z_dim, cfg.hidden_dim)
        if cfg.f_prior not in ("normal", *FITTED_PRIORS):
            raise ValueError(f"unknown f_prior {cfg.f_prior!r} (normal, mixture, aggregate)")
        if cfg.f_prior in FITTED_PRIORS:
            if cfg.f_prior == "mixture" and cfg.f_prior_components < 1:
                raise ValueError("f_prior_components must be >= 1")
            # mixture: N(0, I) components until fit_f_prior replaces them; aggregate: none
            # (N(0, I) is sampled) until the fit stores one per training sequence
            k = cfg.f_prior_components if cfg.f_prior == "mixture" else 0
            self.register_buffer("f_mix_logits", torch.zeros(k))
            self.register_buffer("f_mix_mean", torch.zeros(k, cfg.f_dim))
            self.register_buffer("f_mix_logvar", torch.zeros(k, cfg.f_dim))
        if cfg.z_prior not in ("lstm", *FITTED_PRIORS):
            raise ValueError(f"unknown z_prior {cfg.z_prior!r} (lstm, mixture, aggregate)")
        if cfg.z_prior in FITTED_PRIORS:
            if cfg.z_prior == "mixture" and cfg.z_prior_components < 1:
                raise ValueError("z_prior_components must be >= 1")
            # over the flattened z_1:T; empty (the LSTM samples) until fit_z_prior sets T
            k = cfg.z_prior_components if cfg.z_prior == "mixture" else 0
            self.register_buffer("z_mix_logits", torch.zeros(k))
            self.register_buffer("z_mix_mean", torch.zeros(k, 0))
            self.register_buffer("z_mix_logvar", torch.zeros(k, 0))
            if cfg.z_prior_covariance not in ("diag", "full"):
                raise ValueError(
                    f"unknown z_prior_covariance {cfg.z_prior_covariance!r} (diag, full)"
                )
            if cfg.z_prior_covariance == "full" and cfg.z_prior == "aggregate":
                raise ValueError("z_prior_covariance full needs z_prior mixture")
            if cfg.z_prior_covariance == "full":  # Cholesky factors of the covariances
                self.register_buffer("z_mix_scale_tril", torch.zeros(k, 0, 0))
        self.log_sigma = nn.Parameter(
            torch.tensor(float(torch.log(torch.tensor(cfg.sigma_x)))),
            requires_grad=cfg.learn_sigma,
        )

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        # a fitted p(z_1:T) has the training sequences' length, an aggregate p(f) or p(z_1:T)
        # one component per training sequence: take the stored shapes
        for name in (*_F_MIX, "z_mix_logits", "z_mix_mean", "z_mix_logvar", "z_mix_scale_tril"):
            stored = state_dict.get(prefix + name)
            if name in self._buffers and stored is not None and stored.dim() in (1, 2, 3):
                self._buffers[name] = torch.zeros(stored.shape, dtype=self._buffers[name].dtype)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- layout helpers ---------------------------------------------------------------
    def _frames_in(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) or (B, T, D) -> (B*T, ...) for the frame networks."""
        flat = x.reshape(-1, *x.shape[2:])
        if self.is_image and self.cfg_channels_last:
            flat = flat.contiguous(memory_format=torch.channels_last)
        return flat

    @property
    def cfg_channels_last(self) -> bool:
        return getattr(self, "_channels_last", False)

    def use_channels_last(self, on: bool = True) -> DSAE:
        """Keep conv weights and activations in NHWC layout (faster on CPU)."""
        self._channels_last = on
        if on:
            self.to(memory_format=torch.channels_last)
        return self

    def _check_input(self, x: torch.Tensor) -> None:
        expected = (
            (self.frame_shape[2], *self.frame_shape[:2]) if self.is_image else self.frame_shape
        )
        if x.dim() != 2 + len(expected) or tuple(x.shape[2:]) != expected:
            raise ValueError(
                f"expected input of shape (B, T, {', '.join(map(str, expected))}), "
                f"got {tuple(x.shape)}"
            )

    # -- inference --------------------------------------------------------------------
    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """x_1:T -> h_1:T: (B, T, frame_dim)."""
        self._check_input(x)
        b, t = x.shape[:2]
        return self.frame_encoder(self._frames_in(x)).view(b, t, -1)

    def dynamic_features(self, x: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor:
        """The frame features q(z_t | .) reads: h_t itself, or features of a one-channel image.

        With ``dynamic_input: luminance`` the frame becomes one channel, sum_c w_c x_c, with
        w_c ~ U(0.2, 1) normalised to sum 1 per sequence in training (no part of a figure
        goes dark) and w = 1/C otherwise: a motion-preserving augmentation that hides colour
        (a static attribute) from z. With ``silhouette`` it is the figure's mask (a pixel is
        1 where any channel exceeds 0.02 over a black background): the shape and pose with no
        colour and no shading inside the figure.
        """
        if self.cfg.dynamic_input == "frames":
            assert h is not None
            return h
        b, t, c = x.shape[:3]
        if self.cfg.dynamic_input == "silhouette":
            mask = (x.amax(2, keepdim=True) > SILHOUETTE_THRESHOLD).to(x.dtype)
            return self.dynamic_frame_encoder(self._frames_in(mask)).view(b, t, -1)
        if self.training:
            w = 0.2 + 0.8 * torch.rand(b, 1, c, 1, 1, device=x.device, dtype=x.dtype)
            w = w / w.sum(2, keepdim=True)
        else:
            w = torch.full((1, 1, c, 1, 1), 1.0 / c, device=x.device, dtype=x.dtype)
        lum = (x * w).sum(2, keepdim=True)  # (B, T, 1, H, W)
        return self.dynamic_frame_encoder(self._frames_in(lum)).view(b, t, -1)

    def static_view(self, h: torch.Tensor) -> torch.Tensor:
        """The frames q(f | x) reads: all, or (training, ``static_frames`` = k) k random ones
        in time order per sequence, a content-preserving augmentation."""
        k = self.cfg.static_frames
        b, t = h.shape[:2]
        if not self.training or k <= 0 or k >= t:
            return h
        idx = torch.rand(b, t, device=h.device).argsort(1)[:, :k].sort(1).values
        return h[torch.arange(b, device=h.device).unsqueeze(1), idx]

    def _q_f(self, x: torch.Tensor) -> tuple[Gaussian, torch.Tensor | None]:
        """q(f | x_1:T) and the shared frame features h_1:T (None when nothing reads them)."""
        self._check_input(x)
        h = self.frame_features(x) if hasattr(self, "frame_encoder") else None
        return self.static_encoder(self.static_view(x if self.reads_pixels else h)), h

    def forward(self, x: torch.Tensor) -> DSAEOutput:
        """One training pass: posterior samples, the prior on them, and p(x | z, f)."""
        q_f, h = self._q_f(x)
        f = q_f.rsample()
        q_z = self.dynamic_encoder(self.dynamic_features(x, h), f)
        z = q_z.rsample()
        p_z = self.prior(z)
        frames = self.decoded_frames(z.shape[0], z.shape[1], z.device)
        z_dec = z if frames is None else take_frames(z, frames)
        return DSAEOutput(
            x_param=self.decode_param(f, z_dec), q_f=q_f, q_z=q_z, p_z=p_z, f=f, z=z, frames=frames
        )

    def decoded_frames(self, b: int, t: int, device: torch.device) -> torch.Tensor | None:
        """The frames a training pass decodes: (B, k) distinct random indices per sequence
        in time order (``decode_frames`` = k), or None (all frames; always in eval mode).
        The likelihood of the T frames is then estimated as T / k times that of these k,
        unbiased over the draw, for about k / T of the decoder's cost."""
        k = self.cfg.decode_frames
        if not self.training or k <= 0 or k >= t:
            return None
        return torch.rand(b, t, device=device).argsort(1)[:, :k].sort(1).values

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> Encoding:
        """Posterior parameters of f and z_1:T (full q conditions z on the mean of f)."""
        q_f, h = self._q_f(x)
        q_z = self.dynamic_encoder(self.dynamic_features(x, h), q_f.mean)
        return Encoding(q_f.mean, q_f.logvar, q_z.mean, q_z.logvar)

    # -- generation -------------------------------------------------------------------
    def decode_param(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """(f, z_1:T) -> parameters of p(x_t | z_t, f): (B, T, *frame)."""
        b, t = z.shape[:2]
        fz = torch.cat([f.unsqueeze(1).expand(-1, t, -1), z], dim=-1).reshape(b * t, -1)
        out = self.decoder(fz).float()  # float32 also under bfloat16 autocast (the likelihood)
        if self._mean_link:
            out = MEAN_ACTIVATIONS[self.cfg.mean_activation](out)
        return out.reshape(b, t, *out.shape[1:])

    @property
    def _mean_link(self) -> bool:
        """Whether the decoder output goes through ``mean_activation`` to give pixel means."""
        return (
            self.is_image and self.cfg.likelihood != "bernoulli" and not self.decoder.outputs_mean
        )

    @torch.no_grad()
    def decode(self, f: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The mean of p(x_1:T | z_1:T, f) in data space (images in [0, 1])."""
        out = self.decode_param(f, z)
        if self.cfg.likelihood == "bernoulli":
            out = torch.sigmoid(out)
        elif self._mean_link and self.cfg.mean_activation != "sigmoid":
            out = out.clamp(0, 1)
        return out.contiguous()

    @torch.no_grad()
    def sample_f(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """f ~ p(f): N(0, I), or (``f_prior: mixture``) the Gaussian mixture fitted to the
        aggregate posterior after training (:func:`dsae.train.priors.fit_f_prior`), or
        (``aggregate``) the aggregate posterior itself, (1/N) sum_i q(f | x_i) over the
        training sequences: (B, f_dim)."""
        eps = torch.randn(batch, self.cfg.f_dim, generator=generator)
        if self.cfg.f_prior == "normal" or self.f_mix_logits.numel() == 0:
            return eps
        k = torch.multinomial(self.f_mix_logits.softmax(0), batch, True, generator=generator)
        return self.f_mix_mean[k] + eps * torch.exp(0.5 * self.f_mix_logvar[k])

    @torch.no_grad()
    def sample_z(
        self, batch: int, steps: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z_1:T ~ p(z_1:T): (B, T, z_dim), from the LSTM prior, or (``z_prior: mixture``,
        once fitted, for at most the fitted T steps) the mixture fitted to the posterior
        z_1:T after training (:func:`dsae.train.priors.fit_z_prior`), or (``aggregate``)
        (1/N) sum_i q(z_1:T | x_i) over the training sequences; for fewer steps, the
        mixture's marginal over the first ones (a full covariance's leading block, whose
        Cholesky factor is the leading block of the full one's)."""
        d = steps * self.cfg.z_dim
        if self.cfg.z_prior == "lstm" or not 0 < d <= self.z_mix_mean.shape[1]:
            return self.prior.sample(batch, steps, generator)
        k = torch.multinomial(self.z_mix_logits.softmax(0), batch, True, generator=generator)
        eps = torch.randn(batch, d, generator=generator)
        if self.cfg.z_prior_covariance == "full":
            tril = self.z_mix_scale_tril[k, :d, :d]  # (B, d, d)
            z = self.z_mix_mean[k, :d] + (tril @ eps.unsqueeze(-1)).squeeze(-1)
        else:
            z = self.z_mix_mean[k, :d] + eps * torch.exp(0.5 * self.z_mix_logvar[k, :d])
        return z.view(batch, steps, self.cfg.z_dim)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior means of f and z_1:T."""
        e = self.encode(x)
        return self.decode(e.f_mean, e.z_mean)

    @torch.no_grad()
    def swap(self, x_content: torch.Tensor, x_motion: torch.Tensor) -> torch.Tensor:
        """f from ``x_content`` with z_1:T from ``x_motion`` (seed 002 Fig. 3 e, f)."""
        ec, em = self.encode(x_content), self.encode(x_motion)
        return self.decode(ec.f_mean, em.z_mean)

    @torch.no_grad()
    def generate(
        self,
        n: int,
        steps: int,
        fix: str = "none",
        generator: torch.Generator | None = None,
        f: torch.Tensor | None = None,
        z: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sample sequences from the prior (seed 002 Fig. 3 g, h).

        ``fix="static"`` shares one f ~ p(f) (or the given ``f``) across the n sequences and
        samples their dynamics; ``fix="dynamic"`` shares one z_1:T ~ p(z) (or the given
        ``z``) and samples f; ``fix="none"`` samples both for every sequence.
        """
        if fix not in ("none", "static", "dynamic"):
            raise ValueError(f"fix must be none, static or dynamic, got {fix!r}")
        if f is None:
            f = self.sample_f(1 if fix == "static" else n, generator)
        if z is None:
            z = self.sample_z(1 if fix == "dynamic" else n, steps, generator)
        f = f.expand(n, -1) if f.shape[0] == 1 else f
        z = z.expand(n, -1, -1) if z.shape[0] == 1 else z
        return self.decode(f, z)
