"""Results per generation sampler, and the two tables set beside published numbers.

Protocols that sample (Table 1, generation, trajectories) hold one result per generation
sampler in ``metrics.json`` (``{"learnt_prior": ..., "aggregate": ...}``, names listed in
``metrics["samplers"]``). The sampler named by ``metrics["compared_with_published"]`` (the
model's learnt prior, as in the papers) is the one set beside the published numbers; every
other sampler gets rows of its own, labelled as a post-hoc sampler. An older
``metrics.json`` whose protocols hold one plain result is read as that one compared result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsae.viz.html import DASH, esc, fmt, html_id, mean_std, nested, num_td

__all__ = [
    "Entry",
    "PublishedTables",
    "generation_tables",
    "labelled",
    "sampler_results",
    "table1_tables",
]

LEARNT_PRIOR = "learnt_prior"
POSTHOC = "post-hoc sampler, not the published protocol"

_GEN_SCORES = ("acc", "is", "h_yx", "h_y")


@dataclass(frozen=True)
class PublishedTables:
    """Numbers published for the dataset, set beside ours (kept as the papers print them)."""

    # (model, Acc %, IS, H(y|x), H(y)) with z_1:T kept and f resampled
    generation: Sequence[tuple[str, str, str, str, str]] = ()
    # published factor name -> (disagreement %, KL-recon, KL-random)
    table1: Mapping[str, tuple[str, str, str]] = field(default_factory=dict)
    # our factor names -> the published table's names
    factor_names: Mapping[str, str] = field(default_factory=dict)
    table1_source: str = "Li & Mandt (2018), Table 1"
    generation_source: str = "numbers on Sprites as reported by their authors"
    # (model, feature, dim, EER %) of speaker verification
    verification: Sequence[tuple[str, str, str, str]] = ()
    verification_source: str = (
        "Li & Mandt (2018), Table 2: TIMIT test set, 24 speakers, 18,336 pairs of utterances"
    )


@dataclass(frozen=True)
class Entry:
    """One sampler's result of a protocol."""

    sampler: str | None  # None: an older metrics.json without samplers
    result: Any
    compared: bool  # the row set beside the published numbers

    @property
    def label(self) -> str:
        if self.sampler is None:
            return "dsae (this run)"
        if self.compared:
            return f"dsae, {self.sampler} (this run)"
        return f"dsae, {self.sampler} ({POSTHOC})"

    def suffix(self, base: str) -> str:
        """A table id: ``base`` for the compared row set, ``base-<sampler>`` for the others."""
        return base if self.compared else f"{base}-{html_id(str(self.sampler))}"


def sampler_results(metrics: Mapping[str, Any], protocol: str) -> list[Entry]:
    """The results of ``protocol``, the one compared with published numbers first."""
    value = metrics.get(protocol)
    samplers = [str(s) for s in metrics.get("samplers") or () if isinstance(s, str)]
    if not (isinstance(value, Mapping) and value and samplers and set(value) <= set(samplers)):
        return [Entry(None, value, True)]
    compared = str(metrics.get("compared_with_published") or LEARNT_PRIOR)
    order = sorted(value, key=lambda s: (s != compared, samplers.index(s)))
    return [Entry(s, value[s], s == compared) for s in order]


def _published_name(published: PublishedTables, factor: str) -> str:
    return published.factor_names.get(factor, factor)


# --- protocols ---------------------------------------------------------------------------


def _table1_table(entry: Entry, published: PublishedTables | None) -> str:
    """Disagreement and KL measures per factor (Li & Mandt 2018, Table 1)."""
    t1, table_id = entry.result, entry.suffix("table1")
    measures = ["disagreement", "kl_recon", "kl_random"]
    titles = {"disagreement": "disagreement %", "kl_recon": "KL-recon", "kl_random": "KL-random"}
    rows = []  # (kind, factor, values)
    for kind in ("static", "dynamic"):
        for factor, values in (t1.get(kind) or {}).items():
            if isinstance(values, Mapping):
                rows.append((kind, str(factor), values))
                measures += [str(k) for k in values if str(k) not in measures]
    if not rows:
        return nested(t1, table_id=table_id)
    beside = published if entry.compared and published is not None and published.table1 else None
    if beside is not None:
        head = (
            '<tr><th rowspan="2">factor</th><th rowspan="2">code</th>'
            + "".join(
                f'<th colspan="2" class="group">{esc(titles[m])}</th>'
                if m in titles
                else f'<th rowspan="2" class="num">{esc(m)}</th>'
                for m in measures
            )
            + "</tr><tr>"
            + '<th class="num">ours</th><th class="num">published</th>' * len(titles)
            + "</tr>"
        )
    else:
        head = (
            "<tr><th>factor</th><th>code</th>"
            + "".join(f'<th class="num">{esc(titles.get(m, m))}</th>' for m in measures)
            + "</tr>"
        )
    body = ""
    for kind, factor, values in rows:
        ref = beside.table1.get(_published_name(beside, factor)) if beside else None
        cells = ""
        for m in measures:
            cells += num_td(mean_std(values.get(m), percent=m == "disagreement"))
            if beside is not None and m in titles:
                cells += num_td(ref[measures.index(m)] if ref else DASH, cls="num published")
        body += f"<tr><th>{esc(factor)}</th><td>{esc(kind)}</td>{cells}</tr>"
    caption = (
        "Judge's predictions on reconstructions that keep one code and resample the other: "
        "disagreement with the predictions on the data, KL[p<sub>recon</sub> || "
        "p<sub>data</sub>] and, for reference, KL[p<sub>random</sub> || p<sub>data</sub>]. "
        "Lower disagreement and KL-recon are better."
    )
    if beside is not None:
        caption += f" Published: {esc(beside.table1_source)} (in italics)."
    rest = {k: v for k, v in t1.items() if k not in ("static", "dynamic")}
    return (
        f'<table id="{esc(table_id)}"><thead>{head}</thead><tbody>{body}</tbody></table>'
        f'<p class="caption">{caption}</p>'
        + (nested(rest, table_id=f"{table_id}-other") if rest else "")
    )


