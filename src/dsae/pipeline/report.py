"""The report of a run directory: gather its summary, training log, pictures and evaluation,
and write the page :func:`dsae.viz.report.build_page` makes of them.

Pictures (reconstructions, swaps, generations) are drawn with :mod:`dsae.pipeline.outputs`
into an assets folder beside the report when they are missing or older than the checkpoint;
the training curves are drawn from ``metrics.jsonl`` every time. On Sprites the published
numbers of the field are shown beside ours; beside a speaker-verification result, Li & Mandt
(2018)'s TIMIT table for reference.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dsae.errors import DsaeError
from dsae.eval.published import (
    PUBLISHED_FACTOR_NAMES,
    generation_rows,
    table1_rows,
    verification_rows,
)
from dsae.pipeline.convert_pairs import read_conversion
from dsae.pipeline.impute import read_imputation
from dsae.pipeline.outputs import write_generations, write_reconstructions, write_swaps
from dsae.train import CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, load_checkpoint
from dsae.utils import atomic_write_text
from dsae.viz.plots import plot_training_curves
from dsae.viz.report import PictureSet, PublishedTables, ReportInputs, build_page

__all__ = ["build_report", "published_for", "read_eval", "read_run"]

REPORT_FILE = "report.html"
ASSETS_DIR = "report_assets"
EVAL_METRICS_FILE = "metrics.json"
CONVERSION_DIR = "conversion"  # dsae convert RUN --pairs N --out RUN/conversion
IMPUTE_DIR = "impute"  # dsae impute RUN --observed t --out RUN/impute
_CURVE_KEYS = ("loss", "recon", "kl_f", "kl_z", "lr", "seq_per_s")

PUBLISHED: dict[str, PublishedTables] = {
    "sprites": PublishedTables(
        generation=generation_rows(),
        table1=table1_rows(),
        factor_names=dict(PUBLISHED_FACTOR_NAMES),
        verification=verification_rows(),
    )
}
# Speaker verification on TIMIT (Li & Mandt 2018, Table 2): a reference for any speech data.
SPEECH_REFERENCE = PublishedTables(verification=verification_rows())


def published_for(dataset: str) -> PublishedTables:
    """The published numbers of ``dataset`` (Sprites), else the speech reference table."""
    return PUBLISHED.get(dataset, SPEECH_REFERENCE)


# --- reading a run -----------------------------------------------------------------------


def _read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON-lines training log, skipping lines that are not records."""
    records = []
    if not path.is_file():
        return records
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records


