"""The results page's section of the Sprites objective ablation (``benchmarks/ablation.py``):
per arm, mean +- std (min-max) over its seeds of Table 1, the latent metrics and the PSNR,
beside the Li & Mandt replication's published beta = 1 and beta = 6 tables."""

from __future__ import annotations

from benchlib.page_text import fmt, get, number, show, spread, table
from dsae.eval.published import replication_table1_rows, table1_rows

FACTORS = ("skin", "pants", "top", "hair", "action")  # Sprites' factors, Table 1's order
_LI_MANDT = {"skin": "skin", "pants": "pants", "top": "tops", "hair": "hairstyle",
             "action": "action"}  # fmt: skip
LATENT = (  # (column, path in a group's latent report)
    ("DCI disentanglement", "dci.disentanglement"),
    ("DCI completeness", "dci.completeness"),
    ("DCI informativeness (test)", "dci.informativeness_test"),
    ("MIG", "mig.mig"),
    ("SAP", "sap.sap"),
    ("FactorVAE score", "factor_vae.eval_accuracy"),
)
PROTOCOL = (
    "Li & Mandt (2018) Table 1 with the model's own priors: for each static factor f is "
    "kept as the posterior mean E[q(f | x_1:T)] of a test sequence and z_1:T is drawn from "
    "the learnt prior p(z_t | z_<t); for the action the posterior mean of z_1:T is kept and "
    "f ~ N(0, I); a judge trained on the same Sprites compares its most probable class on "
    "the result with that on the data (disagreement %). The Li & Mandt replication "
    "(Leplae-Arthur & Nichani) sampled f from q(f | x) where dsae keeps its mean, and its "
    "numbers come from its own Sprites (6 variants per attribute), networks (z_t and f of "
    "32 dimensions), classifiers and training length: beside ours for the order of the arms, "
    "not as like-for-like values"
)


def arm_order(arms: set[str]) -> list[str]:
    """The plain objective first, then the others by name."""
    return [a for a in ("none",) if a in arms] + sorted(arms - {"none"})


def by_arm(results: list[dict]) -> dict[str, list[dict]]:
    """{arm: its runs sorted by seed}, arms in :func:`arm_order`."""
    groups: dict[str, list[dict]] = {}
    for r in results:
        groups.setdefault(str(r.get("arm", "?")), []).append(r)
    return {
        a: sorted(groups[a], key=lambda r: get(r, "resolved_config.train.seed", 0) or 0)
        for a in arm_order(set(groups))
    }


def table1_value(run: dict, factor: str, measure: str = "disagreement") -> float | None:
    """One Table 1 figure of a run (static or dynamic row), None where it is missing."""
    for kind in ("static", "dynamic"):
        row = get(run, f"table1.{kind}.{factor}")
        if isinstance(row, dict):
            return number(row.get(measure))
    return None


def arm_stat(runs: list[dict], value) -> str:  # type: ignore[no-untyped-def]
    """mean +- std (min-max) over the runs of ``value(run)``."""
    return fmt(spread(value(r) for r in runs), ".2f", len(runs))


def _factors(groups: dict[str, list[dict]]) -> list[str]:
    seen = {k for rs in groups.values() for r in rs
            for kind in ("static", "dynamic") for k in (get(r, f"table1.{kind}") or {})}  # fmt: skip
    return [f for f in FACTORS if f in seen] + sorted(seen - set(FACTORS))


def _setup(groups: dict[str, list[dict]]) -> list[str]:
    header = ["arm", "overrides", "runs (seeds)", "steps", "training wall time, s",
              "PSNR, dB", "final loss", "final recon"]  # fmt: skip
    rows = []
    for arm, runs in groups.items():
        overrides = " ".join(f"`{o}`" for o in runs[0].get("arm_overrides") or []) or "(none)"
        seeds = ", ".join(show(r, "resolved_config.train.seed") for r in runs)
        rows.append([
            f"**{arm}**", overrides, f"{len(runs)} ({seeds})",
            fmt(spread(number(get(r, "training.steps")) for r in runs), ".0f", len(runs)),
            fmt(spread(number(get(r, "training.wall_time_s")) for r in runs), ".0f", len(runs)),
            arm_stat(runs, lambda r: number(get(r, "reconstruction.psnr"))),
            fmt(spread(number(get(r, "training.final.loss")) for r in runs), ".0f", len(runs)),
            fmt(spread(number(get(r, "training.final.recon")) for r in runs), ".0f", len(runs)),
        ])  # fmt: skip
    return table(header, rows)


