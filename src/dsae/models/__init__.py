"""Sequential VAEs with a static code f and dynamic codes z_1:T, by name."""

from __future__ import annotations

from torch import nn

from dsae.config import ModelConfig
from dsae.models.dsae import DSAE, DSAEOutput, Encoding

MODELS: dict[str, type[nn.Module]] = {"dsae": DSAE}


def build_model(cfg: ModelConfig, frame_shape: tuple[int, ...]) -> DSAE:
    """Instantiate the model named ``cfg.name`` for frames of ``frame_shape``."""
    if cfg.name not in MODELS:
        from dsae.errors import DsaeError

        raise DsaeError(f"unknown model {cfg.name!r}; known: {', '.join(sorted(MODELS))}")
    return MODELS[cfg.name](cfg, frame_shape)


__all__ = ["DSAE", "DSAEOutput", "Encoding", "MODELS", "build_model"]
