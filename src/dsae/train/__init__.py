"""Training: the loop, checkpoints, run directories and the training pass's precision."""

from dsae.train.batches import EpochSampler
from dsae.train.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from dsae.train.loop import TrainResult, train
from dsae.train.precision import (
    amx_available,
    autocast_context,
    bf16_available,
    bf16_usable,
    resolve_autocast,
)
from dsae.train.runs import (
    CONFIG_FILE,
    METRICS_FILE,
    LoadedRun,
    load_run,
    make_model,
    prepare_data,
)

__all__ = [
    "CHECKPOINT_FILE",
    "CONFIG_FILE",
    "METRICS_FILE",
    "EpochSampler",
    "LoadedRun",
    "TrainResult",
    "amx_available",
    "autocast_context",
    "bf16_available",
    "bf16_usable",
    "load_checkpoint",
    "load_run",
    "make_model",
    "prepare_data",
    "resolve_autocast",
    "save_checkpoint",
    "train",
]
