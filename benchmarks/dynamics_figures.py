"""Draw Li & Mandt (2018) Figs. 7 and 8 from the runs of ``benchmarks/dynamics.py``.

- Fig. 8 (``docs/img/balls_fig8.png``): the wrong-pixel fraction over the missing frames
  against their number, one line per model (mean over its seeds, a band for the spread),
  for the sampled and the most likely predictions side by side;
- Fig. 7 (``docs/img/balls_fig7.png``): test sequences as single pictures (colour for
  time, predicted frames in green): the truth, then each model's reconstruction and its
  prediction from t = 20, read from ``RUN/fig7.npz`` of the lowest seed of each model.

    python benchmarks/dynamics_figures.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from benchlib.dynamics_page import FIG7, FIG8, MODEL_NAMES, by_model, model_label
from benchlib.page_text import get

from dsae.viz.dynamics import overlay, overlay_figure, plot_imputation

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs"


def load_dynamics(results: Path) -> list[dict]:
    runs = []
    for path in sorted(results.glob("dynamics-*.json")):
        run = json.loads(path.read_text())
        if run.get("benchmark") == "dynamics" and run.get("imputation"):
            runs.append(run)
    return runs


def curves(groups: dict[str, list[dict]], path: str) -> dict[str, dict]:
    """{label: {"missing", "mean", "std"}} over the seeds of each model."""
    out = {}
    for model, runs in groups.items():
        missing = get(runs[0], "imputation.missing")
        series = np.array([get(r, f"imputation.{path}") for r in runs], dtype=float)
        out[MODEL_NAMES.get(model, model)] = {
            "missing": list(missing),
            "mean": series.mean(0).tolist(),
            "std": series.std(0, ddof=1).tolist() if len(runs) > 1 else [0.0] * len(missing),
        }
    return out


def fig8(groups: dict[str, list[dict]], out: Path) -> None:
    for path, suffix in (("sampled.wrong_missing", ""), ("most_likely.wrong_missing", "_ml")):
        target = out if not suffix else out.with_name(out.stem + suffix + out.suffix)
        plot_imputation(curves(groups, path), target, key="mean",
                        ylabel="wrong pixels over the missing frames")  # fmt: skip


def fig7(groups: dict[str, list[dict]], out: Path, columns: int = 6) -> None:
    rows, truth, observed = [], None, 20
    for model, runs in groups.items():
        run = min(runs, key=lambda r: get(r, "resolved_config.train.seed", 0))
        npz = Path(run["run_dir"]) / "fig7.npz"
        if not npz.is_file():
            print(f"note: no {npz}; {model} left out of Fig. 7")
            continue
        with np.load(npz) as z:
            a = {k: z[k] for k in z.files}
        observed = int(a["observed"])
        n = min(columns, a["truth"].shape[0])
        unit = {k: a[k][:n].astype(np.float32) / 255.0 for k in ("truth", "reconstruction",
                                                               "most_likely")}  # fmt: skip
        if truth is None:
            truth = ("truth", [overlay(unit["truth"][i]) for i in range(n)])
        name = MODEL_NAMES.get(model, model)
        rows.append((f"{name} recon", [overlay(unit["reconstruction"][i]) for i in range(n)]))
        rows.append((f"{name} t={observed}",
                     [overlay(unit["most_likely"][i], observed) for i in range(n)]))  # fmt: skip
    if truth is not None:
        overlay_figure([truth, *rows], out, scale=4)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=HERE / "results")
    p.add_argument("--docs", type=Path, default=DOCS)
    args = p.parse_args(argv)
    groups = by_model(load_dynamics(args.results))
    if not groups:
        print("no dynamics results", file=sys.stderr)
        return 1
    fig8(groups, args.docs / FIG8)
    fig7(groups, args.docs / FIG7)
    labels = ", ".join(f"{model_label(m, r)} x {len(r)}" for m, r in groups.items())
    print(f"wrote {args.docs / FIG8} and {args.docs / FIG7} ({labels})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
