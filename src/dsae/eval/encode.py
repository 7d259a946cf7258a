"""Evaluation mode for a block, and the batched posterior encoding of a split (from samplers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dsae.samplers import encode_split

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
