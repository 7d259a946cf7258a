"""Training: the loop, checkpoints and run directories."""

from dsae.train.checkpoint import load_checkpoint, save_checkpoint
from dsae.train.loop import (
    LoadedRun,
    TrainResult,
    frames_to_tensor,
    load_run,
    prepare_data,
    tensor_to_frames,
    train,
)

__all__ = [
    "LoadedRun",
    "TrainResult",
    "frames_to_tensor",
    "load_checkpoint",
    "load_run",
    "prepare_data",
    "save_checkpoint",
    "tensor_to_frames",
    "train",
]
