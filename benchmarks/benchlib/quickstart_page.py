"""The quickstart part of docs/RESULTS.md: the runs of ``benchmarks/quickstart.py``, one
table per CPU (each figure over the seeds, its target and the runs that met it) and the
generation scores of the model's own priors frame by frame."""

from __future__ import annotations

from benchlib.page_text import fmt, get, number, spread, table

FIGURES = (  # (label, target key, format)
    ("whole quickstart, s", "wall_time_s", ".0f"),
    ("reconstruction PSNR, dB", "psnr_db", ".2f"),
)
SWAPPED = "swap, {k} kept from the {source} source, %"
WEAKEST = "f kept, z_1:T ~ p(z_1:T): {k}, weakest frame, %"


def _label(key: str, run: dict) -> str:
    if key.startswith("swap_"):
        k = key.removeprefix("swap_")
        dynamic = k in get(run, "swap.dynamic", {})
        return SWAPPED.format(k=k, source="motion" if dynamic else "content")
    if key.startswith("weakest_frame_"):
        return WEAKEST.format(k=key.removeprefix("weakest_frame_"))
    return next((label for label, k, _ in FIGURES if k == key), key)


def _row(key: str, runs: list[dict]) -> list[str]:
    spec = next((s for _, k, s in FIGURES if k == key), ".2f")
    ts = [get(r, f"targets.{key}", {}) for r in runs]
    goal = ts[0].get("target")
    op = "≤" if ts[0].get("op") == "<=" else "≥"
    met = sum(bool(t.get("met")) for t in ts)
    value = fmt(spread(number(t.get("value")) for t in ts), spec, len(runs))
    return [_label(key, runs[0]), value, f"{op} {goal:g}", f"{met} of {len(runs)}"]


def _frames(runs: list[dict]) -> list[str]:
    """f kept, z_1:T from the prior: the judge's accuracy per frame, mean over runs."""
    by_frame = [get(r, "generation.f_kept_z_sampled_by_frame", {}) for r in runs]
    factors = list(by_frame[0])
    if not factors:
        return []
    t = len(by_frame[0][factors[0]]["mean"])
    on_data = [r.get("judge_frames_on_data", {}) for r in runs]
    rows = []
    for k in factors:
        cols = [spread(number(b[k]["mean"][i]) for b in by_frame if k in b) for i in range(t)]
        rows.append([k, *(f"{c['mean']:.1f}" if c else "n/a" for c in cols)])
        real = [spread(number(d[k][i]) for d in on_data if k in d) for i in range(t)]
        if any(real):
            rows.append(
                [f"{k}, real test frames", *(f"{c['mean']:.1f}" if c else "n/a" for c in real)]
            )
    return table(["factor", *(f"t = {i + 1}" for i in range(t))], rows)


def _group(cpu: str, runs: list[dict]) -> list[str]:
    keys = list(get(runs[0], "targets", {}))
    seeds = ", ".join(str(get(r, "resolved_config.train.seed", "?")) for r in runs)
    zk = [get(r, "generation.z_kept_f_sampled", {}) for r in runs]
    acc = fmt(spread(number(z.get("acc")) for z in zk), ".2f", len(runs))
    inception = fmt(spread(number(z.get("is")) for z in zk), ".3f", len(runs))
    bf16 = "with" if get(runs[0], "machine.bf16_instructions") else "without"
    commits = ", ".join(sorted({str(get(r, "machine.commit", "?")) for r in runs}))
    steps = fmt(spread(number(get(r, "timing.steps")) for r in runs), ".0f", len(runs))
    budgets = {get(r, "timing.train_minutes") for r in runs}
    budget = (
        f"as many as fit in {budgets.pop():g} minutes of training, the schedule fitted to the pace"
        if len(budgets) == 1 and None not in budgets and 0 not in budgets
        else "train.max_steps, no time limit"
    )
    return [
        f"### {cpu} ({bf16} bfloat16 instructions), seeds {seeds}",
        "",
        *table(
            ["figure", "mean ± std (min-max) over seeds", "target", "met"],
            [_row(k, runs) for k in keys],
        ),  # fmt: skip
        "",
        f"Training steps: {steps} ({budget}).",
        "",
        "Generation from the model's own priors (f ~ p(f), z_1:T from the learnt prior "
        f"p(z_t | z_<t)): with z_1:T of a test sequence kept, the action Acc {acc} %, IS "
        f"{inception}; with f of a test sequence kept and z_1:T sampled, the judge's accuracy "
        "on each frame (%, mean over seeds), and the same judge's on the real test frames:",
        "",
        *_frames(runs),
        "",
        f"Commit {commits}; command `{runs[0].get('command')}` (one per seed).",
        "",
    ]


def quickstart_section(runs: list[dict]) -> list[str]:
    """The page's quickstart section (nothing when there is no run)."""
    if not runs:
        return []
    groups: dict[str, list[dict]] = {}
    for r in runs:
        groups.setdefault(str(get(r, "machine.cpu", "unknown CPU")), []).append(r)
    lines = [
        "## Quickstart",
        "",
        "`dsae quickstart` from an empty folder (toy sprites at 32 x 32, training, pictures, "
        "a judge, the evaluation and the report), timed whole. Swaps: f from one test "
        "sequence, z_1:T from another, each factor read by the quickstart's judge. "
        "Weakest frame: f of a test sequence kept, z_1:T drawn from the model's learnt prior, "
        "the judge's accuracy on the frame where it is lowest (every frame should show the "
        "character).",
        "",
    ]
    for cpu, group in sorted(groups.items()):
        lines += _group(cpu, sorted(group, key=lambda r: get(r, "resolved_config.train.seed", 0)))
    return lines
