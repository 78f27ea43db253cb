"""The lines a log pane holds, as plain data: their sanitized text and width, the cap on
how many are kept, the wrapped layout (which display row each line starts on) and the
lines a search matched.  No Textual here: the lines view draws from it.

Why plain tuples: CPython's garbage collector stops tracking exact tuples of plain values,
so 200,000 held lines add nothing to its full passes.  Held as `LogLine` dataclass
instances (or namedtuples, which it keeps tracking) they made each generation-2
collection take 50-120 ms: the main source of event-loop lag while a job printed 20,000
lines/s.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate, islice
from typing import Final, NamedTuple, overload

from rich.cells import cell_len, chop_cells

from jobdash.core.model import LineLevel, LogLine, line_level
from jobdash.present.recovery import attempt_mark
from jobdash.present.text import sanitize
from jobdash.present.times import log_stamp
from jobdash.present.words import plural_word

__all__ = ["HeldLine", "LogBuffer"]


class HeldLine(NamedTuple):
    """A log line as `LogView.lines` hands it out (same fields as `LogLine`)."""

    seq: int
    job_id: int
    task_id: int | None
    ts: float
    stream: str
    text: str


# Inside the buffer a line is a plain tuple (seq, job_id, task_id, ts, stream, text).
_Held = tuple[int, int, "int | None", float, str, str]
TS: Final = 3
STREAM: Final = 4
TEXT: Final = 5
GAP: Final = "gap"  # the stream of a row that stands for lines left out (grep mode)


class _HeldLines(Sequence[HeldLine]):
    """A read-only view of the held tuples as `HeldLine`s."""

    def __init__(self, lines: list[_Held]) -> None:
        self._lines = lines

    def __len__(self) -> int:
        return len(self._lines)

    @overload
    def __getitem__(self, index: int) -> HeldLine: ...

    @overload
    def __getitem__(self, index: slice) -> list[HeldLine]: ...

    def __getitem__(self, index: int | slice) -> HeldLine | list[HeldLine]:
        if isinstance(index, slice):
            return [HeldLine(*line) for line in self._lines[index]]
        return HeldLine(*self._lines[index])


def cells_of(text: str) -> int:
    """Cell width of sanitized text, with a fast path for ASCII."""
    return len(text) if text.isascii() else cell_len(text)


def row_count(text: str, cells: int, width: int) -> int:
    """Display rows a line takes when hard-wrapped at `width` cells."""
    if cells <= width:
        return 1
    if cells == len(text):  # every character one cell wide: plain slicing
        return -(-cells // width)
    return max(1, len(chop_cells(text, width)))


class LogBuffer:
    """Held lines (oldest first), the wrapped layout and the search matches.

    Indices into `lines`/`texts` are "held" indices; "absolute" ones count the dropped
    lines too (`dropped + held`), so matches stay valid while the front is trimmed.
    A display row is a row of the view: the "earlier lines" notice (once lines were
    dropped), then each line's wrapped rows.
    """

    def __init__(self, max_lines: int) -> None:
        self.max_lines = max(1, max_lines)
        self.lines: list[_Held] = []
        self.texts: list[str] = []  # sanitized; the same object as the raw text if clean
        self.cells: list[int] = []  # cell width of each sanitized text
        # Each line's level (`line_level`, of its text as the job wrote it): its look.
        self.levels: list[LineLevel] = []
        self.dropped = 0  # lines dropped from the front: absolute index of lines[0]
        self.max_cells = 0
        # Wrapped layout: wrap_cum[i] - wrap_cum[0] is the display row where line i
        # starts.  Kept un-rebased so dropping old lines is a `del` from the front.
        self.wrap_cum: list[int] = [0]
        self.wrap_width = 0  # 0: not wrapped
        self.pattern: re.Pattern[str] | None = None
        # Absolute indices of matching lines (n/N move line by line; every occurrence in
        # a visible line is highlighted at render time).  Line-level keeps a search for
        # a common letter cheap: one regex scan per line, no per-occurrence objects.
        self.matches: list[int] = []
        self.match = -1  # index into matches of the current match

    @property
    def held(self) -> Sequence[HeldLine]:
        """The lines held, oldest first (read-only view)."""
        return _HeldLines(self.lines)

    @property
    def wrapping(self) -> bool:
        """Whether the wrapped layout is in use (it needs the view width)."""
        return self.wrap_width > 0

    def append(self, lines: Sequence[LogLine]) -> None:
        """Add a batch of lines: O(len(lines)) work (none: nothing)."""
        # A line of an earlier attempt than its task's latest is marked as such (also in
        # `export_text`): it must not pass for the latest attempt's output.
        raw = [attempt_mark(ln) + ln.text for ln in lines]
        self._extend(
            [
                (ln.seq, ln.job_id, ln.task_id, ln.ts, ln.stream, text)
                for ln, text in zip(lines, raw, strict=True)
            ],
            [sanitize(text) for text in raw],
            [line_level(ln.stream, ln.text) for ln in lines],
        )

    def copy_lines(self, source: LogBuffer, picks: Sequence[int | str]) -> None:
        """Add lines held by `source` (by absolute index: `source.dropped + held`) as they
        are there, and for a `str` a row that stands for lines left out (its text)."""
        held: list[_Held] = []
        texts: list[str] = []
        levels: list[LineLevel] = []
        last: _Held = (0, 0, None, 0.0, GAP, "")
        for pick in picks:
            if isinstance(pick, str):
                held.append((last[0], last[1], None, last[TS], GAP, pick))
                texts.append(pick)
                levels.append(LineLevel.OUTPUT)
                continue
            index = pick - source.dropped
            last = source.lines[index]
            held.append(last)
            texts.append(source.texts[index])
            levels.append(source.levels[index])
        self._extend(held, texts, levels)

    def _extend(self, held: list[_Held], texts: list[str], levels: list[LineLevel]) -> None:
        if not held:
            return
        cells = [cells_of(text) for text in texts]
        first_new = self.dropped + len(self.lines)
        self.lines.extend(held)
        self.texts.extend(texts)
        self.cells.extend(cells)
        self.levels.extend(levels)
        self.max_cells = max(self.max_cells, max(cells))
        if self.wrapping:
            width = self.wrap_width
            counts = [row_count(text, cell, width) for text, cell in zip(texts, cells, strict=True)]
            self.wrap_cum.extend(islice(accumulate(counts, initial=self.wrap_cum[-1]), 1, None))
        self._find_matches(first_new)

    def clear(self) -> None:
        """Forget every line (the search stays, with no matches)."""
        self.lines.clear()
        self.texts.clear()
        self.cells.clear()
        self.levels.clear()
        self.dropped = 0
        self.max_cells = 0
        self.wrap_cum = [0]
        self.matches.clear()
        self.match = -1

    def drop_overflow(self) -> int:
        """Drop the oldest lines beyond `max_lines`; returns display rows removed."""
        overflow = len(self.lines) - self.max_lines
        if overflow <= 0:
            return 0
        if self.wrapping:
            rows = self.wrap_cum[overflow] - self.wrap_cum[0]
            del self.wrap_cum[:overflow]
        else:
            rows = overflow
        if not self.dropped:
            rows -= 1  # the "earlier lines not shown" notice takes a row from now on
        del self.lines[:overflow]
        del self.texts[:overflow]
        del self.cells[:overflow]
        del self.levels[:overflow]
        self.dropped += overflow
        if self.matches:
            first = bisect_left(self.matches, self.dropped)
            if first:
                del self.matches[:first]
                self.match = max(0, self.match - first) if self.matches else -1
        return rows

    def export_text(self, with_ts: bool) -> str:
        """The held lines as the job printed them (escapes included), one per line."""
        out: list[str] = []
        if self.dropped:
            out.append(self.notice(f"{self.dropped}"))
        for line in self.lines:
            text = line[TEXT].replace("\n", " ")
            out.append(f"{log_stamp(line[TS])} {text}" if with_ts else text)
        return "\n".join(out) + ("\n" if out else "")

    def notice(self, count: str) -> str:
        """The first row once old lines were dropped (`count`: how the number is shown)."""
        return f"… {count} earlier {plural_word(self.dropped, 'line')} not shown"

    # ------------------------------------------------------------------ layout

    def wrap(self, width: int) -> None:
        """Wrap every line at `width` cells (0: do not wrap)."""
        self.wrap_width = max(0, width)
        if not width:
            self.wrap_cum = [0]
            return
        counts = [row_count(t, c, width) for t, c in zip(self.texts, self.cells, strict=True)]
        self.wrap_cum = list(accumulate(counts, initial=0))

    def display_rows(self) -> int:
        """Display rows of log content, the "earlier lines" notice included."""
        rows = self.wrap_cum[-1] - self.wrap_cum[0] if self.wrapping else len(self.lines)
        return rows + (1 if self.dropped else 0)

    def locate(self, row: int) -> tuple[int, int] | None:
        """(held index, wrapped sub-row) shown at display row `row` (None: the notice or
        past the end)."""
        if self.dropped:
            if row == 0:
                return None
            row -= 1
        if not self.wrapping:
            return (row, 0) if row < len(self.lines) else None
        cum = self.wrap_cum
        target = row + cum[0]
        if target >= cum[-1]:
            return None
        index = bisect_right(cum, target) - 1
        return index, target - cum[index]

    def display_row_of(self, index: int, sub_row: int = 0) -> int:
        """Display row of held line `index`, wrapped row `sub_row`."""
        notice = 1 if self.dropped else 0
        if not self.wrapping:
            return index + notice
        return self.wrap_cum[index] - self.wrap_cum[0] + sub_row + notice

    def rows_of(self, index: int) -> int:
        """Display rows held line `index` takes."""
        if not self.wrapping:
            return 1
        return self.wrap_cum[index + 1] - self.wrap_cum[index]

    def sub_row_at(self, index: int, offset: int) -> int:
        """The wrapped row of held line `index` that shows character `offset`."""
        if not self.wrapping:
            return 0
        text = self.texts[index]
        if self.cells[index] == len(text):
            return offset // self.wrap_width
        sub_row = seen = 0
        for part in chop_cells(text, self.wrap_width):
            seen += len(part)
            if seen > offset:
                break
            sub_row += 1
        return sub_row

    def chunk(self, index: int, sub_row: int) -> tuple[int, str]:
        """(offset of its first character, text) of wrapped row `sub_row` of a line."""
        text = self.texts[index]
        if not self.wrapping:
            return 0, text
        width = self.wrap_width
        if self.cells[index] == len(text):
            start = sub_row * width
            return start, text[start : start + width]
        parts = chop_cells(text, width) or [""]
        start = sum(len(part) for part in parts[:sub_row])
        return start, parts[min(sub_row, len(parts) - 1)]

    # ------------------------------------------------------------------ search

    def search(self, query: str) -> None:
        """Find every line holding `query` (case-insensitive; "" clears the search)."""
        self.matches = []
        self.match = -1
        self.pattern = re.compile(re.escape(query), re.IGNORECASE) if query else None
        self._find_matches(self.dropped)

    @property
    def current_match(self) -> tuple[int, int] | None:
        """(held index, offset of the first occurrence) of the current match."""
        if self.pattern is None or not 0 <= self.match < len(self.matches):
            return None
        index = self.matches[self.match] - self.dropped
        found = self.pattern.search(self.texts[index])
        return index, found.start() if found is not None else 0

    def _find_matches(self, first_absolute: int) -> None:
        """Append the lines from absolute index `first_absolute` on that match."""
        pattern = self.pattern
        if pattern is None:
            return
        search = pattern.search
        texts = self.texts
        lines = self.lines
        base = self.dropped
        start = first_absolute - base
        self.matches.extend(
            base + index
            for index in range(start, len(texts))
            if search(texts[index]) and lines[index][STREAM] != GAP
        )
