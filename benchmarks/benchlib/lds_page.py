"""The slow-latents part of docs/RESULTS.md: the runs of ``benchmarks/lds.py``.

Whether the latents of the linear-dynamics model whose eigenvalues sit near 1 carry the
static factors of Sprites ("Disentangling via dynamics", section 2), and the DSAE's swaps
on the same step budget beside the slow-block swaps.
"""

from __future__ import annotations

from benchlib.page_text import fmt, get, show, spread, table

FIGURE = "img/lds_slowness.png"


ORDERS = ("posterior", "prior")  # the slowness of q's lambda_t, of the prior's lambda_i


def _best_row(run: dict, order: str) -> dict:
    swaps = get(run, f"slowness.{order}.swaps")
    if not swaps:
        return {}
    return next((r for r in swaps["curve"] if r["k"] == swaps["best_k"]), {})


def _row_figures(row: dict) -> dict[str, float | None]:
    return {
        **row.get("static", {}),
        **row.get("dynamic", {}),
        "static mean": row.get("static_mean"),
    }


def _dsae_figures(run: dict) -> dict[str, float | None]:
    """Judge accuracy (%) per factor in the DSAE's swaps of f and z_1:T."""
    swap = run.get("swap") or {}
    out = {k: v.get("acc") for g in ("static", "dynamic") for k, v in swap.get(g, {}).items()}
    statics = [v.get("acc") for v in swap.get("static", {}).values()]
    out["static mean"] = sum(statics) / len(statics) if statics else None
    return out


FIXED = ("data.root=", "train.max_steps=", "train.threads=", "train.seed=", "train.progress=")


def arm_name(run: dict) -> str:
    """The model, and a variant's tag with its own overrides: ``lds (sw1: objective...=1)``."""
    if not run.get("tag"):
        return str(run.get("model", "?"))
    own = [o for o in run.get("overrides", []) if not o.startswith(FIXED)]
    return f"{run.get('model')} ({run['tag']}: {', '.join(own) or 'no overrides'})"


