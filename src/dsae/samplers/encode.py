"""Batched posterior means of a data split, for fitting samplers and for evaluation."""

from __future__ import annotations

from dataclasses import fields
from typing import Protocol

import numpy as np
import torch

from dsae.errors import DsaeError
from dsae.models.base import Encoding, SequentialVAE


class ToTensor(Protocol):
    """A frame modality: stored frames (B, T, *stored) -> model inputs (B, T, *model)."""

    def to_tensor(self, x: np.ndarray) -> torch.Tensor: ...


def encode_split(
    model: SequentialVAE, modality: ToTensor, x: np.ndarray, batch_size: int = 128
) -> Encoding:
    """Posterior parameters of f and z_1:T for every sequence of ``x`` (eval mode, batched)."""
    if batch_size <= 0:
        raise DsaeError(f"batch size must be positive, got {batch_size}")
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with torch.no_grad():
            parts = [
                model.encode(modality.to_tensor(x[lo : lo + batch_size]))
                for lo in range(0, x.shape[0], batch_size)
            ]
    finally:
        if hasattr(model, "train"):
            model.train(was_training)
    if not parts:
        raise DsaeError("the split is empty")
    return Encoding(*(torch.cat([getattr(e, fl.name) for e in parts]) for fl in fields(Encoding)))
