"""The speech part of docs/RESULTS.md: runs of ``benchmarks/speech.py``.

A Table-2 style table of speaker-verification EERs (Li & Mandt 2018, section 4.2) with the
paper's TIMIT figures beside it, the content probes, the voice-conversion scores and every
target, each figure as mean +- std (min-max) over the runs (seeds) of one configuration.
"""

from __future__ import annotations

from benchlib.page_text import fmt, get, number, spread, table
from dsae.eval.published import verification_rows

PROTOCOL = (
    "per test utterance, mu_f = mean over its 200 ms segments of the posterior mean of f and "
    "mu_z = mean over segments and time of the posterior means of z_t; cosine scores over "
    "all pairs of test utterances; EER where false acceptance equals false rejection"
)
DATA_LABELS = {
    "fsdd": "FSDD (6 speakers)",
    "voices": "synthetic voices, test speakers seen in training",
    "voices_unseen": "synthetic voices, test speakers unseen in training",
}


def _key(run: dict) -> tuple[str, str, str, str]:
    """Runs of one data set, model and machine form a group (their seeds)."""
    m = get(run, "resolved_config.model") or {}
    return (
        str(get(run, "data.name", "?")),
        str(m.get("encoder", "?")),
        f"{m.get('static_encoder')}/{m.get('dynamic_input')}, f {m.get('f_dim')}, z {m.get('z_dim')}",
        str(get(run, "machine.cpu", "unknown CPU")),
    )


def _model(key: tuple) -> str:
    """``factorised q, q(f|x) reads harmonics, q(z_t|.) contour`` from a group's key."""
    encoder, views = key[1], key[2]
    reads, _, dims = views.partition(", ")
    static, _, dynamic = reads.partition("/")
    plain = static == "lstm" and dynamic == "frames"
    how = "the paper's inputs" if plain else f"f reads {static}, z_t reads {dynamic}"
    return f"{encoder} q, {how}"


def _pct(runs: list[dict], path: str) -> str:
    values = [number(get(r, path)) for r in runs]
    return fmt(spread(100.0 * v for v in values if v is not None), ".2f", len(runs))


def _verification_rows(groups: dict[tuple, list[dict]]) -> list[list[str]]:
    rows = []
    for key, runs in sorted(groups.items()):
        label = DATA_LABELS.get(key[0], key[0])
        dims = get(runs[0], "verification.dims") or {}
        for feature in ("mu_f", "mu_z"):
            rows.append([
                label, _model(key), feature, str(dims.get(feature, "?")),
                _pct(runs, f"verification.eer.speaker.{feature}"), str(len(runs)),
            ])  # fmt: skip
    return rows


def _probe_rows(groups: dict[tuple, list[dict]]) -> list[list[str]]:
    rows = []
    for key, runs in sorted(groups.items()):
        data = key[0]
        content = str(runs[0].get("content_factor", "digit"))
        rows.append([
            DATA_LABELS.get(data, data), _model(key), content,
            _pct(runs, f"verification.probe.{content}.mu_z"),
            _pct(runs, f"verification.probe.{content}.mu_f"),
            *_speaker_probes(runs),
        ])  # fmt: skip
    return rows


def _speaker_probes(runs: list[dict]) -> list[str]:
    """Speaker from mu_f and from mu_z, or why not: a probe cannot name speakers it was
    never fitted on (test speakers unseen in training)."""
    if all(get(r, "verification.probe_chance.speaker") == 0.0 for r in runs):
        return ["n/a (test speakers unseen in training)"] * 2
    return [_pct(runs, f"verification.probe.speaker.{k}") for k in ("mu_f", "mu_z")]


def _conversion_rows(groups: dict[tuple, list[dict]]) -> list[list[str]]:
    rows = []
    for key, runs in sorted(groups.items()):
        data = key[0]
        if not any(r.get("conversion") for r in runs):
            continue
        rows.append([
            DATA_LABELS.get(data, data), _model(key),
            _pct(runs, "conversion.converted.speaker"),
            _pct(runs, "conversion.converted.content"),
            _pct(runs, "conversion.converted.f0_within_15pct"),
            _pct(runs, "conversion.by_sex_pair.male->female.converted.f0_within_15pct"),
            _pct(runs, "conversion.by_sex_pair.female->male.converted.f0_within_15pct"),
            _pct(runs, "conversion.source.speaker"),
        ])  # fmt: skip
    return rows


def _skipped_conversions(runs: list[dict]) -> list[str]:
    """A line per data set whose runs were not converted, with the reason."""
    skipped = {
        DATA_LABELS.get(str(get(r, "data.name")), str(get(r, "data.name"))): r["conversion_skipped"]
        for r in runs
        if r.get("conversion_skipped")
    }
    return [f"Not converted: {data} ({why}: the judge cannot name them)." for data, why in
            sorted(skipped.items())] + ([""] if skipped else [])  # fmt: skip


