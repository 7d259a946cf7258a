"""The targets of the Sprites benchmark and their verdicts: generation (Acc, IS, H(y|x),
H(y) of the action with f sampled), static factors kept with z sampled, Table 1's
disagreements (Li & Mandt 2018), training wall time, FLOP efficiency and peak memory.

A target whose value is missing (not evaluated, or a factor the data lacks) is not met.
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
    return {k: metrics[k][sampler] for k in ("generation", "table1") if sampler in metrics[k]}


def configured_sampler(metrics: dict | None) -> str:
    """The sampler the config generates with: its post-hoc one if it has one, else the
    learnt prior."""
    names = [] if metrics is None else list(metrics.get("samplers", []))
    return next((s for s in names if s != LEARNT_PRIOR), LEARNT_PRIOR)


def targets_by_sampler(
    metrics: dict | None, wall_s: float, budget_s: float, eff_pct: float | None, mem_mb: float
) -> dict[str, dict[str, dict]]:
    """Every target once per sampler of the evaluation ({learnt_prior: ...} without one)."""
    names = [LEARNT_PRIOR] if metrics is None else list(metrics.get("samplers", [LEARNT_PRIOR]))
    return {
        s: all_targets(sampler_view(metrics, s), wall_s, budget_s, eff_pct, mem_mb) for s in names
    }


def all_targets(
    metrics: dict | None, wall_s: float, budget_s: float, eff_pct: float | None, mem_mb: float
) -> dict[str, dict]:
    """Every target of the benchmark, keyed by name."""
    return {
        **generation_targets(metrics),
        **f_kept_targets(metrics),
        **table1_targets(metrics),
        "train_wall_time_s": target(wall_s, budget_s, "<="),
        "flop_efficiency_pct": target(eff_pct, EFFICIENCY_TARGET, ">="),
        "peak_rss_mb": target(mem_mb, MEMORY_TARGET_MB, "<="),
    }


def format_targets(targets: dict[str, dict]) -> str:
    """The targets as a small text table."""
    width = max(len(k) for k in targets)
    lines = [f"{'target':<{width}}  {'value':>12}  {'goal':>12}  result"]
    for name, t in targets.items():
        value = "n/a" if t["value"] is None else f"{t['value']:.4g}"
        result = "missing" if t["missing"] else ("PASS" if t["met"] else "FAIL")
        goal = f"{t['op']} {t['target']:g}"
        lines.append(f"{name:<{width}}  {value:>12}  {goal:>12}  {result}")
    met = sum(t["met"] for t in targets.values())
    lines.append(f"{met} of {len(targets)} targets met")
    return "\n".join(lines)