def read_run(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run summary of ``run_dir`` (see :class:`~dsae.viz.report.ReportInputs`; plus
    ``checkpoint``: whether a usable checkpoint was read) and its training records, read
    without building the model."""
    if not run_dir.is_dir():
        raise DsaeError(f"run directory not found: {run_dir}")
    ckpt, config_file, log = (run_dir / n for n in (CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE))
    if not any(f.is_file() for f in (ckpt, config_file, log)):
        raise DsaeError(
            f"{run_dir} is not a run directory (no {CHECKPOINT_FILE}, {CONFIG_FILE} or "
            f"{METRICS_FILE})"
        )
    notes: list[str] = []
    state: dict[str, Any] = {}
    if ckpt.is_file():
        try:
            state = load_checkpoint(ckpt)
        except DsaeError as e:
            notes.append(str(e))
    else:
        notes.append(f"no {CHECKPOINT_FILE} in {run_dir}: pictures cannot be made")
    config: Any = {}
    if config_file.is_file():
        try:
            config = yaml.safe_load(config_file.read_text()) or {}
        except yaml.YAMLError as e:
            notes.append(f"unreadable {config_file}: {str(e).splitlines()[0]}")
    if not isinstance(config, dict) or not config:
        config = dict(state.get("config") or {})
    records = _read_records(log)
    data = dict(state.get("data") or {})
    meta = data.get("meta") or {}
    last_step = records[-1].get("step") if records else None
    summary = {
        "name": run_dir.resolve().name,
        "path": str(run_dir.resolve()),
        "dataset": str(meta.get("name") or (config.get("data") or {}).get("name") or "?"),
        "step": int(state["step"]) if "step" in state else last_step,
        "data": data,
        "config": config,
        "notes": notes,
        "checkpoint": bool(state),
    }
    for key in ("wall_time", "version"):
        if key in state:
            summary[key] = state[key]
    return summary, records


def read_eval(eval_dir: Path) -> dict[str, Any]:
    """``EVAL_DIR/metrics.json`` as a dict; missing or unreadable is a user error."""
    path = eval_dir / EVAL_METRICS_FILE
    if not eval_dir.is_dir():
        raise DsaeError(f"evaluation directory not found: {eval_dir}")
    try:
        metrics = json.loads(path.read_text())
    except FileNotFoundError:
        raise DsaeError(
            f"no {EVAL_METRICS_FILE} in {eval_dir} (run 'dsae evaluate' first)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DsaeError(f"unreadable {path}: {e}") from None
    if not isinstance(metrics, dict):
        raise DsaeError(f"unreadable {path}: expected a JSON object")
    return metrics


# --- pictures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _PictureGroup:
    """One set of pictures: its folder, the grid that marks it present, its animations and
    how to draw it."""

    key: str
    name: str
    folder: str
    grid: str
    animations: str  # glob of the GIFs in the folder
    make: Callable[[str, str | None, str], object]


_GROUPS = (
    _PictureGroup(
        "reconstructions",
        "reconstructions",
        "reconstructions",
        "reconstructions.png",
        "reconstructions.gif",
        lambda run, data, out: write_reconstructions(run, data, out, 4, "test", 0, 1),
    ),
    _PictureGroup(
        "swaps",
        "swaps",
        "swaps",
        "swaps.png",
        "swap_*.gif",
        lambda run, data, out: write_swaps(run, data, out, 4, "test", 0, 1),
    ),
    _PictureGroup(
        "generate_static",
        "generations with f fixed",
        "generate",
        "generate_static.png",
        "generate_static_*.gif",
        lambda run, data, out: write_generations(run, out, "static", 3, 3, None, 0, 1),
    ),
    _PictureGroup(
        "generate_dynamic",
        "generations with z fixed",
        "generate",
        "generate_dynamic.png",
        "generate_dynamic_*.gif",
        lambda run, data, out: write_generations(run, out, "dynamic", 3, 3, None, 0, 1),
    ),
)


def _sampler_of(npz: Path) -> str | None:
    """The sampler named in a generation's npz (older files name none)."""
    try:
        with np.load(npz) as z:
            return str(z["sampler"]) if "sampler" in z.files else None
    except (OSError, ValueError):
        return None


def ensure_pictures(
    run_dir: Path,
    has_checkpoint: bool,
    assets: Path,
    data: str | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, PictureSet]:
    """Draw missing or outdated pictures of the run into ``assets``; every set's files, or
    why it could not be drawn."""
    ckpt = run_dir / CHECKPOINT_FILE
    ckpt_time = ckpt.stat().st_mtime if ckpt.is_file() else None
    pictures: dict[str, PictureSet] = {}
    for group in _GROUPS:
        folder = assets / group.folder
        grid = folder / group.grid
        fresh = grid.is_file() and (ckpt_time is None or grid.stat().st_mtime >= ckpt_time)
        if not fresh and not has_checkpoint:
            pictures[group.key] = PictureSet(missing=f"no usable checkpoint in {run_dir}")
            continue
        if not fresh:
            if log:
                log(f"drawing {group.name} -> {folder}")
            for old in folder.glob(group.animations):
                old.unlink()
            try:
                group.make(str(run_dir), data, str(folder))
            except DsaeError as e:
                pictures[group.key] = PictureSet(missing=str(e))
                if log:
                    log(f"note: no {group.name}: {e}")
                continue
        sampler = _sampler_of(grid.with_suffix(".npz")) if group.folder == "generate" else None
        pictures[group.key] = PictureSet(
            grid, sorted(folder.glob(group.animations)), sampler=sampler
        )
    return pictures


# --- the page ----------------------------------------------------------------------------


def build_report(
    run_dir: str | os.PathLike,
    eval_dir: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    assets: str | os.PathLike | None = None,
    data: str | None = None,
    log: Callable[[str], None] | None = None,
    conversion_dir: str | os.PathLike | None = None,
    impute_dir: str | os.PathLike | None = None,
) -> Path:
    """Write a self-contained HTML report of ``run_dir`` (and ``eval_dir``); returns its path.

    ``out`` defaults to ``RUN_DIR/report.html``. Pictures come from ``assets`` (default
    ``RUN_DIR/report_assets``; its ``reconstructions/``, ``swaps/`` and ``generate/``
    folders are laid out as the quickstart's), drawn there first when missing or older than
    the checkpoint; ``data`` overrides the run's dataset folder for them. ``log`` receives
    one line per picture set drawn. A speech run's voice conversions are shown from
    ``conversion_dir`` (default ``RUN_DIR/conversion``, when it holds a conversion.json);
    their sound players point at its wav files relative to the page. Imputations are shown
    from ``impute_dir`` (default ``RUN_DIR/impute``, when it holds an imputation.json).
    """
    run_path = Path(run_dir)
    summary, records = read_run(run_path)
    metrics = read_eval(Path(eval_dir)) if eval_dir is not None else None
    out_path = Path(out) if out is not None else run_path / REPORT_FILE
    assets_path = Path(assets) if assets is not None else run_path / ASSETS_DIR
    assets_path.mkdir(parents=True, exist_ok=True)

    pictures = ensure_pictures(run_path, summary["checkpoint"], assets_path, data, log)
    curves = None
    if records:
        keys = [k for k in _CURVE_KEYS if k in records[-1]]
        curves = plot_training_curves(
            records, assets_path / "training_curves.png", keys=keys or None
        )
    dataset = summary["dataset"]
    if metrics is not None:
        evaluated = next(
            (metrics[k] for k in ("data", "dataset") if isinstance(metrics.get(k), dict)), {}
        )
        dataset = str(evaluated.get("name") or dataset)
    conversion_path = (
        Path(conversion_dir) if conversion_dir is not None else run_path / CONVERSION_DIR
    )
    conversion = read_conversion(conversion_path)
    if conversion is None and conversion_dir is not None:
        raise DsaeError(f"no conversion.json in {conversion_path} (run 'dsae convert --pairs')")
    impute_path = Path(impute_dir) if impute_dir is not None else run_path / IMPUTE_DIR
    imputation = read_imputation(impute_path)
    if imputation is None and impute_dir is not None:
        raise DsaeError(f"no imputation.json in {impute_path} (run 'dsae impute')")
    audio_base = os.path.relpath(conversion_path.resolve(), out_path.parent.resolve())
    inputs = ReportInputs(
        run=summary,
        records=records,
        pictures=pictures,
        curves=curves,
        metrics=metrics,
        eval_dir=Path(eval_dir) if eval_dir is not None else None,
        published=published_for(dataset),
        assets_dir=assets_path.resolve(),
        conversion=conversion,
        conversion_dir=conversion_path,
        audio_base=Path(audio_base).as_posix(),
        imputation=imputation,
        imputation_dir=impute_path,
    )
    return atomic_write_text(out_path, build_page(inputs))
