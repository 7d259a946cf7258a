"""Write docs/RESULTS.md from the benchmark JSONs in benchmarks/results/.

    python benchmarks/make_results.py           # rewrite docs/RESULTS.md
    python benchmarks/make_results.py --check   # exit 1 if docs/RESULTS.md is not up to date

Runs of one config (the same overrides but ``train.seed``) on one class of machine form a
group: each figure as mean +- std (min-max) over its runs, each target with the runs that met
it (a quality target under each judge that scored the runs, met only under all of them); one
row per sampler, the learnt prior's compared with the published numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from benchlib.ablation_page import ablation_section
from benchlib.digits_page import digits_section
from benchlib.dynamics_page import dynamics_section
from benchlib.lds_page import lds_section
from benchlib.page_text import fmt, get, number, show, spread, table
from benchlib.quickstart_page import quickstart_section
from benchlib.speech_page import speech_section
from benchlib.sprites_targets_page import (
    COMPARED,
    configured_sampler,
    judges_line,
    ordered,
    targets_table,
)
from benchlib.vem_page import vem_section

from dsae.eval.published import PUBLISHED_FACTOR_NAMES, generation_rows, table1_rows

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
PAGE = HERE.parent / "docs" / "RESULTS.md"

PUBLISHED_GENERATION = generation_rows()  # (model, Acc %, IS, H(y|x), H(y))
PUBLISHED_GENERATION_PROTOCOL = (
    "z_1:T of a test sequence kept, f ~ the model's p(f) (N(0, I) in the published models)"
)
_DSAE_NAME = {v: k for k, v in PUBLISHED_FACTOR_NAMES.items() if k != "skin colour"}
PUBLISHED_TABLE1 = {_DSAE_NAME.get(k, k): v[0] for k, v in table1_rows().items()}  # disagreement %

SAMPLER_LABELS = {
    "learnt_prior": "learnt prior (f ~ the model's p(f), z_1:T from its LSTM prior)",
    "aggregate": "aggregate posterior (post-hoc)",
    "mixture": "Gaussian mixtures fitted to the posteriors (post-hoc)",
}
NOT_PUBLISHED_PROTOCOL = (
    "not the published table's protocol (f ~ N(0, I), z_1:T from the learnt LSTM prior)"
)
GENERATION_FIGURES = (("acc", "Acc %", ".2f"), ("is", "IS", ".3f"),
                      ("h_yx", "H(y\\|x)", ".4f"), ("h_y", "H(y)", ".3f"))  # fmt: skip
COST_FIGURES = (  # (label, dotted path in the JSON, format)
    ("training wall time, s", "training.wall_time_s", ".0f"),
    ("training steps", "training.steps", ".0f"),
    ("sequences/s in the training run", "training.seq_per_s", ".1f"),
    ("FLOP rate, GFLOP/s", "efficiency.achieved_flops_per_s", ".1f"),
    ("float32 matmul peak, GFLOP/s", "efficiency.matmul_peak.peak_flops_per_s", ".1f"),
    ("FLOP rate, % of the peak", "efficiency.efficiency_pct", ".1f"),
    ("peak memory of training, MiB", "training.peak_rss_mb", ".0f"),
    ("speed-up over the 2018-sized DSAE (calibration)", "throughput.speedup_vs_baseline", ".1f"),
)


def load_runs(results_dir: Path) -> tuple[list[dict], list[str]]:
    """(benchmark runs, names of JSON files that are not benchmark runs), by file name."""
    runs, other = [], []
    for path in sorted(results_dir.glob("*.json")):
        d = json.loads(path.read_text())
        if isinstance(d, dict) and ("config" in d or "benchmark" in d):
            d["_file"] = path.name
            runs.append(d)
        else:
            other.append(path.name)
    return runs, other


def seed_of(run: dict) -> int | None:
    seed = get(run, "resolved_config.train.seed")
    return seed if isinstance(seed, int) else None


def instructions(run: dict) -> str:
    """The CPU's bfloat16 instructions as the run recorded them."""
    amx, bf16 = get(run, "machine.amx"), get(run, "machine.bf16_instructions")
    if amx or bf16:
        return "AMX-BF16" if amx else "AVX512-BF16, no AMX"
    if amx is None and bf16 is None:
        return "bfloat16 instructions not recorded"
    width = {True: "AVX-512, ", False: "AVX2 only, "}.get(
        get(run, "machine.instruction_sets.avx512f"), ""
    )
    return f"{width}no bfloat16 instructions"


