"""A streaming log pane that keeps up with thousands of lines per second.

Why a Line API widget and not `Log`/`RichLog`: `Log.write_line` per line tops out near
3,000 lines/s with the event loop lagging seconds.  Here lines live in a plain list, the
caller hands them over in batches (every ~100 ms), each batch costs O(batch) plus one
refresh, and only the lines on screen are ever rendered (toolong works the same way).

Job output is untrusted.  Every line is passed through `sanitize` (control characters
become visible stand-ins such as "␛") and turned into `Segment`s from plain strings, so
Rich markup like "[bold red]x[/]", ANSI escapes like "\\x1b[2J" and OSC 52 clipboard
writes are shown literally and never reach the terminal.

Keys: `f` follow, `w` wrap, `t` timestamps, `/` search (enter runs it, `n`/`N` move,
`esc` closes), `s` save (posts `SaveRequested`; the screen picks the path).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate, islice
from typing import ClassVar, Final, NamedTuple, overload

from rich.cells import cell_len, chop_cells
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.actions import SkipAction
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from jobdash.core.model import LogLine
from jobdash.present.recovery import attempt_mark
from jobdash.present.text import sanitize
from jobdash.present.times import log_stamp
from jobdash.present.words import plural_word
from jobdash.tui.keymap import key_for

__all__ = ["HeldLine", "LogView"]

GUTTER: dict[str, str] = {"stdout": " ", "stderr": "!", "system": "»"}
TIMESTAMP_WIDTH = 13  # "HH:MM:SS.mmm "


class HeldLine(NamedTuple):
    """A log line as `LogView.lines` hands it out (same fields as `LogLine`)."""

    seq: int
    job_id: int
    task_id: int | None
    ts: float
    stream: str
    text: str


# Inside the view a line is a plain tuple (seq, job_id, task_id, ts, stream, text).
# CPython's garbage collector stops tracking exact tuples of plain values, so 200,000
# held lines add nothing to its full passes.  Held as `LogLine` dataclass instances (or
# namedtuples, which it keeps tracking) they made each generation-2 collection take
# 50-120 ms: the main source of event-loop lag while a job printed 20,000 lines/s.
_Held = tuple[int, int, "int | None", float, str, str]
_TS: Final = 3
_STREAM: Final = 4
_TEXT: Final = 5


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


def _cells(text: str) -> int:
    """Cell width of sanitized text, with a fast path for ASCII."""
    return len(text) if text.isascii() else cell_len(text)


class LogView(ScrollView, can_focus=True):
    """The log of one job: follows new lines, pauses when scrolled up, wraps, searches."""

    ALLOW_SELECT = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "toggle_follow", "Follow", id="log.follow"),
        Binding("w", "toggle_wrap", "Wrap", id="log.wrap"),
        Binding("t", "toggle_timestamps", "Timestamps", id="log.timestamps"),
        Binding("slash", "search", "Search", id="log.search"),
        Binding("n", "next_match", "Next match", show=False, id="log.next"),
        Binding("N", "prev_match", "Previous match", show=False, id="log.prev"),
        Binding("s", "save", "Save log", id="log.save"),
        Binding("up", "scroll_up", "Scroll up", show=False, id="log.scroll_up"),
        Binding("down", "scroll_down", "Scroll down", show=False, id="log.scroll_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="log.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="log.page_down"),
        Binding("home", "scroll_home", "Top", show=False, id="log.top"),
        Binding("end", "scroll_end", "End (follow)", show=False, id="log.end"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "logview--timestamp",
        "logview--stderr",
        "logview--system",
        "logview--gutter-stderr",
        "logview--notice",
        "logview--footer",
        "logview--search",
        "logview--match",
        "logview--match-current",
    }

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $foreground;
        overflow-y: scroll;
        overflow-x: auto;
        scrollbar-size-vertical: 1;
        &:focus {
            background-tint: $foreground 5%;
        }
        & > .logview--timestamp { color: $text-muted; }
        & > .logview--stderr { color: $text-error; }
        & > .logview--system { color: $text-muted; text-style: italic; }
        & > .logview--gutter-stderr { color: $error; text-style: bold; }
        & > .logview--notice { color: $text-muted; text-style: italic; }
        & > .logview--footer { background: $warning-muted; color: $foreground; }
        & > .logview--search { background: $panel; color: $foreground; }
        & > .logview--match { background: $warning-muted; color: $foreground; }
        & > .logview--match-current {
            background: $warning;
            color: $background;
            text-style: bold;
        }
    }
    """

    class SaveRequested(Message):
        """The user pressed `s`: the screen should ask for a path and write `export_text()`."""

        def __init__(self, log_view: LogView) -> None:
            self.log_view = log_view
            super().__init__()

        @property
        def control(self) -> LogView:
            """The log view, so `@on(LogView.SaveRequested, "#id")` selectors work."""
            return self.log_view

    def __init__(
        self,
        *,
        max_lines: int = 200_000,
        follow: bool = True,
        wrap: bool = False,
        timestamps: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        """Create an empty log view.

        Args:
            max_lines: Lines kept in memory; older ones are dropped (and counted).
            follow: Start following the end.
            wrap: Start with long lines wrapped.
            timestamps: Start with a timestamp before each line.
        """
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.max_lines = max(1, max_lines)
        self._lines: list[_Held] = []
        self._texts: list[str] = []  # sanitized; the same object as the raw text if clean
        self._cells: list[int] = []  # cell width of each sanitized text
        self._dropped = 0  # lines dropped from the front: absolute index of _lines[0]
        self._max_cells = 0
        self._following = follow
        self._new_lines = 0  # lines appended while following was paused
        self._wrap = wrap
        self._timestamps = timestamps
        # Wrapped layout: _wrap_cum[i] - _wrap_cum[0] is the display row where line i
        # starts.  Kept un-rebased so dropping old lines is a `del` from the front.
        self._wrap_cum: list[int] = [0]
        self._wrap_width = 0
        self._programmatic_scroll = False
        # Search.
        self._search_open = False
        self._search_editing = False
        self._query = ""
        self._searched = ""  # the query the matches belong to
        self._pattern: re.Pattern[str] | None = None
        # Absolute indices of matching lines (n/N move line by line; every occurrence in
        # a visible line is highlighted at render time).  Line-level keeps a search for
        # a common letter cheap: one regex scan per line, no per-occurrence objects.
        self._matches: list[int] = []
        self._match = -1  # index into _matches of the current match
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(512)

    # ------------------------------------------------------------------ public API

    @property
    def line_count(self) -> int:
        """Lines held in memory."""
        return len(self._lines)

    @property
    def dropped_count(self) -> int:
        """Lines dropped from the front to respect `max_lines`."""
        return self._dropped

    @property
    def lines(self) -> Sequence[HeldLine]:
        """The lines held, oldest first (read-only view; do not mutate)."""
        return _HeldLines(self._lines)

    @property
    def following(self) -> bool:
        """Whether the view sticks to the end as lines arrive."""
        return self._following

    @property
    def new_lines(self) -> int:
        """Lines that arrived since following was paused."""
        return self._new_lines

    @property
    def wrap(self) -> bool:
        """Whether long lines wrap onto several display rows."""
        return self._wrap

    @property
    def timestamps(self) -> bool:
        """Whether each line starts with its HH:MM:SS.mmm timestamp."""
        return self._timestamps

    @property
    def search_query(self) -> str:
        """The text in the search bar."""
        return self._query

    @property
    def match_count(self) -> int:
        """Lines matching the last search (among those still in memory)."""
        return len(self._matches)

    @property
    def current_match(self) -> tuple[int, int] | None:
        """(index into `lines`, offset of the first occurrence) of the current match."""
        if self._pattern is None or not 0 <= self._match < len(self._matches):
            return None
        index = self._matches[self._match] - self._dropped
        found = self._pattern.search(self._texts[index])
        return index, found.start() if found is not None else 0

    def append(self, lines: Sequence[LogLine]) -> None:
        """Add a batch of lines: O(len(lines)) work and a single refresh."""
        if not lines:
            return
        # A line of an earlier attempt than its task's latest is marked as such (also in
        # `export_text`): it must not pass for the latest attempt's output.
        raw = [attempt_mark(ln) + ln.text for ln in lines]
        texts = [sanitize(text) for text in raw]
        cells = [_cells(text) for text in texts]
        first_new = self._dropped + len(self._lines)
        self._lines.extend(
            [
                (ln.seq, ln.job_id, ln.task_id, ln.ts, ln.stream, text)
                for ln, text in zip(lines, raw, strict=True)
            ]
        )
        self._texts.extend(texts)
        self._cells.extend(cells)
        self._max_cells = max(self._max_cells, max(cells))
        if self._wrapping:
            width = self._wrap_width
            counts = [
                self._row_count(text, cell, width) for text, cell in zip(texts, cells, strict=True)
            ]
            self._wrap_cum.extend(islice(accumulate(counts, initial=self._wrap_cum[-1]), 1, None))
        if self._pattern is not None:
            self._find_matches(first_new)
        if not self._following:
            self._new_lines += len(lines)
        top_before = self._display_top()
        rows_before = self._display_rows()
        dropped_rows = self._drop_overflow()
        self._update_virtual_size()
        if self._following:
            self._scroll_to_end()
            self.refresh()
        elif dropped_rows:
            # Keep the rows the user is reading in place while the front is trimmed.
            self._set_scroll_y(max(0, top_before - dropped_rows))
            self.refresh()
        else:
            # Paused: repaint from the first new row that is on screen (usually none)
            # down to the footer, so a slow link only carries the changed counter.
            height = self.scrollable_content_region.height
            footer = top_before + height - self._overlay_count()
            first = max(top_before, min(rows_before, footer))
            self.refresh_lines(first, top_before + height - first)

    def clear(self) -> None:
        """Forget every line (e.g. when the pane switches to another job)."""
        self._lines.clear()
        self._texts.clear()
        self._cells.clear()
        self._dropped = 0
        self._max_cells = 0
        self._new_lines = 0
        self._wrap_cum = [0]
        self._matches.clear()
        self._match = -1
        self._cache.clear()
        self._update_virtual_size()
        self._set_scroll_y(0)
        self.refresh()

    def export_text(self, timestamps: bool | None = None) -> str:
        """The log as plain text, one line per log line, for saving to a file.

        This is the job's raw output (escapes included): a file is not a terminal, and
        a saved log should say exactly what the job printed.  `timestamps` None follows
        the current display setting.
        """
        with_ts = self._timestamps if timestamps is None else timestamps
        out: list[str] = []
        if self._dropped:
            out.append(f"… {self._dropped} earlier {plural_word(self._dropped, 'line')} not shown")
        for line in self._lines:
            text = line[_TEXT].replace("\n", " ")
            out.append(f"{log_stamp(line[_TS])} {text}" if with_ts else text)
        return "\n".join(out) + ("\n" if out else "")

    def set_follow(self, follow: bool) -> None:
        """Follow the end (jumping there now) or stay put."""
        if follow:
            self._following = True
            self._new_lines = 0
            self._update_virtual_size()
            self._scroll_to_end()
        else:
            self._following = False
            self._update_virtual_size()
        self.refresh()

    def set_wrap(self, wrap: bool) -> None:
        """Wrap long lines (hard wrap at the view width) or scroll sideways."""
        top = self._top_line()
        self._wrap = wrap
        if not wrap:
            self._wrap_width = 0
            self._wrap_cum = [0]
        self._relayout(top)

    def set_timestamps(self, timestamps: bool) -> None:
        """Show or hide the HH:MM:SS.mmm prefix."""
        top = self._top_line()
        self._timestamps = timestamps
        self._relayout(top)

    def search(self, query: str) -> int:
        """Highlight every case-insensitive occurrence of `query`; returns the count.

        The first match shown is the last one when following (the newest), else the
        first at or below the top of the view.
        """
        self._query = query
        self._searched = query
        self._search_open = True
        self._search_editing = False
        self._matches = []
        self._match = -1
        self._pattern = re.compile(re.escape(query), re.IGNORECASE) if query else None
        if self._pattern is not None:
            self._find_matches(self._dropped)
        self._cache.clear()
        self._update_virtual_size()
        if self._matches:
            if self._following:
                self._match = len(self._matches) - 1
            else:
                top = self._dropped + (self._top_line() or (0, 0))[0]
                self._match = bisect_left(self._matches, top)
                if self._match >= len(self._matches):
                    self._match = 0
            self._show_match()
        self.refresh()
        return len(self._matches)

    def close_search(self) -> None:
        """Hide the search bar and the highlights."""
        self._search_open = False
        self._search_editing = False
        self._pattern = None
        self._matches = []
        self._match = -1
        self._cache.clear()
        self._update_virtual_size()
        if self._following:
            self._scroll_to_end()
        self.refresh()

    # ------------------------------------------------------------------ actions

    def action_toggle_follow(self) -> None:
        """Toggle following the end."""
        self.set_follow(not self._following)

    def action_toggle_wrap(self) -> None:
        """Toggle wrapping of long lines."""
        self.set_wrap(not self._wrap)

    def action_toggle_timestamps(self) -> None:
        """Toggle timestamps."""
        self.set_timestamps(not self._timestamps)

    def action_search(self) -> None:
        """Open the search bar for typing."""
        self._search_open = True
        self._search_editing = True
        self._update_virtual_size()
        if self._following:
            self._scroll_to_end()
        self.refresh()

    def action_next_match(self) -> None:
        """Go to the next match (wrapping around)."""
        if not self._matches:
            raise SkipAction()
        self._match = (self._match + 1) % len(self._matches)
        self._show_match()

    def action_prev_match(self) -> None:
        """Go to the previous match (wrapping around)."""
        if not self._matches:
            raise SkipAction()
        self._match = (self._match - 1) % len(self._matches)
        self._show_match()

    def action_save(self) -> None:
        """Ask the screen to save the log."""
        self.post_message(self.SaveRequested(self))

    def action_scroll_up(self) -> None:
        """Scroll up one row (pauses following)."""
        self._user_scroll(round(self.scroll_y) - 1)

    def action_scroll_down(self) -> None:
        """Scroll down one row (reaching the end resumes following)."""
        self._user_scroll(round(self.scroll_y) + 1)

    def action_page_up(self) -> None:
        """Scroll up one page (pauses following)."""
        self._user_scroll(round(self.scroll_y) - self._content_height())

    def action_page_down(self) -> None:
        """Scroll down one page (reaching the end resumes following)."""
        self._user_scroll(round(self.scroll_y) + self._content_height())

    def action_scroll_home(self) -> None:
        """Go to the first line (pauses following)."""
        self._user_scroll(0)

    def action_scroll_end(self) -> None:
        """Go to the last line and follow."""
        self.set_follow(True)

    # ------------------------------------------------------------------ events

    def on_key(self, event: events.Key) -> None:
        """While the search bar is being typed in, keys edit the query (not bindings)."""
        if not self._search_open:
            return
        key = event.key
        if key == "escape":
            self.close_search()
        elif not self._search_editing:
            return
        elif key == "enter":
            self.search(self._query)
        elif key == "backspace":
            self._query = self._query[:-1]
        elif key == "ctrl+u":
            self._query = ""
        elif event.is_printable and event.character:
            self._query += sanitize(event.character)
        else:
            return
        event.stop()
        event.prevent_default()
        self._refresh_overlays()

    def on_paste(self, event: events.Paste) -> None:
        """Pasting into the search bar takes the first line of the clipboard."""
        if self._search_editing:
            event.stop()
            first = event.text.splitlines()[0] if event.text else ""
            self._query += sanitize(first)
            self._refresh_overlays()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Any scroll up by the user pauses following; scrolling back to the end resumes."""
        super().watch_scroll_y(old_value, new_value)
        if self._programmatic_scroll:
            return
        # Only a move *away from the end* pauses: Textual clamps scroll_y down to the new
        # end when the view grows or content shrinks, and that must not pause following.
        if self._following and round(new_value) < min(round(old_value), self.max_scroll_y):
            self._following = False
            self._new_lines = 0
            self._update_virtual_size()
            self.refresh()
        elif (
            not self._following
            and round(new_value) > round(old_value)
            and round(new_value) >= self.max_scroll_y
        ):
            self.set_follow(True)

    def on_resize(self, event: events.Resize) -> None:
        """Re-wrap for the new width; stay at the end when following."""
        self._relayout(self._top_line())

    def notify_style_update(self) -> None:
        """Theme or focus changed: cached strips carry old colours."""
        super().notify_style_update()
        self._cache.clear()

    # ------------------------------------------------------------------ layout

    @property
    def _wrapping(self) -> bool:
        """Wrap is on and the wrapped layout is built (it needs the view width)."""
        return self._wrap and self._wrap_width > 0

    def _prefix_width(self) -> int:
        """Cells before the text: the stream gutter, then the timestamp if shown."""
        return 1 + (TIMESTAMP_WIDTH if self._timestamps else 0)

    def _view_width(self) -> int:
        """Width of the area lines are drawn in (scrollbar excluded)."""
        return self.scrollable_content_region.width

    def _content_height(self) -> int:
        """Rows available to log lines (the footer/search bar take the bottom rows)."""
        return max(1, self.scrollable_content_region.height - self._overlay_count())

    def _overlay_count(self) -> int:
        """Rows at the bottom for the paused footer and the search bar."""
        return (0 if self._following else 1) + (1 if self._search_open else 0)

    @staticmethod
    def _row_count(text: str, cells: int, width: int) -> int:
        """Display rows a line takes when hard-wrapped at `width` cells."""
        if cells <= width:
            return 1
        if cells == len(text):  # every character one cell wide: plain slicing
            return -(-cells // width)
        return max(1, len(chop_cells(text, width)))

    def _rewrap(self) -> None:
        """Recompute every line's wrapped row count (on wrap, width or prefix change)."""
        width = max(1, self._view_width() - self._prefix_width())
        self._wrap_width = width
        row_count = self._row_count
        counts = [row_count(t, c, width) for t, c in zip(self._texts, self._cells, strict=True)]
        self._wrap_cum = list(accumulate(counts, initial=0))

    def _display_rows(self) -> int:
        """Display rows of log content, the "earlier lines" notice included."""
        rows = self._wrap_cum[-1] - self._wrap_cum[0] if self._wrapping else len(self._lines)
        return rows + (1 if self._dropped else 0)

    def _update_virtual_size(self) -> None:
        """Content rows plus the overlay rows, so the last line scrolls above the footer."""
        height = self._display_rows() + self._overlay_count()
        width = self._view_width() if self._wrapping else self._prefix_width() + self._max_cells
        size = Size(width, height)
        if size != self.virtual_size:
            # Assigning `virtual_size` repaints the whole widget; callers repaint just
            # what changed, so set it quietly and ask only for a layout (scrollbars).
            self.set_reactive(LogView.virtual_size, size)
            self.refresh(repaint=False, layout=True)
            if self.scroll_y > self.max_scroll_y:  # e.g. the footer row went away
                self._set_scroll_y(self.max_scroll_y)

    def _locate(self, row: int) -> tuple[int, int] | None:
        """(index into _lines, wrapped sub-row) shown at content display row `row`."""
        if self._dropped:
            if row == 0:
                return None
            row -= 1
        if not self._wrapping:
            return (row, 0) if row < len(self._lines) else None
        cum = self._wrap_cum
        target = row + cum[0]
        if target >= cum[-1]:
            return None
        index = bisect_right(cum, target) - 1
        return index, target - cum[index]

    def _display_row_of(self, index: int, sub_row: int = 0) -> int:
        """Content display row of line `index` (index into _lines), wrapped row `sub_row`."""
        notice = 1 if self._dropped else 0
        if not self._wrapping:
            return index + notice
        return self._wrap_cum[index] - self._wrap_cum[0] + sub_row + notice

    def _display_top(self) -> int:
        """The display row at the top of the view."""
        return round(self.scroll_y)

    def _top_line(self) -> tuple[int, int] | None:
        """(index into _lines, character offset) at the top of the view, as an anchor."""
        top = self._display_top()
        if self._dropped and top == 0:
            return None
        located = self._locate(top)
        if located is None:
            return None
        index, sub_row = located
        return index, sub_row * self._wrap_width if self._wrapping else 0

    def _relayout(self, anchor: tuple[int, int] | None) -> None:
        """After wrap/timestamps/width changed: re-wrap, and keep the anchor line on top
        (or the end, when following)."""
        self._cache.clear()
        if self._wrap and self.is_mounted:
            self._rewrap()
        self._update_virtual_size()
        if self._following:
            self._scroll_to_end()
        elif anchor is not None:
            index, offset = anchor
            sub_row = 0
            if self._wrapping:
                sub_row = offset // self._wrap_width
                rows = self._wrap_cum[index + 1] - self._wrap_cum[index]
                sub_row = min(sub_row, rows - 1)
            self._set_scroll_y(self._display_row_of(index, sub_row))
        self.refresh()

    def _drop_overflow(self) -> int:
        """Drop the oldest lines beyond `max_lines`; returns display rows removed."""
        overflow = len(self._lines) - self.max_lines
        if overflow <= 0:
            return 0
        if self._wrapping:
            rows = self._wrap_cum[overflow] - self._wrap_cum[0]
            del self._wrap_cum[:overflow]
        else:
            rows = overflow
        if not self._dropped:
            rows -= 1  # the "earlier lines not shown" notice takes a row from now on
        del self._lines[:overflow]
        del self._texts[:overflow]
        del self._cells[:overflow]
        self._dropped += overflow
        if self._matches:
            first = bisect_left(self._matches, self._dropped)
            if first:
                del self._matches[:first]
                self._match = max(0, self._match - first) if self._matches else -1
        return rows

    # ------------------------------------------------------------------ scrolling

    def _set_scroll_y(self, y: float) -> None:
        """Scroll without it counting as the user scrolling (no follow/pause change)."""
        self._programmatic_scroll = True
        try:
            self.scroll_to(y=y, animate=False)
        finally:
            self._programmatic_scroll = False

    def _scroll_to_end(self) -> None:
        """Show the last line (above any footer rows)."""
        self._set_scroll_y(self.max_scroll_y)

    def _user_scroll(self, y: int) -> None:
        """A keyboard scroll: moving up pauses following, reaching the end resumes it."""
        if y < round(self.scroll_y) and self._following:
            self.set_follow(False)
        if not self._following and y >= self.max_scroll_y:
            self.set_follow(True)
            return
        self._set_scroll_y(max(0, y))

    def _show_match(self) -> None:
        """Scroll the current match into view (pausing following) and repaint."""
        self._cache.clear()
        located = self.current_match
        if located is not None:
            index, offset = located
            sub_row = 0
            if self._wrapping:
                text = self._texts[index]
                if self._cells[index] == len(text):
                    sub_row = offset // self._wrap_width
                else:
                    seen = 0
                    for part in chop_cells(text, self._wrap_width):
                        seen += len(part)
                        if seen > offset:
                            break
                        sub_row += 1
            row = self._display_row_of(index, sub_row)
            top = self._display_top()
            height = self._content_height()
            if not top <= row < top + height:
                if self._following:
                    self.set_follow(False)
                    height = self._content_height()
                self._set_scroll_y(max(0, row - height // 2))
            if not self._wrapping:
                x = self._prefix_width() + _cells(self._texts[index][:offset])
                left = round(self.scroll_x)
                width = self._view_width()
                if not left <= x < left + width - len(self._searched):
                    self.scroll_to(x=max(0, x - width // 3), animate=False)
        self.refresh()

    # ------------------------------------------------------------------ search

    def _find_matches(self, first_absolute: int) -> None:
        """Append the lines from absolute index `first_absolute` on that match."""
        pattern = self._pattern
        if pattern is None:
            return
        search = pattern.search
        texts = self._texts
        base = self._dropped
        start = first_absolute - base
        self._matches.extend(
            base + index for index in range(start, len(texts)) if search(texts[index])
        )

    # ------------------------------------------------------------------ rendering

    def render_line(self, y: int) -> Strip:
        """Log rows from the scroll position, then the footer / search bar at the bottom."""
        width = self._view_width()
        height = self.scrollable_content_region.height
        overlays = self._overlay_count()
        if y >= height - overlays:
            return self._overlay_strip(y - (height - overlays), width)
        row = self._display_top() + y
        located = self._locate(row)
        if located is None:
            if self._dropped and row == 0:
                return self._notice_strip(width)
            return Strip.blank(width, self.rich_style)
        index, sub_row = located
        key = (self._dropped + index, sub_row)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_log_row(index, sub_row)
            self._cache.set(key, strip)
        scroll_x = 0 if self._wrapping else round(self.scroll_x)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _render_log_row(self, index: int, sub_row: int) -> Strip:
        """Build one display row from plain strings: gutter, timestamp, text, highlights."""
        line = self._lines[index]
        text = self._texts[index]
        base = self.rich_style
        get_style = self.get_component_rich_style
        stream = line[_STREAM]
        if stream == "stderr":
            text_style = get_style("logview--stderr")
            gutter_style = get_style("logview--gutter-stderr")
        elif stream == "system":
            text_style = gutter_style = get_style("logview--system")
        else:
            text_style = gutter_style = base
        segments: list[Segment] = []
        if sub_row == 0:
            segments.append(Segment(GUTTER.get(stream, "?"), gutter_style))
            if self._timestamps:
                stamp = log_stamp(line[_TS]) + " "
                segments.append(Segment(stamp, get_style("logview--timestamp")))
        else:
            segments.append(Segment(" " * self._prefix_width(), base))
        start = 0
        if self._wrapping:
            width = self._wrap_width
            if self._cells[index] == len(text):
                start = sub_row * width
                chunk = text[start : start + width]
            else:
                parts = chop_cells(text, width) or [""]
                start = sum(len(part) for part in parts[:sub_row])
                chunk = parts[min(sub_row, len(parts) - 1)]
        else:
            chunk = text
        segments.extend(self._highlight(chunk, start, index, text_style))
        return Strip(segments)

    def _highlight(self, chunk: str, start: int, index: int, style: Style) -> list[Segment]:
        """Split `chunk` (text[start:...] of line `index`) into plain and match segments."""
        pattern = self._pattern
        matches = self._matches
        if pattern is None or not matches or not chunk:
            return [Segment(chunk, style)]
        absolute = self._dropped + index
        position = bisect_left(matches, absolute)
        if position >= len(matches) or matches[position] != absolute:
            return [Segment(chunk, style)]
        if position == self._match:
            match_style = self.get_component_rich_style("logview--match-current")
        else:
            match_style = self.get_component_rich_style("logview--match")
        end = start + len(chunk)
        segments: list[Segment] = []
        cursor = start
        for found in pattern.finditer(self._texts[index]):
            match_start, match_end = max(found.start(), cursor), min(found.end(), end)
            if found.start() >= end:
                break
            if match_end <= match_start:
                continue
            if match_start > cursor:
                segments.append(Segment(chunk[cursor - start : match_start - start], style))
            segments.append(Segment(chunk[match_start - start : match_end - start], match_style))
            cursor = match_end
        if cursor < end:
            segments.append(Segment(chunk[cursor - start :], style))
        return segments

    def _notice_strip(self, width: int) -> Strip:
        """The first row once old lines were dropped."""
        style = self.get_component_rich_style("logview--notice")
        text = f"… {self._dropped:,} earlier {plural_word(self._dropped, 'line')} not shown"
        return Strip([Segment(text, style)]).adjust_cell_length(width, self.rich_style)

    def _overlay_strip(self, slot: int, width: int) -> Strip:
        """Bottom rows: the paused footer (if paused), then the search bar (if open)."""
        kinds: list[str] = []
        if not self._following:
            kinds.append("footer")
        if self._search_open:
            kinds.append("search")
        kind = kinds[slot] if slot < len(kinds) else ""
        if kind == "footer":
            style = self.get_component_rich_style("logview--footer")
            count = self._new_lines
            key = key_for(self.app, "log.follow")
            new = f" — {count:,} new {plural_word(count, 'line')}" if count else ""
            text = f"⏸ following paused{new} ({key} to follow)"
            return Strip([Segment(text, style)]).adjust_cell_length(width, style)
        if kind == "search":
            style = self.get_component_rich_style("logview--search")
            segments = [Segment("/", style), Segment(self._query, style)]
            if self._search_editing:
                segments.append(Segment(" ", style + Style(reverse=True)))
                hint = "  enter search · esc close"
            elif not self._searched:
                hint = ""
            elif self._matches:
                keys = f"{key_for(self.app, 'log.next')}/{key_for(self.app, 'log.prev')}"
                hint = f"  {self._match + 1}/{len(self._matches)}  {keys} next/previous · esc close"
            else:
                hint = "  no matches · esc close"
            segments.append(Segment(hint, style))
            return Strip(segments).crop_extend(0, width, style)
        return Strip.blank(width, self.rich_style)

    def _refresh_overlays(self) -> None:
        """Repaint just the bottom rows (search typing must not repaint the log)."""
        height = self.scrollable_content_region.height
        overlays = self._overlay_count()
        top = round(self.scroll_y)
        self.refresh_lines(top + height - overlays, overlays)
