"""Evaluate a trained run: load it and its judge, run :func:`dsae.eval.evaluate` on the test
split (the training split loaded only for the verification probes), and write
``metrics.json``, the trajectory plots, the verification ROC curves, the imputation curve
and the slow-latents figure into an output folder."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dsae.data.base import fingerprint, load_split
from dsae.errors import DsaeError
from dsae.eval import LEARNT_PRIOR, check_judge_matches, evaluate, load_judge, to_json_safe
from dsae.eval.protocols.base import check_model_matches
from dsae.eval.protocols.trajectories import TITLES
from dsae.train import load_run
from dsae.utils import atomic_write_text
from dsae.viz.dynamics import plot_imputation
from dsae.viz.plots import plot_factor_trajectories, plot_roc_curves
from dsae.viz.slowness import plot_slowness

METRICS_FILE = "metrics.json"
MIN_REPEATS = 3
TRAJECTORY_PLOTS = {"static": "trajectories_fixed_f", "dynamic": "trajectories_fixed_z"}
ROC_PLOT = "verification_roc.png"
IMPUTATION_PLOT = "imputation.png"
SLOWNESS_PLOT = "slowness.png"

__all__ = ["METRICS_FILE", "MIN_REPEATS", "ROC_PLOT", "evaluate_run", "trajectory_plot_name"]


def trajectory_plot_name(fix: str, sampler: str) -> str:
    """File name of a trajectory plot: the learnt prior's keep the plain names."""
    suffix = "" if sampler == LEARNT_PRIOR else f"_{sampler}"
    return f"{TRAJECTORY_PLOTS[fix]}{suffix}.png"


def _plot_roc(verification: dict[str, Any], path: Path) -> bool:
    if not verification["roc"]:
        return False
    title = "Verification: cosine scores of pairs of test utterances"
    plot_roc_curves(verification["roc"], path, verification["eer"], title)
    return True


def _plot_imputation(imputation: dict[str, Any], path: Path) -> bool:
    curves = {
        mode.replace("_", " "): {"missing": imputation["missing"], **imputation[mode]}
        for mode in ("sampled", "most_likely")
    }
    title = "Imputation: the last k frames predicted by the prior dynamics"
    plot_imputation(curves, path, key="wrong_missing", title=title)
    return True


def _plot_slowness(result: dict[str, Any], path: Path) -> bool:
    plot_slowness(result, path, "Slow latents: eigenvalues of the dynamics per latent")
    return True


# protocol -> (file name, draw(result, path) -> whether a plot was written)
PLOTTERS: dict[str, tuple[str, Callable[[dict[str, Any], Path], bool]]] = {
    "verification": (ROC_PLOT, _plot_roc),
    "imputation": (IMPUTATION_PLOT, _plot_imputation),
    "slowness": (SLOWNESS_PLOT, _plot_slowness),
}


def evaluate_run(
    run_dir: str | os.PathLike,
    data_dir: str | os.PathLike | None,
    judge_path: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    repeats: int = 3,
    seed: int = 0,
    progress: bool = True,
    batch_size: int = 128,
    *,
    protocols: list[str] | None = None,
) -> dict[str, Any]:
    """Every protocol the data allow on a run's test split (only those in ``protocols``,
    when given); write ``out_dir/metrics.json`` and plots, and return what was written.

    ``data_dir`` None means the dataset the run was trained on. The judge (None: the
    label-free parts only) must have been trained on exactly that dataset (same
    fingerprint), and the frames must fit the model. Generation rows come from every sampler
    of the run (its ``samplers``, else the model's own priors as ``learnt_prior``).
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise DsaeError(f"run directory not found: {run}")
    if repeats < MIN_REPEATS:
        raise DsaeError(f"repeats must be at least {MIN_REPEATS} for a spread, got {repeats}")
    loaded = load_run(run)
    model, state = loaded.model, loaded.state
    samplers = getattr(loaded, "samplers", None) or {LEARNT_PRIOR: model}
    data = Path(data_dir) if data_dir is not None else Path(state["data"]["root"])
    lj = None
    if judge_path is not None:
        judge_file = Path(judge_path)
        if not judge_file.is_file():
            raise DsaeError(f"judge not found: {judge_file} (train one with 'dsae judge train')")
        lj = load_judge(judge_file)
    split = load_split(data, "test")
    if lj is not None:
        check_judge_matches(lj, data)
    check_model_matches(model, split)
    out = Path(out_dir)
    plots: list[str] = []

    def plot(sampler: str, classes: dict[str, np.ndarray], names: list[str]) -> None:
        n_classes = [int(lj.judge.n_classes[k]) for k in names]
        for fix, c in classes.items():
            name = trajectory_plot_name(fix, sampler)
            title = TITLES[fix] + ("" if sampler == LEARNT_PRIOR else f" ({sampler})")
            plot_factor_trajectories(c, out / name, names, n_classes, title=title)
            plots.append(name)

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    metrics = evaluate(
        model,
        split,
        lj,
        samplers,
        seed,
        repeats,
        batch_size,
        on_trajectories=plot,
        train=(lambda: load_split(data, "train")) if (data / "train.npz").is_file() else None,
        progress=progress,
        protocols=protocols,
    )
    for name, (filename, draw) in PLOTTERS.items():
        result = metrics.get(name)
        if result and draw(result, out / filename):
            result["plot"] = filename
            plots.append(filename)
    data_fp = fingerprint(data)
    metrics["data"].update(
        {
            "fingerprint": data_fp,
            "root": str(data.resolve()),
            "same_as_training": data_fp == state["data"].get("fingerprint"),
        }
    )
    if lj is not None:
        metrics["judge"] = {**metrics["judge"], "path": str(judge_file.resolve()), "info": lj.info}
    metrics = to_json_safe(
        {
            "run": str(run.resolve()),
            "checkpoint_step": int(state.get("step", 0)),
            "config": loaded.config.to_dict(),
            **metrics,
            "plots": plots,
            "elapsed_s": round(time.perf_counter() - t0, 3),
        }
    )
    text = json.dumps(metrics, indent=2, allow_nan=False)
    atomic_write_text(out / METRICS_FILE, text + "\n")
    return metrics
