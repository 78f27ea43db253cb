"""Listings on a terminal (`cli.tables.fit`): the free-text columns give way first, then the
listing's `drop` columns go, and no other column is ever cut, at any width."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.text import Text

from jobdash.cli.render import Consoles
from jobdash.cli.tables import fit, listing, show_table

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


JOB_HEADERS = ("ID", "TYPE", "TARGET", "USER", "STATUS", "TASKS", "FAILED", "STARTED", "TIME")
JOB_ROWS = (
    (
        "12",
        "import-files",
        "/srv/incoming/2026-11",
        "scheduler",
        "✔ succeeded",
        "41/41",
        "",
        "14:29:32",
        "3m55s",
    ),
    ("13", "fix-permissions", "/srv/share", "root", "▶ running", "8/9", "2", "14:29:32", "~40s"),
)
INFO = ("header ok: id,name,email,created (3974 rows)", "chown")


@pytest.mark.parametrize("width", range(40, 121, 4))
def test_no_value_is_cut_silently_and_no_fixed_value_is_cut(width: int) -> None:
    """`jobdash jobs` at 60 columns showed `3m55` for `3m55s` and lost INFO: Rich shrank the
    fixed columns (cut with `crop`, no mark) once the free-text ones had taken too much."""
    t = listing(*JOB_HEADERS, "INFO", flex=("TARGET", "INFO"), drop=("USER", "STARTED"))
    for row, info in zip(JOB_ROWS, INFO, strict=True):
        t.add_row(*row, info)
    buf = io.StringIO()
    Consoles.out = Console(file=buf, width=width, force_terminal=True, color_system=None)
    try:
        show_table(t)  # as `jobdash jobs` prints it on a terminal
    finally:
        Consoles.out = None
    head, *rows = buf.getvalue().splitlines()
    titles = head.split()
    starts = [head.index(title) if title in titles else None for title in (*JOB_HEADERS, "INFO")]
    for line, row, info in zip(rows, JOB_ROWS, INFO, strict=True):
        for title, value in zip(JOB_HEADERS, row, strict=True):
            if title in ("TARGET",):
                continue
            if title in ("USER", "STARTED") and title not in titles:
                continue  # left out whole (`drop`), never cut
            assert title in titles, (title, head)
            assert value in line.split("  ") or value in line, (title, value, line)
        # The free text is there whole, or cut with `…` at the end: never cut unmarked.
        for title, value in (("TARGET", row[2]), ("INFO", info)):
            start = starts[(*JOB_HEADERS, "INFO").index(title)]
            assert start is not None or "…" in head, (title, head)
            if start is None:
                continue
            shown = line[start:].split("  ")[0].rstrip()
            assert shown == value or (shown.endswith("…") and value.startswith(shown[:-1])), (
                title,
                shown,
                line,
            )
    if width >= 60:  # room for every fixed value: the lines fit the terminal
        assert all(len(line.rstrip()) <= width for line in (head, *rows)), (head, rows)
