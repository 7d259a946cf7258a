"""Reading benchmark JSONs and writing their figures as Markdown: shared by the pages of
``benchmarks/make_results.py``."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from typing import Any


def show(d: Any, path: str) -> str:
    """A field as text, "n/a" where it is missing."""
    value = get(d, path)
    return "n/a" if value is None else str(value)


def get(d: Any, path: str, default: Any = None) -> Any:
    """``d["a"]["b"]`` for ``path`` "a.b", or ``default`` where a key is missing."""
    for key in path.split("."):
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def number(x: Any) -> float | None:
    """A figure as a float: plain numbers and ``{"mean": ...}`` records; None otherwise."""
    if isinstance(x, dict):
        x = x.get("mean", x.get("value"))
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


def spread(values: Iterable[float | None]) -> dict[str, float] | None:
    """mean, std (over runs, n - 1; 0 for one run), min, max and n of the figures present."""
    xs = [x for x in values if x is not None]
    if not xs:
        return None
    std = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return {"mean": statistics.fmean(xs), "std": std, "min": min(xs), "max": max(xs), "n": len(xs)}


def fmt(s: dict[str, float] | None, spec: str, runs: int) -> str:
    """``mean +- std (min-max)``; one run: the value; equal in every run (at ``spec``'s
    precision): ``value in every run``; fewer runs than the group's: ``[n of N runs]``."""
    if s is None:
        return "n/a"
    text = f"{s['mean']:{spec}}"
    if s["n"] > 1 and f"{s['min']:{spec}}" == f"{s['max']:{spec}}":
        text += " in every run" if s["n"] == runs else ""
    elif s["n"] > 1:
        text += f" ± {s['std']:{spec}} ({s['min']:{spec}}-{s['max']:{spec}})"
    if s["n"] < runs:
        text += f" [{s['n']} of {runs} runs]"
    return text


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]
