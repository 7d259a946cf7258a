"""The digits part of docs/RESULTS.md: runs of ``benchmarks/digits.py``.

The Disentangled VRNN (Prasanna & Vidyasagar), full and factorized, and the DSAE (Li &
Mandt 2018) on sequences of 8 handwritten digits of one class, scored with the models' own
priors by the style protocol: with f kept and z_1:T sampled, the judge's digit accuracy
(the content should stay) and the correlation of the measured slant and thickness with the
source's (the style should not follow); with z_1:T kept and f sampled, the converse. Each
figure as mean +- std (min-max) over the training seeds; the beta_f x beta_z grid of the
full DVRNN as a table and heat maps.
"""

from __future__ import annotations

import math

from benchlib.page_text import fmt, get, number, spread, table

GRID_FIGURE = "img/digits_grid.png"
FIG4_FIGURE = "img/digits_fig4.png"
STATES = ("slant", "thickness")
# (label, path in the JSON with {static} for the static factor, scale, format)
SCORES = (
    ("f kept, z sampled: digit accuracy %", "style.f_kept.accuracy.{static}", 100.0, ".1f"),
    ("f kept, z sampled: slant r", "style.f_kept.correlation.slant", 1.0, ".3f"),
    ("f kept, z sampled: thickness r", "style.f_kept.correlation.thickness", 1.0, ".3f"),
    ("z kept, f sampled: digit accuracy %", "style.z_kept.accuracy.{static}", 100.0, ".1f"),
    ("z kept, f sampled: slant r", "style.z_kept.correlation.slant", 1.0, ".3f"),
    ("z kept, f sampled: thickness r", "style.z_kept.correlation.thickness", 1.0, ".3f"),
    ("reconstruction: digit accuracy %", "style.reconstruction.accuracy.{static}", 100.0, ".1f"),
    ("reconstruction: slant r", "style.reconstruction.correlation.slant", 1.0, ".3f"),
    ("reconstruction: thickness r", "style.reconstruction.correlation.thickness", 1.0, ".3f"),
    ("reconstruction PSNR, dB", "reconstruction.psnr", 1.0, ".2f"),
    ("training steps", "training.steps", 1.0, ".0f"),
    ("training wall time, s (one thread)", "training.wall_time_s", 1.0, ".0f"),
)
# The heat maps: (title, path, scale, format)
GRID_SCORES = (
    ("digit accuracy %, f kept (high is good)", "style.f_kept.accuracy.{static}", 100.0, ".0f"),
    ("digit accuracy %, z kept (chance is good)", "style.z_kept.accuracy.{static}", 100.0, ".0f"),
    ("slant r, z kept (high is good)", "style.z_kept.correlation.slant", 1.0, ".2f"),
    ("thickness r, z kept (high is good)", "style.z_kept.correlation.thickness", 1.0, ".2f"),
    ("slant r, f kept (0 is good)", "style.f_kept.correlation.slant", 1.0, ".2f"),
    ("reconstruction PSNR, dB", "reconstruction.psnr", 1.0, ".1f"),
)


def static_factor(run: dict) -> str:
    """The data's (first) static factor: ``digit`` for digits, ``item`` for fashion."""
    factors = get(run, "data.static_factors") or {}
    return next(iter(factors), "digit")


def value(run: dict, path: str, scale: float = 1.0) -> float | None:
    x = number(get(run, path.format(static=static_factor(run))))
    return None if x is None else scale * x


def model_key(run: dict) -> str:
    """``dvrnn-full``, ``dvrnn-factorized``, ``dsae``."""
    posterior = run.get("posterior")
    return f"{run.get('model')}-{posterior}" if posterior else str(run.get("model"))


MODEL_LABELS = {
    "dvrnn-full": "DVRNN, full",
    "dvrnn-factorized": "DVRNN, factorized",
    "dsae": "DSAE (factorised q)",
}


def is_default(run: dict) -> bool:
    """A run of its config as committed (no KL weights set on the command line)."""
    return not any(o.startswith(("objective.beta_f=", "objective.beta_z="))
                   for o in run.get("overrides", []))  # fmt: skip


def grid_cells(runs: list[dict]) -> tuple[list[float], list[float], dict[tuple, list[dict]]]:
    """The full DVRNN's runs by (beta_f, beta_z): (beta_f values, beta_z values, cells)."""
    cells: dict[tuple, list[dict]] = {}
    for run in runs:
        if model_key(run) == "dvrnn-full":
            cells.setdefault((float(run["beta_f"]), float(run["beta_z"])), []).append(run)
    return sorted({k[0] for k in cells}), sorted({k[1] for k in cells}), cells


