"""The configured sampler: an f part and a z part chosen by config, fitted after training,
and its file ``RUN/samplers.pt`` (a plain dict of tensors and primitives)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from dsae.config import ModelConfig
from dsae.errors import DsaeError
from dsae.models.base import Encoding, SequentialVAE
from dsae.samplers.base import LearntPrior, Sampler
from dsae.samplers.parts import F_PARTS, LEARNT_F, LEARNT_Z, Z_PARTS, Mixture
from dsae.utils import atomic_write, load_state

SAMPLERS_FILE = "samplers.pt"


def check_sampler_config(cfg: ModelConfig) -> None:
    """One-line errors for the sampler keys of a model config."""
    if cfg.f_prior not in (LEARNT_F, *F_PARTS):
        raise DsaeError(f"unknown model.f_prior {cfg.f_prior!r} (normal, mixture, aggregate)")
    if cfg.f_prior == "mixture" and cfg.f_prior_components < 1:
        raise DsaeError("model.f_prior_components must be >= 1")
    if cfg.z_prior not in (LEARNT_Z, *Z_PARTS):
        raise DsaeError(f"unknown model.z_prior {cfg.z_prior!r} (lstm, mixture, aggregate)")
    if cfg.z_prior in Z_PARTS:
        if cfg.z_prior == "mixture" and cfg.z_prior_components < 1:
            raise DsaeError("model.z_prior_components must be >= 1")
        if cfg.z_prior_covariance not in ("diag", "full"):
            raise DsaeError(
                f"unknown model.z_prior_covariance {cfg.z_prior_covariance!r} (diag, full)"
            )
        if cfg.z_prior_covariance == "full" and cfg.z_prior != "mixture":
            raise DsaeError("model.z_prior_covariance full needs model.z_prior mixture")


def sampler_name(f_kind: str | None, z_kind: str | None) -> str | None:
    """``aggregate`` when both parts are aggregates (likewise mixture), else the fitted
    parts by code, e.g. ``mixture_f+aggregate_z``; None when nothing is fitted."""
    if f_kind is not None and f_kind == z_kind:
        return f_kind
    parts = [f"{k}_{c}" for k, c in ((f_kind, "f"), (z_kind, "z")) if k is not None]
    return "+".join(parts) or None


def wants_sampler(cfg: ModelConfig) -> bool:
    """Whether ``cfg`` configures a sampler to fit (beyond the learnt prior)."""
    return cfg.f_prior in F_PARTS or cfg.z_prior in Z_PARTS


class ConfiguredSampler(Sampler):
    """f from a fitted part (or the model's p(f)), z_1:T from a fitted part (or the model's
    p(z_1:T)). A fitted z part serves at most the steps it was fitted on: fewer steps take
    the marginal of the first ones; more fall back to the model's p(z_1:T)."""

    def __init__(self, model: SequentialVAE, f_part: Mixture | None, z_part: Mixture | None):
        self.model, self.f_part, self.z_part = model, f_part, z_part
        name = sampler_name(f_part and f_part.kind, z_part and z_part.kind)
        if name is None:
            raise ValueError("a configured sampler needs a fitted f or z part")
        self.name = name

    @torch.no_grad()
    def sample_f(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.f_part is None:
            return self.model.sample_f(n, generator)
        return self.f_part.sample_f(n, generator)

    @torch.no_grad()
    def sample_z(
        self, n: int, steps: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        d = steps * self.model.z_dim
        if self.z_part is None or not 0 < d <= self.z_part.dim:
            return self.model.sample_z(n, steps, generator)
        return self.z_part.sample_leading(n, d, generator).view(n, steps, self.model.z_dim)

    def state_dict(self) -> dict:
        return {
            "name": self.name,
            **({"f": self.f_part.state_dict()} if self.f_part is not None else {}),
            **({"z": self.z_part.state_dict()} if self.z_part is not None else {}),
        }


def fit_sampler(
    model: SequentialVAE, cfg: ModelConfig, encoding: Encoding, seed: int, batch_size: int = 256
) -> tuple[ConfiguredSampler | None, dict]:
    """Fit the parts ``cfg`` configures to the posteriors of the training split
    (``encoding``); returns the sampler (None when nothing is configured) and a report
    {"f": ..., "z": ...} of what was fitted. ``batch_size``: the f mixture's sample is drawn
    in batches of it."""
    check_sampler_config(cfg)
    parts: dict[str, Mixture | None] = {"f": None, "z": None}
    report: dict = {}
    for key, kind, registry in (("f", cfg.f_prior, F_PARTS), ("z", cfg.z_prior, Z_PARTS)):
        if kind in registry:
            parts[key], report[key] = registry[kind](encoding, cfg, seed, batch_size)
    if parts["f"] is None and parts["z"] is None:
        return None, {}
    return ConfiguredSampler(model, parts["f"], parts["z"]), report


def save_samplers(path: str | os.PathLike, sampler: ConfiguredSampler) -> Path:
    """Write ``sampler`` to ``path`` atomically (loaded with weights_only=True)."""
    state = sampler.state_dict()
    return atomic_write(path, lambda fh: torch.save(state, fh))


def load_sampler(
    path: str | os.PathLike, model: SequentialVAE, cfg: ModelConfig
) -> ConfiguredSampler:
    """The configured sampler saved at ``path`` (a run directory or the file itself)."""
    state, p = load_state(path, SAMPLERS_FILE, "samplers file")
    try:
        f = Mixture.from_state(state["f"]) if "f" in state else None
        z = Mixture.from_state(state["z"]) if "z" in state else None
    except (KeyError, TypeError, RuntimeError):
        raise DsaeError(f"corrupt samplers file {p}: not a dsae samplers file") from None
    kinds = (f.kind if f else LEARNT_F, z.kind if z else LEARNT_Z)
    if kinds != (cfg.f_prior, cfg.z_prior):
        raise DsaeError(
            f"samplers file {p} holds f {kinds[0]}, z {kinds[1]}; the config asks for "
            f"f {cfg.f_prior}, z {cfg.z_prior}"
        )
    return ConfiguredSampler(model, f, z)


def samplers_for(model: SequentialVAE, configured: Sampler | None) -> dict[str, Sampler]:
    """The samplers to report, by name: the learnt prior first, then the configured one."""
    out: dict[str, Sampler] = {LearntPrior.name: LearntPrior(model)}
    if configured is not None:
        out[configured.name] = configured
    return out
