"""Listings on a terminal (`cli.tables.fit`): the free-text columns give way first, then the
listing's `drop` columns go, and no other column is ever cut, at any width."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.text import Text

from jobdash.cli.tables import fit, listing

HEADERS = ("NAME", "HOST", "PID", "STATE", "TASKS", "HEARTBEAT", "DONE", "FAILED", "STARTED")
ROW = ("vm-12265", "vm", "4242", "⊗ offline", "12#1 import", "37m06s ago", "470", "30", "20:24:26")


@pytest.mark.parametrize("width", range(50, 101, 5))
def test_a_narrow_terminal_drops_columns_and_cuts_no_fixed_value(width: int) -> None:
    t = listing(*HEADERS, flex=("TASKS",), drop=("PID", "STARTED", "DONE", "FAILED"))
    t.add_row(*ROW[:3], Text(ROW[3], style="dim"), *ROW[4:])
    buf = io.StringIO()
    Console(file=buf, width=width, force_terminal=True, color_system=None).print(fit(t, width))
    head, row = buf.getvalue().splitlines()
    shown = head.split()
    assert "NAME" in shown and "HEARTBEAT" in shown
    for title, value in zip(HEADERS, ROW, strict=True):
        if title == "TASKS":
            continue  # free text: cut with an ellipsis
        # A fixed column is there whole, title and value, or not at all (before the fix,
        # Rich laid out by the places columns had before some were dropped: "FAILE").
        assert (title in shown) == (value in row), (title, head, row)
        assert title in shown or title in ("PID", "STARTED", "DONE", "FAILED")
    assert len(head.rstrip()) <= width and len(row.rstrip()) <= width


@pytest.mark.parametrize("width", [40, 50, 60])
def test_a_column_of_paths_keeps_their_ends(width: int) -> None:
    """`jobdash jobs`' TARGET, a job's TASK names: cut at the start, as in the dashboard, so
    rows of one folder stay apart (Rich cut them all to `/srv/data/exports/20…`)."""
    paths = [f"/srv/data/exports/2026/customer-{n}.csv" for n in (4711, 4712)]
    t = listing("ID", "TARGET", "INFO", flex=("TARGET", "INFO"), paths=("TARGET",))
    for n, path in enumerate(paths, 1):
        t.add_row(str(n), Text(path), "exported 1,204 rows to the archive")
    buf = io.StringIO()
    Console(file=buf, width=width, force_terminal=True, color_system=None).print(fit(t, width))
    _, *rows = buf.getvalue().splitlines()
    for path, row in zip(paths, rows, strict=True):
        shown = row.split()[1]
        assert shown.startswith("…") and path.endswith(shown[1:]), row
        assert shown.endswith(path[-8:]), row