def precision(run: dict) -> str:
    autocast = get(run, "efficiency.autocast")
    return {None: "precision not recorded", "bf16": "bfloat16"}.get(autocast, "float32")


def group_key(run: dict) -> tuple[str, tuple[str, ...], str, str, str]:
    overrides = tuple(o for o in run.get("overrides") or [] if not o.startswith("train.seed="))
    cpu = str(get(run, "machine.cpu", "unknown CPU"))
    return (str(run["config"]), overrides, cpu, instructions(run), precision(run))


def sampler_rows(run: dict, protocol: str) -> dict[str, dict]:
    """``evaluation[protocol]`` as {sampler name: result}: one row per sampler when the JSON
    holds them, else its single result under the sampler its config names."""
    section = get(run, f"evaluation.{protocol}")
    if not isinstance(section, dict):
        return {}
    single = ("z_kept_f_sampled", "f_kept_z_sampled", "static", "dynamic")
    if any(k in section for k in single):
        return {configured_sampler(run): section}
    return {k: v for k, v in section.items() if isinstance(v, dict)}


def sampler_label(name: str) -> str:
    """The row label of a sampler; the row compared with the published tables in bold."""
    label = SAMPLER_LABELS.get(name, f"{name} (post-hoc)")
    return f"**dsae, {label}**" if name == COMPARED else f"dsae, {label}"


def sampler_notes(names: Iterable[str]) -> list[str]:
    """One line per sampler: its protocol, and whether it is the published tables' one."""
    return [f"- Sampler: {SAMPLER_LABELS.get(name, f'{name} (post-hoc)')}, "
            + ("the published tables' protocol: the row compared with them." if name == COMPARED
               else f"{NOT_PUBLISHED_PROTOCOL}.") for name in names]  # fmt: skip


def generation_figures(result: dict) -> dict[str, float | None]:
    """{"acc", "is", "h_yx", "h_y", "f_kept.<factor>"...} of one sampler's generation result."""
    z_kept = result.get("z_kept_f_sampled") or {}
    out = {key: number(z_kept.get(key)) for key, _, _ in GENERATION_FIGURES}
    for factor, value in (result.get("f_kept_z_sampled") or {}).items():
        out[f"f_kept.{factor}"] = number(value)
    return out


def table1_figures(result: dict) -> dict[str, float | None]:
    rows = {**(result.get("static") or {}), **(result.get("dynamic") or {})}
    return {k: number(get(v, "disagreement")) for k, v in rows.items()}


# -- statistics and formatting ---------------------------------------------------------------
def command(run: dict) -> str:
    """The benchmark command of a run: as recorded, or rebuilt from its fields."""
    recorded = run.get("command")
    if isinstance(recorded, list | str):
        return recorded if isinstance(recorded, str) else " ".join(map(str, recorded))
    parts = ["python benchmarks/sprites.py", str(run["config"])]
    for flag, path in (("--data", "data.dir"), ("--judge", "judge.path")):
        value = get(run, path)
        if isinstance(value, str):  # an absolute path, shown from its data/ or runs/ folder
            cut = max(value.rfind("/data/"), value.rfind("/runs/"))
            parts += [flag, value[cut + 1 :] if cut >= 0 else value]
    budget = number(get(run, "plan.budget_s"))
    if budget is not None:
        parts += ["--budget-minutes", f"{budget / 60:g}"]
    if get(run, "baseline.skipped"):
        parts.append("--skip-baseline")
    parts += [f"--set {o}" for o in run.get("overrides") or []]
    return " ".join(parts)


# -- the page --------------------------------------------------------------------------------
def distinct(runs: list[dict], describe: Callable[[dict], str]) -> str:
    return ", ".join(sorted({describe(r) for r in runs}))


