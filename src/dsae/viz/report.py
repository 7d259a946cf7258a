"""The report page: one self-contained HTML page about a trained run and its evaluation.

:func:`build_page` turns plain data into the page: a run summary (a dict), the training
records, paths of pictures already drawn, an evaluation's ``metrics.json`` (a dict) and the
published tables to show beside it. Every picture is embedded as a base64 data URI (no
external resources, so the page can be mailed or archived alone). Nothing here loads a
checkpoint or draws a run's pictures: :mod:`dsae.pipeline.report` gathers these inputs.

Rates in ``metrics.json`` (accuracies, disagreement) are percentages; the judge's test
accuracy is a fraction, shown as a percentage.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsae import __version__
from dsae.viz.html import (
    HALF_PX,
    card,
    duration,
    esc,
    figure,
    fmt,
    gallery,
    html_id,
    kv_table,
    nested,
    note,
    num_td,
    page,
    section,
)
from dsae.viz.report_dynamics import dynamics_section
from dsae.viz.report_eval import eval_section
from dsae.viz.report_samplers import PublishedTables
from dsae.viz.report_speech import speech_section

__all__ = ["PictureSet", "PublishedTables", "ReportInputs", "build_page"]

_LOSS_KEYS = ("loss", "recon", "kl_f", "kl_z", "elbo", "lr", "seq_per_s", "epoch")


@dataclass
class PictureSet:
    """One set of pictures of a run: a still grid and its animations, or why it is missing."""

    grid: Path | None = None
    animations: Sequence[Path] = ()
    missing: str | None = None  # the reason the set could not be drawn
    sampler: str | None = None  # generations: the sampler that drew f and z_1:T


@dataclass
class ReportInputs:
    """Everything the page shows, as plain data.

    ``run`` summarises the run directory; its keys (all optional): ``name``, ``path``,
    ``dataset`` (name), ``step``, ``wall_time`` (s), ``data`` ({"root", "fingerprint",
    "meta": the dataset's meta.json}), ``version`` (dsae that trained it), ``config`` (the
    config as a dict) and ``notes`` (lines to show as remarks). ``pictures`` maps
    ``reconstructions``, ``swaps``, ``generate_static`` and ``generate_dynamic`` to their
    :class:`PictureSet`; ``curves`` is the training-curves plot. ``metrics`` is an
    evaluation's ``metrics.json`` and ``eval_dir`` the folder its plots are in.
    ``published`` holds the published numbers to set beside ours (None: no comparison).
    ``conversion`` is a speech run's ``conversion.json``, ``conversion_dir`` its folder and
    ``audio_base`` the path from the page to that folder (for the sound players).
    ``imputation`` is ``dsae impute``'s ``imputation.json`` and ``imputation_dir`` its folder.
    """

    run: Mapping[str, Any]
    records: Sequence[Mapping[str, Any]] = ()
    pictures: Mapping[str, PictureSet] = field(default_factory=dict)
    curves: Path | None = None
    metrics: Mapping[str, Any] | None = None
    eval_dir: Path | None = None
    published: PublishedTables | None = None
    assets_dir: Path | None = None
    written: str | None = None  # when the page was written (default: now)
    conversion: Mapping[str, Any] | None = None
    conversion_dir: Path | None = None
    audio_base: str = ""
    imputation: Mapping[str, Any] | None = None
    imputation_dir: Path | None = None


def build_page(inputs: ReportInputs) -> str:
    """The whole HTML page for ``inputs``."""
    run = inputs.run
    sections = [
        _summary_section(run, inputs.records),
        _curves_section(inputs.records, inputs.curves),
        _pictures_sections(inputs.pictures),
    ]
    nav = [
        ("summary", "Summary"),
        ("curves", "Training curves"),
        ("reconstructions", "Reconstructions"),
        ("swaps", "Swaps"),
        ("samples", "Generation"),
    ]
    if inputs.metrics is not None:
        eval_dir = inputs.eval_dir if inputs.eval_dir is not None else Path(".")
        sections.append(eval_section(inputs.metrics, eval_dir, run, inputs.published))
        nav.append(("evaluation", "Evaluation"))
    if inputs.conversion is not None:
        folder = inputs.conversion_dir if inputs.conversion_dir is not None else Path(".")
        sections.append(speech_section(inputs.conversion, folder, inputs.audio_base))
        nav.append(("conversion", "Voice conversion"))
    if inputs.imputation is not None:
        folder = inputs.imputation_dir if inputs.imputation_dir is not None else Path(".")
        sections.append(dynamics_section(inputs.imputation, folder))
        nav.append(("dynamics", "Dynamics"))

    name = str(run.get("name") or "run")
    now = inputs.written or _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    header = (
        f'<p class="sub">Run <code>{esc(run.get("path", name))}</code> &middot; dataset '
        f"{esc(run.get('dataset') or '?')} &middot; written {esc(now)} by dsae "
        f"{esc(__version__)}</p>"
        '<p class="sub">A sequential VAE with a static code f (what stays the same along a '
        "sequence) and dynamic codes z<sub>1:T</sub> (what changes), after Li &amp; Mandt "
        "(2018).</p>"
    )
    footer = "Self-contained page: every picture is embedded."
    if inputs.conversion is not None:
        footer += " Sound is not: the players read the conversion folder's wav files."
    if inputs.assets_dir is not None:
        footer += f" Pictures drawn from <code>{esc(inputs.assets_dir)}</code>."
    return page(f"dsae report: {name}", header, nav, sections, footer)


# --- the run -----------------------------------------------------------------------------


def _summary_section(run: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> str:
    """Headline numbers, dataset, last logged losses and the config."""
    cfg = run.get("config") or {}
    last = records[-1] if records else {}
    data = run.get("data") or {}
    max_steps = (cfg.get("train") or {}).get("max_steps")
    step = run.get("step", last.get("step"))
    cards = [
        card("steps", f"{fmt(step)} / {fmt(max_steps)}" if max_steps else fmt(step)),
        card("epochs", fmt(last.get("epoch"))),
        card("wall time", duration(run.get("wall_time", last.get("wall_time")))),
        card("throughput", f"{fmt(last.get('seq_per_s'))} seq/s"),
        card("final loss", fmt(last.get("loss"))),
    ]
    meta = data.get("meta") or {}
    root = data.get("root") or (cfg.get("data") or {}).get("root")
    rows = [
        ("dataset", esc(run.get("dataset") or "?")),
        ("data folder", f"<code>{esc(root)}</code>"),
    ]
    frame = meta.get("frame_shape")
    if frame:
        rows.append(("frames", esc(f"T = {meta.get('seq_len')}, " + " x ".join(map(str, frame)))))
    for kind in ("static", "dynamic"):
        factors = meta.get(f"{kind}_factors")
        if factors:
            listed = ", ".join(f"{k} ({v})" for k, v in factors.items())
            rows.append((f"{kind} factors", esc(listed)))
    if data.get("fingerprint"):
        rows.append(("fingerprint", f"<code>{esc(data['fingerprint'])}</code>"))
    if run.get("version"):
        rows.append(("trained with", esc(f"dsae {run['version']}")))

    loss_keys = [k for k in _LOSS_KEYS if k in last]
    if loss_keys:
        head = "".join(f'<th class="num">{esc(k)}</th>' for k in loss_keys)
        cells = "".join(num_td(fmt(last[k])) for k in loss_keys)
        losses = (
            f"<h3>Last logged values (step {esc(fmt(last.get('step')))})</h3>"
            f'<table id="last-losses"><thead><tr>{head}</tr></thead>'
            f"<tbody><tr>{cells}</tr></tbody></table>"
            '<p class="caption">Per-sequence negative ELBO terms of the last training batch: '
            "loss = recon + &beta;<sub>f</sub> kl_f + &beta;<sub>z</sub> kl_z.</p>"
        )
    else:
        losses = note("no training records (metrics.jsonl is missing or empty)")

    parts = [
        f"<div><h3>{esc(name)}</h3>{nested(values, table_id=f'config-{html_id(name)}')}</div>"
        for name, values in cfg.items()
        if isinstance(values, Mapping)
    ]
    others = {k: v for k, v in cfg.items() if not isinstance(v, Mapping)}
    if others:
        parts.append(f"<div><h3>other</h3>{nested(others, table_id='config-other')}</div>")
    config = (
        '<h3>Config</h3><div class="columns" id="config">' + "".join(parts) + "</div>"
        if parts
        else note("no config found")
    )
    body = (
        f'<div class="cards">{"".join(cards)}</div>'
        + "".join(note(n) for n in run.get("notes") or ())
        + "<h3>Dataset</h3>"
        + kv_table(rows, table_id="dataset")
        + losses
        + config
    )
    return section("summary", "Run summary", body)


def _curves_section(records: Sequence[Mapping[str, Any]], curves: Path | None) -> str:
    if not records:
        return section("curves", "Training curves", note("no training records to plot"))
    fig = figure(
        curves,
        "Training curves: logged values against the training step",
        "Logged values against the training step (from metrics.jsonl).",
        pixel=False,
    )
    return section("curves", "Training curves", fig)


# --- pictures ----------------------------------------------------------------------------


def _pictures(pictures: Mapping[str, PictureSet], key: str, label: str) -> PictureSet | str:
    """The picture set ``key``, or a note saying why there is none."""
    found = pictures.get(key)
    if found is None:
        return note(f"no {label}")
    if found.missing:
        return note(f"no {label}: {found.missing}")
    return found


def _pictures_sections(pictures: Mapping[str, PictureSet]) -> str:
    """Reconstructions, swaps and generations, as still grids and animations."""
    rec = _pictures(pictures, "reconstructions", "reconstructions")
    if isinstance(rec, PictureSet):
        animated = rec.animations[0] if rec.animations else None
        rec = (
            '<p class="caption">Test sequences (rows "data i") and their reconstructions from '
            "the posterior means of f and z<sub>1:T</sub> (rows \u201crecon\u201d).</p>"
            '<div class="pair">'
            + figure(
                rec.grid,
                "Test sequences and their reconstructions, alternating rows",
                "Frames left to right.",
                max_px=HALF_PX,
            )
            + (
                figure(
                    animated,
                    "Animation of the test sequences and their reconstructions side by side",
                    "Animated: data, recon, data, recon, \u2026",
                    max_px=HALF_PX,
                )
                if animated is not None
                else ""
            )
            + "</div>"
        )
    sw = _pictures(pictures, "swaps", "swaps")
    if isinstance(sw, PictureSet):
        animated = gallery(sw.animations, "Pair {}: content | motion | swap")
        sw = (
            '<p class="caption">Each triple decodes the static code f of the <b>content</b> '
            "sequence with the dynamic codes z<sub>1:T</sub> of the <b>motion</b> sequence "
            "(<b>swap</b>): the swap should look like the content character doing the motion.</p>"
            '<div class="pair">'
            + figure(
                sw.grid,
                "Swap grid: rows content, motion, swap for each pair",
                "Rows: content, motion, swap.",
                max_px=HALF_PX,
            )
            + (f"<div><h3>Animated</h3>{animated}</div>" if animated else "")
            + "</div>"
        )
    parts = []
    for fix, label, title, caption in (
        (
            "static",
            "generations with f fixed",
            "f fixed, z<sub>1:T</sub> sampled",
            "Each group g shares one f; every row draws its own z<sub>1:T</sub>: same "
            "character, different motions.",
        ),
        (
            "dynamic",
            "generations with z fixed",
            "z<sub>1:T</sub> fixed, f sampled",
            "Each group g shares one z<sub>1:T</sub>; every row draws its own f: same motion, "
            "different characters.",
        ),
    ):
        gen = _pictures(pictures, f"generate_{fix}", label)
        if isinstance(gen, PictureSet):
            drawn = f" Sampler: {esc(gen.sampler)}." if gen.sampler else ""
            gen = (
                f'<p class="caption">{caption}{drawn}</p>'
                + figure(
                    gen.grid,
                    f"Generated sequences with the {fix} code fixed within each group",
                    "Rows g<group> #<sample>, frames left to right.",
                    max_px=HALF_PX,
                )
                + gallery(gen.animations, "Group {}: " + fix + " code shared, animated")
            )
        parts.append(f"<div><h3>{title}</h3>{gen}</div>")
    return (
        section("reconstructions", "Reconstructions", rec)
        + section("swaps", "Swapping f and z", sw)
        + section("samples", "Generation", '<div class="pair">' + "".join(parts) + "</div>")
    )
