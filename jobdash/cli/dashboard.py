"""The command line's two doors to the dashboard, the only module of `jobdash.cli` that
imports `jobdash.tui` (and so Textual), and only when one of them is used: opening the
dashboard (`jobdash` with no command), and checking its keymap (`jobdash check`), which
only the dashboard's bindings can judge.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping


def open_dashboard(args: argparse.Namespace) -> int:
    """`jobdash` with no command: the dashboard, until it is quit. Its link (normal or low
    bandwidth) is chosen first: Textual reads the frame rate when it is imported. The
    store's whole-file check (which opening it to write makes) runs in a thread while the
    dashboard's modules load: on a store of 100,000 jobs it took 0.1-0.2 s of the first
    frame."""
    from jobdash.core.service import check_store_ahead, read_config
    from jobdash.tui.link import choose

    allowed = read_config(args.config).low_bandwidth_over_ssh
    link = choose(
        bool(getattr(args, "low_bandwidth", False)), bool(getattr(args, "mouse", False)), allowed
    )
    link.apply()
    if not getattr(args, "read_only", False):  # a read-only dashboard checks no whole file
        check_store_ahead(args.db)
    from jobdash.tui.run import run_dashboard

    return run_dashboard(args, link)


def check_keymap(keymap: Mapping[str, str], where: str) -> None:
    """The config's `[keymap]` against the dashboard's bindings: BadInput if it is wrong."""
    from jobdash.tui.keymap import check_keymap

    check_keymap(keymap, where)
