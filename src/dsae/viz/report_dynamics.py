"""The dynamics part of the report (Li & Mandt 2018, section 4.3): the imputation curve of
an evaluation (wrong pixels and position error against the number of missing frames, Fig.
8) and the pictures of ``dsae impute`` (Fig. 7's overlays and the frames)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dsae.viz.html import DASH, esc, figure, is_number, kv_table, note, num_td, section
from dsae.viz.report_samplers import Entry

__all__ = ["dynamics_section", "imputation_tables"]

OVERLAYS_PNG, FRAMES_PNG = "overlays.png", "frames.png"


def _pct(v: object) -> str:
    return f"{100 * float(v):.2f}" if is_number(v) else DASH


def _px(v: object) -> str:
    return f"{float(v):.2f}" if is_number(v) else DASH


def _at(series: object, i: int) -> object:
    return series[i] if isinstance(series, list) and i < len(series) else None


def _curve_table(result: Mapping[str, Any]) -> str:
    missing = result.get("missing") or []
    sampled = result.get("sampled") if isinstance(result.get("sampled"), Mapping) else {}
    likely = result.get("most_likely") if isinstance(result.get("most_likely"), Mapping) else {}
    rows = []
    for i, k in enumerate(missing):
        rows.append(
            f"<tr>{num_td(str(k))}"
            + num_td(_pct(_at(sampled.get("wrong_missing"), i)))
            + num_td(_pct(_at(likely.get("wrong_missing"), i)))
            + num_td(_pct(_at(likely.get("wrong_all"), i)))
            + num_td(_px(_at(likely.get("position_error"), i)))
            + "</tr>"
        )
    head = (
        "<tr><th>missing frames k</th><th>wrong pixels %, sampled</th>"
        "<th>wrong pixels %, most likely</th><th>wrong pixels % over all T, most likely</th>"
        "<th>position error, px</th></tr>"
    )
    return f'<table id="imputation"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def imputation_tables(entries: list[Entry], published: object, eval_dir: Path) -> str:
    """The evaluation's imputation curve: its plot and its table."""
    out = []
    for e in entries:
        result = e.result
        if not isinstance(result, Mapping):
            continue
        recon = result.get("reconstruction") if isinstance(result.get("reconstruction"),
                                                           Mapping) else {}  # fmt: skip
        out.append(
            note(
                f"{esc(result.get('sequences'))} test sequences; the model sees the first T - k "
                "frames and predicts the last k with its prior dynamics (sampled: mean over "
                f"{esc(result.get('samples'))} continuations; most likely: the prior's mean at "
                f"each step). Wrong pixels of the reconstruction (k = 0): "
                f"{_pct(recon.get('wrong'))}%."
            )
        )
        if result.get("plot"):
            out.append(figure(eval_dir / str(result["plot"]), "imputation curve", pixel=False))
        out.append(_curve_table(result))
    return "".join(out)


def dynamics_section(summary: Mapping[str, Any], folder: Path) -> str:
    """``dsae impute``'s pictures and numbers for a few test sequences."""
    t = summary.get("observed")
    rows = [
        ("sequences", esc(summary.get("sequences"))),
        ("frames seen, t", esc(t)),
        ("wrong pixels of the reconstruction %", _pct(summary.get("wrong_reconstruction"))),
        ("wrong pixels of the predicted frames %, most likely",
         _pct(summary.get("wrong_missing_most_likely"))),
        (f"wrong pixels of the predicted frames %, sampled (mean of {summary.get('samples')})",
         _pct(summary.get("wrong_missing_sampled"))),
    ]  # fmt: skip
    if "position_error_most_likely" in summary:
        rows.append(("position error of the predicted frames, px",
                     _px(summary.get("position_error_most_likely"))))  # fmt: skip
    body = (
        f"<p>Li &amp; Mandt (2018), Fig. 7: each sequence as one picture, colour intensity "
        f"rising with time, the frames predicted after t = {esc(t)} in green. Rows: truth, "
        "reconstruction, the most likely prediction, a sampled one.</p>"
        + kv_table(rows, "impute-summary")
        + figure(folder / OVERLAYS_PNG, "imputation overlays", "overlays")
        + figure(folder / FRAMES_PNG, "imputed frames", "frame by frame")
    )
    return section("dynamics", "Dynamics: imputation", body)