def table1_tables(entries: list[Entry], published: PublishedTables | None, eval_dir: Path) -> str:
    out = ""
    for entry in entries:
        if not isinstance(entry.result, Mapping):
            out += labelled(entry, nested(entry.result, table_id=entry.suffix("table1")))
            continue
        out += labelled(entry, _table1_table(entry, published))
    return out


def labelled(entry: Entry, body: str) -> str:
    """A sampler's block: headed by its name unless it is the only, plain result."""
    if entry.sampler is None:
        return body
    return f"<h4>Sampler {esc(entry.sampler)}{'' if entry.compared else f' ({POSTHOC})'}</h4>{body}"


def generation_tables(
    entries: list[Entry], published: PublishedTables | None, eval_dir: Path
) -> str:
    """z kept / f sampled scores, one row per sampler, the published rows beside the
    compared one; f kept / z sampled accuracy per factor, one column per sampler."""
    results = [(e, e.result) for e in entries if isinstance(e.result, Mapping)]
    out = ""
    zk_rows = [
        (e, r["z_kept_f_sampled"])
        for e, r in results
        if isinstance(r.get("z_kept_f_sampled"), Mapping)
    ]
    if zk_rows:
        body, posthoc = "", ""
        for e, zk in zk_rows:
            n = zk.get("n")
            label = e.label if n is None else e.label[:-1] + f", n = {fmt(n)})"
            cells = "".join(num_td(mean_std(zk.get(k), percent=k == "acc")) for k in _GEN_SCORES)
            if e.compared:
                body += f'<tr class="ours"><th>{esc(label)}</th>{cells}</tr>'
            else:
                posthoc += f'<tr class="posthoc"><th>{esc(label)}</th>{cells}</tr>'
        shown = published is not None and published.generation and zk_rows[0][0].compared
        if shown:
            for row in published.generation:
                body += (
                    f'<tr class="published"><th>{esc(row[0])} (published)</th>'
                    + "".join(num_td(v) for v in row[1:])
                    + "</tr>"
                )
        if posthoc:
            body += '<tr class="rowgroup"><th colspan="5">Post-hoc samplers (not the published protocol)</th></tr>'
            body += posthoc
        head = (
            "<tr><th>model</th><th class='num'>Acc % &uarr;</th><th class='num'>IS &uarr;</th>"
            "<th class='num'>H(y|x) &darr;</th><th class='num'>H(y) &uarr;</th></tr>"
        )
        caption = (
            "z<sub>1:T</sub> kept, f resampled: the judge's accuracy on the kept dynamic factor, "
            "inception score and the entropies of its predictions (mean &plusmn; std over "
            "repeats)."
        )
        if shown:
            caption += f" Published rows: {esc(published.generation_source)}."
        out += (
            "<h4>z kept, f sampled</h4>"
            f'<table id="generation"><thead>{head}</thead><tbody>{body}</tbody></table>'
            f'<p class="caption">{caption}</p>'
        )
        for e, zk in zk_rows:
            extra = {k: v for k, v in zk.items() if k not in (*_GEN_SCORES, "n")}
            if extra:
                out += labelled(e, nested(extra, table_id=e.suffix("generation-extra")))
    fk_rows = [
        (e, r["f_kept_z_sampled"])
        for e, r in results
        if isinstance(r.get("f_kept_z_sampled"), Mapping) and r["f_kept_z_sampled"]
    ]
    if fk_rows:
        factors: list[str] = []
        for _, fk in fk_rows:
            factors += [str(k) for k in fk if str(k) not in factors]
        head = "<th>factor</th>" + "".join(
            f"<th class='num'>{esc(e.sampler or 'judge accuracy')} %</th>" for e, _ in fk_rows
        )
        body = "".join(
            f"<tr><th>{esc(k)}</th>"
            + "".join(num_td(mean_std(fk.get(k), percent=True)) for _, fk in fk_rows)
            + "</tr>"
            for k in factors
        )
        out += (
            "<h4>f kept, z sampled</h4>"
            f'<table id="generation-f-kept"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
            '<p class="caption">f kept, z<sub>1:T</sub> resampled: how often the judge still '
            "sees the kept static factors (judge accuracy %, one column per sampler).</p>"
        )
    for e in entries:
        known = ("z_kept_f_sampled", "f_kept_z_sampled")
        rest = (
            e.result
            if not isinstance(e.result, Mapping)
            else {k: v for k, v in e.result.items() if k not in known}
        )
        if rest:
            out += labelled(e, nested(rest, table_id=e.suffix("generation-other")))
    return out or nested({}, table_id="generation")
