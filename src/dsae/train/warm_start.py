"""Warm starts: a fresh run takes some of its weights from another run's checkpoint.

``train.init_from`` names the run (its directory or its ``checkpoint.pt``) and
``train.init_params`` the parameter-name prefixes to take (for example ``frame_encoder``
and ``decoder.deconvs``: the frame networks, whatever sits between them). With no prefixes
every tensor whose name and shape match is taken. The rest keeps its seeded initial
values, and the optimiser starts fresh; a resumed run reads its own checkpoint instead.
"""

from __future__ import annotations

import torch
from torch import nn

from dsae.errors import DsaeError
from dsae.train.checkpoint import load_checkpoint


def pick_weights(
    own: dict[str, torch.Tensor], source: dict[str, torch.Tensor], prefixes: list[str]
) -> dict[str, torch.Tensor]:
    """The tensors of ``source`` to copy into ``own``: under ``prefixes`` (each must match
    something, with the same shapes), or every name and shape that matches if none."""
    if not prefixes:
        take = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
        if not take:
            raise DsaeError("train.init_from: no parameter of that run fits this model")
        return take
    take: dict[str, torch.Tensor] = {}
    for prefix in prefixes:
        names = [k for k in own if k == prefix or k.startswith(prefix.rstrip(".") + ".")]
        if not names:
            raise DsaeError(f"train.init_params: {prefix!r} names no parameter of this model")
        for k in names:
            if k not in source:
                raise DsaeError(f"train.init_from: that run has no {k!r}")
            if source[k].shape != own[k].shape:
                raise DsaeError(
                    f"train.init_from: {k!r} is {tuple(source[k].shape)} there and "
                    f"{tuple(own[k].shape)} here"
                )
            take[k] = source[k]
    return take


def read_init(init_from: str) -> dict[str, torch.Tensor]:
    """The weights of the run ``init_from`` (its directory or checkpoint file)."""
    return load_checkpoint(init_from)["model"]


def warm_start(model: nn.Module, source: dict[str, torch.Tensor], prefixes: list[str]) -> list[str]:
    """Copy the chosen weights of ``source`` into ``model``; the names taken."""
    own = model.state_dict()
    take = pick_weights(own, source, prefixes)
    model.load_state_dict({**own, **take})
    return sorted(take)
