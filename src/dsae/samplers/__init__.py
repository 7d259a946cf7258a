"""Generation samplers: the learnt prior and the configured sampler fitted after training."""

from dsae.samplers.base import LEARNT_PRIOR, LearntPrior, Sampler
from dsae.samplers.configured import (
    SAMPLERS_FILE,
    ConfiguredSampler,
    check_sampler_config,
    fit_sampler,
    load_sampler,
    sampler_name,
    samplers_for,
    save_samplers,
    wants_sampler,
)
from dsae.samplers.encode import encode_split
from dsae.samplers.parts import F_PARTS, Z_PARTS, Mixture, fit_mixture

__all__ = [
    "F_PARTS",
    "LEARNT_PRIOR",
    "SAMPLERS_FILE",
    "Z_PARTS",
    "ConfiguredSampler",
    "LearntPrior",
    "Mixture",
    "Sampler",
    "check_sampler_config",
    "encode_split",
    "fit_mixture",
    "fit_sampler",
    "load_sampler",
    "sampler_name",
    "samplers_for",
    "save_samplers",
    "wants_sampler",
]
