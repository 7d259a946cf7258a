"""Draw the digits pictures from the runs of ``benchmarks/digits.py``.

- ``docs/img/digits_fig4.png``: the VRNN paper's Fig. 4 for each model as committed (its
  lowest seed), from the model's own priors: rows that share one z_1:T with f sampled per
  row, then rows that share one f with z_1:T sampled per row (``dsae generate --fix
  dynamic`` and ``--fix static``);
- ``docs/img/digits_grid.png``: heat maps of the full DVRNN's beta_f x beta_z grid, each
  cell the mean over its runs.

    python benchmarks/digits_figures.py
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from benchlib.digits_page import (
    FIG4_FIGURE,
    GRID_FIGURE,
    GRID_SCORES,
    MODEL_LABELS,
    grid_array,
    grid_cells,
    is_default,
    model_key,
)

from dsae.pipeline.outputs import generate
from dsae.train import load_run
from dsae.viz.grid import save_png, sequence_grid
from dsae.viz.plots import plot_heatmaps

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs"


def load_digits(results: Path) -> list[dict]:
    runs = []
    for path in sorted(results.glob("digits-*.json")):
        run = json.loads(path.read_text())
        if run.get("benchmark") == "digits":
            runs.append(run)
    return runs


def fig4(runs: list[dict], out: Path, rows_per_block: int = 3, seed: int = 0) -> list[str]:
    """Fig. 4 per model as committed; the models drawn."""
    firsts: dict[str, dict] = {}
    for run in sorted(runs, key=lambda r: r.get("seed") or 0):
        if is_default(run):
            firsts.setdefault(model_key(run), run)
    rows, labels, gaps, drawn = [], [], [], []
    for key in [k for k in MODEL_LABELS if k in firsts]:
        run_dir = Path(firsts[key]["run_dir"])
        if not run_dir.is_dir():
            print(f"note: no {run_dir}; {key} left out of Fig. 4")
            continue
        loaded = load_run(run_dir)
        modality, t = loaded.meta.modality, loaded.meta.seq_len
        name = MODEL_LABELS[key]
        for fix, what in (("dynamic", "one z, f sampled"), ("static", "one f, z sampled")):
            seqs = generate(loaded.model, loaded.model, modality, rows_per_block, t, fix, seed)
            rows += list(seqs[0])
            labels += [f"{name}: {what}"] + [""] * (rows_per_block - 1)
            gaps += [2] * (rows_per_block - 1) + [8]
        drawn.append(name)
    if rows:
        grid = sequence_grid(rows, scale=2, row_labels=labels, row_gaps=gaps[:-1])
        save_png(grid, out)
    return drawn


def grid_figure(runs: list[dict], out: Path) -> bool:
    bfs, bzs, cells = grid_cells(runs)
    if len(bfs) < 2 or len(bzs) < 2:
        return False
    panels = {}
    for title, path, scale, _ in GRID_SCORES:
        values = np.array(grid_array(cells, bfs, bzs, path, scale), dtype=float)
        if not all(math.isnan(v) for v in values.ravel()):
            panels[title] = values
    plot_heatmaps(
        panels, [f"{b:g}" for b in bfs], [f"{b:g}" for b in bzs], out,
        row_label="beta_f", col_label="beta_z",
        title="Disentangled VRNN (full) on digit sequences, model's own priors",
    )  # fmt: skip
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=HERE / "results")
    p.add_argument("--docs", type=Path, default=DOCS)
    args = p.parse_args(argv)
    runs = load_digits(args.results)
    if not runs:
        print("no digits results", file=sys.stderr)
        return 1
    drawn = fig4(runs, args.docs / FIG4_FIGURE)
    print(f"wrote {args.docs / FIG4_FIGURE} ({', '.join(drawn) or 'no run folders found'})")
    if grid_figure(runs, args.docs / GRID_FIGURE):
        print(f"wrote {args.docs / GRID_FIGURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