def grid_array(cells: dict[tuple, list[dict]], bfs: list, bzs: list, path: str, scale: float):
    """(len(bfs), len(bzs)) means over each cell's runs, NaN where a cell has none."""
    out = [[math.nan] * len(bzs) for _ in bfs]
    for i, bf in enumerate(bfs):
        for j, bz in enumerate(bzs):
            s = spread(value(r, path, scale) for r in cells.get((bf, bz), []))
            out[i][j] = math.nan if s is None else s["mean"]
    return out


def _model_table(groups: dict[str, list[dict]]) -> list[str]:
    header = ["measure", *[f"{MODEL_LABELS.get(k, k)} ({_betas(runs[0])})"
                           for k, runs in groups.items()]]  # fmt: skip
    rows = []
    for label, path, scale, spec in SCORES:
        cells = [fmt(spread(value(r, path, scale) for r in runs), spec, len(runs))
                 for runs in groups.values()]  # fmt: skip
        rows.append([label, *cells])
    rows.append(["seeds", *[", ".join(str(r.get("seed")) for r in runs)
                            for runs in groups.values()]])  # fmt: skip
    return table(header, rows)


def _betas(run: dict) -> str:
    return f"beta_f {run.get('beta_f'):g}, beta_z {run.get('beta_z'):g}"


def _grid_table(runs: list[dict]) -> list[str]:
    bfs, bzs, cells = grid_cells(runs)
    header = ["beta_f \\ beta_z", *[f"{bz:g}" for bz in bzs]]
    rows = []
    for bf in bfs:
        row = [f"{bf:g}"]
        for bz in bzs:
            group = cells.get((bf, bz), [])
            acc = spread(value(r, "style.f_kept.accuracy.{static}", 100.0) for r in group)
            chance = spread(value(r, "style.z_kept.accuracy.{static}", 100.0) for r in group)
            sl = spread(value(r, "style.z_kept.correlation.slant") for r in group)
            th = spread(value(r, "style.z_kept.correlation.thickness") for r in group)
            row.append("n/a" if acc is None else
                       f"{acc['mean']:.0f}% / {chance['mean']:.0f}% / "
                       f"{sl['mean']:.2f} / {th['mean']:.2f} [{acc['n']}]")  # fmt: skip
        rows.append(row)
    return table(header, rows)


def digits_section(runs: list[dict]) -> list[str]:
    """The page's digits section (nothing when there are no runs)."""
    if not runs:
        return []
    groups: dict[str, list[dict]] = {}
    for run in sorted(runs, key=lambda r: (r.get("seed") or 0, r.get("_file", ""))):
        if is_default(run):
            groups.setdefault(model_key(run), []).append(run)
    groups = {k: groups[k] for k in [*MODEL_LABELS, *sorted(set(groups) - set(MODEL_LABELS))]
              if k in groups}  # fmt: skip
    cpus = sorted({str(get(r, "machine.cpu", "?")) for r in runs})
    commits = sorted({str(get(r, "machine.commit", "?"))[:7] for r in runs})
    commands = sorted({str(r.get("command", "?")) for r in runs if is_default(r)})
    lines = [
        "## Digits: the Disentangled VRNN beside the DSAE",
        "",
        "Sequences of 8 MNIST test-set images of one digit (`dsae data build digits`: images "
        "0-7999 train, 8000-9999 test), the Disentangled VRNN (Prasanna & Vidyasagar, "
        "section 2; full and factorized, section 4.3) and the DSAE with the same frame "
        "networks, codes (f of 16, z_t of 8) and Bernoulli likelihood, each trained for the "
        "same number of steps on one thread. Scored on the test split with the models' own "
        "priors (f ~ p(f), z_1:T from the learnt prior): the judge (a classifier trained on "
        "the training split) reads the digit; slant and thickness are measured from the "
        "pixels of every generated frame and correlated (Pearson r over frames) with those "
        "of the source frame. A disentangled model keeps the digit and not the style with f "
        "kept, and the style and not the digit (chance: 10%) with z_1:T kept. The paper "
        "gives pictures only; these numbers are dsae's.",
        "",
        f"CPU: {'; '.join(cpus)} (float32); commits: {', '.join(commits)}.",
        "",
        *_model_table(groups),
        "",
        "Commands: " + "; ".join(f"`{c}`" for c in commands) + ".",
        "",
        f"![Fig. 4 of the paper, per model: one z_1:T with f sampled per row, and one f "
        f"with z_1:T sampled per row]({FIG4_FIGURE})",
        "",
    ]
    bfs, bzs, _ = grid_cells(runs)
    if len(bfs) > 1 or len(bzs) > 1:
        lines += [
            "### The full DVRNN's beta_f x beta_z grid",
            "",
            "Each cell: digit accuracy with f kept / digit accuracy with z_1:T kept / slant r "
            "and thickness r with z_1:T kept [runs]. The paper found beta_f = 0.5, beta_z "
            "= 25 best by looking at samples.",
            "",
            *_grid_table(runs),
            "",
            f"![Heat maps of the beta_f x beta_z grid]({GRID_FIGURE})",
            "",
        ]
    return lines