TARGET_LABELS = {  # target -> column header
    "eer.mu_f": "EER mu_f", "eer.mu_z": "EER mu_z", "probe.mu_z": "content from mu_z",
    "probe.mu_f": "content from mu_f", "conversion.speaker": "conversion: speaker = B",
    "conversion.content": "conversion: content = A",
    "conversion.f0.male->female": "F0 male->female", "conversion.f0.female->male": "F0 female->male",
    "train_wall_time_s": "training s",
}  # fmt: skip


def _generic(name: str) -> str:
    """``probe.digit.mu_z`` -> ``probe.mu_z``: one column for every data set's content."""
    parts = name.split(".")
    return f"probe.{parts[-1]}" if parts[0] == "probe" else name


def _target_table(groups: dict[tuple, list[dict]]) -> list[str]:
    """One row per configuration, one column per target: the value (mean over runs) and how
    many runs met it."""
    goals: dict[str, str] = {}
    for runs in groups.values():
        for name, t in runs[0].get("targets", {}).items():
            goals.setdefault(_generic(name), f"{t['op']} {t['target']:g}")
    columns = [k for k in TARGET_LABELS if k in goals]
    rows = []
    for key, runs in sorted(groups.items()):
        cells = []
        for col in columns:
            ts = [t for r in runs for n, t in r.get("targets", {}).items() if _generic(n) == col]
            if not ts:
                cells.append("-")
                continue
            s = spread(number(t.get("value")) for t in ts)
            met = sum(bool(t.get("met")) for t in ts)
            value = "n/a" if s is None else f"{s['mean']:.4g}"
            cells.append(f"{value} ({met}/{len(ts)} {'met' if met == len(ts) else 'NOT met'})")
        rows.append([DATA_LABELS.get(key[0], key[0]), _model(key), *cells])
    header = ["data", "model", *(f"{TARGET_LABELS[c]} {goals[c]}" for c in columns)]
    return table(header, rows)


def _machines(runs: list[dict]) -> list[str]:
    lines = []
    for r in sorted(runs, key=lambda r: r.get("_file", "")):
        bf16 = get(r, "machine.bf16_instructions")
        lines.append(
            f"- `{r.get('_file')}`: {get(r, 'machine.cpu', 'unknown CPU')}, "
            f"{'bfloat16 instructions' if bf16 else 'no bfloat16 instructions'}, "
            f"precision {get(r, 'machine.autocast', 'float32')}, commit "
            f"`{str(get(r, 'machine.commit', '?'))[:10]}`, "
            f"{number(get(r, 'training.steps')) or 0:.0f} steps in "
            f"{number(get(r, 'training.wall_time_s')) or 0:.0f} s; `{r.get('command', '')}`"
        )
    return lines


def speech_section(runs: list[dict]) -> list[str]:
    """The page's speech section from the speech runs (empty list without any)."""
    if not runs:
        return []
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault(_key(r), []).append(r)
    published = [list(row) for row in verification_rows()]
    return [
        "## Speech: speaker verification and voice conversion",
        "",
        f"Protocol (Li & Mandt 2018, section 4.2): {PROTOCOL}. Percentages, mean ± std "
        "(min-max) over the runs (training seeds) of a configuration.",
        "",
        *table(["data", "model", "feature", "dim", "EER %", "runs"], _verification_rows(groups)),
        "",
        "The paper's numbers, on TIMIT (24 test speakers, 18,336 pairs, 16 kHz, 200-bin "
        "spectra): other data, so beside ours, not comparable with them.",
        "",
        *table(["model (TIMIT)", "feature", "dim", "EER %"], published),
        "",
        "Content and speaker from the pooled codes: test accuracy (%) of a linear classifier "
        "trained on the training utterances' mu_z or mu_f.",
        "",
        *table(
            [
                "data",
                "model",
                "content",
                "content from mu_z",
                "content from mu_f",
                "speaker from mu_f",
                "speaker from mu_z",
            ],
            _probe_rows(groups),
        ),  # fmt: skip
        "",
        "Voice conversion (f from utterance B, z_1:T from utterance A, Griffin-Lim): the "
        "share (%) of test pairs where the judge names B's speaker and A's content in the "
        "re-analysed converted audio, and where the converted median F0 lies within 15% of "
        "B's; the reference is the same judge on the vocoded, unconverted source A (how often it "
        "names A's own speaker: what the vocoder alone leaves of a voice).",
        "",
        *table(
            [
                "data",
                "model",
                "speaker = B",
                "content = A",
                "F0 within 15% of B",
                "F0 male->female",
                "F0 female->male",
                "reference: vocoded A judged as A",
            ],
            _conversion_rows(groups),
        ),  # fmt: skip
        "",
        *_skipped_conversions(runs),
        "Targets: set for FSDD with factorised q and f, z_t of dimension 16 (EERs, probes, "
        "conversion, training time) and for the synthetic voices' conversion F0 in each "
        "direction; every other row is held to the same goals for reference.",
        "",
        *_target_table(groups),
        "",
        "Runs:",
        "",
        *_machines(runs),
        "",
    ]
