"""A dataset's source files, read from a local folder or a base URL (``http(s)://`` or
``file://``) and each checked against its recorded SHA-256 before anything is built."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dsae.errors import DsaeError

FETCH_TIMEOUT = 30.0  # seconds per request
URL_SCHEMES = ("http://", "https://", "file://")


def is_url(source: str) -> bool:
    return str(source).startswith(URL_SCHEMES)


def check_source(source: str, what: str) -> None:
    """DsaeError unless ``source`` is a URL or an existing folder."""
    if not is_url(source) and not Path(source).is_dir():
        raise DsaeError(f"{what} source not found: {source} is not a folder or URL")


def fetch_url(url: str, what: str) -> bytes:
    """The bytes at ``url``; any failure is one DsaeError naming ``what`` and the URL."""
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:
            return response.read()
    except urllib.error.HTTPError as e:
        raise DsaeError(f"cannot fetch {what} {url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise DsaeError(f"cannot fetch {what} {url}: {e.reason}") from None
    except (OSError, ValueError) as e:
        raise DsaeError(f"cannot fetch {what} {url}: {e}") from None


def read_source_file(source: str, rel: str, what: str) -> tuple[bytes, str]:
    """File ``rel`` under a folder or base URL: (its bytes, where it was read)."""
    if is_url(source):
        where = source.rstrip("/") + "/" + rel
        return fetch_url(where, what), where
    where = str(Path(source) / rel)
    try:
        return Path(where).read_bytes(), where
    except FileNotFoundError:
        raise DsaeError(f"{what} missing: {where}") from None
    except OSError as e:
        raise DsaeError(f"cannot read {what} {where}: {e.strerror or e}") from None


def read_verified(source: str, rel: str, expected: str, what: str) -> bytes:
    """:func:`read_source_file`, refused unless its SHA-256 is ``expected``."""
    data, where = read_source_file(source, rel, what)
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise DsaeError(
            f"checksum mismatch for {what} {where}: sha256 {digest}, expected {expected}"
        )
    return data


def read_all_verified(
    source: str,
    expected: dict[str, str],
    what: str,
    on_file: Callable[[], None] | None = None,
    workers: int = 8,
) -> dict[str, bytes]:
    """Every file of ``expected`` ({relative path: sha256}), verified, in its order.

    A URL source is read by ``workers`` requests at a time; the first failing file (in
    order) is the error. ``on_file`` is called after each file (e.g. a progress bar).
    """
    check_source(source, what)

    def one(rel: str) -> bytes:
        data = read_verified(source, rel, expected[rel], what)
        if on_file is not None:
            on_file()
        return data

    if not is_url(source) or workers <= 1:
        return {rel: one(rel) for rel in expected}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {rel: pool.submit(one, rel) for rel in expected}
        try:
            return {rel: f.result() for rel, f in futures.items()}
        finally:
            for f in futures.values():
                f.cancel()
