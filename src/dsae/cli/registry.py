"""The table of ``dsae`` subcommands: each command module registers its functions here."""

from __future__ import annotations

import argparse
from collections.abc import Callable

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    """Register the decorated function as the ``dsae NAME`` subcommand."""

    def register(fn):
        COMMANDS[name] = fn
        return fn

    return register
