"""The dynamics part of docs/RESULTS.md: runs of ``benchmarks/dynamics.py``.

Li & Mandt (2018), section 4.3 and Fig. 8: the fraction of wrongly predicted pixels against
the number of consecutive missing frames, for the stochastic DSAE and the deterministic
LSTM-f and LSTM-c, each figure as mean +- std (min-max) over the training seeds of one
model; the ball's position error beyond the paper; the targets, each met or not with the
numbers reached.
"""

from __future__ import annotations

from benchlib.page_text import fmt, get, number, spread, table

MODELS = ("dsae", "lstm_f", "lstm_c")
MODEL_NAMES = {"dsae": "stochastic", "lstm_f": "LSTM-f", "lstm_c": "LSTM-c"}
STOCHASTIC, DETERMINISTIC = "dsae", ("lstm_f", "lstm_c")
TARGET_MISSING = range(1, 11)  # the stochastic model below both others for k = 1..10
SHOWN_MISSING = (1, 2, 3, 5, 10, 15, 20, 25, 29)
TRAIN_LIMIT_S = 20 * 60.0
FIG8, FIG7 = "img/balls_fig8.png", "img/balls_fig7.png"
PROTOCOL = (
    "the model sees the first T - k frames of a test sequence (posterior means of f and "
    "z_1:T-k) and predicts the last k with its prior dynamics; a pixel is wrong where the "
    "prediction (> 0.5) and the truth differ; averaged over the k missing frames and the "
    "test sequences; 'sampled': the mean over sampled continuations, 'most likely': the "
    "prior's mean at every step (the deterministic models have one prediction)"
)


def model_label(model: str, runs: list[dict]) -> str:
    """``stochastic (DSAE, z_t of 16)``, ``LSTM-f (z of 64, state 512)``: from the config."""
    m = get(runs[0], "resolved_config.model") or {}
    if model == "dsae":
        return f"stochastic (DSAE, z_t of {m.get('z_dim')})"
    name = MODEL_NAMES.get(model, model)
    return f"{name} (z of {m.get('z_dim')}, state {m.get('rollout_dim')})"


def by_model(runs: list[dict]) -> dict[str, list[dict]]:
    """Runs grouped by model family, in the paper's order."""
    groups: dict[str, list[dict]] = {}
    for run in runs:
        groups.setdefault(str(run.get("model")), []).append(run)
    return {m: groups[m] for m in [*MODELS, *sorted(set(groups) - set(MODELS))] if m in groups}


def values_at(runs: list[dict], path: str, k: int) -> list[float | None]:
    """Each run's ``imputation.<path>`` at k missing frames."""
    out = []
    for run in runs:
        missing = get(run, "imputation.missing") or []
        series = get(run, f"imputation.{path}") or []
        out.append(number(series[missing.index(k)]) if k in missing else None)
    return out


def order_target(groups: dict[str, list[dict]], path: str) -> dict:
    """Per k = 1..10: the worst seed of the stochastic model against the best seed of each
    deterministic one; met when it is lower for every k."""
    rows, met = [], STOCHASTIC in groups and any(m in groups for m in DETERMINISTIC)
    for k in TARGET_MISSING:
        worst = [v for v in values_at(groups.get(STOCHASTIC, []), path, k) if v is not None]
        best = {m: [v for v in values_at(groups[m], path, k) if v is not None]
                for m in DETERMINISTIC if m in groups}  # fmt: skip
        ok = bool(worst) and all(b and max(worst) < min(b) for b in best.values())
        met = met and ok
        rows.append((k, max(worst) if worst else None, {m: min(b) if b else None
                                                        for m, b in best.items()}, ok))  # fmt: skip
    return {"met": met, "rows": rows}


def _curve_table(groups: dict[str, list[dict]], path: str, unit: str, scale: float) -> list[str]:
    header = ["missing frames k", *[model_label(m, runs) for m, runs in groups.items()]]
    rows = []
    for k in SHOWN_MISSING:
        cells = []
        for runs in groups.values():
            vals = [None if v is None else scale * v for v in values_at(runs, path, k)]
            cells.append(fmt(spread(vals), ".2f", len(runs)))
        rows.append([str(k), *cells])
    return [f"{unit}:", "", *table(header, rows), ""]


