"""The variational-EM bias study (Leplae-Arthur & Nichani's replication of Li & Mandt 2018,
section 3, Figs. 3 and 4, after Turner & Sahani 2011).

Data sets are sampled from the linear-Gaussian toy (``vem_model``) at the true parameters;
then one parameter moves over a grid with the others at their true values, and at every grid
value (the decoder fixed there) we compute, per sequence in R^2 averaged over the data set:
- the exact log-likelihood log p(x_1:3);
- the exact ELBO of the DSAE's two encoders, factorised and full q (Li & Mandt 2018, eqs. 3
  and 4), as linear encoders trained to convergence on that ELBO (damped Newton steps,
  checked against the best such encoder in closed form: ``encoder_convergence``);
- the ELBO of the best Gaussian q per data point in each family (non-amortised, closed
  form), so that amortisation gap (encoder vs best in family) and approximation gap (best in
  family vs log-likelihood) can be told apart.
The argmax of each curve over the grid (refined by a parabola through the best grid point and
its neighbours) is the parameter variational EM would pick; its bias is argmax ELBO - argmax
log-likelihood on the same data set, reported as mean +- std over seeds.

Settings the replication does not state in the text are taken from its public code: sigma_f =
2.0, sigma_z = 0.5 when sigma_x varies, sigma_x = 0.5 when sigma_z varies, grids over
0.1 ... 2.0. Departures from the replication: its ELBO was a Monte Carlo estimate after
training MLP/RNN encoders by stochastic gradients on 50 sequences; here every expectation is
exact, the encoders are linear (enough for this model, see ``vem_model``), the data sets are
larger (1000 sequences by default) and several, so a seed fixes every number and the bias
comes with its spread.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from dsae.errors import DsaeError
from dsae.studies.vem_model import (
    DTYPE,
    FAMILIES,
    amortised_optimum,
    fit_encoders,
    log_likelihood,
    mean_elbo,
    optimal_q,
    per_coordinate,
    sample_sequences,
)
from dsae.utils import atomic_write_text
from dsae.viz.curves import CurvePanel, plot_argmax_curves

__all__ = [
    "CASES", "CURVES", "Case", "bias_table", "format_bias_table", "run_vem_study",
    "write_vem_study",
]  # fmt: skip

PARAMS = ("sigma_f", "sigma_z", "sigma_x")
SIGMA_F = 2.0


@dataclass(frozen=True)
class Case:
    """One panel: ``param`` moves over the grid; ``truth`` = (sigma_f, sigma_z, sigma_x)."""

    figure: str
    param: str
    truth: tuple[float, float, float]

    @property
    def name(self) -> str:
        return f"{self.param}={self.truth[PARAMS.index(self.param)]:g}"


CASES = (
    Case("fig3", "sigma_x", (SIGMA_F, 0.5, 0.3)),
    Case("fig3", "sigma_x", (SIGMA_F, 0.5, 0.5)),
    Case("fig3", "sigma_x", (SIGMA_F, 0.5, 1.0)),
    Case("fig4", "sigma_z", (SIGMA_F, 0.5, 0.5)),
    Case("fig4", "sigma_z", (SIGMA_F, 1.0, 0.5)),
)
# curve name -> what it is; "log_likelihood" is the reference of every bias
CURVES = {
    "log_likelihood": "exact log-likelihood",
    "elbo_factorised": "ELBO, factorised q encoder",
    "elbo_full": "ELBO, full q encoder",
    "optimal_factorised": "ELBO, best factorised q per sequence (mean field)",
    "optimal_full": "ELBO, best full q per sequence (z_t independent given f)",
}
GRID_RANGE = (0.1, 2.0)


def refined_argmax(grid: np.ndarray, values: np.ndarray) -> float:
    """The grid point of the largest value, moved to the vertex of the parabola through it and
    its two neighbours (on a uniform grid; at an end of the grid the end itself)."""
    i = int(np.argmax(values))
    if i == 0 or i == len(values) - 1:
        return float(grid[i])
    lo, mid, hi = values[i - 1], values[i], values[i + 1]
    curv = lo - 2 * mid + hi
    shift = 0.0 if curv >= 0 else 0.5 * (lo - hi) / curv
    return float(grid[i] + shift * (grid[i + 1] - grid[i]))


def _data_seed(seed: int, case: int, k: int) -> int:
    return int(np.random.SeedSequence([seed, case, k]).generate_state(1)[0])


def _study_case(case: Case, index: int, grid: np.ndarray, seeds: int, sequences: int,
                seed: int, bar: tqdm) -> dict:  # fmt: skip
    """Every curve of one case over ``seeds`` data sets: values per sequence in R^2."""
    truth = torch.tensor(case.truth, dtype=DTYPE)
    g = len(grid)
    theta = truth.repeat(g, 1)
    theta[:, PARAMS.index(case.param)] = torch.as_tensor(grid, dtype=DTYPE)
    data = []
    for k in range(seeds):
        gen = torch.Generator().manual_seed(_data_seed(seed, index, k))
        data.append(per_coordinate(sample_sequences(sequences, truth, gen)))  # (2N, 3)
    second = torch.stack([x.T @ x / len(x) for x in data])  # (K, 3, 3)
    curves: dict[str, torch.Tensor] = {}
    curves["log_likelihood"] = torch.stack([log_likelihood(x, theta).mean(-1) for x in data])
    moments = second[:, None].expand(-1, g, -1, -1)  # (K, G, 3, 3)
    for family in FAMILIES:
        curves[f"optimal_{family}"] = mean_elbo(moments, *optimal_q(theta, family), theta)
    convergence = {}
    flat_theta, flat_moments = theta.repeat(seeds, 1), moments.reshape(-1, 3, 3)
    for family in FAMILIES:
        value, grad = fit_encoders(flat_moments, flat_theta, family)
        best = amortised_optimum(flat_moments, flat_theta, family)
        curves[f"elbo_{family}"] = value.reshape(seeds, g)
        convergence[family] = {
            "max_abs_gradient": float(grad.max()),
            "max_gap_to_closed_form_optimum": float((best - value).abs().max()),
        }
        bar.update(1)
    # per sequence in R^2: two independent coordinates
    arrays = {name: 2 * curves[name].numpy() for name in CURVES}
    argmax = {n: [refined_argmax(grid, v) for v in arrays[n]] for n in CURVES}
    last = len(grid) - 1
    edge = {n: [int(np.argmax(v)) in (0, last) for v in arrays[n]] for n in CURVES}
    return {
        "figure": case.figure,
        "param": case.param,
        "truth": dict(zip(PARAMS, case.truth, strict=True)),
        "curves": {n: a.tolist() for n, a in arrays.items()},
        "argmax": argmax,
        "argmax_at_grid_edge": edge,
        "encoder_convergence": convergence,
    }


def bias_table(cases: dict[str, dict]) -> dict[str, dict[str, dict[str, float]]]:
    """Per case and curve: argmax - argmax of the log-likelihood (for the log-likelihood
    itself: argmax - true value), mean and std over data sets."""
    table = {}
    for name, c in cases.items():
        ref = np.asarray(c["argmax"]["log_likelihood"])
        truth = c["truth"][c["param"]]
        row = {}
        for curve, values in c["argmax"].items():
            diff = np.asarray(values) - (truth if curve == "log_likelihood" else ref)
            std = float(diff.std(ddof=1)) if len(diff) > 1 else 0.0
            at_edge = any(c["argmax_at_grid_edge"][curve])
            row[curve] = {"mean": float(diff.mean()), "std": std, "at_grid_edge": at_edge}
        table[name] = row
    return table


def format_bias_table(table: dict, seeds: int) -> str:
    """The bias table as aligned text."""
    heads = {
        "log_likelihood": "MLE - true",
        "elbo_factorised": "factorised q",
        "elbo_full": "full q",
        "optimal_factorised": "best factorised",
        "optimal_full": "best full",
    }
    width = 18
    lines = [
        f"bias of argmax ELBO - argmax log-likelihood (mean +- std over {seeds} data sets)",
        f"{'case':<12}" + "".join(f"{h:>{width}}" for h in heads.values()),
    ]
    for name, row in table.items():
        cells = [
            f"{row[c]['mean']:+.3f} +- {row[c]['std']:.3f}{'*' if row[c]['at_grid_edge'] else ' '}"
            for c in heads
        ]
        lines.append(f"{name:<12}" + "".join(f"{s:>{width}}" for s in cells))
    if any(cell["at_grid_edge"] for row in table.values() for cell in row.values()):
        lines.append("* an argmax at an end of the grid in some data set: the bias is a bound")
    return "\n".join(lines)


def run_vem_study(
    seeds: int = 5,
    grid: int = 77,
    sequences: int = 1000,
    seed: int = 0,
    progress: bool = True,
    cases: tuple[Case, ...] = CASES,
) -> dict:
    """Every case of Figs. 3 and 4 (or those given) over ``seeds`` data sets of ``sequences``
    sequences each, on a uniform ``grid`` of points over 0.1 ... 2.0. Returns the JSON-ready
    results. A case's data sets depend on its place in ``CASES``, not on the others run."""
    if seeds < 1:
        raise DsaeError(f"--seeds must be at least 1, got {seeds}")
    if grid < 3:
        raise DsaeError(f"--grid must be at least 3 points, got {grid}")
    if sequences < 2:
        raise DsaeError(f"--sequences must be at least 2, got {sequences}")
    points = np.linspace(*GRID_RANGE, grid)
    start = time.perf_counter()
    results, timing = {}, {}
    with tqdm(total=len(cases) * len(FAMILIES), desc="vem", unit="fit",
              disable=not progress) as bar:  # fmt: skip
        for case in cases:
            t0 = time.perf_counter()
            index = CASES.index(case) if case in CASES else len(CASES)
            results[case.name] = _study_case(case, index, points, seeds, sequences, seed, bar)
            timing[case.name] = time.perf_counter() - t0
    table = bias_table(results)
    return {
        "settings": {
            "seeds": seeds,
            "grid": points.tolist(),
            "sequences": sequences,
            "seed": seed,
            "sigma_f": SIGMA_F,
            "cases": [asdict(c) | {"name": c.name} for c in cases],
            "curves": CURVES,
            "units": "nats per sequence x_1:3 in R^2, averaged over the data set",
            "method": {
                "coordinates": "worked per coordinate: the two are independent and alike",
                "elbo": "exact (Gaussian q, Gaussian model), no Monte Carlo",
                "encoders": "linear maps with free log-variances, trained to convergence with "
                "the decoder fixed at each grid value (damped Newton on the exact ELBO)",
                "argmax": "best grid point, refined by the parabola through it and its neighbours",
            },
        },
        "cases": results,
        "bias": table,
        "timing_s": {"total": time.perf_counter() - start, "cases": timing},
        "versions": {
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },  # fmt: skip
    }


