"""The speech part of the report page: voice conversion scores, spectrograms and players.

Made from a conversion folder's ``conversion.json`` (written by ``dsae convert RUN --pairs
N --out DIR``): the scores against their targets, then for each pair with files the Fig. 6
spectrograms of Li & Mandt (2018) (embedded like every picture) and an ``<audio>`` player
for the source, the target and the converted speech. Sound is not embedded: the players
point at the wav files by a path relative to the page (``audio_base``), so the page needs
its conversion folder where that path leads.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dsae.viz.html import DASH, esc, figure, fmt, is_number, note, num_td, pct, section

__all__ = ["speech_section"]

_SCORE_KEYS = (
    ("speaker", "speaker judged"),
    ("content", "content judged"),
    ("f0_within_15pct", "F0 within 15%"),
    ("f0_median_rel_error", "median F0 error"),
)
_SOUNDS = ("source", "target", "converted")

# Marks how many players found their sound (the browser test reads it, as for pictures).
_AUDIO_SCRIPT = """<script>
(function () {
  var players = document.querySelectorAll("audio");
  var ready = 0, failed = 0;
  document.body.dataset.audioTotal = String(players.length);
  players.forEach(function (a) {
    a.addEventListener("loadedmetadata", function () {
      document.body.dataset.audioLoaded = String(++ready);
    });
    a.addEventListener("error", function () {
      document.body.dataset.audioFailed = String(++failed);
    });
  });
})();
</script>"""


def _percent(v: Any) -> str:
    return f"{pct(v)}%" if is_number(v) else DASH


def _score_row(label: str, scores: Mapping[str, Any], cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    cells = num_td(fmt(scores.get("n")))
    for key, _ in _SCORE_KEYS:
        cells += num_td(_percent(scores.get(key)))
    return f"<tr{attr}><th>{label}</th>{cells}</tr>"


def _kind(kind: str) -> str:
    """ "male->female" as "male \u2192 female", escaped."""
    return esc(kind).replace("-&gt;", " \u2192 ")


def _scores_table(conversion: Mapping[str, Any]) -> str:
    head = '<th></th><th class="num">pairs</th>' + "".join(
        f'<th class="num">{esc(title)}</th>' for _, title in _SCORE_KEYS
    )
    rows = [_score_row("converted", conversion.get("converted") or {}, "ours")]
    by_sex = conversion.get("by_sex_pair") or {}
    for kind, scores in by_sex.items():
        rows.append(_score_row(f"converted, {_kind(kind)}", scores.get("converted") or {}))
    rows.append(
        _score_row("unconverted source (reference)", conversion.get("source") or {}, "published")
    )
    for kind, scores in by_sex.items():
        label = f"unconverted source, {_kind(kind)}"
        rows.append(_score_row(label, scores.get("source") or {}, "published"))
    targets = conversion.get("targets") or {}
    goal_cells = num_td("")
    met_cells = num_td("")
    for key, _ in _SCORE_KEYS:
        t = targets.get(key) or {}
        goal_cells += num_td(f"\u2265 {_percent(t['min'])}" if is_number(t.get("min")) else "")
        met = t.get("met")
        met_cells += num_td("" if not t else DASH if met is None else fmt(bool(met)))
    rows.append(f'<tr class="rowgroup"><th>target</th>{goal_cells}</tr>')
    rows.append(f"<tr><th>met</th>{met_cells}</tr>")
    return (
        f'<table id="conversion-scores"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _who(side: Mapping[str, Any]) -> str:
    name = side.get("speaker_name", side.get("speaker", "?"))
    sex = f", {side['sex']}" if side.get("sex") else ""
    return f"{name}{sex}: \u201c{side.get('label_name', side.get('label', '?'))}\u201d"


def _hz(v: Any) -> str:
    return f"{float(v):.0f} Hz" if is_number(v) else "unvoiced"


def _pair(row: Mapping[str, Any], folder: Path, audio_base: str, names: Mapping) -> str:
    files = row.get("files") or {}
    k = row.get("pair", "?")
    source, target = row.get("source") or {}, row.get("target") or {}
    title = f"Pair {k}: {_who(source)} in the voice of {_who(target)}"
    f0 = row.get("f0") or {}
    judged = (row.get("judged") or {}).get("converted") or {}
    judged_text = ""
    if judged:
        speaker = names.get("speaker") or []
        content = names.get("content") or []
        s, c = judged.get("speaker"), judged.get("content")
        s = speaker[s] if isinstance(s, int) and s < len(speaker) else s
        c = content[c] if isinstance(c, int) and c < len(content) else c
        judged_text = f" The judge hears speaker {s} saying \u201c{c}\u201d."
    caption = (
        f"Median F0: source {_hz(f0.get('source'))}, target {_hz(f0.get('target'))}, "
        f"converted {_hz(f0.get('converted'))} (red lines).{judged_text}"
    )
    picture = ""
    if files.get("spectrogram"):
        picture = figure(
            folder / files["spectrogram"],
            f"Spectrograms of pair {k}: source, target, converted",
            caption,
            pixel=False,
        )
    players = []
    for sound in _SOUNDS:
        rel = files.get(sound)
        if not rel:
            continue
        src = quote(f"{audio_base.rstrip('/')}/{rel}" if audio_base else str(rel))
        players.append(
            f'<figure class="sound"><audio controls preload="metadata" src="{esc(src)}" '
            f'data-sound="{esc(sound)}"></audio><figcaption>{esc(sound)}</figcaption></figure>'
        )
    return (
        f'<div class="conversion-pair" id="conversion-pair-{esc(k)}"><h3>{esc(title)}</h3>'
        f'{picture}<div class="gallery">{"".join(players)}</div></div>'
    )


def speech_section(conversion: Mapping[str, Any], folder: Path, audio_base: str) -> str:
    """The voice conversion section from ``conversion.json`` (``conversion``), the folder its
    files are in, and the path from the page to that folder (for the players' sources)."""
    n = conversion.get("n_pairs")
    judged = bool(conversion.get("judge"))
    intro = (
        '<p class="caption">Voice conversion after Li &amp; Mandt (2018), Fig. 6: the static '
        "code f of a <b>target</b> speaker (the mean posterior mean over its segments) decoded "
        "with the dynamic codes z<sub>1:T</sub> of a <b>source</b> utterance, the segments "
        "overlap-averaged and turned into sound by Griffin-Lim. Source and target are "
        "resynthesised from their own features by the same Griffin-Lim. "
        f"{esc(fmt(n))} test pairs of different speakers. Speaker judged: share where a "
        "judge trained on the speech data names the target speaker (for the unconverted "
        "source: the source speaker); content judged: share where it names the source's "
        "word; F0 within 15%: share whose median F0 is within 15% of the target's.</p>"
    )
    body = intro
    if not judged:
        body += note("no judge was given to dsae convert (--judge): speaker and content not scored")
    body += _scores_table(conversion)
    names = conversion.get("classes") or {}  # role (speaker, content) -> class names
    listed = [r for r in conversion.get("pairs") or () if isinstance(r, Mapping) and r.get("files")]
    if listed:
        body += "".join(_pair(r, folder, audio_base, names) for r in listed) + _AUDIO_SCRIPT
    else:
        body += note("no converted pairs with sound in the conversion folder")
    return section("conversion", "Voice conversion", body)
