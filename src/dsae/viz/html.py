"""HTML pieces of the report page: escaping, number formatting, tables, embedded pictures
and the page shell (inline CSS, no external resources).

Every function returns ready HTML; any text from outside (factor names, config values,
file paths) goes through :func:`esc`.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from numbers import Real
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from dsae.errors import DsaeError

# Widths of the page's content column and of one of two side-by-side columns, in CSS pixels.
COLUMN_PX = 1220
HALF_PX = 590

_CSS = """
:root { --fg: #1d232b; --muted: #5d6875; --line: #d9dee4; --soft: #f4f6f8; --accent: #2f6db5;
  --ours: #eef5ff; --published: #fafafa; --posthoc: #f3f0fa; --warn: #8a5a00; --warnbg: #fff6e0; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.45;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1260px; margin: 0 auto; padding: 24px 20px 64px; }
header { border-bottom: 2px solid var(--line); margin-bottom: 8px; padding-bottom: 10px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
h4 { font-size: 14.5px; margin: 14px 0 6px; }
p { margin: 6px 0 10px; }
.sub, .caption, figcaption { color: var(--muted); font-size: 13.5px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--soft);
  padding: 1px 4px; border-radius: 3px; word-break: break-all; }
nav { margin: 10px 0 0; font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; }
nav a:hover { text-decoration: underline; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { background: var(--soft); border-bottom: 2px solid var(--line); font-weight: 600; }
tbody th { font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.ours { background: var(--ours); }
tr.published, td.published { color: var(--muted); }
tr.published { background: var(--published); }
tr.posthoc { background: var(--posthoc); }
tr.rowgroup th { background: var(--soft); color: var(--muted); font-weight: 500; font-size: 13px; }
td.published { background: var(--published); font-style: italic; }
table.kv th { color: var(--muted); font-weight: 500; }
table.kv table.kv { margin: 0; font-size: 13px; }
table.kv table.kv th, table.kv table.kv td { padding: 2px 8px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0 4px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 118px; }
.card .label { color: var(--muted); font-size: 12.5px; }
.card .value { font-size: 19px; font-weight: 600; font-variant-numeric: tabular-nums; }
.columns { display: flex; flex-wrap: wrap; gap: 18px 28px; align-items: flex-start; }
.pair { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 18px 28px;
  align-items: start; }
.pair > * { min-width: 0; }
@media (max-width: 900px) { .pair { grid-template-columns: minmax(0, 1fr); } }
th.group { text-align: center; }
figure { margin: 8px 0 16px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); }
img.pixel { image-rendering: pixelated; image-rendering: crisp-edges; }
.gallery { display: flex; flex-wrap: wrap; gap: 12px 18px; align-items: flex-start; }
.gallery figure { margin: 0; }
.note { background: var(--warnbg); color: var(--warn); border-left: 4px solid #e0a526;
  padding: 6px 12px; margin: 8px 0; font-size: 14px; }
details { margin: 8px 0; }
summary { cursor: pointer; color: var(--accent); }
footer { margin-top: 40px; color: var(--muted); font-size: 12.5px; border-top: 1px solid var(--line);
  padding-top: 8px; }
"""

# Marks how many pictures loaded, for people checking a page and for the browser test.
_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (im) { return im.complete && im.naturalWidth > 0; });
  document.body.dataset.imagesLoaded = String(loaded.length);
  document.body.dataset.imagesTotal = String(images.length);
});
"""

# The page loads nothing from elsewhere: pictures are data URIs, style and script inline;
# only sound players (a speech run's conversions) read files from the page's own origin.
_CSP = (
    "default-src 'none'; img-src data:; media-src 'self'; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'"
)

DASH = "\u2014"


# --- text and numbers --------------------------------------------------------------------


def esc(v: object) -> str:
    """Any value as escaped text."""
    return escape(str(v), quote=True)


def html_id(text: str) -> str:
    """A safe HTML id fragment from arbitrary text."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in str(text).lower())


def is_number(v: object) -> bool:
    """True for real numbers other than bools."""
    return isinstance(v, Real) and not isinstance(v, bool)


def fmt(v: object) -> str:
    """A scalar as short text: ints whole, floats to 4 significant digits."""
    if v is None:
        return DASH
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if is_number(v):
        x = float(v)
        if not math.isfinite(x):
            return str(x)
        if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
            return f"{x:.3e}"
        return f"{x:.4g}" if abs(x) < 1000 else f"{x:.1f}"
    return str(v)


def pct(v: object) -> str:
    """A fraction in [0, 1] as a percentage with two decimals."""
    return f"{100 * float(v):.2f}" if is_number(v) else fmt(v)


def pc(v: object) -> str:
    """A value that is already a percentage (the protocols' rates), with two decimals."""
    return f"{float(v):.2f}" if is_number(v) else fmt(v)


def mean_std(v: object, percent: bool = False) -> str:
    """``{"mean", "std"}`` as "mean \u00b1 std" (two decimals when ``percent``: the
    protocols write rates in %)."""
    show = pc if percent else fmt
    if isinstance(v, Mapping) and "mean" in v:
        text = show(v["mean"])
        if is_number(v.get("std")):
            text += " \u00b1 " + show(v["std"])
        return text
    return show(v)


def duration(seconds: object) -> str:
    """Seconds as "1 h 02 min", "3 min 05 s" or "12.3 s"."""
    if not is_number(seconds) or not math.isfinite(float(seconds)):
        return DASH
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m} min {sec:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


# --- blocks ------------------------------------------------------------------------------


def note(text: str) -> str:
    """A highlighted remark (something missing, skipped or inconsistent)."""
    return f'<p class="note">{esc(text)}</p>'


def section(sid: str, title: str, body: str) -> str:
    return f'<section id="{esc(sid)}"><h2>{esc(title)}</h2>{body}</section>'


def card(label: str, value: str) -> str:
    return (
        f'<div class="card"><div class="label">{esc(label)}</div>'
        f'<div class="value">{esc(value)}</div></div>'
    )


def num_td(text: str, cls: str = "num") -> str:
    return f'<td class="{cls}">{esc(text)}</td>'


def kv_table(rows: Iterable[tuple[str, str]], table_id: str | None = None, cls: str = "kv") -> str:
    """Rows of (escaped label, ready HTML) as a two-column table."""
    attr = f' id="{esc(table_id)}"' if table_id else ""
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table{attr} class="{cls}"><tbody>{body}</tbody></table>'


def _is_matrix(d: Mapping) -> bool:
    """A dict of dicts whose values are all scalars: drawn as one rows x columns table."""
    return (
        len(d) > 0
        and all(isinstance(v, Mapping) and v for v in d.values())
        and all(not isinstance(x, Mapping | list) for v in d.values() for x in v.values())
    )


def nested(obj: object, table_id: str | None = None) -> str:
    """Any JSON value as HTML: dicts as (nested) tables, lists inline, scalars formatted."""
    if isinstance(obj, Mapping):
        if not obj:
            return "<span class='sub'>(empty)</span>"
        if _is_matrix(obj):
            cols: list[str] = []
            for v in obj.values():
                cols += [str(k) for k in v if str(k) not in cols]
            head = "<th></th>" + "".join(f'<th class="num">{esc(c)}</th>' for c in cols)
            body = ""
            for name, v in obj.items():
                sv = {str(k): x for k, x in v.items()}
                body += f"<tr><th>{esc(name)}</th>" + "".join(num_td(fmt(sv.get(c))) for c in cols)
                body += "</tr>"
            attr = f' id="{esc(table_id)}"' if table_id else ""
            return (
                f'<table{attr} class="kv matrix"><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>"
            )
        return kv_table(((esc(k), nested(v)) for k, v in obj.items()), table_id=table_id)
    if isinstance(obj, list | tuple):
        if all(not isinstance(x, Mapping | list | tuple) for x in obj):
            return esc(", ".join(fmt(x) for x in obj)) if obj else "[]"
        return "".join(f"<div>{nested(x)}</div>" for x in obj)
    return esc(fmt(obj))


# --- pictures ----------------------------------------------------------------------------


def data_uri(path: Path) -> tuple[str, int, int]:
    """A PNG or GIF file as (data URI, width, height); anything else is refused."""
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as im:
            kind, (w, h) = im.format, im.size
    except (UnidentifiedImageError, OSError) as e:
        raise DsaeError(f"not an image: {path} ({e})") from None
    if kind not in ("PNG", "GIF"):
        raise DsaeError(f"{path} is a {kind} image, expected PNG or GIF")
    return f"data:image/{kind.lower()};base64,{base64.b64encode(data).decode('ascii')}", w, h


def display_size(w: int, h: int, max_px: int) -> tuple[int, int]:
    """Pixel art enlarged by a whole factor (up to 2) or reduced by a whole divisor to fit."""
    if w <= max_px:
        zoom = max(1, min(2, max_px // max(w, 1)))
        return w * zoom, h * zoom
    div = math.ceil(w / max_px)  # a picture drawn at scale s shrinks by s to its own pixels
    return max(1, round(w / div)), max(1, round(h / div))


def figure(
    path: Path | None, alt: str, caption: str = "", pixel: bool = True, max_px: int = 0
) -> str:
    """An embedded picture with alt text and caption; pixel art is enlarged by whole factors."""
    if path is None or not Path(path).is_file():
        return note(f"missing picture: {path}")
    try:
        uri, w, h = data_uri(Path(path))
    except (DsaeError, OSError) as e:
        return note(str(e))
    width, height = display_size(w, h, max_px or COLUMN_PX) if pixel else (w, h)
    cls = ' class="pixel"' if pixel else ""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return (
        f'<figure><img{cls} src="{uri}" alt="{esc(alt)}" width="{width}" '
        f'height="{height}">{cap}</figure>'
    )


def gallery(paths: Sequence[Path], label: str, max_px: int = HALF_PX) -> str:
    """Several pictures side by side, labelled ``label.format(i)``."""
    figs = [figure(p, label.format(i), label.format(i), max_px=max_px) for i, p in enumerate(paths)]
    return f'<div class="gallery">{"".join(figs)}</div>' if figs else ""


# --- the page ----------------------------------------------------------------------------


def page(
    title: str,
    header: str,
    nav: Sequence[tuple[str, str]],
    sections: Sequence[str],
    footer: str = "",
) -> str:
    """A whole self-contained page: ``title`` (text), ``header`` and ``footer`` (HTML),
    ``nav`` links (section id, label) and the sections' HTML."""
    links = "".join(f'<a href="#{esc(sid)}">{esc(label)}</a>' for sid, label in nav)
    foot = f"<footer>{footer}</footer>" if footer else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header>
<h1>{esc(title)}</h1>
{header}
<nav>{links}</nav>
</header>
{"".join(sections)}
{foot}
</main>
<script>{_SCRIPT}</script>
</body>
</html>
"""