def _lds_arms(by_model: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {k: v for k, v in by_model.items() if k == "lds" or k.startswith("lds (")}


def _swap_table(by_model: dict[str, list[dict]]) -> list[str]:
    arms = []  # (model, what, runs, figures per run)
    for name, runs in _lds_arms(by_model).items():
        for order in ORDERS:
            best = ", ".join(str(get(r, f"slowness.{order}.swaps.best_k")) for r in runs)
            arms.append((name, f"k slowest latents ({order} order) from the content source, "
                         f"best k: {best}", runs, [_row_figures(_best_row(r, order)) for r in runs]))  # fmt: skip
    if by_model.get("dsae"):
        runs = by_model["dsae"]
        arms.append(("dsae", "f from the content source, z_1:T from the motion source", runs,
                     [_dsae_figures(r) for r in runs]))  # fmt: skip
    names: list[str] = []
    for *_, figures in arms:
        for f in figures:
            names += [k for k in f if k not in names]
    rows = []
    for model, what, runs, figures in arms:
        psnr = fmt(spread(get(r, "reconstruction.psnr") for r in runs), ".2f", len(runs))
        rows.append([model, what, str(len(runs)),
                     *(fmt(spread(f.get(k) for f in figures), ".1f", len(runs)) for k in names),
                     psnr])  # fmt: skip
    return table(["model", "swap", "seeds", *(f"{k} kept %" for k in names), "PSNR dB"], rows)


def _curve_table(runs: list[dict]) -> list[str]:
    header, columns = ["k slowest latents swapped"], []
    for order in ORDERS:
        curves = [get(r, f"slowness.{order}.swaps.curve") or [] for r in runs]
        for key, label in (("static_mean", "static kept %"), ("dynamic_mean", "action kept %")):
            header.append(f"{label}, {order} order")
            columns.append([[c[i][key] for c in curves] for i in range(len(curves[0]))])
    ks = [row["k"] for row in get(runs[0], "slowness.posterior.swaps.curve") or []]
    cells = [[fmt(spread(v), ".1f", len(runs)) for v in col] for col in columns]
    return table(header, [[str(k), *(c[i] for c in cells)] for i, k in enumerate(ks)])


def _eigen_column(runs: list[dict]) -> dict[str, str]:
    out = {}
    n = len(runs)
    for order in ORDERS:
        for group in get(runs[0], f"slowness.{order}.rank_correlation") or {}:
            rho = spread(get(r, f"slowness.{order}.rank_correlation", {}).get(group) for r in runs)
            out[f"{order} slowness vs {group} score, Spearman rho"] = fmt(rho, ".2f", n)
    slow = [get(r, "slowness.eigenvalues.slowness") or [] for r in runs]
    near = spread(sum(v < 0.01 for v in s) for s in slow if s)
    out["latents with mean abs(lambda_t - 1) < 0.01 (posterior)"] = fmt(near, ".1f", n)
    fastest = spread(max(s) for s in slow if s)
    out["fastest latent: mean abs(lambda_t - 1) (posterior)"] = fmt(fastest, ".3f", n)
    prior = [get(r, "slowness.eigenvalues.prior") or [] for r in runs]
    out["prior eigenvalues, range over latents"] = "; ".join(
        f"{min(p):.3f} to {max(p):.3f}" for p in prior if p
    )
    return out


def _eigen_table(arms: dict[str, list[dict]]) -> list[str]:
    """One column per arm (figures over its seeds), one row per figure."""
    columns = {name: _eigen_column(runs) for name, runs in arms.items()}
    labels = list(dict.fromkeys(k for c in columns.values() for k in c))
    rows = [[label, *(c.get(label, "n/a") for c in columns.values())] for label in labels]
    header = [f"{n} ({len(runs)} seed(s))" for n, runs in arms.items()]
    return table(["linear-dynamics model", *header], rows)


def _slow_rank(run: dict, column: list[float]) -> tuple[int, float]:
    """(1-based rank in posterior slowness of the latent with the highest value, that value)."""
    order = get(run, "slowness.posterior.order") or []
    best = max(range(len(column)), key=column.__getitem__)
    return order.index(best) + 1, column[best]


def _states_table(runs: list[dict]) -> list[str]:
    names = list(get(runs[0], "slowness.state_r2") or {})
    rows = []
    for name in names:
        cells = []
        for r in runs:
            rank, r2 = _slow_rank(r, get(r, "slowness.state_r2")[name])
            cells.append(f"{rank} ({r2:.2f})")
        rows.append([name, "; ".join(cells)])
    z_dim = get(runs[0], "slowness.z_dim", "?")
    return table(["state component", f"slowness rank of its best latent of {z_dim} (R^2), "
                  "per seed"], rows)  # fmt: skip


def _machine(runs: list[dict]) -> str:
    """CPU, its instruction sets and whether bfloat16 ran, per distinct machine."""
    out = set()
    for r in runs:
        sets = [k for k, v in (get(r, "machine.instruction_sets") or {}).items() if v]
        bf16 = "bfloat16" if get(r, "machine.bf16_autocast") else "float32"
        out.add(f"{show(r, 'machine.cpu')} ({', '.join(sets) or 'n/a'}; {bf16})")
    return "; ".join(sorted(out))


def _runs(runs: list[dict]) -> list[str]:
    rows = []
    for r in runs:
        dirty = " (uncommitted changes)" if get(r, "machine.commit_dirty") else ""
        rows.append([arm_name(r), show(r, "seed"), show(r, "machine.commit") + dirty,
                     f"{get(r, 'training.wall_time_s', 0) / 60:.0f}",
                     f"`{r.get('command', 'n/a')}`"])  # fmt: skip
    head = ["model", "seed", "commit", "training min (shared cores)", "command"]
    return table(head, rows)


def lds_section(runs: list[dict]) -> list[str]:
    """The page's slow-latents section (nothing when there is no run)."""
    if not runs:
        return []
    by_model: dict[str, list[dict]] = {}
    for r in sorted(runs, key=lambda r: (arm_name(r), r.get("seed", 0))):
        by_model.setdefault(arm_name(r), []).append(r)
    balls = by_model.pop("lds_balls", [])
    lds = by_model.get("lds", [])
    sprites = [r for rs in by_model.values() for r in rs]
    first = sprites[0] if sprites else runs[0]
    steps = sorted({get(r, "training.steps") for r in sprites}, key=str)
    lines = [
        "## Slow latents: linear dynamics without f (Sprites)",
        "",
        "The proposal 'Disentangling via dynamics' (section 2): `configs/sprites_lds.yaml` has "
        "no static code; 32 latents follow z_t = diag(lambda) z_t-1 + noise, the posterior's "
        "lambda_t come from a network of (x_t, x_t-1) and a regulariser pulls them toward 1, "
        "harder for later latents. Question: do the latents whose eigenvalues sit near 1 carry "
        "the static factors? `configs/sprites_dsae.yaml` (f and z_t) on the same budget: "
        f"{', '.join(map(str, steps))} steps on one thread, "
        f"{get(first, 'data.n_test', 'n/a')} test sequences, judge "
        f"`{get(first, 'judge.path', 'n/a')}`; {_machine(runs)}. Posterior means only "
        "(no sampler); each run's `dsae train` command is in its JSON.",
        "",
        "Swaps scored by the judge (mean ± std over seeds): each factor kept from the source "
        "it should come from (static from the content source, action from the motion source).",
        "",
        *_swap_table(by_model),
        "",
    ]
    if lds:
        lines += [
            "Per latent: its slowness (mean over test steps of abs(lambda_t,i - 1)) against "
            "what it predicts (a logistic regression's held-out accuracy of each factor from "
            "the latent's trajectory z_1:T,i, as (acc - chance) / (1 - chance)). Slow latents "
            "static would show as a negative rho with the static scores and a positive one "
            "with the action's.",
            "",
            *_eigen_table(_lds_arms(by_model)),
            "",
            "Slow-block swaps against k (mean over seeds), the latents ordered by the "
            "posterior's slowness or by the prior's abs(lambda_i - 1):",
            "",
            *_curve_table(lds),
            "",
            f"![Slow latents of seed 0]({FIGURE})",
            "",
        ]
    if balls:
        lines += [
            f"Bouncing balls (`configs/balls_lds.yaml`, {len(balls)} seed(s), "
            f"{', '.join(sorted({show(r, 'training.steps') for r in balls}))} steps): no "
            "labels, so each latent's R^2 with the ball's state per frame (position, velocity) "
            "stands for what it predicts.",
            "",
            *_eigen_table({"lds_balls": balls}),
            "",
            *_states_table(balls),
            "",
        ]
    return [*lines, *_runs(runs), ""]
