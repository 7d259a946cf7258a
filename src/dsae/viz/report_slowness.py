"""The slow-latents part of the report: per latent its eigenvalues and what it predicts,
the rank correlations that answer whether slow latents are the static ones, and the
slow-block swap curve (``dsae.eval.protocols.slowness``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dsae.viz.html import DASH, esc, figure, is_number, note, num_td
from dsae.viz.report_samplers import Entry

__all__ = ["slowness_tables"]


def _f(v: object, fmt: str = ".3f") -> str:
    return format(float(v), fmt) if is_number(v) else DASH


def _latent_table(result: Mapping[str, Any]) -> str:
    eig = result["eigenvalues"]
    columns = {k: v["score"] for k, v in (result.get("scores") or {}).items()}
    columns.update(result.get("state_r2") or {})
    names = list(columns)
    head = (
        "<tr><th>latent</th><th>prior lambda</th><th>mean lambda_t</th><th>mean |lambda_t - 1|</th>"
    )
    head += "".join(f"<th>{esc(k)}</th>" for k in names) + "</tr>"
    rows = []
    for i in result["posterior"]["order"]:
        cells = [num_td(str(i))]
        cells += [num_td(_f(eig[key][i])) for key in ("prior", "mean", "slowness")]
        cells += [num_td(_f(columns[k][i], ".2f")) for k in names]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table id="slowness-latents"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _swap_table(swaps: Mapping[str, Any], key: str) -> str:
    curve = swaps["curve"]
    names = [(g, k) for g in ("static", "dynamic") for k in (curve[0][g] if curve else {})]
    head = "<tr><th>k slowest from the content source</th>"
    head += "".join(f"<th>{esc(k)} ({g}) %</th>" for g, k in names) + "</tr>"
    rows = []
    for row in curve:
        mark = " *" if row["k"] == swaps["best_k"] else ""
        cells = [num_td(f"{row['k']}{mark}")] + [num_td(_f(row[g][k], ".1f")) for g, k in names]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    body = "".join(rows)
    return f'<table id="slowness-swaps-{key}"><thead>{head}</thead><tbody>{body}</tbody></table>'


def slowness_tables(entries: list[Entry], published: object, eval_dir: Path) -> str:
    """The evaluation's slowness result: its figure and tables."""
    out = []
    for e in entries:
        result = e.result
        if not isinstance(result, Mapping) or "eigenvalues" not in result:
            continue
        text = "; ".join(
            f"{key} order: "
            + ", ".join(
                f"{esc(g)} {_f(v, '+.2f')}" for g, v in result[key]["rank_correlation"].items()
            )
            for key in ("posterior", "prior")
            if key in result
        )
        out.append(
            note(
                f"{esc(result.get('n_sequences'))} test sequences. Latents ordered by mean "
                "|lambda_t - 1| of the posterior (slowest first); a score is a logistic "
                "regression's held-out accuracy from the latent's trajectory, (acc - chance) / "
                "(1 - chance); a state's column is the R^2 of z_t,i with that component. Spearman's rho of the slowness (of q's lambda_t, or of the prior's lambda_i) with the mean score per group: "
                f"{text or DASH} (slow latents static: negative for static, positive for dynamic)."
            )
        )
        if result.get("plot"):
            out.append(figure(eval_dir / str(result["plot"]), "slow latents", pixel=False))
        out.append(_latent_table(result))
        for key in ("posterior", "prior"):
            swaps = result.get(key, {}).get("swaps")
            if swaps:
                out.append(note(f"Slow-block swaps ({key} order): the k slowest latents from one "
                                "sequence, the rest from another; * marks the best k."))  # fmt: skip
                out.append(_swap_table(swaps, key))
    return "".join(out)
