"""The targets of a group of Sprites runs on docs/RESULTS.md: each target once per sampler
(time, FLOP rate and memory once), its goal, the figure reached and the runs that met it.

A run scored under several judges (``targets_by_judge`` in its JSON) has its quality targets'
figure under each judge in a column of its own, beside the verdict's figure (the worse
judge's); a run meets a quality target only when every judge that scored it meets it. A JSON
without ``targets_by_judge`` was scored by its ``judge`` alone, an ``rnn`` judge when the
JSON names no family (judges before there were families were rnn judges).
"""

from __future__ import annotations

from benchlib.page_text import fmt, get, number, spread, table
from dsae.eval.judge_archs import JUDGE_ARCHS, LEGACY_FAMILY

COMPARED = "learnt_prior"  # the sampler whose rows are compared with the published tables
QUALITY = ("generation", "f_kept", "table1")  # the kinds of target a judge scores
TARGET_LABELS = {  # target -> (label, format); f_kept.* and table1.* are labelled by factor
    "generation.acc": ("Acc % (z kept, f sampled)", ".2f"), "generation.is": ("IS", ".3f"),
    "generation.h_yx": ("H(y\\|x)", ".4f"), "generation.h_y": ("H(y)", ".3f"),
    "train_wall_time_s": ("training wall time, s", ".0f"),
    "flop_efficiency_pct": ("FLOP rate, % of float32 matmul peak", ".1f"),
    "peak_rss_mb": ("peak memory of training, MiB", ".0f"),
}  # fmt: skip
NOT_JUDGED = "–"  # a judge's cell of a target no judge scores (time, FLOP rate, memory)


def configured_sampler(run: dict) -> str:
    """The sampler the run's config generates with, named as in its evaluation."""
    f_prior = get(run, "resolved_config.model.f_prior", "normal")
    z_prior = get(run, "resolved_config.model.z_prior", "lstm")
    if (f_prior, z_prior) == ("normal", "lstm"):
        return COMPARED
    return f_prior if f_prior == z_prior else f"f {f_prior}, z {z_prior}"


def ordered(names: set[str], first: tuple[str, ...] = (COMPARED,)) -> list[str]:
    """``first`` (those present) in its order, then the rest sorted."""
    return [k for k in first if k in names] + sorted(names - set(first))


def run_targets(run: dict) -> dict[str, dict[str, dict]]:
    """{sampler: targets}: every sampler's verdicts when the JSON holds them, else the one."""
    return run.get("targets_by_sampler") or {configured_sampler(run): run.get("targets") or {}}


def run_judges(run: dict) -> list[str]:
    """The families of the judges that scored a run, its own judge's first."""
    by_judge = run.get("targets_by_judge")
    if isinstance(by_judge, dict) and by_judge:
        return list(by_judge)
    return [str(get(run, "judge.family") or LEGACY_FAMILY)]


def group_judges(runs: list[dict]) -> list[str]:
    """The families of the judges of a group, in the order the runs name them."""
    return list(dict.fromkeys(f for r in runs for f in run_judges(r)))


def judge_value(run: dict, record: dict, family: str) -> float | None:
    """A quality target's figure under one judge: from the record's ``by_judge``, else (a
    record of one judge) its value if ``family`` is the run's judge."""
    by_judge = record.get("by_judge")
    if isinstance(by_judge, dict):
        return number(by_judge.get(family))
    return number(record.get("value")) if family == run_judges(run)[0] else None


def judges_line(runs: list[dict]) -> str:
    """One bullet naming the group's judges and their architectures."""
    families = group_judges(runs)
    named = "; ".join(
        f"{f} ({getattr(JUDGE_ARCHS.get(f), 'summary', 'an architecture this dsae lacks')})"
        for f in families
    )
    if len(families) == 1:
        return f"- **Judge**: {named}; no second judge recorded."
    return (
        f"- **Judges**: {named}; trained independently on the same training split. A run meets "
        "a quality target only when every judge that scored it meets it (reached: the worse "
        "judge's figure)."
    )


def targets_table(runs: list[dict]) -> list[str]:
    """The targets as a table: one row per target and sampler, one column per judge when
    there are several."""
    samplers = ordered({s for r in runs for s in run_targets(r)})
    judges = group_judges(runs)
    judges = judges if len(judges) > 1 else []
    names: list[tuple[str, str]] = []  # (sampler, target); costs once, with the first sampler
    for s in samplers:
        for r in runs:
            names += [(s, k) for k in run_targets(r).get(s, {}) if (s, k) not in names
                      and ("." in k or s == samplers[0])]  # fmt: skip
    rows, n = [], len(runs)
    for sampler, name in names:
        records = [run_targets(r).get(sampler, {}).get(name) or {} for r in runs]
        label, spec = TARGET_LABELS.get(name, (name.replace("_", " "), ".2f"))
        kind, _, factor = name.partition(".")
        if kind in ("f_kept", "table1"):
            label = f"{'f kept, z sampled' if kind == 'f_kept' else 'Table 1'}: {factor} %"
        if kind in QUALITY:
            label += f" [{sampler}]"
        goal = next((f"{t['op']} {t['target']:g}" for t in records if "target" in t), "n/a")
        value = fmt(spread(number(t.get("value")) for t in records), spec, n)
        per_judge = [
            fmt(spread(judge_value(r, t, j) for r, t in zip(runs, records, strict=True)), spec, n)
            if kind in QUALITY else NOT_JUDGED
            for j in judges
        ]  # fmt: skip
        met = sum(bool(t.get("met")) for t in records)
        rows.append([label, goal, value, *per_judge, f"{met} of {n}"])
    heads = [f"{j} judge" for j in judges]
    return table(["target [sampler]", "goal", "reached", *heads, "runs that met it"], rows)
