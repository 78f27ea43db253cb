"""Low-bandwidth mode's cell filter: a terminal shown only the cells that changed ends up
showing exactly what it would have shown, frame after frame, for fewer bytes.

The frames are the real dashboard's: `jobdash --demo` (its embedded engine running the
demo jobs) on a pty, switching tabs and opening a job's details, each write Textual made
recorded by a driver (`recording_driver`). Both streams go through a VT emulator (pyte);
after every frame the two screens must be the same, character and colours.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyte

from jobdash.tui.cell_filter import CellFilter
from tests.tui.pty_harness import run_on_pty

COLS, ROWS = 100, 30


def record(tmp_path: Path) -> list[str]:
    """The writes of a real dashboard session on a pty: a few keys over 10 s."""
    out = tmp_path / "writes.jsonl"
    env = {"JOBDASH_RECORD": str(out)}
    env["TEXTUAL_DRIVER"] = "tests.tui.recording_driver:RecordingDriver"
    keys = ("2", "4", "1", "\x1b[B", "\r")
    argv = ["--demo", "--db", str(tmp_path / "d.db")]
    run_on_pty(argv, tmp_path, env, keys, 3.0, (COLS, ROWS), finally_drawn="log · all tasks")
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


Cell = tuple[str, str, str, bool, bool, bool, bool, bool, bool]


def picture(screen: pyte.Screen) -> list[list[Cell]]:
    return [
        [
            (
                c.data,
                c.fg,
                c.bg,
                c.bold,
                c.italics,
                c.underscore,
                c.strikethrough,
                c.reverse,
                c.blink,
            )
            for c in (screen.buffer[y][x] for x in range(screen.columns))
        ]
        for y in range(screen.lines)
    ]


def replay(writes: list[str], rewrite: Callable[[str], str]) -> tuple[int, pyte.Screen]:
    """Feed `writes` as they are to one terminal (a VT emulator) and through `rewrite` to
    another: after every write both must show the same, character, colours, attributes
    and cursor. The bytes the second was sent, and the first's screen."""
    whole, rewritten = pyte.Screen(COLS, ROWS), pyte.Screen(COLS, ROWS)
    feed_whole, feed_rewritten = pyte.Stream(whole), pyte.Stream(rewritten)
    sent = 0
    for n, data in enumerate(writes):
        feed_whole.feed(data)
        out = rewrite(data)
        sent += len(out.encode())
        feed_rewritten.feed(out)
        if picture(whole) != picture(rewritten):
            for y, (a, b) in enumerate(zip(whole.display, rewritten.display, strict=True)):
                assert a == b, f"after write {n}, line {y}:\n{a!r}\n{b!r}"
            raise AssertionError(f"after write {n}: the same text, other styles")
        if (whole.cursor.x, whole.cursor.y) != (rewritten.cursor.x, rewritten.cursor.y):
            raise AssertionError(f"after write {n}: the cursor is elsewhere")
    return sent, whole


def test_the_terminal_shows_the_same_after_every_frame_for_fewer_bytes(
    tmp_path: Path,
) -> None:
    writes = record(tmp_path)
    frames = [w for w in writes if "\x1b[" in w and len(w) > 20]
    assert len(frames) > 5, f"only {len(frames)} frames recorded"
    sent, whole = replay(writes, CellFilter())
    given = sum(len(w.encode()) for w in writes)
    assert "log · all tasks" in "\n".join(whole.display)  # ended in a job's details
    # Most of what Textual repaints had not changed.
    assert sent < given / 2, (sent, given)
