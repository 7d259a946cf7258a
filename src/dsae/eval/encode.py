"""Batched posterior encoding of a whole split (kept small so a shared helper can replace it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

import numpy as np
import torch

from dsae.data.modality import Modality
from dsae.errors import DsaeError
from dsae.models import Encoding

__all__ = ["encode_split", "eval_mode"]


@contextmanager
def eval_mode(model: Any) -> Iterator[None]:
    """Put ``model`` (an nn.Module, or any object) in eval mode for the block, then restore it."""
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        yield
    finally:
        if hasattr(model, "train"):
            model.train(was_training)


def encode_split(model: Any, modality: Modality, x: np.ndarray, batch_size: int = 128) -> Encoding:
    """Posterior parameters of f and z_1:T for every sequence of ``x`` (stored frames), in batches."""
    if batch_size <= 0:
        raise DsaeError(f"batch size must be positive, got {batch_size}")
    parts = []
    with eval_mode(model), torch.no_grad():
        for lo in range(0, x.shape[0], batch_size):
            parts.append(model.encode(modality.to_tensor(x[lo : lo + batch_size])))
    if not parts:
        raise DsaeError("the split is empty")
    return Encoding(*(torch.cat([getattr(e, fl.name) for e in parts]) for fl in fields(Encoding)))