STYLES = {
    "log_likelihood": {"color": "tab:red", "linewidth": 1.8},
    "elbo_factorised": {"color": "tab:blue"},
    "elbo_full": {"color": "tab:green"},
    "optimal_factorised": {"color": "tab:cyan", "linestyle": "--", "linewidth": 1.0},
    "optimal_full": {"color": "tab:olive", "linestyle": "--", "linewidth": 1.0},
}
FIGURES = {"fig3": "Fig. 3: sigma_x varies", "fig4": "Fig. 4: sigma_z varies"}


def plot_vem_figures(results: dict, out: str | os.PathLike, data_set: int = 0) -> list[Path]:
    """Figs. 3 and 4 from ``run_vem_study``'s results: every curve of one data set against
    the parameter that varies, one panel per true value, each argmax marked."""
    grid = results["settings"]["grid"]
    n, k = results["settings"]["sequences"], results["settings"]["seeds"]
    paths = []
    for fig, title in FIGURES.items():
        panels = []
        for name, case in results["cases"].items():
            if case["figure"] != fig:
                continue
            others = ", ".join(
                f"{p} = {v:g}" for p, v in case["truth"].items() if p != case["param"]
            )
            panels.append(CurvePanel(
                title=f"true {name} ({others}); data set {data_set + 1} of {k}, {n} sequences",
                xlabel=case["param"],
                x=grid,
                curves={CURVES[c]: case["curves"][c][data_set] for c in CURVES},
                argmax={CURVES[c]: case["argmax"][c][data_set] for c in CURVES},
                truth=case["truth"][case["param"]],
            ))  # fmt: skip
        if not panels:
            continue
        styles = {CURVES[c]: s for c, s in STYLES.items()}
        title_full = f"{title}: log-likelihood and ELBOs per sequence (nats)"
        paths.append(plot_argmax_curves(panels, Path(out) / f"{fig}.png", styles, title_full))
    return paths


def write_vem_study(out: str | os.PathLike, **settings) -> dict:
    """Run the study (``run_vem_study``'s keywords) and write ``out``/vem.json, fig3.png and
    fig4.png (other files in ``out`` are left alone). Returns the results."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DsaeError(f"--out {out} is a file, expected a folder")
    results = run_vem_study(**settings)
    out.mkdir(parents=True, exist_ok=True)
    plot_vem_figures(results, out)
    atomic_write_text(out / "vem.json", json.dumps(results, indent=1) + "\n")
    return results
