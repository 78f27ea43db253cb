"""The lines of a log pane on Textual's Line API: follow, pause, wrap, timestamps, the
search highlights, grep mode (only the matches and their context: `log_grep.py`) and, for
the lines of several tasks, a prefix per line with its task ("#2") or, of several jobs, its
job and task (in the job's colour).
`LogView` composes it with the search bar and the paused footer.

Why a Line API widget and not `Log`/`RichLog`: `Log.write_line` per line tops out near
3,000 lines/s with the event loop lagging seconds.  Here lines live in a plain buffer
(`LogBuffer`), the caller hands them over in batches (every ~100 ms), each batch costs
O(batch) plus one refresh, and only the lines on screen are ever rendered (toolong's
`LogLines` works the same way).

Job output is untrusted: the buffer sanitizes every line (control characters become
visible stand-ins such as "␛") and rows are built as `Segment`s from plain strings, so
markup like "[bold red]x[/]", ANSI escapes and OSC 52 clipboard writes are shown
literally and never reach the terminal.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from jobdash.core.model import LineLevel, LogLine
from jobdash.present.logs import GUTTER, JOB_HUES, LineLabels
from jobdash.present.times import log_stamp
from jobdash.present.words import no_match
from jobdash.tui.widgets.fitting import centred
from jobdash.tui.widgets.log_buffer import GAP, STREAM, TS, LogBuffer, cells_of
from jobdash.tui.widgets.log_grep import Grep

__all__ = ["LogLines"]

TIMESTAMP_WIDTH = 13  # "HH:MM:SS.mmm "
LABEL_BAR = " │ "  # after a job's label, before its text


class LogLines(ScrollView, can_focus=True, inherit_bindings=False):
    """The scrolling lines; its keys are `LogView`'s, which calls the methods here.

    `following` and `new_lines` are vars: the log view watches them for its footer.
    """

    ALLOW_SELECT = False

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "loglines--timestamp",
        "loglines--stderr",
        "loglines--system",
        "loglines--gutter-stderr",
        "loglines--warning",
        "loglines--notice",
        "loglines--label",
        "loglines--match",
        "loglines--match-current",
        *(f"loglines--job-{hue}" for hue in range(JOB_HUES)),
    }

    DEFAULT_CSS = """
    LogLines {
        background: $surface;
        color: $foreground;
        overflow-y: scroll;
        overflow-x: auto;
        scrollbar-size-vertical: 1;
        height: 1fr;
        &:focus { background-tint: $foreground 5%; }
        & > .loglines--timestamp { color: $text-muted; }
        & > .loglines--stderr { color: $text-error; }
        & > .loglines--system { color: $text-muted; text-style: italic; }
        & > .loglines--gutter-stderr { color: $error; text-style: bold; }
        & > .loglines--warning { color: $text-warning; }
        & > .loglines--notice { color: $text-muted; text-style: italic; }
        & > .loglines--label { color: $text-muted; }
        & > .loglines--match { background: $warning-muted; color: $foreground; }
        & > .loglines--match-current {
            background: $warning;
            color: $background;
            text-style: bold;
        }
        & > .loglines--job-0 { color: $text-primary; }
        & > .loglines--job-1 { color: $text-accent; }
        & > .loglines--job-2 { color: $text-success; }
        & > .loglines--job-3 { color: $text-secondary; }
        & > .loglines--job-4 { color: $text-warning; }
        & > .loglines--job-5 { color: $text-muted; text-style: bold; }
    }
    """

    following: var[bool] = var(True)
    new_lines: var[int] = var(0)  # lines appended while following was paused
    wrap: var[bool] = var(False)  # bound to the log view's
    timestamps: var[bool] = var(False)  # bound to the log view's

    def __init__(self, *, max_lines: int, follow: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self.full = LogBuffer(max_lines)  # every line held
        self.buffer = self.full  # the lines shown: all of them, or grep mode's
        self.labels: LineLabels | None = None  # each line says its task (and job)
        self._grep: Grep | None = None
        self._query = ""  # the search: what grep mode shows
        self.set_reactive(LogLines.following, follow)
        self._programmatic_scroll = False
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(512)

    # ------------------------------------------------------------------ changes

    def append(self, lines: Sequence[LogLine]) -> None:
        """Add a batch of lines: O(len(lines)) work and a single refresh."""
        buffer = self.buffer
        if self._grep is None:
            buffer.append(lines)
            shown = len(lines)
        else:
            self.full.append(lines)
            self.full.drop_overflow()
            picks = self._grep.take(self.full)
            if not picks:
                return
            buffer.copy_lines(self.full, picks)
            shown = len(picks)
        if not self.following:
            self.new_lines += shown
        top_before = self._display_top()
        rows_before = buffer.display_rows()
        if not rows_before:
            self.refresh()  # the first lines: the "No lines yet" goes
        dropped_rows = buffer.drop_overflow()
        self._update_virtual_size()
        if self.following:
            self._scroll_to_end()
            self.refresh()
        elif dropped_rows:
            # Keep the rows the user is reading in place while the front is trimmed.
            self._set_scroll_y(max(0, top_before - dropped_rows))
            self.refresh()
        else:
            # Paused: repaint only the new rows that are on screen (usually none), so a
            # slow link only carries the footer's changed counter.
            bottom = top_before + self.scrollable_content_region.height
            if rows_before < bottom:
                first = max(top_before, rows_before)
                self.refresh_lines(first, bottom - first)

    def clear(self) -> None:
        """Forget every line (e.g. when the pane switches to another job)."""
        self.full.clear()
        if self._grep is not None:
            self.buffer.clear()
            self._grep = Grep(self._grep.pattern, self._grep.context)
        self.new_lines = 0
        self._cache.clear()
        self._update_virtual_size()
        self._set_scroll_y(0)
        self.refresh()

    def set_follow(self, follow: bool) -> None:
        """Follow the end (jumping there now) or stay put."""
        self.following = follow
        if follow:
            self.new_lines = 0
            self._scroll_to_end()
        self.refresh()

    def watch_wrap(self, wrap: bool) -> None:
        """Wrap long lines (hard wrap at the view width) or scroll sideways, keeping the
        line at the top (the buffer still has the old layout here)."""
        top = self._top_line()
        if not wrap:
            self.buffer.wrap(0)
        self._relayout(top)

    def watch_timestamps(self) -> None:
        """Show or hide the HH:MM:SS.mmm prefix (it narrows the wrapped text)."""
        self._relayout(self._top_line())

    def set_labels(self, labels: LineLabels | None) -> None:
        """Start each line with its task, or its job and task (`labels`; None: no prefix),
        or draw the lines again when a label came or grew wider."""
        self.labels = labels
        self._relayout(self._top_line())

    @property
    def grep_context(self) -> int | None:
        """Grep mode's lines of context (None: every line is shown)."""
        return None if self._grep is None else self._grep.context

    def grep(self, context: int | None, query: str | None = None) -> None:
        """Show only the lines the search (`query`, else the last one) matches, with
        `context` lines around each (None, or no search: every line again)."""
        if query is not None:
            self._query = query
            self.full.search(query)
        pattern = self.full.pattern
        self._grep = None if context is None or pattern is None else Grep(pattern, context)
        self.search(self._query)

    def _regrep(self) -> None:
        """Grep mode's lines again, from every line held (a new search, a new context)."""
        pattern = self.full.pattern
        if self._grep is None or pattern is None:
            self._grep = None
            self.buffer = self.full
            return
        self._grep = Grep(pattern, self._grep.context, self.full.dropped)
        self.buffer = LogBuffer(self.full.max_lines)
        self.buffer.search(self._query)
        self.buffer.copy_lines(self.full, self._grep.take(self.full))
        self.new_lines = 0

    def search(self, query: str) -> None:
        """Highlight every case-insensitive occurrence of `query` ("" clears; in grep
        mode, shows every line again).

        The first match shown is the last one when following (the newest), else the
        first at or below the top of the view.
        """
        self._query = query
        shown = self.buffer
        self.full.search(query)
        self._regrep()
        buffer = self.buffer
        if buffer is not shown:
            self._relayout(None)
        self._cache.clear()
        if buffer.matches:
            if self.following:
                buffer.match = len(buffer.matches) - 1
            else:
                top = buffer.dropped + (self._top_line() or (0, 0))[0]
                buffer.match = bisect_left(buffer.matches, top)
                if buffer.match >= len(buffer.matches):
                    buffer.match = 0
            self.show_match()
        self.refresh()

    def user_scroll(self, y: int) -> None:
        """A keyboard scroll: moving up pauses following, reaching the end resumes it."""
        if y < round(self.scroll_y) and self.following:
            self.set_follow(False)
        if not self.following and y >= self.max_scroll_y:
            self.set_follow(True)
            return
        self._set_scroll_y(max(0, y))

    def show_match(self) -> None:
        """Scroll the current match into view (pausing following) and repaint."""
        self._cache.clear()
        buffer = self.buffer
        located = buffer.current_match
        if located is not None:
            index, offset = located
            row = buffer.display_row_of(index, buffer.sub_row_at(index, offset))
            top = self._display_top()
            if not top <= row < top + self.scrollable_content_region.height:
                if self.following:
                    self.set_follow(False)
                # Centred in the rows left once the footer shows.
                height = max(1, self.scrollable_content_region.height - 1)
                self._set_scroll_y(max(0, row - height // 2))
            if not buffer.wrapping:
                x = self._prefix_width() + cells_of(buffer.texts[index][:offset])
                left = round(self.scroll_x)
                width = self.scrollable_content_region.width
                query = buffer.pattern.pattern if buffer.pattern is not None else ""
                if not left <= x < left + width - len(query):
                    self.scroll_to(x=max(0, x - width // 3), animate=False)
        self.refresh()

    # ------------------------------------------------------------------ events

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Any scroll up by the user pauses following; scrolling back to the end resumes."""
        super().watch_scroll_y(old_value, new_value)
        if self._programmatic_scroll:
            return
        # Only a move *away from the end* pauses: Textual clamps scroll_y down to the new
        # end when the view grows or content shrinks, and that must not pause following.
        if self.following and round(new_value) < min(round(old_value), self.max_scroll_y):
            self.following = False
            self.new_lines = 0
            self.refresh()
        elif (
            not self.following
            and round(new_value) > round(old_value)
            and round(new_value) >= self.max_scroll_y
        ):
            self.set_follow(True)

    def watch_show_horizontal_scrollbar(self, shown: bool) -> None:
        """A line wider than the view brings the horizontal scrollbar, a row taken from the
        bottom of the view at the next layout, after the scroll to the end was made: when
        following, scroll to the end again, so that the last line stays above the bar (as
        `less +G` shows it), shown and so read (`last_shown_seq`)."""
        if self.following and shown:
            self._scroll_to_end()

    def on_resize(self, event: events.Resize) -> None:
        """Re-wrap for the new width; stay at the end when following."""
        self._relayout(self._top_line())

    def notify_style_update(self) -> None:
        """Theme or focus changed: cached strips carry old colours."""
        super().notify_style_update()
        self._cache.clear()

    def last_shown_seq(self) -> int:
        """The sequence number of the last line on screen (the bottom of the view; the
        last line when following): how far the user has read (0: no line is shown)."""
        buffer = self.buffer
        rows = buffer.display_rows()
        if not rows or not self.is_mounted or self._grep is not None:
            return 0  # grep mode shows a part: the lines between were not read
        bottom = min(rows - 1, self._display_top() + self.scrollable_content_region.height - 1)
        located = buffer.locate(bottom)
        if located is None:
            return 0
        return buffer.lines[located[0]][0]

    # ------------------------------------------------------------------ layout

    def _prefix_width(self) -> int:
        """Cells before the text: the stream gutter, the label of several tasks' or jobs'
        lines, then the timestamp if shown."""
        labels = 0 if self.labels is None else self.labels.width + len(LABEL_BAR)
        return 1 + labels + (TIMESTAMP_WIDTH if self.timestamps else 0)

    def _update_virtual_size(self) -> None:
        """One virtual row per display row."""
        buffer = self.buffer
        width = self.scrollable_content_region.width
        if not buffer.wrapping:
            width = self._prefix_width() + buffer.max_cells
        size = Size(width, buffer.display_rows())
        if size != self.virtual_size:
            # Assigning `virtual_size` repaints the whole widget; callers repaint just
            # what changed, so set it quietly and ask only for a layout (scrollbars).
            self.set_reactive(LogLines.virtual_size, size)
            self.refresh(repaint=False, layout=True)
            if self.scroll_y > self.max_scroll_y:
                self._set_scroll_y(self.max_scroll_y)

    def _display_top(self) -> int:
        """The display row at the top of the view."""
        return round(self.scroll_y)

    def _top_line(self) -> tuple[int, int] | None:
        """(held index, character offset) at the top of the view, as an anchor."""
        buffer = self.buffer
        top = self._display_top()
        if buffer.dropped and top == 0:
            return None
        located = buffer.locate(top)
        if located is None:
            return None
        index, sub_row = located
        return index, sub_row * buffer.wrap_width

    def _relayout(self, anchor: tuple[int, int] | None) -> None:
        """After wrap/timestamps/width changed: re-wrap, and keep the anchor line on top
        (or the end, when following)."""
        self._cache.clear()
        buffer = self.buffer
        if self.wrap and self.is_mounted:
            buffer.wrap(max(1, self.scrollable_content_region.width - self._prefix_width()))
        self._update_virtual_size()
        if self.following:
            self._scroll_to_end()
        elif anchor is not None:
            index, offset = anchor
            sub_row = 0
            if buffer.wrapping:
                sub_row = min(offset // buffer.wrap_width, buffer.rows_of(index) - 1)
            self._set_scroll_y(buffer.display_row_of(index, sub_row))
        self.refresh()

    def _set_scroll_y(self, y: float) -> None:
        """Scroll without it counting as the user scrolling (no follow/pause change)."""
        self._programmatic_scroll = True
        try:
            self.scroll_to(y=y, animate=False)
        finally:
            self._programmatic_scroll = False

    def _scroll_to_end(self) -> None:
        """Show the last line."""
        self._set_scroll_y(self.max_scroll_y)

    # ------------------------------------------------------------------ rendering

    def render_line(self, y: int) -> Strip:
        """Log rows from the scroll position (the notice first once lines were dropped)."""
        width = self.scrollable_content_region.width
        buffer = self.buffer
        row = self._display_top() + y
        located = buffer.locate(row)
        if located is None:
            style = self.get_component_rich_style("loglines--notice")
            if buffer.dropped and row == 0:
                text = buffer.notice(f"{buffer.dropped:,}")
                return Strip([Segment(text, style)]).adjust_cell_length(width, self.rich_style)
            if not buffer.lines and not buffer.dropped and y == self.size.height // 2:
                return centred(self._empty_message(), width, style, self.rich_style)
            return Strip.blank(width, self.rich_style)
        index, sub_row = located
        key = (buffer.dropped + index, sub_row)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_log_row(index, sub_row)
            self._cache.set(key, strip)
        scroll_x = 0 if buffer.wrapping else round(self.scroll_x)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _empty_message(self) -> str:
        """What the pane says while it shows no line."""
        if self.buffer is not self.full and self.full.lines:
            return no_match("lines", self._query)  # grep mode
        return "No lines yet"

    def _render_log_row(self, index: int, sub_row: int) -> Strip:
        """Build one display row from plain strings: gutter, timestamp, text, highlights."""
        line = self.buffer.lines[index]
        base = self.rich_style
        get_style = self.get_component_rich_style
        level = self.buffer.levels[index]
        if level is LineLevel.ERROR:
            text_style = get_style("loglines--stderr")
            gutter_style = get_style("loglines--gutter-stderr")
        elif level is LineLevel.WARNING:
            text_style = gutter_style = get_style("loglines--warning")
        elif level is LineLevel.SYSTEM:
            text_style = gutter_style = get_style("loglines--system")
        else:
            text_style = gutter_style = base
        segments: list[Segment] = []
        if line[STREAM] == GAP:  # lines grep mode leaves out
            segments.append(Segment(" " * self._prefix_width(), base))
            text_style = get_style("loglines--notice")
        elif sub_row == 0:
            segments.append(Segment(GUTTER[level], gutter_style))
            if (labels := self.labels) is not None:
                label = labels.label_of(line[1], line[2])
                label += " " * max(0, labels.width - cells_of(label)) + LABEL_BAR
                hue = labels.hue_of(line[1], line[2])
                look = "loglines--label" if hue is None else f"loglines--job-{hue}"
                segments.append(Segment(label, get_style(look)))
            if self.timestamps:
                stamp = log_stamp(line[TS]) + " "
                segments.append(Segment(stamp, get_style("loglines--timestamp")))
        else:
            segments.append(Segment(" " * self._prefix_width(), base))
        start, chunk = self.buffer.chunk(index, sub_row)
        segments.extend(self._highlight(chunk, start, index, text_style))
        return Strip(segments)

    def _highlight(self, chunk: str, start: int, index: int, style: Style) -> list[Segment]:
        """Split `chunk` (text[start:...] of line `index`) into plain and match segments."""
        buffer = self.buffer
        pattern = buffer.pattern
        matches = buffer.matches
        if pattern is None or not matches or not chunk:
            return [Segment(chunk, style)]
        absolute = buffer.dropped + index
        position = bisect_left(matches, absolute)
        if position >= len(matches) or matches[position] != absolute:
            return [Segment(chunk, style)]
        if position == buffer.match:
            match_style = self.get_component_rich_style("loglines--match-current")
        else:
            match_style = self.get_component_rich_style("loglines--match")
        end = start + len(chunk)
        segments: list[Segment] = []
        cursor = start
        for found in pattern.finditer(buffer.texts[index]):
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
