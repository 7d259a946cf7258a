"""Training: the loop, checkpoints and run directories."""

from dsae.train.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from dsae.train.loop import (
    METRICS_FILE,
    LoadedRun,
    TrainResult,
    frames_to_tensor,
    load_run,
    prepare_data,
    resolve_autocast,
    tensor_to_frames,
    train,
)

__all__ = [
    "CHECKPOINT_FILE",
    "METRICS_FILE",
    "LoadedRun",
    "TrainResult",
    "frames_to_tensor",
    "load_checkpoint",
    "load_run",
    "prepare_data",
    "resolve_autocast",
    "save_checkpoint",
    "tensor_to_frames",
    "train",
]
