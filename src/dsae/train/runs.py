"""Run directories: the data a run trains on, its model, and loading a trained run.

A run directory holds ``config.yaml`` (the resolved config), ``metrics.jsonl`` (one JSON
record per logged step), ``checkpoint.pt`` (the latest state) and, when the config asks for
a fitted sampler, ``samplers.pt``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsae.config import Config, DataConfig
from dsae.data import build_dataset
from dsae.data.base import DatasetMeta
from dsae.errors import DsaeError
from dsae.models import SequentialVAE, build_model
from dsae.samplers import (
    SAMPLERS_FILE,
    LearntPrior,
    Sampler,
    check_sampler_config,
    load_sampler,
    samplers_for,
    wants_sampler,
)
from dsae.train.checkpoint import load_checkpoint

METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "config.yaml"


def prepare_data(cfg: DataConfig, progress: bool = True) -> Path:
    """Return the dataset directory, building it first when it is missing and allowed."""
    root = Path(cfg.root)
    if (root / "meta.json").is_file():
        return root
    if not cfg.build_if_missing:
        raise DsaeError(f"no dataset at {root} (build it with 'dsae data build {cfg.name}')")
    return build_dataset(
        cfg.name,
        root,
        source=cfg.source,
        image_size=cfg.image_size,
        n_train=cfg.n_train,
        n_test=cfg.n_test,
        seed=cfg.seed,
        progress=progress,
    )


def make_model(cfg: Config, meta: DatasetMeta) -> SequentialVAE:
    """The model of ``cfg`` for the frames of ``meta``; config mistakes are user errors."""
    check_sampler_config(cfg.model)
    try:
        model = build_model(cfg.model, meta.modality.model_shape)
    except ValueError as e:
        raise DsaeError(f"model config: {e}") from None
    if cfg.train.channels_last:
        model.use_channels_last()
    return model


@dataclass
class LoadedRun:
    model: SequentialVAE
    config: Config
    state: dict[str, Any]
    meta: DatasetMeta
    # the configured sampler, or the learnt prior when the config fits none
    sampler: Sampler | None = None
    samplers: dict[str, Sampler] = field(default_factory=dict)  # samplers_for(...)


def load_run(run_dir: str | os.PathLike) -> LoadedRun:
    """A trained model in eval mode, with its config, data metadata and samplers."""
    state = load_checkpoint(run_dir)
    try:
        cfg = Config.from_dict(state["config"])
        meta = DatasetMeta.from_dict(state["data"]["meta"])
        model = make_model(cfg, meta)
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError, TypeError) as e:
        raise DsaeError(f"corrupt checkpoint in {run_dir}: {str(e).splitlines()[0]}") from None
    model.eval()
    configured = None
    run = Path(run_dir)
    run = run.parent if run.is_file() else run
    if wants_sampler(cfg.model) and (run / SAMPLERS_FILE).is_file():
        configured = load_sampler(run / SAMPLERS_FILE, model, cfg.model)
    return LoadedRun(
        model=model,
        config=cfg,
        state=state,
        meta=meta,
        sampler=configured if configured is not None else LearntPrior(model),
        samplers=samplers_for(model, configured),
    )
