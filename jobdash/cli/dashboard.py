"""The command line's two doors to the dashboard, the only module of `jobdash.cli` that
imports `jobdash.tui` (and so Textual), and only when one of them is used: opening the
dashboard (`jobdash` with no command), and checking its keymap (`jobdash check`), which
only the dashboard's bindings can judge.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping


def open_dashboard(args: argparse.Namespace) -> int:
    """`jobdash` with no command: the dashboard, until it is quit."""
    from jobdash.tui.app import run_dashboard

    return run_dashboard(args)


def check_keymap(keymap: Mapping[str, str], where: str) -> None:
    """The config's `[keymap]` against the dashboard's bindings: BadInput if it is wrong."""
    from jobdash.tui.keymap import check_keymap

    check_keymap(keymap, where)
