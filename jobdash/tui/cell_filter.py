"""Low-bandwidth mode's last step: of what the dashboard writes to its terminal, only the
cells that change.

Textual repaints a widget's whole line when any part of it changes (a job row whose
progress moved is sent whole: ~300 bytes for a few changed cells). `CellFilter` keeps what
each cell of the terminal shows (character and style) and, of every frame, passes on only
the cells that differ, each run of them behind one cursor move, with its style; every other
control sequence goes through as written, in order. So the terminal ends up showing what
it would have shown unfiltered (tests/tui/test_cell_filter.py checks it with a VT
emulator), for fewer bytes.

What it understands of Textual's output: cursor moves (`CSI y;x H`), styles (`CSI … m`,
`CSI 0 m` resetting them), text, carriage return and line feed. Anything else passes
through; one that erases, inserts, deletes or scrolls cells or switches screens (`CSI 2 J`,
`CSI K`, `CSI ? 1049 h/l` …) forgets every cell, as does a change of the terminal's size
(`resize`). Plain Python.
"""

from __future__ import annotations

import re

from rich.cells import cell_len

__all__ = ["RESET", "CellFilter"]

# Kept as text, compiled by a filter when made: the dashboard's first frame imports this
# module for `RESET` (`lean_styles`), and only a low-bandwidth link filters.
_TOKEN = (
    r"\x1b\[(\d*);?(\d*)H"  # a cursor move (1-based)
    r"|(\x1b\[[0-9;:]*m)"  # a style
    r"|(\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[^\[\]])"  # other
    r"|(\r)|(\n)"
    r"|([^\x1b\r\n]+)"
)
# Sequences after which the terminal's cells are not what we sent: erasing (J, K), inserting
# or deleting lines or characters (L, M, P, X, @), scrolling (S, T), another screen, a reset.
_FORGETS = r"\x1b\[[0-9;]*[JKLMPX@ST]|\x1b\[\?(?:1049|47|1047)[hl]|\x1bc"
RESET = "\x1b[0m"
GAP = 4  # unchanged cells of one style between two changed ones are sent, not skipped


class CellFilter:
    """Pass on only the cells of a frame that differ from what the terminal shows."""

    def __init__(self) -> None:
        self._cells: dict[tuple[int, int], tuple[str, str]] = {}
        self._token, self._forgets = re.compile(_TOKEN), re.compile(_FORGETS)
        self.sent = 0  # characters passed on
        self.given = 0  # characters given

    def resize(self) -> None:
        """The terminal changed size (or was redrawn): every cell may differ now."""
        self._cells.clear()

    def __call__(self, data: str) -> str:
        """What to write instead of `data` (a complete frame, or a control sequence)."""
        out: list[str] = []
        y = x = 0
        style = ""  # the style Textual has set
        at: tuple[int, int] | None = None  # where the terminal's cursor is, as we sent it
        shown = ""  # the style we sent
        moved: tuple[int, int] | None = None  # Textual's last move, not yet sent
        cells = self._cells
        for match in self._token.finditer(data):
            row, column, sgr, other, cr, lf, text = match.groups()
            if text is not None:
                moved = None
                for char in text:
                    width = cell_len(char)
                    if width == 0:  # joins the cell before: that cell is sent again
                        key = (y, x - 1)
                        before = cells.get(key, ("", ""))[0]
                        cells.pop(key, None)
                        if x:
                            char, x = before + char, x - 1
                            width = cell_len(char) or 1
                    key = (y, x)
                    if cells.get(key) == (char, style):
                        x += width
                        continue
                    if at != (y, x):
                        if at is not None and at[0] == y and 0 < x - at[1] <= GAP:
                            out.append(self._between(at[1], x, y, shown))
                        else:
                            out.append(f"\x1b[{y + 1};{x + 1}H")
                    if shown != style:
                        out.append(RESET + style)
                        shown = style
                    out.append(char)
                    cells[key] = (char, style)
                    for extra in range(1, width):
                        cells[(y, x + extra)] = ("", style)
                    x += width
                    at = (y, x)
            elif sgr is not None:
                style = "" if sgr in (RESET, "\x1b[m") else style + sgr
            elif row is not None:
                y, x = int(row or 1) - 1, int(column or 1) - 1
                moved = (y, x)
            elif cr is not None:
                x = 0
            elif lf is not None:
                y += 1
            else:
                if self._forgets.fullmatch(other):
                    cells.clear()
                out.append(other)
                at = None  # it may have moved the cursor
        if moved is not None and at != moved:  # where Textual leaves the cursor
            out.append(f"\x1b[{moved[0] + 1};{moved[1] + 1}H")
        if shown:
            out.append(RESET)
        sent = "".join(out)
        self.given += len(data)
        self.sent += len(sent)
        return sent

    def _between(self, start: int, end: int, y: int, shown: str) -> str:
        """The unchanged cells from `start` to `end` of line `y`, when they are all of the
        style last sent (cheaper than a cursor move); else the move."""
        chars = []
        for x in range(start, end):
            cell = self._cells.get((y, x))
            if cell is None or cell[1] != shown or not cell[0]:
                return f"\x1b[{y + 1};{end + 1}H"
            chars.append(cell[0])
        return "".join(chars)
