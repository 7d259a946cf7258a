"""The variational-EM part of docs/RESULTS.md: the run of ``benchmarks/vem.py``.

The DSAE replication's bias study (Leplae-Arthur & Nichani, section 3, after Turner &
Sahani 2011) on its linear-Gaussian toy: how far the parameter that maximises each ELBO lies
from the one that maximises the exact log-likelihood, per case and posterior family.
"""

from __future__ import annotations

from benchlib.page_text import get, table

HEADER = ["case", "MLE - true", "factorised q: encoder", "best per sequence", "amortisation",
          "full q: encoder", "best per sequence", "amortisation"]  # fmt: skip
FIG3, FIG4 = "img/vem_fig3.png", "img/vem_fig4.png"


def _cell(c: dict | None) -> str:
    if not c:
        return "n/a"
    return f"{c['mean']:+.3f} ± {c['std']:.3f}" + (" (bound)" if c.get("at_grid_edge") else "")


def _gap(row: dict, family: str) -> str:
    """Encoder bias - best-in-family bias (the part amortisation adds; mean over data sets)."""
    enc, best = row.get(f"elbo_{family}"), row.get(f"optimal_{family}")
    if not enc or not best:
        return "n/a"
    gap = enc["mean"] - best["mean"]
    return f"{0.0 if abs(gap) < 5e-4 else gap:+.3f}"  # no "-0.000"


def vem_section(runs: list[dict]) -> list[str]:
    """The page's variational-EM section (nothing when there is no run)."""
    if not runs:
        return []
    run = runs[-1]
    s = run.get("settings", {})
    bias = run.get("bias", {})
    rows = []
    for case, row in bias.items():
        cells = [_cell(row.get("log_likelihood"))]
        for family in ("factorised", "full"):
            cells += [_cell(row.get(f"elbo_{family}")), _cell(row.get(f"optimal_{family}")),
                      _gap(row, family)]  # fmt: skip
        rows.append([case.replace("_", "\\_"), *cells])
    return [
        "## Variational EM: the bias of the ELBO's maximiser",
        "",
        "The DSAE replication's toy (Leplae-Arthur & Nichani, section 3, after Turner & "
        "Sahani 2011): f, z_1:3, x_1:3 in R^2, p(f) = N(0, sigma_f^2 I), a random walk z_t, "
        "x_t ~ N(f + z_t, sigma_x^2 I). One parameter moves over a grid with the others at "
        "their true values; at each value, with the decoder fixed there, the exact "
        "log-likelihood and the exact ELBO of each encoder family trained to convergence, "
        "and of the best Gaussian q per sequence in that family. Bias = argmax ELBO - argmax "
        f"log-likelihood on the same data set; mean ± std over {s.get('seeds', '?')} data "
        f"sets of {s.get('sequences', '?')} sequences, grid of {len(s.get('grid') or [])} "
        "points over 0.1-2.0. 'MLE - true': argmax log-likelihood - the true value. "
        "'(bound)': an argmax at the end of the grid in some data set. 'best per "
        "sequence': the Gaussian q of the family fitted to each sequence (no encoder), whose "
        "bias is the family's approximation alone; 'amortisation': encoder bias - best "
        "per-sequence bias. The full family here is the DSAE's full q, z_t independent "
        "given f and x_1:T; the unrestricted Gaussian q is the exact posterior and has no bias.",
        "",
        *table(HEADER, rows),
        "",
        f"![Fig. 3: sigma_x varies]({FIG3})",
        "",
        f"![Fig. 4: sigma_z varies]({FIG4})",
        "",
        f"Study time {get(run, 'timing.study_s', 0):.0f} s on {get(run, 'machine.cpu', '?')}; "
        f"commit {str(get(run, 'machine.commit', '?'))[:7]}; command `{run.get('command')}`.",
        "",
    ]
