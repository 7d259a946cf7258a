"""The report page: one self-contained HTML file about a trained run and its evaluation.

``build_report`` writes ``report.html`` with every picture embedded as a base64 data URI
(no external resources, so the file can be mailed or archived alone): the run summary and
config, training curves, reconstructions, swaps and generations (made with the CLI's
``write_*`` functions into an assets folder beside the report when they are missing or
older than the checkpoint) and, given an evaluation folder, the tables of its
``metrics.json`` and its plots.

Rates in ``metrics.json`` (accuracies, disagreement) are read as fractions in [0, 1] and
shown as percentages. On Sprites the published numbers of the field are shown beside ours.
"""

from __future__ import annotations

import base64
import datetime as _dt
import io
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from html import escape
from numbers import Real
from pathlib import Path
from typing import Any

import yaml
from PIL import Image, UnidentifiedImageError

from dsae import __version__
from dsae.errors import DsaeError
from dsae.utils import atomic_write_text

__all__ = ["build_report", "PUBLISHED_GENERATION", "PUBLISHED_TABLE1"]

REPORT_FILE = "report.html"
ASSETS_DIR = "report_assets"
EVAL_METRICS_FILE = "metrics.json"

# Sprites, z_1:T kept and f resampled: (model, Acc %, IS, H(y|x), H(y)), as published.
PUBLISHED_GENERATION: tuple[tuple[str, str, str, str, str], ...] = (
    ("DSVAE", "90.73", "8.384", "0.072", "2.192"),
    ("S3VAE", "99.49", "8.637", "0.041", "2.197"),
    ("C-DSVAE", "99.99", "8.871", "0.014", "2.197"),
    ("SKD", "100", "8.999", "\u22480", "2.197"),
)
# Sprites, seed 002 (Li & Mandt 2018) Table 1: factor -> (disagreement %, KL-recon, KL-random).
PUBLISHED_TABLE1: dict[str, tuple[str, str, str]] = {
    "skin": ("3.98", "0.7847", "8.8859"),
    "pants": ("1.82", "0.3565", "8.9293"),
    "tops": ("0.34", "0.0647", "8.9173"),
    "hairstyle": ("0.06", "0.0126", "8.9566"),
    "action": ("8.11", "0.9027", "13.7510"),
}
# dsae's Sprites factor names -> the names of the published table.
_PUBLISHED_FACTOR = {"top": "tops", "hair": "hairstyle", "skin colour": "skin"}

_PLOT_TITLES = {
    "trajectories_fixed_f": "Judged classes along sequences generated with f fixed, z_1:T sampled",
    "trajectories_fixed_z": "Judged classes along sequences generated with z_1:T fixed, f sampled",
}
_EVAL_KNOWN = (
    "run",
    "checkpoint_step",
    "dataset",
    "config",
    "judge",
    "seeds",
    "versions",
    "timing",
    "plots",
    "reconstruction",
    "table1",
    "generation",
    "swap",
    "latent",
)
_LOSS_KEYS = ("loss", "recon", "kl_f", "kl_z", "elbo", "lr", "seq_per_s", "epoch")
# Widths of the page's content column and of one of two side-by-side columns, in CSS pixels.
_COLUMN_PX = 1220
_HALF_PX = 590

_CSS = """
:root { --fg: #1d232b; --muted: #5d6875; --line: #d9dee4; --soft: #f4f6f8; --accent: #2f6db5;
  --ours: #eef5ff; --published: #fafafa; --warn: #8a5a00; --warnbg: #fff6e0; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.45;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1260px; margin: 0 auto; padding: 24px 20px 64px; }
header { border-bottom: 2px solid var(--line); margin-bottom: 8px; padding-bottom: 10px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
p { margin: 6px 0 10px; }
.sub, .caption, figcaption { color: var(--muted); font-size: 13.5px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--soft);
  padding: 1px 4px; border-radius: 3px; word-break: break-all; }
nav { margin: 10px 0 0; font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; }
nav a:hover { text-decoration: underline; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { background: var(--soft); border-bottom: 2px solid var(--line); font-weight: 600; }
tbody th { font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.ours { background: var(--ours); }
tr.published, td.published { color: var(--muted); }
tr.published { background: var(--published); }
td.published { background: var(--published); font-style: italic; }
table.kv th { color: var(--muted); font-weight: 500; }
table.kv table.kv { margin: 0; font-size: 13px; }
table.kv table.kv th, table.kv table.kv td { padding: 2px 8px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0 4px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 118px; }
.card .label { color: var(--muted); font-size: 12.5px; }
.card .value { font-size: 19px; font-weight: 600; font-variant-numeric: tabular-nums; }
.columns { display: flex; flex-wrap: wrap; gap: 18px 28px; align-items: flex-start; }
.pair { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 18px 28px;
  align-items: start; }
.pair > * { min-width: 0; }
@media (max-width: 900px) { .pair { grid-template-columns: minmax(0, 1fr); } }
th.group { text-align: center; }
figure { margin: 8px 0 16px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); }
img.pixel { image-rendering: pixelated; image-rendering: crisp-edges; }
.gallery { display: flex; flex-wrap: wrap; gap: 12px 18px; align-items: flex-start; }
.gallery figure { margin: 0; }
.note { background: var(--warnbg); color: var(--warn); border-left: 4px solid #e0a526;
  padding: 6px 12px; margin: 8px 0; font-size: 14px; }
details { margin: 8px 0; }
summary { cursor: pointer; color: var(--accent); }
footer { margin-top: 40px; color: var(--muted); font-size: 12.5px; border-top: 1px solid var(--line);
  padding-top: 8px; }
"""

