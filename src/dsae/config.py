"""Experiment configuration: typed dataclasses that round-trip YAML.

A config has four parts, one per concern: ``data``, ``model``, ``objective`` and ``train``.
Unknown keys are errors that name the key; ``key=value`` overrides (``train.max_steps=200``)
are parsed as YAML scalars and type-checked like the file.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dsae.errors import DsaeError
from dsae.utils import atomic_write_text


@dataclass
class DataConfig:
    """Which dataset, where its cache lives, and how to build it when it is missing."""

    name: str = "toy_sprites"  # builder used when ``root`` holds no dataset: toy_sprites, sprites
    root: str = "data/toy_sprites"  # dataset directory (meta.json, train.npz, test.npz)
    build_if_missing: bool = True
    source: str | None = None  # sprites: local folder or base URL of the layer sheets
    image_size: int = 64  # toy_sprites only
    n_train: int = 3000  # toy_sprites and balls (sequences built when missing)
    n_test: int = 600  # toy_sprites and balls
    seed: int = 0  # toy_sprites only


@dataclass
class ModelConfig:
    """Architecture of the sequential VAE (see ``dsae.models``)."""

    name: str = "dsae"
    encoder: str = "factorised"  # factorised: q(z_t | x_t); full: q(z_1:T | f, x_1:T)
    f_dim: int = 64
    z_dim: int = 8
    frame_net: str = "conv"  # conv (image frames) or mlp (vector frames)
    channels: list[int] = field(default_factory=lambda: [32, 64, 128, 256])
    # widths of the decoder's conv stack, listed as for the encoder (first = the layer next
    # to the pixels); empty: the same as ``channels``
    decoder_channels: list[int] = field(default_factory=list)
    frame_dim: int = 256  # per-frame feature size h_t
    hidden_dim: int = 256  # LSTM width of q(f | x), full q and the prior
    mlp_hidden: int = 256  # hidden width of the mlp frame networks
    norm: str = "none"  # none, batch, group: normalisation inside the conv stacks
    rollout_dim: int = 512  # lstm_f, lstm_c: the state h_t of the deterministic rollout
    # dvrnn: q(z_t | x_t, h_{t-1}, f) with f in the recurrence (full) or without f (factorized)
    dvrnn_posterior: str = "full"
    # lds: rank r of the latents' interactions, A_t = diag(lambda_t) + U_t V_t^T (0: diagonal)
    lds_rank: int = 0
    # lds: size b of Jordan blocks: latents in groups of b share one eigenvalue and
    # z_t,i = lambda z_t-1,i + z_t-1,i+1 inside a group (1: none)
    lds_jordan: int = 1
    # optional inductive biases; the defaults give the plain model of Li & Mandt (2018)
    # q(f | x): lstm (bi-LSTM read at both ends), mean (frame average), palette (colours
    # seen) or local (features of small patches pooled over the frames: what, not where)
    static_encoder: str = "lstm"
    palette_levels: int = 8  # static_encoder palette: bins per colour channel
    static_frames: int = 0  # training only: q(f | x) reads this many random frames (0: all)
    # training only: the decoder draws this many random frames of each sequence and the
    # likelihood of the rest is estimated from them (sum over t scaled by T / k; 0: all)
    decode_frames: int = 0
    decoder_film: bool = False  # f also scales and shifts every decoder feature map (FiLM)
    film_hidden: int = 0  # decoder_film: 0 a linear map of f, > 0 an MLP with this hidden width
    # decoder_film: also mix the last hidden map's channels by a matrix of f, h <- h + A(f) h
    film_mix: bool = False
    film_mix_layers: int = 1  # film_mix: how many of the last hidden maps are mixed
    # > 0: indexed-colour output, each pixel a softmax over this many colours made from f alone
    decoder_colours: int = 0
    # q(z_t | .) reads: frames, luminance (colour-free), silhouette (the figure's mask over
    # black), figure (the mask of what differs from the frame's background colour),
    # recolour (its own encoder of the frames, their colours permuted and scaled at random
    # per sequence in training), remix (likewise, each channel a random mix of the channels
    # at a random power in training, their mean otherwise), envelope (vector frames
    # smoothed along the feature axis: spectra without pitch harmonics) or contour (the
    # envelope minus its sequence mean)
    dynamic_input: str = "frames"
    envelope_bins: int = 9  # dynamic_input envelope: width of the moving average (odd)
    # the priors the ELBO trains (the model's own): p(f) normal (N(0, I)), learnt (N(mu,
    # diag sigma^2), mu and sigma learnt) or mixture (K diagonal Gaussians, weights, means
    # and variances learnt; with G groups, f in G blocks each its own mixture of K); the
    # LSTM prior's outputs p(z_t | z_<t) gaussian or mixture (K diagonal Gaussians per step)
    p_f: str = "normal"
    p_f_components: int = 16
    p_f_groups: int = 1
    p_z: str = "gaussian"
    p_z_components: int = 8
    # p(f) for generation: normal (the model's own p(f), model.p_f), mixture (fitted after training) or
    # aggregate ((1/N) sum_i q(f | x_i) over the training sequences, stored after training)
    f_prior: str = "normal"
    f_prior_components: int = 64  # mixture only
    # p(z_1:T) for generation: lstm (the model's own LSTM prior), mixture (fitted to z_1:T after training) or
    # aggregate ((1/N) sum_i q(z_1:T | x_i)); longer sequences than the training ones fall
    # back to the LSTM
    z_prior: str = "lstm"
    z_prior_components: int = 64
    # z_prior mixture: diag (independent units within a component) or full (each component
    # a full covariance over the T * z_dim units, so a sampled z_1:T keeps how frames move
    # together)
    z_prior_covariance: str = "diag"
    # != 0: q(f | x) and q(z_t | .) start with this log-variance for every input (e.g. -6,
    # near-deterministic codes the decoder can read from the first step); 0: the default
    # initialisation (log-variances near 0, as the prior's)
    posterior_init_logvar: float = 0.0
    likelihood: str = "gaussian"  # gaussian, laplace or bernoulli
    # gaussian/laplace image means: sigmoid of the decoder output; wide_sigmoid (1.1 sigmoid
    # - 0.05: black and white at finite outputs), linear (the output itself) or softplus
    # (log(1 + e^o): saturates toward black only), clamped to [0, 1] only when decoding
    mean_activation: str = "sigmoid"
    sigma_x: float = 1.0  # Gaussian sigma or Laplace b of p(x_t | .) (initial value when learned)
    learn_sigma: bool = False


@dataclass
class ObjectiveConfig:
    """The negative ELBO with separate KL weights (beta_f, beta_z: the beta-weighted objective
    of the Li & Mandt replication by Leplae-Arthur & Nichani, and of Prasanna & Vidyasagar)."""

    beta_f: float = 1.0
    beta_z: float = 1.0
    kl_warmup_steps: int = 0  # linear warm-up of both KL weights from 0
    # free bits: each KL term (batch mean, nats per sequence) pays max(KL, floor); 0: off
    free_nats_f: float = 0.0
    free_nats_z: float = 0.0
    # optional: penalise an estimate of I(f; z_t) learned by a critic (dsae.objectives.mi)
    mi_weight: float = 0.0  # 0 disables the critic
    mi_hidden: int = 256  # width of the critic's MLP
    # optional: hold the estimate near a target (nats per frame) instead of a fixed weight:
    # mi_weight is then the floor, and the weight rises while the estimate stays above target
    mi_target: float = 0.0  # 0: fixed weight
    mi_rate: float = 0.01  # change of log(weight) per step per nat above (or below) target
    mi_weight_max: float = 256.0  # ceiling of the adaptive weight
    mi_through: str = "both"  # the penalty trains both encoders, or (f) q(f | x) alone
    # optional: swap consistency (dsae.objectives.swap): decode f of one sequence with z_t of
    # another on swap_frames random frames, and pay swap_weight times the squared distance
    # of the encoded frames' posterior means from those codes (relative to the codes' spread)
    swap_weight: float = 0.0  # 0 disables
    swap_frames: int = 2  # frames per sequence decoded and encoded again (>= 1)
    # optional: pixels on a colour edge (and thin outlines) weigh 1 + edge_weight in the
    # image likelihood (dsae.objectives.elbo.edge_mask); 0 disables
    edge_weight: float = 0.0
    # optional: capacity annealing (Burgess et al. 2018, dsae.objectives.capacity): with
    # capacity_gamma > 0 each KL term pays gamma |KL - C| in place of beta KL (beta and the
    # KL warm-up then do not apply), C rising linearly from 0 to its target (nats per
    # sequence, batch mean) over capacity_steps steps; a target of 0 holds KL near 0
    capacity_gamma: float = 0.0  # 0 disables (beta_f, beta_z apply)
    capacity_f: float = 0.0  # target C of KL(q(f | x) || p(f))
    capacity_z: float = 0.0  # target C of the KL of z_1:T (summed over frames)
    capacity_steps: int = 0  # steps of the linear rise (0: the target from the first step)
    # optional: FactorVAE's total correlation (Kim & Mnih 2018, dsae.objectives.factor_tc) of
    # the per-frame joint code [f, z_t], estimated by a discriminator with its own Adam
    tc_weight: float = 0.0  # 0 disables; the model pays w times the estimate summed over T
    tc_hidden: int = 256  # width of the discriminator's MLP
    tc_lr: float = 1e-4  # the discriminator's Adam step (betas 0.5, 0.9)
    # optional: DIP-VAE (Kumar et al. 2018, dsae.objectives.dip): match the covariance of
    # q(f) over the batch and of q(z_t) over batch and frames to the identity (the paper's
    # weights: 10 and 100 for i; lambda_d = lambda_od for ii); added once per batch
    dip: str = "none"  # none, i (covariance of the means) or ii (E[Sigma] + Cov[mu])
    dip_lambda_od: float = 10.0  # weight of the squared off-diagonal entries
    dip_lambda_d: float = 100.0  # weight of the squared diagonal entries minus 1
    # optional: slow dynamics (dsae.objectives.slow), for models with linear latent dynamics
    # (lds): sum_t sum_i gamma(i) |lambda_t,i - 1| on the posterior's eigenvalues, with
    # gamma(i) = slow_weight * (i / (z_dim - 1))^slow_power (i = 0..z_dim-1, rising with i)
    slow_weight: float = 0.0  # 0 disables (unless slow_weights is given)
    slow_power: float = 1.0  # 0: the same gamma for every latent
    slow_weights: list[float] = field(default_factory=list)  # gamma(i) as listed (z_dim values)


@dataclass
class TrainConfig:
    """Optimisation, schedule, logging and checkpointing."""

    seed: int = 0
    max_steps: int = 2000
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"  # constant or cosine (with linear warm-up)
    lr_warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    grad_clip: float = 100.0  # 0 disables
    # > 0: keep an exponential moving average of the weights with this decay; the trained
    # model (priors fitted, checkpoint, evaluation) is the average
    ema_decay: float = 0.0
    threads: int = 0  # 0: one per core
    # learning rate of a learnt p(f) (model.p_f learnt or mixture) relative to lr: its means must
    # travel as far as the codes spread
    prior_lr_scale: float = 1.0
    # a learnt p(f) is held where it starts (N(0, I)) until this step, then learns: codes it
    # followed from the first step collapsed onto it before the decoder had learnt to read them
    prior_start_step: int = 0
    # learning rate of the learnt p(z_t | z_<t) (the LSTM prior) relative to lr: its outputs
    # must follow posteriors that keep moving
    p_z_lr_scale: float = 1.0
    channels_last: bool = True
    # none, or bf16: the training pass runs under CPU autocast to bfloat16 (weights, optimizer
    # and the loss's sums stay float32); pays only on CPUs with bfloat16 instructions (Intel
    # AMX, AVX512-BF16 as on AMD Zen 4); auto: bf16 where the CPU has them, none elsewhere
    autocast: str = "none"
    heap_keep_mb: int = 256  # glibc: keep freed activations mapped (0: allocator defaults)
    log_every: int = 25
    ckpt_every: int = 500
    progress: bool = True
    # a fresh run takes the weights under these name prefixes (all that fit if empty) from
    # another run's checkpoint (its directory or checkpoint.pt); "" starts from scratch
    init_from: str = ""
    init_params: list[str] = field(default_factory=list)


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Config:
        return _build(cls, d or {}, "")

    def save(self, path: str | os.PathLike) -> None:
        atomic_write_text(Path(path), self.to_yaml())


def _coerce(tp: Any, value: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` (with int -> float widening)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, key)
            except DsaeError:
                pass
        raise DsaeError(f"config key {key!r}: {value!r} is not a valid {tp}")
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise DsaeError(f"config key {key!r}: expected a list, got {value!r}")
        return [_coerce(item, v, key) for v in value]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise DsaeError(f"config key {key!r}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise DsaeError(f"config key {key!r}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise DsaeError(f"config key {key!r}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise DsaeError(f"config key {key!r}: expected a string, got {value!r}")
    raise DsaeError(f"config key {key!r}: unsupported type {tp}")


def _build(cls: type, d: Any, prefix: str) -> Any:
    if not isinstance(d, dict):
        raise DsaeError(f"config section {prefix or 'root'!r} must be a mapping, got {d!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = [k for k in d if k not in names]
    if unknown:
        raise DsaeError(f"unknown config key {prefix + str(unknown[0])!r}")
    kwargs = {}
    for k, v in d.items():
        tp = hints[k]
        key = prefix + k
        if dataclasses.is_dataclass(tp):
            kwargs[k] = _build(tp, v, key + ".")
        else:
            kwargs[k] = _coerce(tp, v, key)
    return cls(**kwargs)


def apply_overrides(d: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides to a config dict (values parsed as YAML)."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in d.items()}
    for item in overrides:
        if "=" not in item:
            raise DsaeError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) != 2 or not all(parts):
            raise DsaeError(f"override key {key!r} must be section.key, e.g. train.max_steps")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        section, name = parts
        out.setdefault(section, {})
        if not isinstance(out[section], dict):
            raise DsaeError(f"config section {section!r} must be a mapping")
        out[section][name] = value
    return out


def load_config(path: str | os.PathLike | None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (or the defaults when ``path`` is None) and apply overrides."""
    d: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise DsaeError(f"config file not found: {p}")
        try:
            d = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            line = str(e).splitlines()[0]
            raise DsaeError(f"cannot parse config {p}: {line}") from None
        if not isinstance(d, dict):
            raise DsaeError(f"config {p} must be a mapping of sections")
    d = apply_overrides(d, overrides or [])
    return Config.from_dict(d)
