"""The variational-EM bias study as a benchmark: ``dsae.studies.vem`` run once, its bias
table, settings and timing recorded with the machine and the commit, its figures copied to
the docs.

1. the study (``write_vem_study``) into ``--study-dir`` (vem.json with every curve,
   fig3.png, fig4.png);
2. ``docs/img/vem_fig3.png`` and ``docs/img/vem_fig4.png``: the figures of the first data set;
3. ``benchmarks/results/vem-seed<k>.json``: the bias table (argmax ELBO - argmax
   log-likelihood per case and posterior family, mean and std over data sets), each case's
   argmaxes, the encoders' convergence, the settings, the machine, versions and the command.

    python benchmarks/vem.py
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from benchlib.machine import machine_record
from benchlib.record import recorded

from dsae.eval import versions
from dsae.studies.vem import write_vem_study
from dsae.utils import set_threads

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DOCS = HERE.parent / "docs"
FIGURES = {"fig3.png": "img/vem_fig3.png", "fig4.png": "img/vem_fig4.png"}
KEPT = ("figure", "param", "truth", "argmax", "argmax_at_grid_edge", "encoder_convergence")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5, help="data sets per case")
    p.add_argument("--grid", type=int, default=77, help="grid points of each parameter")
    p.add_argument("--sequences", type=int, default=1000, help="sequences per data set")
    p.add_argument("--seed", type=int, default=0, help="the seed of every data set")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--study-dir", default="runs/vem", help="the study's own output folder")
    p.add_argument("--out", default=None, help="JSON (default: results/vem-seed<k>.json)")
    p.add_argument("--docs", type=Path, default=DOCS, help="docs folder of the figures")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def benchmark(args: argparse.Namespace) -> dict:
    set_threads(args.threads)
    t0 = time.perf_counter()
    study = Path(args.study_dir)
    results = write_vem_study(
        study, seeds=args.seeds, grid=args.grid, sequences=args.sequences, seed=args.seed,
        progress=not args.no_progress,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    for name, target in FIGURES.items():
        (args.docs / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(study / name, args.docs / target)
    return {
        "benchmark": "vem",
        "settings": results["settings"],
        "bias": results["bias"],
        "cases": {k: {f: c[f] for f in KEPT if f in c} for k, c in results["cases"].items()},
        "machine": machine_record("none"),
        "versions": versions(),
        "study_dir": str(study.resolve()),
        "timing": {"study_s": round(wall, 3), "study_parts_s": results["timing_s"]},
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out) if args.out else RESULTS / f"vem-seed{args.seed}.json"
    done = recorded("vem.py", argv, lambda: (benchmark(args), out))
    if done is None:
        return 2
    result = done[0]
    print(f"study in {result['timing']['study_s']:.0f} s; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
