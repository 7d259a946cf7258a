"""The evaluation's tables as text, for the terminal: one labelled row per sampler."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "format_generation",
    "format_style",
    "format_swap",
    "format_table1",
    "format_verification",
]

PUBLISHED_MARK = " *"  # marks the sampler whose rows compare with the published tables


def _num(v: float | None, fmt: str, suffix: str = "") -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:{fmt}}{suffix}"


def _by_sampler(result: dict[str, Any], keys: tuple[str, ...]) -> dict[str, dict]:
    """{sampler: result}; a single protocol result (it has one of ``keys``) becomes {"": it}."""
    return {"": result} if any(k in result for k in keys) else result


def _label(name: str, compared: str | None) -> str:
    return name + (PUBLISHED_MARK if compared is not None and name == compared else "")


def format_table1(result: dict[str, Any], compared: str | None = "learnt_prior") -> str:
    """Table 1 as text: per factor, one row per sampler with disagreement, KL-recon, KL-random.

    ``result`` is {sampler: table1 result} (as in metrics.json) or one table1 result.
    """
    by = _by_sampler(result, ("static", "dynamic"))
    rows = []
    for s, r in by.items():
        for name, row in [*r.get("static", {}).items(), *r.get("dynamic", {}).items()]:
            rows.append((name, _label(s, compared), row))
    order = list(dict.fromkeys(n for n, _, _ in rows))
    rows.sort(key=lambda row: order.index(row[0]))  # one factor's samplers together (stable)
    width = max([len("attributes"), *(len(n) for n, _, _ in rows)])
    sw = max([len("sampler"), *(len(s) for _, s, _ in rows)])
    lines = [
        "Table 1 (static rows: f kept, z_1:T sampled; dynamic rows: z_1:T kept, f sampled)",
        f"{'attributes':<{width}}  {'sampler':<{sw}}  {'disagreement':>12}  "
        f"{'KL-recon':>9}  {'KL-random':>9}",
    ]
    for name, s, r in rows:
        lines.append(
            f"{name:<{width}}  {s:<{sw}}  {_num(r['disagreement'], '.2f', '%'):>12}  "
            f"{_num(r['kl_recon'], '.4f'):>9}  {_num(r['kl_random'], '.4f'):>9}"
        )
    if compared in by:
        lines.append(f"{PUBLISHED_MARK.strip()} the sampler compared with published tables")
    return "\n".join(lines)


def _ms(d: dict[str, float], fmt: str) -> str:
    return f"{_num(d['mean'], fmt)} +- {_num(d['std'], fmt)}"


def format_generation(result: dict[str, Any], compared: str | None = "learnt_prior") -> str:
    """The generation scores as text, mean +- std over the repeats, one row per sampler.

    ``result`` is {sampler: generation result} (as in metrics.json) or one result.
    """
    by = _by_sampler(result, ("z_kept_f_sampled",))
    first = next(iter(by.values()))["z_kept_f_sampled"]
    sw = max(len(_label(s, compared)) for s in by)
    lines = [
        f"z_1:T kept, f sampled: {first['factor']} on {first['n']} sequences"
        f"{' (class-balanced)' if first.get('balanced') else ''}"
        f"   (log K = {math.log(first['n_classes']):.3f})"
    ]
    for s, r in by.items():
        z = r["z_kept_f_sampled"]
        lines.append(
            f"  {_label(s, compared):<{sw}}  Acc {_ms(z['acc'], '.2f')} %   "
            f"IS {_ms(z['is'], '.3f')}   H(y|x) {_ms(z['h_yx'], '.3f')}   "
            f"H(y) {_ms(z['h_y'], '.3f')}"
        )
    lines.append("f kept, z_1:T sampled: accuracy per static factor")
    for factor in next(iter(by.values()))["f_kept_z_sampled"]:
        for s, r in by.items():
            acc = r["f_kept_z_sampled"][factor]
            frames = r.get("f_kept_z_sampled_by_frame", {}).get(factor)
            worst = ""
            if frames is not None:
                t = frames["min_frame"]
                worst = f"   (weakest frame t = {t + 1}: {frames['mean'][t]:.2f} %)"
            miss = _most_misread(r.get("f_kept_z_sampled_confusion", {}).get(factor))
            lines.append(
                f"  {factor} {_label(s, compared):<{sw}}  {_ms(acc, '.2f')} %{worst}{miss}"
            )
    if compared in by:
        lines.append(f"{PUBLISHED_MARK.strip()} the sampler compared with published tables")
    return "\n".join(lines)


def _most_misread(confusion: list[list[int]] | None) -> str:
    """The class most often read as another, from a confusion matrix (rows: true class)."""
    if not confusion:
        return ""
    c = np.asarray(confusion, dtype=float)
    share = c / np.maximum(c.sum(1, keepdims=True), 1.0)
    np.fill_diagonal(share, 0.0)
    true, read = np.unravel_index(int(share.argmax()), share.shape)
    if share[true, read] == 0.0:
        return ""
    return f"   (most misread: class {true} as {read} in {100 * share[true, read]:.1f} %)"


_STYLE_KINDS = {
    "f_kept": "f kept, z_1:T sampled",
    "z_kept": "z_1:T kept, f sampled",
    "reconstruction": "both kept",
}


def format_style(result: dict[str, Any]) -> str:
    """The style protocol as text: per kept part and sampler, the judge's accuracy of each
    static factor and Pearson's r of each measured state with the source's (no published
    numbers to compare with).

    ``result`` is {sampler: style result} (as in metrics.json) or one result.
    """
    by = _by_sampler(result, ("n_sequences",))
    first = next(iter(by.values()))
    sw = max(len(s) for s in by)
    lines = [
        f"style of generated frames ({first['n_sequences']} sequences): the judge's accuracy "
        "of the source's class,",
        "  r of each state measured on the frames with the source frame's",
    ]
    for kind, title in _STYLE_KINDS.items():
        lines.append(f"{title}:")
        for s, r in by.items():
            acc = [f"{k} {_pc(v)}" for k, v in r[kind]["accuracy"].items()]
            cor = ", ".join(f"{k} {_num(v, '+.3f')}" for k, v in r[kind]["correlation"].items())
            lines.append(f"  {s:<{sw}}  " + "   ".join([*acc, f"r: {cor}"]))
    return "\n".join(lines)


def format_swap(result: dict[str, Any]) -> str:
    """Swap accuracy as text: per factor, all pairs and pairs whose labels differ."""
    lines = [f"swaps: f from one sequence, z_1:T from another ({result['n_pairs']} pairs)"]
    for group, src in (("static", "content"), ("dynamic", "motion")):
        for k, r in result[group].items():
            d = r["differs"]
            o = r["other_source"]
            extra = "" if d is None else f"   differing pairs {d:.2f} % (other source {o:.2f} %)"
            lines.append(f"  {k} kept from the {src} source: {r['acc']:.2f} %{extra}")
    return "\n".join(lines)


def _pc(v: float | None) -> str:
    return _num(None if v is None else 100 * v, ".1f", "%")


def format_verification(result: dict[str, Any]) -> str:
    """Speaker verification as text: the EER of mu_f and mu_z per static factor, then the
    probes' test accuracy (a static factor from mu_f first, a dynamic one from mu_z first)."""
    n, total, unit = result["n_test_groups"], result["n_groups"], f"{result['grouping']}s"
    which = f"{n} {unit}" if n == total else f"{n} of {total} {unit}"
    eers = [
        f"{k} mu_f {_pc(r.get('mu_f'))}  mu_z {_pc(r.get('mu_z'))}"
        for k, r in result["eer"].items()
    ]
    lines = [
        f"verification ({which}, {result['n_pairs']} pairs): EER "
        + ("; ".join(eers) if eers else "none (no factor has pairs of both kinds)")
    ]
    probes = []
    for k, r in result["probe"].items():
        order = ("mu_f", "mu_z") if k in result["eer"] else ("mu_z", "mu_f")
        chance = result.get("probe_chance", {}).get(k)
        probes.append(
            f"{k} from {order[0]} {_pc(r[order[0]])}, from {order[1]} {_pc(r[order[1]])}"
            + ("" if chance is None else f" (chance {_pc(chance)})")
        )
    if probes:
        fit = result.get("probe_fit", {}).get("on", "?")
        lines.append(f"  probes (fitted on the {fit}): " + "; ".join(probes))
    lines += [f"  note: {n}" for n in result.get("notes", [])]
    return "\n".join(lines)
