"""The last step of every benchmark: run it, then write its JSON record whole (a temporary
file, then a rename) with the command line that ran it, or print one error line."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsae.errors import DsaeError
from dsae.eval import to_json_safe
from dsae.utils import atomic_write_text

Outcome = tuple[dict[str, Any], Path]


def recorded(script: str, argv: list[str] | None, run: Callable[[], Outcome]) -> Outcome | None:
    """``run()`` -> (result, JSON path); the result gains ``command`` (``python
    benchmarks/<script> ...``) unless it holds one already, and is written there. None,
    after ``<script>: error: ...`` on stderr, when it raises a DsaeError: nothing is
    written then."""
    try:
        result, out = run()
    except DsaeError as e:
        print(f"{script}: error: {e}", file=sys.stderr)
        return None
    result.setdefault("command", command_line(script, argv))
    atomic_write_text(out, json.dumps(to_json_safe(result), indent=2, allow_nan=False) + "\n")
    return result, out


def command_line(script: str, argv: list[str] | None) -> str:
    """``python benchmarks/<script> ARGS`` as typed (``argv``, else the process's own)."""
    given = sys.argv[1:] if argv is None else argv
    return shlex.join(["python", f"benchmarks/{script}", *given])