def crossings(groups: dict[str, list[dict]], path: str) -> list[str]:
    """Where, over every k scored, the stochastic model's mean over seeds stops (or starts)
    being below each deterministic model's: one phrase per model."""
    out = []
    for m in DETERMINISTIC:
        if STOCHASTIC not in groups or m not in groups:
            continue
        missing = get(groups[STOCHASTIC][0], "imputation.missing") or []
        below = []
        for k in missing:
            s = spread(values_at(groups[STOCHASTIC], path, k))
            d = spread(values_at(groups[m], path, k))
            if s and d:
                below.append((k, s["mean"] < d["mean"]))
        changes = [k for (_, a), (k, b) in zip(below, below[1:], strict=False) if a != b]
        order = "below" if below and below[0][1] else "above"
        where = f"changes at k = {', '.join(map(str, changes))}" if changes else "never changes"
        out.append(f"{m}: starts {order}, order {where}")
    return out


def _empty(groups: dict[str, list[dict]]) -> list[str]:
    """Reconstruction (k = 0) and how often a predicted frame shows no ball at all."""
    header = ["model", "wrong pixels of the reconstruction, %",
              "position error of the reconstruction, px",
              "predicted frames with no ball, % (k = 10, most likely)"]  # fmt: skip
    rows = []
    for m, runs in groups.items():
        recon = [number(get(r, "imputation.reconstruction.wrong")) for r in runs]
        pos = [number(get(r, "imputation.reconstruction.position_error")) for r in runs]
        empty = [None if v is None else 100.0 * v
                 for v in values_at(runs, "most_likely.position_empty", 10)]  # fmt: skip
        recon = [None if v is None else 100.0 * v for v in recon]
        rows.append([model_label(m, runs), fmt(spread(recon), ".3f", len(runs)),
                     fmt(spread(pos), ".2f", len(runs)), fmt(spread(empty), ".1f", len(runs))])  # fmt: skip
    return table(header, rows)


def _targets(groups: dict[str, list[dict]]) -> list[str]:
    lines = []
    for path, label in (("sampled.wrong_missing", "sampled"),
                        ("most_likely.wrong_missing", "most likely")):  # fmt: skip
        t = order_target(groups, path)
        failed = [str(k) for k, _, _, ok in t["rows"] if not ok]
        head = "met" if t["met"] else f"**not met** (k = {', '.join(failed)})"
        lines.append(f"- Stochastic below both deterministic models for k = 1..10 with every "
                     f"seed ({label} predictions): {head}.")  # fmt: skip
        changes = "; ".join(crossings(groups, path))
        if changes:
            lines.append(f"  - over every k scored, the mean over seeds against each: {changes}")
        for k, worst, best, ok in t["rows"]:
            if k in (1, 5, 10) or not ok:
                others = ", ".join(f"{m} best {100 * v:.2f}%" for m, v in best.items()
                                   if v is not None)  # fmt: skip
                w = "n/a" if worst is None else f"{100 * worst:.2f}%"
                lines.append(f"  - k = {k}: stochastic worst seed {w}; {others}")
    blank = []
    for m in DETERMINISTIC:
        empty = [v for v in values_at(groups.get(m, []), "most_likely.position_empty", 10) if v]
        if empty and min(empty) > 0.5:
            lo, hi = 100 * min(empty), 100 * max(empty)
            share = f"{lo:.0f}%" if round(lo) == round(hi) else f"{lo:.0f}-{hi:.0f}%"
            blank.append(f"{MODEL_NAMES.get(m, m)} {share}")
    if blank:
        lines.append(f"- Caveat: predicted frames with no ball at k = 10 over the seeds: "
                     f"{', '.join(blank)}. The comparison is against models that did not "
                     "learn to draw the ball within their budget, not against trained "
                     "deterministic dynamics.")  # fmt: skip
    every = [r for rs in groups.values() for r in rs]
    walls = [total_wall(r, every) for r in every]
    walls = [w for w in walls if w is not None]
    if walls:
        ok = max(walls) <= TRAIN_LIMIT_S
        lines.append(f"- Each model trains within 20 minutes on 2 cores (a warm-started "
                     f"run with the run it starts from): {'met' if ok else '**not met**'} "
                     f"(longest {max(walls):.0f} s).")  # fmt: skip
    return lines