def stat_rows(per_run: list[dict], samplers: list[str], keys: list[tuple[str, str]]) -> list:
    """One row per sampler: its label, then each (key, format) as mean +- std (min-max)."""
    n = len(per_run)
    return [
        [sampler_label(s)] + [fmt(spread(f.get(s, {}).get(k) for f in per_run), spec, n)
                              for k, spec in keys]
        for s in samplers
    ]  # fmt: skip


def group_section(key: tuple, runs: list[dict]) -> list[str]:
    config, overrides, cpu, isa, prec = key
    n, first = len(runs), runs[0]
    title = f"`{config}`" + (f" with `{' '.join(overrides)}`" if overrides else "")
    seeds = ", ".join(str(s) for s in sorted({seed_of(r) for r in runs} - {None})) or "n/a"
    dirty = " (uncommitted changes)"
    commits = distinct(runs, lambda r: show(r, "machine.commit")
                       + (dirty if get(r, "machine.commit_dirty") else ""))  # fmt: skip
    software = distinct(runs, lambda r: f"torch {show(r, 'versions.torch')}, "
                        f"Python {show(r, 'versions.python')}")  # fmt: skip
    lines = [
        f"## {title} on {cpu} ({isa}; {prec})",
        "",
        f"- **Runs**: {n} (seeds {seeds}); every target met in "
        f"{sum(1 for r in runs if r.get('all_met'))} of {n}.",
        f"- **Machine**: {cpu}, {show(first, 'machine.cores')} cores, "
        f"{show(first, 'machine.threads')} threads; {isa}; training "
        f"precision: {prec} (`train.autocast: {show(first, 'resolved_config.train.autocast')}`); "
        f"{software}.",
        judges_line(runs),
        f"- **Commit**: {commits}. **Dates**: {distinct(runs, lambda r: show(r, 'machine.date'))}.",
        "- Figures: mean ± std (min-max) over the runs; std is the sample standard deviation.",
        "",
        "### Targets",
        "",
        *targets_table(runs),
        "",
        "### Generation, beside the published tables",
        "",
        *generation_table(runs),
        "",
        "### Table 1 of Li & Mandt (2018): disagreement %",
        "",
        *table1_table(runs),
        "",
        "### Cost",
        "",
    ]
    rows = []
    for label, path, spec in COST_FIGURES:
        values = [number(get(r, path)) for r in runs]
        scale = 1e-9 if path.endswith("flops_per_s") else 1.0  # in GFLOP/s
        rows.append([label, fmt(spread(v * scale for v in values if v is not None), spec, n)])
    lines += [*table(["figure", "value"], rows), "", "### Runs", ""]
    rows = [
        [f"`{r['_file']}`", show(r, "resolved_config.train.seed"), show(r, "machine.date"),
         show(r, "machine.commit"),
         f"{sum(bool(t.get('met')) for t in (r.get('targets') or {}).values())} of "
         f"{len(r.get('targets') or {})}", f"`{command(r)}`"]
        for r in runs
    ]  # fmt: skip
    lines += table(["file", "seed", "date", "commit", "targets met", "command"], rows)
    later = [r for r in runs if isinstance(r.get("rescored"), dict)]
    if later:
        lines += ["", "Scored under the second judge after training (the sequences the first "
                  "judge scored; training and first-judge figures as recorded above):", ""]  # fmt: skip
        lines += [f"- `{r['_file']}`: `{show(r, 'rescored.command')}` (commit "
                  f"{show(r, 'rescored.commit')}, {show(r, 'rescored.date')})" for r in later]  # fmt: skip
    if any("command" not in r for r in runs):
        lines += ["", "Commands not recorded in a JSON are rebuilt from its fields (config, "
                  "data, judge, budget, baseline, overrides)."]  # fmt: skip
    return lines


