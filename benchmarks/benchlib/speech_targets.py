"""The targets of the speech benchmark and their verdicts (Li & Mandt 2018, section 4.2).

Speaker verification on test utterances (EER of cosine scores, pooled posterior means):
mu_f should identify the speaker and mu_z should not. Content: a linear classifier on
mu_z should name what is said and one on mu_f should not. Voice conversion: a judge of
the real data should name the target speaker and the source's content in the converted
audio, and its median F0 should follow the target's. A missing value is not met.
"""

from __future__ import annotations

from typing import Any

from benchlib.targets import target

EER_F_MAX = 0.02  # EER with mu_f (fraction)
EER_Z_MIN = 0.35  # EER with mu_z
PROBE_Z_MIN = 0.90  # content accuracy of a linear classifier on mu_z
PROBE_F_MAX = 0.30  # ... and on mu_f
CONVERSION_MIN = 0.90  # share of converted pairs: judge names B, judge names A's content, F0
TRAIN_BUDGET_S = 15 * 60.0


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def speech_targets(
    metrics: dict | None,
    conversion: dict | None,
    content: str,
    train_s: float | None,
    convert: bool = True,
) -> dict[str, dict]:
    """Every target of one run: verification, content probes, conversion, training time.

    ``content`` names the dynamic factor that is said (``digit``, ``word``); ``convert``
    False leaves the conversion targets out (data whose test speakers a judge never heard).
    """
    ver = _get(metrics, "verification") or {}
    out = {
        "eer.mu_f": target(_get(ver, "eer", "speaker", "mu_f"), EER_F_MAX, "<="),
        "eer.mu_z": target(_get(ver, "eer", "speaker", "mu_z"), EER_Z_MIN, ">="),
        f"probe.{content}.mu_z": target(_get(ver, "probe", content, "mu_z"), PROBE_Z_MIN, ">="),
        f"probe.{content}.mu_f": target(_get(ver, "probe", content, "mu_f"), PROBE_F_MAX, "<="),
        "train_wall_time_s": target(train_s, TRAIN_BUDGET_S, "<="),
    }
    if not convert:
        return out
    converted = _get(conversion, "converted") or {}
    out["conversion.speaker"] = target(converted.get("speaker"), CONVERSION_MIN, ">=")
    out["conversion.content"] = target(converted.get("content"), CONVERSION_MIN, ">=")
    by_sex = _get(conversion, "by_sex_pair") or {}
    for pair in ("male->female", "female->male"):  # F0 is scored where voices of both sexes are
        if pair in by_sex:
            value = _get(by_sex, pair, "converted", "f0_within_15pct")
            out[f"conversion.f0.{pair}"] = target(value, CONVERSION_MIN, ">=")
    return out
