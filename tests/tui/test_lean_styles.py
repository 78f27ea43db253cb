"""Lean changes of style (`LeanStyles`, the dashboard's driver): a terminal shown the lean
stream ends up showing exactly what Textual's own stream shows, cell by cell (character,
colours and every attribute), after every write of a real session, for fewer bytes; in
low-bandwidth mode too, after the cell filter."""

from __future__ import annotations

import re
from pathlib import Path

from jobdash.tui.cell_filter import CellFilter
from jobdash.tui.lean_styles import LeanStyles, parse, restyle
from tests.tui.pty_harness import plain, run_on_pty
from tests.tui.test_cell_filter import record, replay


def test_the_terminal_shows_the_same_after_every_write_for_fewer_bytes(tmp_path: Path) -> None:
    writes = record(tmp_path)
    assert len([w for w in writes if "\x1b[" in w and len(w) > 20]) > 5
    given = sum(len(w.encode()) for w in writes)
    sent, _ = replay(writes, LeanStyles())
    assert sent < given * 0.85, (sent, given)
    # Low-bandwidth mode: the changed cells, their changes of style lean too.
    cells = CellFilter()
    filtered = sum(len(cells(w).encode()) for w in writes)
    lean, low = LeanStyles(), CellFilter()
    lean_filtered, _ = replay(writes, lambda data: lean(low(data)))
    assert lean_filtered < filtered, (lean_filtered, filtered)


def test_a_change_of_style_says_what_changes() -> None:
    row = parse("\x1b[38;5;188;48;5;16m")
    amber = parse("\x1b[38;5;179;48;5;16m")
    assert restyle(row, amber) == "\x1b[38;5;179m"
    assert restyle(row, row) == ""
    bold = parse("\x1b[1;38;5;231;48;5;23m")
    assert restyle(row, bold) == "\x1b[1;38;5;231;48;5;23m"  # an attribute on: added
    # An attribute turned off: reset, then the whole style (no "off" codes to get wrong).
    assert restyle(bold, row) == "\x1b[0m\x1b[38;5;188;48;5;16m"
    assert restyle(row, parse("\x1b[0m")) == "\x1b[0m"
    assert restyle(row, parse("\x1b[48;5;16m", parse("\x1b[0m"))) == "\x1b[39m"
    assert restyle(parse("\x1b[31;42m"), parse("\x1b[31m")) == "\x1b[49m"
    truecolor = parse("\x1b[38;2;10;20;30;48;2;1;2;3m")
    assert truecolor.fg == "38;2;10;20;30" and truecolor.bg == "48;2;1;2;3"
    assert parse("\x1b[4:3m").attributes == {"4:3"}  # a curly underline: one attribute


def test_the_real_dashboard_writes_lean_changes_of_style(tmp_path: Path) -> None:
    """Its driver is the lean one: a change of foreground alone goes out as just that
    (Rich states a whole style, background included, after a reset)."""
    toml = tmp_path / "jobdash.toml"
    toml.write_text("")
    written = run_on_pty(["--db", str(tmp_path / "s.db"), "--config", str(toml)], tmp_path)
    assert "In Progress" in plain(written)
    assert re.search(rb"[^m]\x1b\[38;5;\d+m", written), written[-800:]
