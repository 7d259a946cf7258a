"""The targets of the Sprites benchmark and their verdicts: generation (Acc, IS, H(y|x),
H(y) of the action with f sampled), static factors kept with z sampled, Table 1's
disagreements (Li & Mandt 2018), training wall time, FLOP efficiency and peak memory.

A target whose value is missing (not evaluated, or a factor the data lacks) is not met. The
quality targets (generation, static factors kept, Table 1) are scored by a judge; under
several judges (:func:`judged_targets`) one is met only when every judge that scored it
meets it, and its value is the worst of theirs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ACTION = "action"
STATIC_FACTORS = ("skin", "pants", "top", "hair")
GENERATION_TARGETS = (  # z_1:T kept, f ~ p(f), the action judged: (key, target, op)
    ("acc", 99.9, ">="),
    ("is", 8.95, ">="),
    ("h_yx", 0.01, "<="),
    ("h_y", 2.195, ">="),
)
F_KEPT_TARGET = 99.5  # f kept, z_1:T ~ p(z): accuracy (%) of every static factor
TABLE1_TARGETS = {"skin": 0.5, "pants": 0.5, "top": 0.1, "hair": 0.05, ACTION: 0.5}  # %
EFFICIENCY_TARGET = 60.0  # % of the measured float32 matmul peak
MEMORY_TARGET_MB = 4096.0  # 4 GiB of peak resident memory, in MiB


def target(value: float | None, goal: float, op: str, note: str = "") -> dict[str, Any]:
    """One target: its value, goal and whether it is met (a missing value is not met)."""
    missing = value is None or not np.isfinite(value)
    if missing:
        met = False
    else:
        met = bool(value >= goal) if op == ">=" else bool(value <= goal)
    out: dict[str, Any] = {
        "value": None if missing else float(value),
        "target": goal,
        "op": op,
        "met": met,
        "missing": missing,
    }
    if note:
        out["note"] = note
    return out


def generation_targets(metrics: dict | None) -> dict[str, dict]:
    """z_1:T kept, f ~ p(f): Acc, IS, H(y|x), H(y) of the action (missing without one)."""
    scores, note = None, f"no {ACTION!r} factor scored"
    if metrics is None:
        note = "not evaluated"
    else:
        z = metrics["generation"]["z_kept_f_sampled"]
        if z.get("factor") == ACTION:
            scores = z
        elif ACTION in z.get("by_factor", {}):
            scores = z["by_factor"][ACTION]
    out = {}
    for key, goal, op in GENERATION_TARGETS:
        value = scores[key]["mean"] if scores is not None else None
        rec = target(value, goal, op, "" if scores is not None else note)
        if scores is not None:
            rec["std"] = scores[key]["std"]
        out[f"generation.{key}"] = rec
    return out


def f_kept_targets(metrics: dict | None) -> dict[str, dict]:
    """f kept, z_1:T ~ p(z): accuracy (%) of every Sprites static factor."""
    have = {} if metrics is None else metrics["generation"]["f_kept_z_sampled"]
    out = {}
    for k in STATIC_FACTORS:
        if k in have:
            rec = target(have[k]["mean"], F_KEPT_TARGET, ">=")
            rec["std"] = have[k]["std"]
        else:
            note = "not evaluated" if metrics is None else f"no factor {k!r} in this dataset"
            rec = target(None, F_KEPT_TARGET, ">=", note)
        out[f"f_kept.{k}"] = rec
    return out


def table1_targets(metrics: dict | None) -> dict[str, dict]:
    """Table 1 of Li & Mandt (2018): disagreement (%) per Sprites factor."""
    rows = (
        {} if metrics is None else {**metrics["table1"]["static"], **metrics["table1"]["dynamic"]}
    )
    out = {}
    for k, goal in TABLE1_TARGETS.items():
        if k in rows:
            rec = target(rows[k]["disagreement"], goal, "<=")
        else:
            note = "not evaluated" if metrics is None else f"no factor {k!r} in this dataset"
            rec = target(None, goal, "<=", note)
        out[f"table1.{k}"] = rec
    return out


LEARNT_PRIOR = "learnt_prior"  # the model's own p(f) and p(z_1:T): the published protocol


def sampler_view(metrics: dict | None, sampler: str) -> dict | None:
    """The protocols of one sampler's row of ``metrics.json`` (sampling protocols are keyed
    by sampler), in the flat layout the target functions read."""
    if metrics is None:
        return None
    return {
        k: metrics[k][sampler] for k in ("generation", "table1") if sampler in metrics.get(k, {})
    }


def configured_sampler(metrics: dict | None) -> str:
    """The sampler the config generates with: its post-hoc one if it has one, else the
    learnt prior."""
    names = [] if metrics is None else list(metrics.get("samplers", []))
    return next((s for s in names if s != LEARNT_PRIOR), LEARNT_PRIOR)


def sampler_names(metrics: dict | None) -> list[str]:
    """The samplers of an evaluation, ``[learnt_prior]`` without one."""
    return [LEARNT_PRIOR] if metrics is None else list(metrics.get("samplers", [LEARNT_PRIOR]))


def targets_by_sampler(
    metrics: dict | None, wall_s: float, budget_s: float, eff_pct: float | None, mem_mb: float
) -> dict[str, dict[str, dict]]:
    """Every target once per sampler of the evaluation ({learnt_prior: ...} without one)."""
    return {
        s: all_targets(sampler_view(metrics, s), wall_s, budget_s, eff_pct, mem_mb)
        for s in sampler_names(metrics)
    }


def quality_targets(metrics: dict | None) -> dict[str, dict]:
    """The targets a judge scores: generation, static factors kept and Table 1."""
    return {**generation_targets(metrics), **f_kept_targets(metrics), **table1_targets(metrics)}


def quality_by_sampler(metrics: dict | None) -> dict[str, dict[str, dict]]:
    """The quality targets once per sampler of one judge's evaluation."""
    return {s: quality_targets(sampler_view(metrics, s)) for s in sampler_names(metrics)}


