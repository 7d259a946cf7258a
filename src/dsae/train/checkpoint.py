"""Checkpoints: one plain dict of primitives and state_dicts, written atomically and
loaded with ``weights_only=True``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from dsae import __version__
from dsae.errors import DsaeError
from dsae.utils import atomic_write, load_state

CHECKPOINT_FILE = "checkpoint.pt"


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` (plus the dsae version) to ``path`` via a temporary file."""
    state = {**state, "version": __version__}
    return atomic_write(path, lambda fh: torch.save(state, fh))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint safely; a missing or corrupt file is a user error."""
    state, p = load_state(path, CHECKPOINT_FILE, "checkpoint")
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise DsaeError(f"corrupt checkpoint {p}: not a dsae checkpoint")
    return state
