"""Reading an HTML report page in tests: its tags, its tables, and the page as a headless
Chromium renders it (every image loaded, the tables there, a screenshot that is not blank)."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason=f"headless browser test needs Chromium at {CHROMIUM} (apt-get install chromium)",
)


class _Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def table(page: str, table_id: str) -> str:
    m = re.search(rf'<table id="{table_id}"[^>]*>.*?</table>', page, flags=re.S)
    assert m, f"no table {table_id}"
    return m.group(0)


def chromium(*args: str, user_data: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={user_data}", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_browser_shows(page: Path, table_ids: tuple[str, ...], tmp_path: Path) -> None:
    """Chromium loads every image of ``page``, finds each table, and draws a non-blank page."""
    url = page.resolve().as_uri()
    dom = chromium("--dump-dom", url, user_data=tmp_path / "profile").stdout
    body = re.search(r"<body[^>]*>", dom)
    assert body, dom[:500]
    loaded = re.search(r'data-images-loaded="(\d+)"', body.group(0))
    total = re.search(r'data-images-total="(\d+)"', body.group(0))
    assert loaded and total, body.group(0)
    assert int(loaded.group(1)) == int(total.group(1)) > 0
    for table_id in table_ids:
        assert f'id="{table_id}"' in dom, table_id
    shot = tmp_path / "report.png"
    chromium(f"--screenshot={shot}", "--window-size=1280,2000", url, user_data=tmp_path / "profile")
    assert shot.is_file() and shot.stat().st_size > 20_000
    with Image.open(shot) as im:
        assert im.size == (1280, 2000)
        lo, hi = im.convert("L").getextrema()
        assert hi - lo > 100  # text and pictures, not a blank page