# Marks how many pictures loaded, for people checking a page and for the browser test.
_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (im) { return im.complete && im.naturalWidth > 0; });
  document.body.dataset.imagesLoaded = String(loaded.length);
  document.body.dataset.imagesTotal = String(images.length);
});
"""

# The page may load nothing from anywhere: pictures are data URIs, style and script inline.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


# --- formatting --------------------------------------------------------------------------


def _is_number(v: object) -> bool:
    """True for real numbers other than bools."""
    return isinstance(v, Real) and not isinstance(v, bool)


def _fmt(v: object) -> str:
    """A scalar as short text: ints whole, floats to 4 significant digits."""
    if v is None:
        return "\u2014"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if _is_number(v):
        x = float(v)
        if not math.isfinite(x):
            return str(x)
        if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
            return f"{x:.3e}"
        return f"{x:.4g}" if abs(x) < 1000 else f"{x:.1f}"
    return str(v)


def _pct(v: object) -> str:
    """A fraction in [0, 1] as a percentage with two decimals."""
    return f"{100 * float(v):.2f}" if _is_number(v) else _fmt(v)


def _pc(v: object) -> str:
    """A value that is already a percentage (the protocols' rates), with two decimals."""
    return f"{float(v):.2f}" if _is_number(v) else _fmt(v)


def _mean_std(v: object, percent: bool = False) -> str:
    """``{"mean", "std"}`` as "mean \u00b1 std" (two decimals when ``percent``: the
    protocols write rates in %)."""
    show = _pc if percent else _fmt
    if isinstance(v, Mapping) and "mean" in v:
        text = show(v["mean"])
        if _is_number(v.get("std")):
            text += " \u00b1 " + show(v["std"])
        return text
    return show(v)


def _duration(seconds: object) -> str:
    """Seconds as "1 h 02 min", "3 min 05 s" or "12.3 s"."""
    if not _is_number(seconds) or not math.isfinite(float(seconds)):
        return "\u2014"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m} min {sec:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def _e(v: object) -> str:
    """Any value as escaped text."""
    return escape(str(v), quote=True)


def _id(text: str) -> str:
    """A safe HTML id fragment from arbitrary text."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text.lower())


def _num_td(text: str, cls: str = "num") -> str:
    return f'<td class="{cls}">{_e(text)}</td>'


def _kv_table(rows: Iterable[tuple[str, str]], table_id: str | None = None, cls: str = "kv") -> str:
    """Rows of (escaped label, ready HTML) as a two-column table."""
    attr = f' id="{_e(table_id)}"' if table_id else ""
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table{attr} class="{cls}"><tbody>{body}</tbody></table>'


def _is_matrix(d: Mapping) -> bool:
    """A dict of dicts whose values are all scalars: drawn as one rows x columns table."""
    return (
        len(d) > 0
        and all(isinstance(v, Mapping) and v for v in d.values())
        and all(not isinstance(x, Mapping | list) for v in d.values() for x in v.values())
    )


def _nested(obj: object, table_id: str | None = None) -> str:
    """Any JSON value as HTML: dicts as (nested) tables, lists inline, scalars formatted."""
    if isinstance(obj, Mapping):
        if not obj:
            return "<span class='sub'>(empty)</span>"
        if _is_matrix(obj):
            cols: list[str] = []
            for v in obj.values():
                cols += [str(k) for k in v if str(k) not in cols]
            head = "<th></th>" + "".join(f'<th class="num">{_e(c)}</th>' for c in cols)
            body = ""
            for name, v in obj.items():
                sv = {str(k): x for k, x in v.items()}
                body += f"<tr><th>{_e(name)}</th>" + "".join(_num_td(_fmt(sv.get(c))) for c in cols)
                body += "</tr>"
            attr = f' id="{_e(table_id)}"' if table_id else ""
            return f'<table{attr} class="kv matrix"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        return _kv_table(((_e(k), _nested(v)) for k, v in obj.items()), table_id=table_id)
    if isinstance(obj, list | tuple):
        if all(not isinstance(x, Mapping | list | tuple) for x in obj):
            return _e(", ".join(_fmt(x) for x in obj)) if obj else "[]"
        return "".join(f"<div>{_nested(x)}</div>" for x in obj)
    return _e(_fmt(obj))


# --- pictures ----------------------------------------------------------------------------


def _data_uri(path: Path) -> tuple[str, int, int]:
    """A PNG or GIF file as (data URI, width, height); anything else is refused."""
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, (w, h) = im.format, im.size
    except (UnidentifiedImageError, OSError) as e:
        raise DsaeError(f"not an image: {path} ({e})") from None
    if fmt not in ("PNG", "GIF"):
        raise DsaeError(f"{path} is a {fmt} image, expected PNG or GIF")
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(data).decode('ascii')}", w, h


def _figure(path: Path, alt: str, caption: str = "", pixel: bool = True, max_px: int = 0) -> str:
    """An embedded picture with alt text and caption; pixel art is enlarged by whole factors."""
    if not path.is_file():
        return _note(f"missing picture: {path}")
    try:
        uri, w, h = _data_uri(path)
    except (DsaeError, OSError) as e:
        return _note(str(e))
    width, height = _display_size(w, h, max_px or _COLUMN_PX) if pixel else (w, h)
    cls = ' class="pixel"' if pixel else ""
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return (
        f'<figure><img{cls} src="{uri}" alt="{_e(alt)}" width="{width}" '
        f'height="{height}">{cap}</figure>'
    )


def _display_size(w: int, h: int, max_px: int) -> tuple[int, int]:
    """Pixel art enlarged by a whole factor (up to 2) or reduced by a whole divisor to fit."""
    if w <= max_px:
        zoom = max(1, min(2, max_px // max(w, 1)))
        return w * zoom, h * zoom
    div = math.ceil(w / max_px)  # a picture drawn at scale s shrinks by s to its own pixels
    return max(1, round(w / div)), max(1, round(h / div))


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


# --- the run -----------------------------------------------------------------------------


@dataclass
class _Run:
    """What the page says about a run directory, read without building the model."""

    path: Path
    config: dict[str, Any]
    records: list[dict[str, Any]]
    checkpoint: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)

    @property
    def last(self) -> dict[str, Any]:
        return self.records[-1] if self.records else {}

    @property
    def data_info(self) -> dict[str, Any]:
        return (self.checkpoint or {}).get("data") or {}

    @property
    def dataset_name(self) -> str:
        meta = self.data_info.get("meta") or {}
        return str(meta.get("name") or (self.config.get("data") or {}).get("name") or "?")

    @property
    def step(self) -> int | None:
        if self.checkpoint is not None and "step" in self.checkpoint:
            return int(self.checkpoint["step"])
        return self.last.get("step")


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


def _read_run(run_dir: Path) -> _Run:
    """Config, training log and checkpoint summary of ``run_dir``."""
    from dsae.train.checkpoint import CHECKPOINT_FILE, load_checkpoint
    from dsae.train.loop import CONFIG_FILE, METRICS_FILE

    if not run_dir.is_dir():
        raise DsaeError(f"run directory not found: {run_dir}")
    files = [run_dir / n for n in (CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE)]
    if not any(f.is_file() for f in files):
        raise DsaeError(
            f"{run_dir} is not a run directory (no {CHECKPOINT_FILE}, {CONFIG_FILE} or "
            f"{METRICS_FILE})"
        )
    notes: list[str] = []
    checkpoint = None
    if files[0].is_file():
        try:
            state = load_checkpoint(files[0])
            checkpoint = {
                k: state.get(k) for k in ("step", "config", "wall_time", "data", "version")
            }
        except DsaeError as e:
            notes.append(str(e))
    else:
        notes.append(f"no {CHECKPOINT_FILE} in {run_dir}: pictures cannot be made")
    config: dict[str, Any] = {}
    if files[1].is_file():
        try:
            config = yaml.safe_load(files[1].read_text()) or {}
        except yaml.YAMLError as e:
            notes.append(f"unreadable {files[1]}: {str(e).splitlines()[0]}")
    if not isinstance(config, dict) or not config:
        config = dict((checkpoint or {}).get("config") or {})
    return _Run(run_dir, config, _read_records(files[2]), checkpoint, notes)


# --- assets: pictures made by dsae.outputs --------------------------------


@dataclass(frozen=True)
class _AssetGroup:
    """One set of pictures: the folder and file that mark it present, and how to make it."""

    name: str
    folder: str
    marker: str
    stale_glob: str
    make: Callable[[str, str | None, str], object]


def _asset_groups() -> list[_AssetGroup]:
    # dsae.outputs' write_* functions draw these pictures; the report reuses them rather than
    # drawing its own (the import is late: it is the one place where viz calls the CLI).
    from dsae.outputs import write_generations, write_reconstructions, write_swaps

    return [
        _AssetGroup(
            "reconstructions",
            "reconstructions",
            "reconstructions.png",
            "reconstructions.*",
            lambda run, data, out: write_reconstructions(run, data, out, 4, "test", 0, 1),
        ),
        _AssetGroup(
            "swaps",
            "swaps",
            "swaps.png",
            "swap_*.gif",
            lambda run, data, out: write_swaps(run, data, out, 4, "test", 0, 1),
        ),
        _AssetGroup(
            "generations with f fixed",
            "generate",
            "generate_static.png",
            "generate_static_*.gif",
            lambda run, data, out: write_generations(run, out, "static", 3, 3, None, 0, 1),
        ),
        _AssetGroup(
            "generations with z fixed",
            "generate",
            "generate_dynamic.png",
            "generate_dynamic_*.gif",
            lambda run, data, out: write_generations(run, out, "dynamic", 3, 3, None, 0, 1),
        ),
    ]


def _ensure_assets(
    run: _Run, assets: Path, data: str | None, log: Callable[[str], None] | None
) -> dict[str, str]:
    """Make missing or outdated pictures; returns {group name: why it could not be made}."""
    from dsae.train.checkpoint import CHECKPOINT_FILE

    ckpt = run.path / CHECKPOINT_FILE
    ckpt_time = ckpt.stat().st_mtime if ckpt.is_file() else None
    failed: dict[str, str] = {}
    for group in _asset_groups():
        folder = assets / group.folder
        marker = folder / group.marker
        if marker.is_file() and (ckpt_time is None or marker.stat().st_mtime >= ckpt_time):
            continue
        if run.checkpoint is None:
            failed[group.name] = f"no usable checkpoint in {run.path}"
            continue
        if log:
            log(f"drawing {group.name} -> {folder}")
        for old in folder.glob(group.stale_glob):
            old.unlink()
        try:
            group.make(str(run.path), data, str(folder))
        except DsaeError as e:
            failed[group.name] = str(e)
            if log:
                log(f"note: no {group.name}: {e}")
    return failed


# --- sections ----------------------------------------------------------------------------


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{_e(title)}</h2>{body}</section>'


def _card(label: str, value: str) -> str:
    return f'<div class="card"><div class="label">{_e(label)}</div><div class="value">{_e(value)}</div></div>'


def _summary_section(run: _Run) -> str:
    """Headline numbers, dataset, last logged losses and the config."""
    cfg, last, data = run.config, run.last, run.data_info
    max_steps = (cfg.get("train") or {}).get("max_steps")
    step = run.step
    wall = (run.checkpoint or {}).get("wall_time", last.get("wall_time"))
    cards = [
        _card("steps", f"{_fmt(step)} / {_fmt(max_steps)}" if max_steps else _fmt(step)),
        _card("epochs", _fmt(last.get("epoch"))),
        _card("wall time", _duration(wall)),
        _card("throughput", f"{_fmt(last.get('seq_per_s'))} seq/s"),
        _card("final loss", _fmt(last.get("loss"))),
    ]
    meta = data.get("meta") or {}
    frame = meta.get("frame_shape")
    rows = [
        ("dataset", _e(run.dataset_name)),
        (
            "data folder",
            f"<code>{_e(data.get('root') or (cfg.get('data') or {}).get('root'))}</code>",
        ),
    ]
    if frame:
        rows.append(("frames", _e(f"T = {meta.get('seq_len')}, " + " x ".join(map(str, frame)))))
    for kind in ("static", "dynamic"):
        factors = meta.get(f"{kind}_factors")
        if factors:
            rows.append(
                (f"{kind} factors", _e(", ".join(f"{k} ({v})" for k, v in factors.items())))
            )
    if data.get("fingerprint"):
        rows.append(("fingerprint", f"<code>{_e(data['fingerprint'])}</code>"))
    if (run.checkpoint or {}).get("version"):
        rows.append(("trained with", _e(f"dsae {run.checkpoint['version']}")))

    loss_keys = [k for k in _LOSS_KEYS if k in last]
    if loss_keys:
        head = "".join(f'<th class="num">{_e(k)}</th>' for k in loss_keys)
        cells = "".join(_num_td(_fmt(last[k])) for k in loss_keys)
        losses = (
            f"<h3>Last logged values (step {_e(_fmt(last.get('step')))})</h3>"
            f'<table id="last-losses"><thead><tr>{head}</tr></thead>'
            f"<tbody><tr>{cells}</tr></tbody></table>"
            '<p class="caption">Per-sequence negative ELBO terms of the last training batch: '
            "loss = recon + &beta;<sub>f</sub> kl_f + &beta;<sub>z</sub> kl_z.</p>"
        )
    else:
        losses = _note("no training records (metrics.jsonl is missing or empty)")

    sections = [
        f"<div><h3>{_e(name)}</h3>{_nested(values, table_id=f'config-{_id(name)}')}</div>"
        for name, values in cfg.items()
        if isinstance(values, Mapping)
    ]
    others = {k: v for k, v in cfg.items() if not isinstance(v, Mapping)}
    if others:
        sections.append(f"<div><h3>other</h3>{_nested(others, table_id='config-other')}</div>")
    config = (
        '<h3>Config</h3><div class="columns" id="config">' + "".join(sections) + "</div>"
        if sections
        else _note("no config found")
    )
    body = (
        f'<div class="cards">{"".join(cards)}</div>'
        + "".join(_note(n) for n in run.notes)
        + "<h3>Dataset</h3>"
        + _kv_table(rows, table_id="dataset")
        + losses
        + config
    )
    return _section("summary", "Run summary", body)


def _curves_section(run: _Run, assets: Path) -> str:
    from dsae.viz.plots import plot_training_curves

    if not run.records:
        return _section("curves", "Training curves", _note("no training records to plot"))
    keys = [k for k in ("loss", "recon", "kl_f", "kl_z", "lr", "seq_per_s") if k in run.last]
    path = plot_training_curves(run.records, assets / "training_curves.png", keys=keys or None)
    fig = _figure(
        path,
        "Training curves: logged values against the training step",
        "Logged values against the training step (from metrics.jsonl).",
        pixel=False,
    )
    return _section("curves", "Training curves", fig)


def _gifs(folder: Path, pattern: str, label: Callable[[int], str], max_px: int) -> str:
    files = sorted(folder.glob(pattern))
    figs = [_figure(p, label(i), label(i), max_px=max_px) for i, p in enumerate(files)]
    return f'<div class="gallery">{"".join(figs)}</div>' if figs else ""


def _missing(failed: Mapping[str, str], name: str) -> str:
    return _note(f"no {name}: {failed[name]}") if name in failed else ""


def _pictures_sections(assets: Path, failed: Mapping[str, str]) -> str:
    """Reconstructions, swaps and generations, as still grids and animations."""
    rec = assets / "reconstructions"
    recon = _missing(failed, "reconstructions") or (
        '<p class="caption">Test sequences (rows "data i") and their reconstructions from the '
        "posterior means of f and z<sub>1:T</sub> (rows \u201crecon\u201d).</p>"
        '<div class="pair">'
        + _figure(
            rec / "reconstructions.png",
            "Test sequences and their reconstructions, alternating rows",
            "Frames left to right.",
            max_px=_HALF_PX,
        )
        + _figure(
            rec / "reconstructions.gif",
            "Animation of the test sequences and their reconstructions side by side",
            "Animated: data, recon, data, recon, \u2026",
            max_px=_HALF_PX,
        )
        + "</div>"
    )
    sw = assets / "swaps"
    swaps = _missing(failed, "swaps") or (
        '<p class="caption">Each triple decodes the static code f of the <b>content</b> '
        "sequence with the dynamic codes z<sub>1:T</sub> of the <b>motion</b> sequence "
        "(<b>swap</b>): the swap should look like the content character doing the motion.</p>"
        '<div class="pair">'
        + _figure(
            sw / "swaps.png",
            "Swap grid: rows content, motion, swap for each pair",
            "Rows: content, motion, swap.",
            max_px=_HALF_PX,
        )
        + "<div><h3>Animated</h3>"
        + _gifs(
            sw,
            "swap_*.gif",
            lambda i: f"Pair {i}: content | motion | swap",
            max_px=_HALF_PX,
        )
        + "</div></div>"
    )
    gen = assets / "generate"
    parts = []
    for fix, name, title, caption in (
        (
            "static",
            "generations with f fixed",
            "f fixed, z<sub>1:T</sub> sampled",
            "Each group g shares one f drawn from p(f); every row draws its own z<sub>1:T</sub>: "
            "same character, different motions.",
        ),
        (
            "dynamic",
            "generations with z fixed",
            "z<sub>1:T</sub> fixed, f sampled",
            "Each group g shares one z<sub>1:T</sub> drawn from the prior; every row draws its "
            "own f: same motion, different characters.",
        ),
    ):
        body = _missing(failed, name) or (
            f'<p class="caption">{caption}</p>'
            + _figure(
                gen / f"generate_{fix}.png",
                f"Generated sequences with the {fix} code fixed within each group",
                "Rows g<group> #<sample>, frames left to right.",
                max_px=_HALF_PX,
            )
            + _gifs(
                gen,
                f"generate_{fix}_*.gif",
                lambda i, fix=fix: f"Group {i}: {fix} code shared, animated",
                max_px=_HALF_PX,
            )
        )
        parts.append(f"<div><h3>{title}</h3>{body}</div>")
    generation = '<div class="pair">' + "".join(parts) + "</div>"
    return (
        _section("reconstructions", "Reconstructions", recon)
        + _section("swaps", "Swapping f and z", swaps)
        + _section("samples", "Generation", generation)
    )


# --- evaluation --------------------------------------------------------------------------


def _read_eval(eval_dir: Path) -> dict[str, Any]:
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


def _published_name(factor: str) -> str:
    return _PUBLISHED_FACTOR.get(factor, factor)


def _table1(t1: Mapping[str, Any], sprites: bool) -> str:
    """Disagreement and KL measures per factor (seed 002 Table 1), published beside ours."""
    measures = ["disagreement", "kl_recon", "kl_random"]
    titles = {"disagreement": "disagreement %", "kl_recon": "KL-recon", "kl_random": "KL-random"}
    rows = []  # (kind, factor, values)
    for kind in ("static", "dynamic"):
        for factor, values in (t1.get(kind) or {}).items():
            if isinstance(values, Mapping):
                rows.append((kind, str(factor), values))
                measures += [str(k) for k in values if str(k) not in measures]
    if not rows:
        return _nested(t1, table_id="table1")

    if sprites:
        head = (
            '<tr><th rowspan="2">factor</th><th rowspan="2">code</th>'
            + "".join(
                f'<th colspan="2" class="group">{_e(titles[m])}</th>'
                if m in titles
                else f'<th rowspan="2" class="num">{_e(m)}</th>'
                for m in measures
            )
            + "</tr><tr>"
            + '<th class="num">ours</th><th class="num">published</th>' * 3
            + "</tr>"
        )
    else:
        head = (
            "<tr><th>factor</th><th>code</th>"
            + "".join(f'<th class="num">{_e(titles.get(m, m))}</th>' for m in measures)
            + "</tr>"
        )
    body = ""
    for kind, factor, values in rows:
        published = PUBLISHED_TABLE1.get(_published_name(factor)) if sprites else None
        cells = ""
        for m in measures:
            v = values.get(m)
            cells += _num_td(_mean_std(v, percent=m == "disagreement"))
            if sprites and m in titles:
                ref = published[measures.index(m)] if published else "\u2014"
                cells += _num_td(ref, cls="num published")
        body += f"<tr><th>{_e(factor)}</th><td>{_e(kind)}</td>{cells}</tr>"
    caption = (
        "Judge's predictions on reconstructions that keep one code and resample the other: "
        "disagreement with the predictions on the data, KL[p<sub>recon</sub> || "
        "p<sub>data</sub>] and, for reference, KL[p<sub>random</sub> || p<sub>data</sub>]. "
        "Lower disagreement and KL-recon are better."
    )
    if sprites:
        caption += " Published: Li &amp; Mandt (2018), Table 1 (in italics)."
    rest = {k: v for k, v in t1.items() if k not in ("static", "dynamic")}
    return (
        f'<table id="table1"><thead>{head}</thead><tbody>{body}</tbody></table>'
        f'<p class="caption">{caption}</p>'
        + (_nested(rest, table_id="table1-other") if rest else "")
    )


def _generation_tables(gen: Mapping[str, Any], sprites: bool) -> str:
    """z kept / f sampled scores (with the field's numbers on Sprites); f kept / z sampled."""
    out = ""
    zk = gen.get("z_kept_f_sampled")
    if isinstance(zk, Mapping):
        n = zk.get("n")
        label = "dsae (this run" + (f", n = {_fmt(n)})" if n is not None else ")")
        cells = "".join(
            _num_td(_mean_std(zk.get(k), percent=k == "acc")) for k in ("acc", "is", "h_yx", "h_y")
        )
        body = f'<tr class="ours"><th>{_e(label)}</th>{cells}</tr>'
        if sprites:
            for row in PUBLISHED_GENERATION:
                body += (
                    f'<tr class="published"><th>{_e(row[0])} (published)</th>'
                    + "".join(_num_td(v) for v in row[1:])
                    + "</tr>"
                )
        head = (
            "<tr><th>model</th><th class='num'>Acc % &uarr;</th><th class='num'>IS &uarr;</th>"
            "<th class='num'>H(y|x) &darr;</th><th class='num'>H(y) &uarr;</th></tr>"
        )
        caption = (
            "z<sub>1:T</sub> kept, f resampled from the prior: the judge's accuracy on the kept "
            "dynamic factor, inception score and the entropies of its predictions (mean "
            "&plusmn; std over repeats)."
        )
        if sprites:
            caption += " Published rows: numbers on Sprites as reported by their authors."
        extra = {k: v for k, v in zk.items() if k not in ("acc", "is", "h_yx", "h_y", "n")}
        out += (
            "<h3>z kept, f sampled</h3>"
            f'<table id="generation"><thead>{head}</thead><tbody>{body}</tbody></table>'
            f'<p class="caption">{caption}</p>' + (_nested(extra) if extra else "")
        )
    fk = gen.get("f_kept_z_sampled")
    if isinstance(fk, Mapping) and fk:
        body = "".join(
            f"<tr><th>{_e(k)}</th>{_num_td(_mean_std(v, percent=True))}</tr>" for k, v in fk.items()
        )
        out += (
            "<h3>f kept, z sampled</h3>"
            '<table id="generation-f-kept"><thead><tr><th>factor</th>'
            "<th class='num'>judge accuracy %</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
            '<p class="caption">f kept, z<sub>1:T</sub> resampled: how often the judge still '
            "sees the kept static factors.</p>"
        )
    rest = {k: v for k, v in gen.items() if k not in ("z_kept_f_sampled", "f_kept_z_sampled")}
    if rest:
        out += _nested(rest, table_id="generation-other")
    return out or _nested(gen, table_id="generation")


def _reconstruction_table(rec: Mapping[str, Any]) -> str:
    rows = []
    if "mse" in rec:
        rows.append(("MSE", _e(_fmt(rec["mse"]))))
    if "psnr" in rec:
        rows.append(("PSNR (dB)", _e(_fmt(rec["psnr"]))))
    acc = rec.get("judge_accuracy")
    if isinstance(acc, Mapping):
        rows += [(f"judge accuracy: {_e(k)} (%)", _e(_pc(v))) for k, v in acc.items()]
    rows += [
        (_e(k), _nested(v)) for k, v in rec.items() if k not in ("mse", "psnr", "judge_accuracy")
    ]
    return _kv_table(rows, table_id="reconstruction", cls="kv numeric")


def _swap_table(sw: Mapping[str, Any]) -> str:
    """Swap accuracy per factor: kept from the right source, over all and differing pairs."""
    head = (
        "<tr><th>factor</th><th>should come from</th><th>kept %</th>"
        "<th>kept %, pairs that differ</th><th>from the other source %</th></tr>"
    )
    rows = []
    for group, src in (("static", "content source (f)"), ("dynamic", "motion source (z)")):
        block = sw.get(group)
        if not isinstance(block, Mapping):
            continue
        for k, r in block.items():
            r = r if isinstance(r, Mapping) else {}
            rows.append(
                f"<tr><td>{_e(k)}</td><td>{src}</td>"
                + "".join(
                    _num_td(f"{float(r[c]):.2f}" if _is_number(r.get(c)) else "n/a")
                    for c in ("acc", "differs", "other_source")
                )
                + "</tr>"
            )
    n = sw.get("n_pairs")
    cap = (
        f'<p class="caption">f of each of {_e(n)} test sequences decoded with z_1:T of a random '
        "other one; the judge says which source each factor came from.</p>"
    )
    return cap + f'<table id="swap"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _eval_section(metrics: Mapping[str, Any], eval_dir: Path, run: _Run) -> str:
    """Every part of ``metrics.json``: known parts as tables, the rest generically."""
    dataset = metrics.get("dataset") if isinstance(metrics.get("dataset"), Mapping) else {}
    name = str(dataset.get("name") or run.dataset_name)
    sprites = name == "sprites"
    notes = []
    step = metrics.get("checkpoint_step")
    if step is not None and run.step is not None and step != run.step:
        notes.append(f"evaluated at step {step}, but the run's checkpoint is at step {run.step}")
    fp, run_fp = dataset.get("fingerprint"), run.data_info.get("fingerprint")
    if fp and run_fp and fp != run_fp:
        notes.append(
            "evaluated on another dataset than the run was trained on (fingerprints differ)"
        )

    setup = [("evaluation folder", f"<code>{_e(eval_dir.resolve())}</code>")]
    for key, label in (("run", "run"), ("checkpoint_step", "checkpoint step")):
        if key in metrics:
            setup.append((label, _nested(metrics[key])))
    if dataset:
        setup.append(("dataset", _nested(dict(dataset))))
    judge = metrics.get("judge")
    if isinstance(judge, Mapping):
        info = judge.get("info") if isinstance(judge.get("info"), Mapping) else {}
        jrows = [("path", f"<code>{_e(judge.get('path'))}</code>")]
        acc = info.get("test_accuracy")
        if isinstance(acc, Mapping):
            jrows.append(
                (
                    "test accuracy %",
                    _kv_table((_e(k), _e(_pct(v))) for k, v in acc.items()),
                )
            )
        jrows += [(_e(k), _nested(v)) for k, v in info.items() if k != "test_accuracy"]
        jrows += [(_e(k), _nested(v)) for k, v in judge.items() if k not in ("path", "info")]
        setup.append(("judge", _kv_table(jrows)))
    elif judge is not None:
        setup.append(("judge", _nested(judge)))
    for key in ("seeds", "versions", "timing"):
        if key in metrics:
            setup.append((key, _nested(metrics[key])))
    body = "".join(_note(n) for n in notes) + "<h3>Setup</h3>" + _kv_table(setup, "eval-setup")
    if isinstance(metrics.get("config"), Mapping):
        body += (
            "<details><summary>Evaluation config</summary>"
            + _nested(metrics["config"], table_id="eval-config")
            + "</details>"
        )

    if isinstance(metrics.get("reconstruction"), Mapping):
        body += "<h3>Reconstruction</h3>" + _reconstruction_table(metrics["reconstruction"])
    if isinstance(metrics.get("table1"), Mapping):
        body += "<h3>Table 1: keeping one code, resampling the other</h3>" + _table1(
            metrics["table1"], sprites
        )
    if isinstance(metrics.get("generation"), Mapping):
        body += "<h3>Generation scores</h3>" + _generation_tables(metrics["generation"], sprites)
    if isinstance(metrics.get("swap"), Mapping):
        body += "<h3>Swaps</h3>" + _swap_table(metrics["swap"])
    if "latent" in metrics:
        body += (
            "<h3>Latent metrics</h3>"
            '<p class="caption">DCI, MIG, SAP, FactorVAE and cross-predictability of the '
            "latent codes (see the evaluation's docs for each definition).</p>"
            + _nested(metrics["latent"], table_id="latent")
        )
    plots = metrics.get("plots")
    if isinstance(plots, Mapping) and plots:
        figs = []
        for key, filename in plots.items():
            title = _PLOT_TITLES.get(str(key)) or _PLOT_TITLES.get(Path(str(filename)).stem)
            figs.append(
                _figure(eval_dir / str(filename), title or str(key), title or str(key), pixel=False)
            )
        body += "<h3>Plots</h3>" + "".join(figs)
    for key, value in metrics.items():
        if key not in _EVAL_KNOWN:
            # a part this page does not know yet: shown as a (nested) table all the same
            shown = value if isinstance(value, Mapping) and value else {key: value}
            body += f"<h3>{_e(key)}</h3>" + _nested(shown, table_id=f"extra-{_id(str(key))}")
    return _section("evaluation", "Evaluation", body)


# --- the page ----------------------------------------------------------------------------


def build_report(
    run_dir: str | os.PathLike,
    eval_dir: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    assets: str | os.PathLike | None = None,
    data: str | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Write a self-contained HTML report of ``run_dir`` (and ``eval_dir``); returns its path.

    ``out`` defaults to ``RUN_DIR/report.html``. Pictures come from ``assets`` (default
    ``RUN_DIR/report_assets``; its ``reconstructions/``, ``swaps/`` and ``generate/``
    folders are laid out as the quickstart's), drawn there first when missing or older than
    the checkpoint; ``data`` overrides the run's dataset folder for them. ``log`` receives
    one line per picture set drawn.
    """
    run_path = Path(run_dir)
    run = _read_run(run_path)
    metrics = _read_eval(Path(eval_dir)) if eval_dir is not None else None
    out_path = Path(out) if out is not None else run_path / REPORT_FILE
    assets_path = Path(assets) if assets is not None else run_path / ASSETS_DIR
    assets_path.mkdir(parents=True, exist_ok=True)

    failed = _ensure_assets(run, assets_path, data, log)
    sections = [
        _summary_section(run),
        _curves_section(run, assets_path),
        _pictures_sections(assets_path, failed),
    ]
    nav = [
        ("summary", "Summary"),
        ("curves", "Training curves"),
        ("reconstructions", "Reconstructions"),
        ("swaps", "Swaps"),
        ("samples", "Generation"),
    ]
    if metrics is not None:
        sections.append(_eval_section(metrics, Path(eval_dir), run))
        nav.append(("evaluation", "Evaluation"))

    name = run_path.resolve().name
    now = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    links = "".join(f'<a href="#{sid}">{_e(label)}</a>' for sid, label in nav)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dsae report: {_e(name)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header>
<h1>dsae report: {_e(name)}</h1>
<p class="sub">Run <code>{_e(run_path.resolve())}</code> &middot; dataset {_e(run.dataset_name)}
&middot; written {_e(now)} by dsae {_e(__version__)}</p>
<p class="sub">A sequential VAE with a static code f (what stays the same along a sequence)
and dynamic codes z<sub>1:T</sub> (what changes), after Li &amp; Mandt (2018).</p>
<nav>{links}</nav>
</header>
{"".join(sections)}
<footer>Self-contained page: every picture is embedded. Pictures drawn from
<code>{_e(assets_path.resolve())}</code>.</footer>
</main>
<script>{_SCRIPT}</script>
</body>
</html>
"""
    return atomic_write_text(out_path, page)