def _table1(groups: dict[str, list[dict]], factors: list[str], measure: str) -> list[str]:
    rows = [[f"dsae, {arm}"] + [arm_stat(runs, lambda r, f=f: table1_value(r, f, measure))
                                for f in factors] for arm, runs in groups.items()]  # fmt: skip
    column = {"disagreement": 0, "kl_recon": 1}[measure]
    for beta in (1.0, 6.0):
        published = replication_table1_rows(beta)
        rows.append([f"Leplae-Arthur & Nichani, beta = {beta:g} (published)"]
                    + [published.get(f, ("", "", ""))[column] for f in factors])  # fmt: skip
    li_mandt = table1_rows()
    rows.append(["Li & Mandt (2018), full q (published)"]
                + [li_mandt.get(_LI_MANDT.get(f, f), ("", "", ""))[column] for f in factors])  # fmt: skip
    return table(["model", *factors], rows)


def _latent(groups: dict[str, list[dict]], group: str) -> list[str]:
    rows = [[f"dsae, {arm}"] + [arm_stat(runs, lambda r, p=p: number(get(r, f"latent.{group}.{p}")))
                                for _, p in LATENT] for arm, runs in groups.items()]  # fmt: skip
    return table(["arm", *(label for label, _ in LATENT)], rows)


def _runs(groups: dict[str, list[dict]]) -> list[str]:
    rows = []
    for arm, runs in groups.items():
        for r in runs:
            dirty = " (uncommitted changes)" if get(r, "machine.commit_dirty") else ""
            rows.append([arm, show(r, "resolved_config.train.seed"),
                         show(r, "machine.commit") + dirty, show(r, "machine.date"),
                         f"`{r.get('command', 'n/a')}`"])  # fmt: skip
    return table(["arm", "seed", "commit", "date", "command"], rows)


def ablation_section(results: list[dict]) -> str:
    """The page's ablation section as Markdown ("" when there are no runs)."""
    if not results:
        return ""
    groups = by_arm(results)
    every = [r for rs in groups.values() for r in rs]
    first = every[0]
    scored = ", ".join(sorted({show(r, "data.n_test") for r in every}))
    cpus = ", ".join(sorted({show(r, "machine.cpu") for r in every}))
    threads = ", ".join(sorted({show(r, "resolved_config.train.threads") for r in every}))
    commits = ", ".join(sorted({show(r, "machine.commit") for r in every}))
    software = ", ".join(sorted({f"torch {show(r, 'versions.torch')}, Python "
                                 f"{show(r, 'versions.python')}" for r in every}))  # fmt: skip
    warmup = ", ".join(sorted({show(r, "resolved_config.train.lr_warmup_steps") for r in every}))
    factors = _factors(groups)
    lines = [
        "## Sprites: objective ablation",
        "",
        f"The DSAE of `{first.get('config', 'n/a')}` (Li & Mandt 2018, factorised q) trained "
        "under each objective with the same budget (`train.max_steps` as below, learning-rate "
        f"warm-up of {warmup} steps), seeds as listed, and scored on "
        f"{scored} test sequences. Arms: the plain ELBO (none); beta = 6 on both KL terms "
        "(the replication's beta-weighted objective); capacity annealing (Burgess et al. "
        "2018); FactorVAE's total correlation of [f, z_t] (Kim & Mnih 2018); DIP-VAE-I "
        "(Kumar et al. 2018). Figures: mean ± std (min-max) over the seeds of each arm.",
        "",
        f"- **Machine**: {cpus}; {threads} training thread(s); {software}.",
        f"- **Commit**: {commits}.",
        "- **Training**: `benchmarks/ablation.py` trains each run as "
        f"`{first.get('train_command', 'n/a')}` does (arm {first.get('arm', 'n/a')}; the "
        "other arms add their overrides below, each its own seed and run folder), or scores "
        "the finished run that its run folder already holds.",
        "",
        *_setup(groups),
        "",
        "### Table 1 of Li & Mandt (2018): disagreement %",
        "",
        *_table1(groups, factors, "disagreement"),
        "",
        "KL-recon (mean KL[p_recon || p_data] of the judge's classes):",
        "",
        *_table1(groups, factors, "kl_recon"),
        "",
        f"Protocol: {PROTOCOL}.",
        "",
        "### Latent metrics of the posterior means",
        "",
        "f against the static factors (one row per sequence):",
        "",
        *_latent(groups, "static"),
        "",
        "z_t averaged over the frames against the action:",
        "",
        *_latent(groups, "dynamic"),
        "",
        "DCI from extremely randomised trees (informativeness: held-out accuracy), MIG, SAP, "
        "and the FactorVAE score as the held-out majority-vote accuracy; their departures "
        "from disentanglement_lib are listed in `dsae.eval.latent_metrics`.",
        "",
        "### Runs",
        "",
        *_runs(groups),
    ]
    return "\n".join(lines)
