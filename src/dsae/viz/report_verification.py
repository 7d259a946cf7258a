"""The speaker-verification part of the report: EER per static factor and feature, the
probes' accuracy, the ROC curves, and Li & Mandt (2018) Table 2 (TIMIT) for reference when
the factor verified is a speaker.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dsae.viz.html import DASH, esc, figure, is_number, nested, note, num_td
from dsae.viz.report_samplers import Entry, PublishedTables

__all__ = ["verification_tables"]

FEATURES = ("mu_f", "mu_z")
_FEATURE_HTML = {"mu_f": "&mu;<sub>f</sub>", "mu_z": "&mu;<sub>z</sub>"}


def _pct(v: object) -> str:
    return f"{100 * float(v):.2f}" if is_number(v) else DASH


def _feature(name: str) -> str:
    return _FEATURE_HTML.get(name, esc(name))


def _eer_table(ver: Mapping[str, Any], table_id: str) -> str:
    dims = ver.get("dims") if isinstance(ver.get("dims"), Mapping) else {}
    rows = []
    for factor, by_feature in (ver.get("eer") or {}).items():
        if not isinstance(by_feature, Mapping):
            continue
        for feat, value in by_feature.items():
            rows.append(
                f"<tr><td>{esc(factor)}</td><td>{_feature(str(feat))}</td>"
                + num_td(str(dims.get(feat, DASH)))
                + num_td(_pct(value))
                + "</tr>"
            )
    head = (
        "<tr><th>factor</th><th>feature</th><th class='num'>dim</th><th class='num'>EER %</th></tr>"
    )
    n, total = ver.get("n_test_groups"), ver.get("n_groups")
    unit = f"{esc(ver.get('grouping', 'utterance'))}s"
    which = (
        f"{esc(n)} test {unit}"
        if n == total
        else f"a seeded choice of {esc(n)} of {esc(total)} test {unit}"
    )
    cap = (
        f'<p class="caption">Every pair of {which} ({esc(ver.get("n_pairs"))} pairs) scored by '
        "the cosine of their features: &mu;<sub>f</sub>, the mean over an utterance's "
        "segments of the posterior mean of f, and &mu;<sub>z</sub>, the mean over segments "
        "and time of the posterior means of z<sub>t</sub> (Li &amp; Mandt 2018, Sec. 4.2). "
        "EER: where false acceptances and false rejections are equally frequent. Disentangled "
        "codes verify with &mu;<sub>f</sub> (low EER) and not with &mu;<sub>z</sub> (near "
        "50%).</p>"
    )
    return (
        cap
        + f'<table id="{esc(table_id)}"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _probe_table(ver: Mapping[str, Any], table_id: str) -> str:
    probe = ver.get("probe")
    if not isinstance(probe, Mapping) or not probe:
        return ""
    chance = ver.get("probe_chance") if isinstance(ver.get("probe_chance"), Mapping) else {}
    rows = []
    for factor, by_feature in probe.items():
        by_feature = by_feature if isinstance(by_feature, Mapping) else {}
        rows.append(
            f"<tr><td>{esc(factor)}</td>"
            + "".join(num_td(_pct(by_feature.get(f))) for f in FEATURES)
            + num_td(_pct(chance.get(factor)))
            + "</tr>"
        )
    head = (
        "<tr><th>factor</th>"
        + "".join(f"<th class='num'>from {_feature(f)} %</th>" for f in FEATURES)
        + "<th class='num'>majority class %</th></tr>"
    )
    fit = ver.get("probe_fit") if isinstance(ver.get("probe_fit"), Mapping) else {}
    cap = (
        '<p class="caption">Test accuracy of a logistic regression on standardised features, '
        f"fitted on the {esc(fit.get('on', 'training split'))} ({esc(fit.get('n_fit'))} "
        f"utterances) and scored on {esc(fit.get('n_test'))}: a static factor should be read "
        "from &mu;<sub>f</sub>, a dynamic one from &mu;<sub>z</sub>.</p>"
    )
    return (
        "<h4>Linear probes</h4>"
        + cap
        + f'<table id="{esc(table_id)}"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _published_table(published: PublishedTables | None, ver: Mapping[str, Any]) -> str:
    if published is None or not published.verification or "speaker" not in (ver.get("eer") or {}):
        return ""
    body = "".join(
        f"<tr><td>{esc(model)}</td><td>{_feature(feature)}</td>"
        + num_td(dim)
        + num_td(eer, cls="num published")
        + "</tr>"
        for model, feature, dim, eer in published.verification
    )
    head = (
        "<tr><th>model</th><th>feature</th><th class='num'>dim</th><th class='num'>EER %</th></tr>"
    )
    return (
        "<h4>Published, for reference (another corpus)</h4>"
        f'<p class="caption">{esc(published.verification_source)}. FHVAE\'s &mu;<sub>2</sub> / '
        "&mu;<sub>1</sub> are its static / dynamic codes. Not this dataset: a reference for the "
        "size of the gap between the two features, not a like-for-like comparison.</p>"
        f'<table id="verification-published"><thead>{head}</thead><tbody>{body}</tbody></table>'
    )


def _one(entry: Entry, published: PublishedTables | None, eval_dir: Path) -> str:
    ver, table_id = entry.result, entry.suffix("verification")
    if not isinstance(ver, Mapping) or not isinstance(ver.get("eer"), Mapping):
        return nested(ver, table_id=table_id)
    out = _eer_table(ver, table_id) + _probe_table(ver, f"{table_id}-probe")
    plot = ver.get("plot")
    if isinstance(plot, str) and (eval_dir / plot).is_file():
        title = "ROC of the cosine scores (dotted: FAR = FRR, crossed at the EER)"
        out += figure(eval_dir / plot, title, title, pixel=False)
    out += "".join(note(str(n)) for n in ver.get("notes") or ())
    return out + _published_table(published, ver)


def verification_tables(
    entries: list[Entry], published: PublishedTables | None, eval_dir: Path
) -> str:
    """The verification protocol's results (one plain result: it does not sample)."""
    return "".join(_one(e, published, eval_dir) for e in entries)
