"""The evaluation part of the report page, from an evaluation's ``metrics.json``.

Sections follow the protocols that ran, in the order ``metrics.json`` lists them. Protocols
that sample (Table 1, generation, trajectories) hold one result per generation sampler
(``{"learnt_prior": ..., "aggregate": ...}``, names in ``metrics["samplers"]``); the sampler
named by ``metrics["compared_with_published"]`` (the model's learnt prior, as in the papers)
is the row set beside the published numbers, every other sampler gets rows of its own,
labelled as a post-hoc sampler. Protocols that were skipped (``metrics["skipped"]``) are
named with their reason. An older ``metrics.json`` whose protocols hold one plain result
renders too: that result is the row beside the published numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dsae.viz.html import (
    esc,
    figure,
    fmt,
    html_id,
    is_number,
    kv_table,
    nested,
    note,
    num_td,
    pc,
    pct,
    section,
)
from dsae.viz.report_dynamics import imputation_tables
from dsae.viz.report_samplers import (
    Entry,
    PublishedTables,
    generation_tables,
    labelled,
    sampler_results,
    table1_tables,
)
from dsae.viz.report_slowness import slowness_tables
from dsae.viz.report_verification import verification_tables

__all__ = ["PublishedTables", "eval_section", "sampler_results"]

# Keys of metrics.json that describe the evaluation rather than hold a protocol's result.
_SETUP_KEYS = (
    "run",
    "checkpoint_step",
    "data",
    "dataset",
    "config",
    "judge",
    "samplers",
    "compared_with_published",
    "skipped",
    "seeds",
    "versions",
    "timing",
)
_PLOT_TITLES = {
    "fixed_f": "Judged classes along sequences generated with f fixed, z_1:T sampled",
    "fixed_z": "Judged classes along sequences generated with z_1:T fixed, f sampled",
}
_QUALITY_LABELS = {
    "mse": "MSE",
    "psnr": "PSNR (dB)",
    "psnr_global": "PSNR of the mean MSE (dB)",
    "snr_db": "SNR (dB)",
}


def _reconstruction(rec: Any, table_id: str) -> str:
    if not isinstance(rec, Mapping):
        return nested(rec, table_id=table_id)
    rows = [(esc(label), esc(fmt(rec[k]))) for k, label in _QUALITY_LABELS.items() if k in rec]
    acc = rec.get("judge_accuracy")
    if isinstance(acc, Mapping):
        rows += [(f"judge accuracy: {esc(k)} (%)", esc(pc(v))) for k, v in acc.items()]
    rows += [
        (esc(k), nested(v))
        for k, v in rec.items()
        if k not in _QUALITY_LABELS and k != "judge_accuracy"
    ]
    return kv_table(rows, table_id=table_id, cls="kv numeric")


def _swap(sw: Any, table_id: str) -> str:
    """Swap accuracy per factor: kept from the right source, over all and differing pairs."""
    if not isinstance(sw, Mapping):
        return nested(sw, table_id=table_id)
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
                f"<tr><td>{esc(k)}</td><td>{src}</td>"
                + "".join(
                    num_td(f"{float(r[c]):.2f}" if is_number(r.get(c)) else "n/a")
                    for c in ("acc", "differs", "other_source")
                )
                + "</tr>"
            )
    cap = (
        f'<p class="caption">f of each of {esc(sw.get("n_pairs"))} test sequences decoded with '
        "z_1:T of a random other one; the judge says which source each factor came from.</p>"
    )
    return (
        cap
        + f'<table id="{esc(table_id)}"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
    )


_STYLE_ROWS = {
    "f_kept": "f kept, z_1:T sampled",
    "z_kept": "z_1:T kept, f sampled",
    "reconstruction": "both kept (reconstruction)",
}


def _style(result: Any, table_id: str) -> str:
    """Per kept part: the judge's accuracy of each static factor (%) and Pearson's r of each
    measured state with the source frame's."""
    if not isinstance(result, Mapping) or not all(
        isinstance(result.get(k), Mapping) for k in _STYLE_ROWS
    ):
        return nested(result, table_id=table_id)
    first = result["f_kept"]
    factors = list(first.get("accuracy") or {})
    states = list(first.get("correlation") or {})
    head = (
        "<tr><th>generated with</th>"
        + "".join(f"<th>{esc(k)} accuracy %</th>" for k in factors)
        + "".join(f"<th>r {esc(s)}</th>" for s in states)
        + "</tr>"
    )
    rows = []
    for kind, label in _STYLE_ROWS.items():
        acc = result[kind].get("accuracy") or {}
        cor = result[kind].get("correlation") or {}
        rows.append(
            f"<tr><td>{esc(label)}</td>"
            + "".join(num_td(pct(acc.get(k))) for k in factors)
            + "".join(
                num_td(f"{float(cor[s]):+.3f}" if is_number(cor.get(s)) else "n/a") for s in states
            )
            + "</tr>"
        )
    cap = (
        f'<p class="caption">{esc(result.get("n_sequences"))} test sequences decoded keeping '
        "one code and sampling the other: the judge's accuracy of the source's class, and r "
        "between each style state measured on the generated frames and the source frames'. "
        "Disentangled: high accuracy and r near 0 with f kept, the converse with z_1:T kept.</p>"
    )
    return (
        cap
        + f'<table id="{esc(table_id)}"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _latent(latent: Any, table_id: str) -> str:
    return (
        '<p class="caption">DCI, MIG, SAP, FactorVAE and cross-predictability of the latent '
        "codes (see the evaluation's docs for each definition).</p>"
        + nested(latent, table_id=table_id)
    )


def _plots(plots: Mapping[str, Any], eval_dir: Path) -> str:
    figs = []
    for key, filename in plots.items():
        name = str(key).removeprefix("trajectories_")
        title = _PLOT_TITLES.get(name) or _PLOT_TITLES.get(Path(str(filename)).stem) or str(key)
        figs.append(figure(eval_dir / str(filename), title, title, pixel=False))
    return "".join(figs)


def _with_plots(result: Any, eval_dir: Path, table_id: str) -> str:
    """A result whose ``plots`` ({name: file in the evaluation folder}) are drawn as figures."""
    if not isinstance(result, Mapping):
        return nested(result, table_id=table_id)
    plots = result.get("plots")
    rest = {k: v for k, v in result.items() if k != "plots"}
    out = _plots(plots, eval_dir) if isinstance(plots, Mapping) else ""
    return out + (nested(rest, table_id=table_id) if rest else "")


def _each(render: Callable[[Any, str], str], base: str):
    """A protocol shown once per sampler, each under its own label."""

    def show(entries: list[Entry], published: PublishedTables | None, eval_dir: Path) -> str:
        return "".join(labelled(e, render(e.result, e.suffix(base))) for e in entries)

    return show


# protocol key -> (title, renderer of its entries)
_PROTOCOLS: dict[str, tuple[str, Callable[..., str]]] = {
    "reconstruction": ("Reconstruction", _each(_reconstruction, "reconstruction")),
    "table1": ("Table 1: keeping one code, resampling the other", table1_tables),
    "generation": ("Generation scores", generation_tables),
    "style": ("Style measured on generated frames", _each(_style, "style")),
    "trajectories": (
        "Trajectories of the judged classes",
        lambda entries, published, eval_dir: "".join(
            labelled(e, _with_plots(e.result, eval_dir, e.suffix("trajectories"))) for e in entries
        ),
    ),
    "swap": ("Swaps", _each(_swap, "swap")),
    "latent": ("Latent metrics", _each(_latent, "latent")),
    "verification": ("Speaker verification and linear probes", verification_tables),
    "imputation": ("Imputation: predicting the missing frames", imputation_tables),
    "slowness": ("Slow latents: eigenvalues of the dynamics", slowness_tables),
    "plots": (
        "Plots",
        lambda entries, published, eval_dir: "".join(
            _plots(e.result, eval_dir) if isinstance(e.result, Mapping) else nested(e.result)
            for e in entries
        ),
    ),
}


# --- the section -------------------------------------------------------------------------


def _setup(metrics: Mapping[str, Any], eval_dir: Path, dataset: Mapping[str, Any]) -> str:
    rows = [("evaluation folder", f"<code>{esc(eval_dir.resolve())}</code>")]
    for key, label in (("run", "run"), ("checkpoint_step", "checkpoint step")):
        if key in metrics:
            rows.append((label, nested(metrics[key])))
    if dataset:
        rows.append(("dataset", nested(dict(dataset))))
    judge = metrics.get("judge")
    if isinstance(judge, Mapping):
        info = judge.get("info") if isinstance(judge.get("info"), Mapping) else {}
        jrows = [("path", f"<code>{esc(judge.get('path'))}</code>")]
        acc = info.get("test_accuracy")
        if isinstance(acc, Mapping):
            jrows.append(
                ("test accuracy %", kv_table((esc(k), esc(pct(v))) for k, v in acc.items()))
            )
        jrows += [(esc(k), nested(v)) for k, v in info.items() if k != "test_accuracy"]
        jrows += [(esc(k), nested(v)) for k, v in judge.items() if k not in ("path", "info")]
        rows.append(("judge", kv_table(jrows)))
    elif judge is not None:
        rows.append(("judge", nested(judge)))
    if metrics.get("samplers"):
        compared = metrics.get("compared_with_published")
        text = nested(metrics["samplers"])
        if compared:
            text += f" <span class='sub'>(compared with published numbers: {esc(compared)})</span>"
        rows.append(("samplers", text))
    for key in ("seeds", "versions", "timing"):
        if key in metrics:
            rows.append((key, nested(metrics[key])))
    return "<h3>Setup</h3>" + kv_table(rows, "eval-setup")


def eval_section(
    metrics: Mapping[str, Any],
    eval_dir: Path,
    run: Mapping[str, Any],
    published: PublishedTables | None = None,
) -> str:
    """Every part of ``metrics``: known protocols as tables, the rest generically."""
    dataset = next(
        (metrics[k] for k in ("data", "dataset") if isinstance(metrics.get(k), Mapping)), {}
    )
    notes = []
    step, run_step = metrics.get("checkpoint_step"), run.get("step")
    if step is not None and run_step is not None and step != run_step:
        notes.append(f"evaluated at step {step}, but the run's checkpoint is at step {run_step}")
    fp, run_fp = dataset.get("fingerprint"), (run.get("data") or {}).get("fingerprint")
    if fp and run_fp and fp != run_fp:
        notes.append(
            "evaluated on another dataset than the run was trained on (fingerprints differ)"
        )
    skipped = metrics.get("skipped")
    if isinstance(skipped, Mapping):
        notes += [f"{protocol} not run: {reason}" for protocol, reason in skipped.items()]
    elif skipped:
        notes.append(f"skipped: {fmt(skipped)}")

    body = "".join(note(n) for n in notes) + _setup(metrics, eval_dir, dataset)
    if isinstance(metrics.get("config"), Mapping):
        body += (
            "<details><summary>Evaluation config</summary>"
            + nested(metrics["config"], table_id="eval-config")
            + "</details>"
        )
    for key, value in metrics.items():
        if key in _SETUP_KEYS:
            continue
        if key in _PROTOCOLS:
            title, render = _PROTOCOLS[key]
            body += f"<h3>{esc(title)}</h3>" + render(
                sampler_results(metrics, key), published, eval_dir
            )
        else:
            # a part this page does not know yet: shown as a (nested) table all the same
            shown = value if isinstance(value, Mapping) and value else {key: value}
            body += f"<h3>{esc(key)}</h3>" + nested(shown, table_id=f"extra-{html_id(str(key))}")
    return section("evaluation", "Evaluation", body)