def generation_table(runs: list[dict]) -> list[str]:
    per_run = [{s: generation_figures(v) for s, v in sampler_rows(r, "generation").items()}
               for r in runs]  # fmt: skip
    samplers = ordered({s for figures in per_run for s in figures})
    first = tuple(f"f_kept.{k}" for k in ("skin", "pants", "top", "hair"))
    factors = ordered({k for f in per_run for rows in f.values() for k in rows if "." in k}, first)
    rows = stat_rows(per_run, samplers, [(k, spec) for k, _, spec in GENERATION_FIGURES])
    rows += [[f"{name} (published)", *published] for name, *published in PUBLISHED_GENERATION]
    lines = table(["model", *(label for _, label, _ in GENERATION_FIGURES)], rows)
    lines += ["", "z_1:T of each test sequence kept, f sampled, the action judged "
              f"(published rows: {PUBLISHED_GENERATION_PROTOCOL}).", ""]  # fmt: skip
    if factors:
        rows = stat_rows(per_run, samplers, [(k, ".2f") for k in factors])
        lines += table(["model", *(f"{k.split('.', 1)[1]} %" for k in factors)], rows)
        lines += ["", "f of each test sequence kept, z_1:T sampled, each static factor judged.", ""]
    return lines + sampler_notes(samplers)


def table1_table(runs: list[dict]) -> list[str]:
    per_run = [{s: table1_figures(v) for s, v in sampler_rows(r, "table1").items()} for r in runs]
    samplers = ordered({s for figures in per_run for s in figures})
    factors = ordered({k for f in per_run for rows in f.values() for k in rows} or
                      set(PUBLISHED_TABLE1), first=tuple(PUBLISHED_TABLE1))  # fmt: skip
    rows = stat_rows(per_run, samplers, [(k, ".2f") for k in factors])
    rows.append(["DSAE, full q (Li & Mandt 2018, published)"]
                + [PUBLISHED_TABLE1.get(k, "") for k in factors])  # fmt: skip
    lines = table(["model", *factors], rows)
    lines += ["", "Static rows: f kept, z_1:T sampled; action row: z_1:T kept, f sampled; the "
              "judge's class distribution compared with the data's.", ""]  # fmt: skip
    return lines + sampler_notes(samplers)


def render(results_dir: Path) -> str:
    runs, other = load_runs(results_dir)
    speech = [r for r in runs if r.get("benchmark") == "speech"]
    dynamics = [r for r in runs if r.get("benchmark") == "dynamics"]
    digits = [r for r in runs if r.get("benchmark") == "digits"]
    ablation = [r for r in runs if r.get("benchmark") == "ablation"]
    vem = [r for r in runs if r.get("benchmark") == "vem"]
    lds = [r for r in runs if r.get("benchmark") == "lds"]
    quickstart = [r for r in runs if r.get("benchmark") == "quickstart"]
    own_sections = ("speech", "dynamics", "digits", "ablation", "vem", "lds", "quickstart")
    runs = [r for r in runs if r.get("benchmark") not in own_sections]
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault(group_key(r), []).append(r)
    lines = [
        "# Results",
        "",
        "Generated by `python benchmarks/make_results.py` from the benchmark JSONs in "
        "`benchmarks/results/` (one per run of `benchmarks/sprites.py`, `benchmarks/speech.py`, "
        "`benchmarks/dynamics.py`, `benchmarks/digits.py`, `benchmarks/ablation.py`, "
        "`benchmarks/vem.py`, `benchmarks/lds.py` or `benchmarks/quickstart.py`): do not edit "
        "by hand. "
        "Older runs are in the git history of that folder; what each design choice of the "
        "Sprites recipe bought is in [ablations.md](ablations.md).",
        "",
    ]
    if not groups:
        lines += ["No benchmark results yet.", ""]
    for key in sorted(groups):
        runs_of_group = sorted(groups[key], key=lambda r: (seed_of(r) or 0, r["_file"]))
        lines += [*group_section(key, runs_of_group), ""]
    lines += speech_section(speech)
    lines += dynamics_section(dynamics)
    lines += digits_section(digits)
    if ablation:
        lines += [ablation_section(ablation), ""]
    lines += vem_section(vem)
    lines += lds_section(lds)
    lines += quickstart_section(quickstart)
    if other:
        lines += [f"Not benchmark runs (skipped): {', '.join(other)}.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=RESULTS_DIR, help="folder of result JSONs")
    p.add_argument("--out", type=Path, default=PAGE, help="the page to write or check")
    p.add_argument("--check", action="store_true", help="exit 1 if the page is not up to date")
    args = p.parse_args(argv)
    text = render(args.results)
    if not args.check:
        args.out.write_text(text)
    elif not args.out.is_file() or args.out.read_text() != text:
        print(f"{args.out} is not up to date: run python benchmarks/make_results.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