def source_run(run: dict, runs: list[dict]) -> dict | None:
    """The benchmark run that ``run`` was warm-started from (``train.init_from`` naming
    its directory), if it is among ``runs``."""
    source = str(get(run, "resolved_config.train.init_from", "") or "").rstrip("/")
    if not source:
        return None
    return next((r for r in runs if str(r.get("run_dir", "")).rstrip("/") == source), None)


def total_wall(run: dict, runs: list[dict]) -> float | None:
    """A run's training time plus that of the run it was warm-started from; None if
    either is unknown."""
    own = number(get(run, "training.wall_time_s"))
    if own is None or not get(run, "resolved_config.train.init_from", ""):
        return own
    source = source_run(run, runs)
    before = None if source is None else number(get(source, "training.wall_time_s"))
    return None if before is None else own + before


def _setup(groups: dict[str, list[dict]]) -> list[str]:
    header = ["model", "runs (seeds)", "training, s", "steps", "threads", "starts from", "CPU",
              "commit"]  # fmt: skip
    rows = []
    every = [r for rs in groups.values() for r in rs]
    for m, runs in groups.items():
        seeds = ", ".join(str(get(r, "resolved_config.train.seed")) for r in runs)
        starts = set()
        for r in runs:
            if get(r, "resolved_config.train.init_from", ""):
                src = source_run(r, every)
                what = "?" if src is None else MODEL_NAMES.get(str(src.get("model")), "?")
                same = src is not None and get(src, "resolved_config.train.seed") == get(
                    r, "resolved_config.train.seed"
                )
                params = ", ".join(get(r, "resolved_config.train.init_params", None) or ["all"])
                starts.add(f"{what} run{' of its seed' if same else ''} ({params})")
        start = "; ".join(sorted(starts)) or "scratch"
        walls = [number(get(r, "training.wall_time_s")) for r in runs]
        steps = [number(get(r, "training.steps")) for r in runs]
        cpus = sorted({str(get(r, "machine.cpu", "?")) for r in runs})
        commits = sorted({str(get(r, "machine.commit", "?"))[:7] for r in runs})
        threads = sorted({str(get(r, "resolved_config.train.threads", "?")) for r in runs})
        rows.append([model_label(m, runs), f"{len(runs)} ({seeds})",
                     fmt(spread(walls), ".0f", len(runs)), fmt(spread(steps), ".0f", len(runs)),
                     ", ".join(threads), start, "; ".join(cpus), ", ".join(commits)])  # fmt: skip
    return table(header, rows)


def dynamics_section(runs: list[dict]) -> list[str]:
    """The page's dynamics section (nothing when there are no runs)."""
    if not runs:
        return []
    groups = by_model(runs)
    commands = sorted({str(r.get("command", "?")) for r in runs})
    scored = ", ".join(sorted({str(get(r, "imputation.sequences")) for r in runs}))
    lines = [
        "## Dynamics: bouncing balls, stochastic against deterministic dynamics",
        "",
        "Li & Mandt (2018), section 4.3 (Figs. 7 and 8), on balls simulated by dsae "
        "(`dsae data build balls`: the KVAE polygon, 4000 training and 1000 test sequences "
        "of 30 frames at 32 x 32). Protocol: " + PROTOCOL + f"; on the first {scored} test "
        "sequences. Mean +- std (min-max) over the seeds of each model.",
        "",
        *_setup(groups),
        "",
        f"![Fig. 8: wrong pixels against missing frames]({FIG8})",
        "",
        f"![Fig. 7: truth, reconstructions and predictions from t = 20]({FIG7})",
        "",
        "Reconstructions (k = 0) and empty predictions (a model that draws no ball gets the "
        "ball's own pixels wrong, about 2.8% of a frame, and has no position):",
        "",
        *_empty(groups),
        "",
        *_curve_table(
            groups,
            "sampled.wrong_missing",
            "Wrong pixels over the missing frames, %, sampled predictions",
            100.0,
        ),
        *_curve_table(
            groups,
            "most_likely.wrong_missing",
            "Wrong pixels over the missing frames, %, most likely prediction",
            100.0,
        ),
        *_curve_table(
            groups,
            "most_likely.position_error",
            "Ball position error over the missing frames, pixels (centroid of the "
            "most likely prediction against the simulated centre)",
            1.0,
        ),
        "Targets:",
        "",
        *_targets(groups),
        "",
        "Commands: " + "; ".join(f"`{c}`" for c in commands),
        "",
    ]
    return lines