def worst_of_judges(scored: dict[str, dict]) -> dict[str, Any]:
    """One target under several judges ({family: target record}): met only when met under
    every one; its value the worst of theirs (missing if any judge's is), each judge's value
    and verdict in ``by_judge``, the judge that gave the value in ``judge``."""
    first = next(iter(scored.values()))
    goal, op = first["target"], first["op"]
    present = {j: t["value"] for j, t in scored.items() if not t["missing"]}
    missing = [j for j, t in scored.items() if t["missing"]]
    judge = missing[0] if missing else (min if op == ">=" else max)(present, key=present.get)
    out = target(None if missing else present[judge], goal, op, scored[judge].get("note", ""))
    out["met"] = out["met"] and all(t["met"] for t in scored.values())
    if "std" in scored[judge]:
        out["std"] = scored[judge]["std"]
    out["judge"] = judge
    out["by_judge"] = {
        j: {k: t[k] for k in ("value", "std", "met", "missing", "note") if k in t}
        for j, t in scored.items()
    }
    return out


def judged_targets(
    by_sampler: dict[str, dict[str, dict]], by_judge: dict[str, dict[str, dict[str, dict]]]
) -> dict[str, dict[str, dict]]:
    """``by_sampler`` ({sampler: targets}) with each quality target's verdict taken over
    every judge of ``by_judge`` ({family: {sampler: quality targets}}) that scored it (see
    :func:`worst_of_judges`); the other targets (time, FLOPs, memory) as they are."""
    out: dict[str, dict[str, dict]] = {}
    for s, targets in by_sampler.items():
        out[s] = {}
        for name, rec in targets.items():
            scored = {j: ts[s][name] for j, ts in by_judge.items() if name in ts.get(s, {})}
            out[s][name] = worst_of_judges(scored) if scored else rec
    return out


def all_targets(
    metrics: dict | None, wall_s: float, budget_s: float, eff_pct: float | None, mem_mb: float
) -> dict[str, dict]:
    """Every target of the benchmark, keyed by name."""
    return {
        **quality_targets(metrics),
        "train_wall_time_s": target(wall_s, budget_s, "<="),
        "flop_efficiency_pct": target(eff_pct, EFFICIENCY_TARGET, ">="),
        "peak_rss_mb": target(mem_mb, MEMORY_TARGET_MB, "<="),
    }


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def format_targets(targets: dict[str, dict]) -> str:
    """The targets as a small text table; under several judges, each one's value after the
    verdict's (the worst of them)."""
    width = max(len(k) for k in targets)
    judges = list(dict.fromkeys(j for t in targets.values() for j in t.get("by_judge", {})))
    judges = judges if len(judges) > 1 else []
    heads = "".join(f"  {j + ' judge':>12}" for j in judges)
    lines = [f"{'target':<{width}}  {'value':>12}{heads}  {'goal':>12}  result"]
    for name, t in targets.items():
        by = t.get("by_judge")
        cells = [_cell(t["value"])] + [
            "-" if by is None else _cell(by.get(j, {}).get("value")) for j in judges
        ]
        values = "".join(f"  {c:>12}" for c in cells)
        result = "missing" if t["missing"] else ("PASS" if t["met"] else "FAIL")
        goal = f"{t['op']} {t['target']:g}"
        lines.append(f"{name:<{width}}{values}  {goal:>12}  {result}")
    met = sum(t["met"] for t in targets.values())
    lines.append(f"{met} of {len(targets)} targets met")
    return "\n".join(lines)
