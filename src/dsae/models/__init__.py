"""Sequential VAEs with a static code f and dynamic codes z_1:T, by name."""

from __future__ import annotations

from dsae.config import ModelConfig
from dsae.errors import DsaeError
from dsae.models.base import Encoding, LossTerms, SequentialVAE, TrainPass
from dsae.models.dsae import DSAE
from dsae.models.dvrnn import DisentangledVRNN
from dsae.models.lds import LinearDynamicsVAE
from dsae.models.rollout import LSTMc, LSTMf, RolloutVAE

# the configurable priors the ELBO trains, at the values every family has
LEARNT_PRIOR_DEFAULTS = {"p_f": "normal", "p_z": "gaussian"}
MODELS: dict[str, type[SequentialVAE]] = {
    "dsae": DSAE,
    "lstm_f": LSTMf,
    "lstm_c": LSTMc,
    "dvrnn": DisentangledVRNN,
    "lds": LinearDynamicsVAE,
}


def build_model(cfg: ModelConfig, frame_shape: tuple[int, ...]) -> SequentialVAE:
    """The model named ``cfg.name`` for frames of ``frame_shape`` ((C, H, W) or (D,))."""
    if cfg.name not in MODELS:
        raise DsaeError(f"unknown model {cfg.name!r}; known: {', '.join(sorted(MODELS))}")
    cls = MODELS[cfg.name]
    for key, default in LEARNT_PRIOR_DEFAULTS.items():
        if getattr(cfg, key) != default and key not in cls.learnt_priors:
            raise DsaeError(f"model.{key} {getattr(cfg, key)} is not available for {cfg.name}")
    return cls(cfg, tuple(frame_shape))


__all__ = [
    "DSAE",
    "DisentangledVRNN",
    "MODELS",
    "Encoding",
    "LSTMc",
    "LinearDynamicsVAE",
    "LSTMf",
    "LossTerms",
    "RolloutVAE",
    "SequentialVAE",
    "TrainPass",
    "build_model",
]
