"""A streaming log pane that keeps up with thousands of lines per second.

A container, composed the way toolong composes its log view: the lines (`LogLines`, on
the Line API, fed in batches), the paused footer ("following paused — 12 new lines") and a
search bar holding a real `Input`, shown while a search is open.  The keys are the pane's
and work wherever the focus is inside it; the lines view does the work.

Keys: `f` follow, `w` wrap, `t` timestamps, `/` search (enter runs it, `n`/`N` move,
`esc` closes), `ctrl+g` grep mode (in the search bar or after it: only the lines the
search matches, with `+`/`-` lines of context around each; `ctrl+g` again: every line),
`s` save (posts `SaveRequested`; the screen picks the path), `g`/`home` the first line,
`G`/`end` the last (and follow).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Self

from textual import events, on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.widgets import Input, Label

from jobdash.core.model import LogLine
from jobdash.present.text import sanitize
from jobdash.present.words import plural_word
from jobdash.tui.keymap import key_for
from jobdash.tui.widgets.log_buffer import HeldLine, LogBuffer
from jobdash.tui.widgets.log_grep import GREP_CONTEXT, MAX_CONTEXT
from jobdash.tui.widgets.log_lines import LogLines
from jobdash.tui.widgets.messages import ControlMessage

__all__ = ["HeldLine", "LogView", "log_bindings"]

# (key, action, description, shown in the footer, id) of the pane's own keys...
_KEYS = (
    ("f", "toggle_follow", "Follow", True, "log.follow"),
    ("w", "toggle_wrap", "Wrap", True, "log.wrap"),
    ("t", "toggle_timestamps", "Timestamps", True, "log.timestamps"),
    ("slash", "search", "Search", True, "log.search"),
    ("n", "next_match", "Next match", False, "log.next"),
    ("N", "prev_match", "Previous match", False, "log.prev"),
    ("ctrl+g", "toggle_grep", "Grep mode", False, "log.grep"),
    ("s", "save", "Save log", True, "log.save"),
)
# ...and its scroll keys (not in the footer), as (key, action, description, id).
_SCROLL_KEYS = (
    ("up", "scroll_up", "Scroll up", "log.scroll_up"),
    ("down", "scroll_down", "Scroll down", "log.scroll_down"),
    ("pageup", "page_up", "Page up", "log.page_up"),
    ("pagedown", "page_down", "Page down", "log.page_down"),
    ("home,g", "scroll_home", "Top", "log.top"),
    ("end,G", "scroll_end", "End (follow)", "log.end"),
    ("plus", "grep_context(1)", "More context (grep)", "log.more_context"),
    ("minus", "grep_context(-1)", "Less context (grep)", "log.less_context"),
)


def log_bindings(
    action: Callable[[str], str] = str, show: bool = True, until: str = "log.save"
) -> list[BindingType]:
    """The log pane's own keys up to the one with id `until`; `action` turns an action
    name into the binding's action (a screen forwarding the keys to its pane), `show` False
    keeps them all out of the footer."""
    ids = [key[4] for key in _KEYS]
    return [
        Binding(key, action(name), text, show=show and shown, id=binding_id)
        for key, name, text, shown, binding_id in _KEYS[: ids.index(until) + 1]
    ]


class LogSearch(Horizontal):
    """The search bar: "/", the query being typed, and how the search went."""

    DEFAULT_CSS = """
    LogSearch {
        height: 1;
        background: $panel;
        color: $foreground;
        display: none;
        &.-open { display: block; }
        Label { width: auto; height: 1; }
        Input {
            width: 1fr;
            height: 1;
            border: none;
            padding: 0;
            background: $panel;
            &:focus { border: none; background-tint: $foreground 0%; }
        }
        #log-search-hint { color: $text-muted; }
    }
    """

    def compose(self) -> ComposeResult:
        yield Label("/", markup=False)
        yield Input(id="log-search-input", select_on_focus=False)
        yield Label("", id="log-search-hint", markup=False)

    @on(Input.Changed)
    def _inert(self, event: Input.Changed) -> None:
        """A pasted query shows its control characters as stand-ins, as the log does."""
        clean = sanitize(event.value)
        if clean != event.value:
            event.input.value = clean


class LogView(Vertical):
    """The log of one job: follows new lines, pauses when scrolled up, wraps, searches."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *log_bindings(),
        *(Binding(key, name, text, show=False, id=id_) for key, name, text, id_ in _SCROLL_KEYS),
    ]

    DEFAULT_CSS = """
    LogView {
        height: 1fr;
        #log-footer {
            height: 1;
            width: 1fr;
            background: $warning-muted;
            color: $foreground;
            display: none;
            &.-paused { display: block; }
        }
    }
    """

    wrap: var[bool] = var(False)  # long lines wrap onto several display rows
    timestamps: var[bool] = var(False)  # each line starts with its HH:MM:SS.mmm time

    class SaveRequested(ControlMessage):
        """The user pressed `s`: the screen should ask for a path and write `export_text()`."""

        @property
        def log_view(self) -> LogView:
            """The log view to save."""
            return self.control  # type: ignore[return-value]

    def __init__(
        self,
        *,
        max_lines: int = 200_000,
        follow: bool = True,
        wrap: bool = False,
        timestamps: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """Create an empty log view.

        Args:
            max_lines: Lines kept in memory; older ones are dropped (and counted).
            follow: Start following the end.
            wrap: Start with long lines wrapped.
            timestamps: Start with a timestamp before each line.
        """
        super().__init__(id=id, classes=classes)
        self.lines_view = LogLines(max_lines=max_lines, follow=follow)
        self.set_reactive(LogView.wrap, wrap)
        self.set_reactive(LogView.timestamps, timestamps)
        self._searched = ""  # the query the matches belong to
        self._grep_context = GREP_CONTEXT  # kept while the pane lives

    def compose(self) -> ComposeResult:
        yield self.lines_view.data_bind(LogView.wrap, LogView.timestamps)
        yield Label("", id="log-footer", markup=False)
        yield LogSearch()

    def on_mount(self) -> None:
        self.watch(self.lines_view, "following", self._show_footer)
        self.watch(self.lines_view, "new_lines", self._show_footer)

    def focus(self, scroll_visible: bool = True) -> Self:
        """Focus the lines (the pane itself takes no focus: its keys work inside it)."""
        self.lines_view.focus(scroll_visible)
        return self

    # ------------------------------------------------------------------ public API

    @property
    def _buffer(self) -> LogBuffer:
        """The lines shown (grep mode's, or all of them)."""
        return self.lines_view.buffer

    @property
    def line_count(self) -> int:
        """Lines held in memory."""
        return len(self._buffer.lines)

    @property
    def dropped_count(self) -> int:
        """Lines dropped from the front to respect `max_lines`."""
        return self._buffer.dropped

    @property
    def lines(self) -> Sequence[HeldLine]:
        """The lines held, oldest first (read-only view; do not mutate)."""
        return self._buffer.held

    def last_shown_seq(self) -> int:
        """The sequence number of the last line on screen: how far it has been read."""
        return self.lines_view.last_shown_seq()

    @property
    def following(self) -> bool:
        """Whether the view sticks to the end as lines arrive."""
        return self.lines_view.following

    def append(self, lines: Sequence[LogLine]) -> None:
        """Add a batch of lines: O(len(lines)) work and a single refresh."""
        if not lines:
            return
        self.lines_view.append(lines)
        if self._searched:
            self._show_hint()

    def clear(self) -> None:
        """Forget every line (e.g. when the pane switches to another job)."""
        self.lines_view.clear()
        if self._searched:
            self._show_hint()

    def export_text(self, timestamps: bool | None = None) -> str:
        """The log as plain text, one line per log line, for saving to a file.

        This is the job's raw output (escapes included): a file is not a terminal, and
        a saved log should say exactly what the job printed.  `timestamps` None follows
        the current display setting.
        """
        with_ts = self.timestamps if timestamps is None else timestamps
        return self.lines_view.full.export_text(with_ts)

    def search(self, query: str) -> int:
        """Highlight every case-insensitive occurrence of `query`; returns the count.

        The first match shown is the last one when following (the newest), else the
        first at or below the top of the view.
        """
        self._input.value = query
        self._searched = query
        self._open_search(editing=False)
        self.lines_view.search(query)
        self._show_hint()
        return self.match_count

    def close_search(self) -> None:
        """Hide the search bar and the highlights."""
        self._searched = ""
        self.query_one(LogSearch).remove_class("-open")
        self.lines_view.search("")
        if self._input.has_focus:
            self.lines_view.focus()

    @property
    def search_query(self) -> str:
        """The text in the search bar."""
        return self._input.value

    @property
    def match_count(self) -> int:
        """Lines matching the last search (among those still in memory)."""
        return len(self._buffer.matches)

    @property
    def current_match(self) -> tuple[int, int] | None:
        """(index into `lines`, offset of the first occurrence) of the current match."""
        return self._buffer.current_match

    # ------------------------------------------------------------------ actions

    def action_toggle_follow(self) -> None:
        """Toggle following the end."""
        self.lines_view.set_follow(not self.following)

    def action_toggle_wrap(self) -> None:
        """Toggle wrapping of long lines."""
        self.wrap = not self.wrap

    def action_toggle_timestamps(self) -> None:
        """Toggle timestamps."""
        self.timestamps = not self.timestamps

    def action_search(self) -> None:
        """Open the search bar for typing."""
        self._open_search(editing=True)

    def action_next_match(self) -> None:
        """Go to the next match (wrapping around)."""
        self._step(1)

    def action_prev_match(self) -> None:
        """Go to the previous match (wrapping around)."""
        self._step(-1)

    @property
    def grep_context(self) -> int | None:
        """Grep mode's lines of context around each match (None: every line is shown)."""
        return self.lines_view.grep_context

    def action_toggle_grep(self) -> None:
        """Grep mode on (the search being typed, or the last one, runs first) or off."""
        lines = self.lines_view
        if lines.grep_context is not None:
            lines.grep(None)
            self._show_hint()
            return
        query = self._input.value
        if not query:
            self.action_search()  # nothing to grep for yet: type it, then ctrl+g
            return
        if query != self._searched or self._input.has_focus:
            self._searched = query
            self._open_search(editing=False)
            lines.focus()
        lines.grep(self._grep_context, query)
        self._show_hint()

    def action_grep_context(self, step: int) -> None:
        """More or fewer lines of context around each match, in grep mode."""
        context = self.lines_view.grep_context
        if context is None:
            raise SkipAction()
        self._grep_context = max(0, min(MAX_CONTEXT, context + step))
        self.lines_view.grep(self._grep_context)
        self._show_hint()

    def action_save(self) -> None:
        """Ask the screen to save the log."""
        self.post_message(self.SaveRequested(self))

    def action_scroll_up(self) -> None:
        """Scroll up one row (pauses following)."""
        self.lines_view.user_scroll(round(self.lines_view.scroll_y) - 1)

    def action_scroll_down(self) -> None:
        """Scroll down one row (reaching the end resumes following)."""
        self.lines_view.user_scroll(round(self.lines_view.scroll_y) + 1)

    def action_page_up(self) -> None:
        """Scroll up one page (pauses following)."""
        lines = self.lines_view
        lines.user_scroll(round(lines.scroll_y) - lines.scrollable_content_region.height)

    def action_page_down(self) -> None:
        """Scroll down one page (reaching the end resumes following)."""
        lines = self.lines_view
        lines.user_scroll(round(lines.scroll_y) + lines.scrollable_content_region.height)

    def action_scroll_home(self) -> None:
        """Go to the first line (pauses following)."""
        self.lines_view.user_scroll(0)

    def action_scroll_end(self) -> None:
        """Go to the last line and follow."""
        self.lines_view.set_follow(True)

    # ------------------------------------------------------------------ events

    @on(Input.Submitted, "#log-search-input")
    def _submitted(self, event: Input.Submitted) -> None:
        """Enter runs the search; the keys go back to the lines (n/N move)."""
        event.stop()
        self.lines_view.focus()
        self.search(event.value)

    @on(Input.Changed, "#log-search-input")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()

    def on_key(self, event: events.Key) -> None:
        """Escape closes an open search, wherever the focus is in the pane."""
        if event.key == "escape" and self.query_one(LogSearch).has_class("-open"):
            event.stop()
            event.prevent_default()
            self.close_search()

    # ------------------------------------------------------------------ internals

    @property
    def _input(self) -> Input:
        return self.query_one("#log-search-input", Input)

    def _step(self, direction: int) -> None:
        buffer = self._buffer
        if not buffer.matches:
            raise SkipAction()
        buffer.match = (buffer.match + direction) % len(buffer.matches)
        self.lines_view.show_match()
        self._show_hint()

    def _open_search(self, editing: bool) -> None:
        bar = self.query_one(LogSearch)
        bar.add_class("-open")
        if editing:
            self._input.focus()
            grep = key_for(self.app, "log.grep")
            hint = f"  enter search · {grep} grep · esc close"
            self.query_one("#log-search-hint", Label).update(hint)

    def _show_hint(self) -> None:
        """How the search went: "2/5  n/N next/previous", "no matches"."""
        buffer = self._buffer
        grep = key_for(self.app, "log.grep")
        context = self.lines_view.grep_context
        if context is not None:
            lines = plural_word(context, "line")
            grep = f"grep: {context} {lines} of context (+/-) · {grep} every line"
        else:
            grep = f"{grep} grep"
        if not self._searched:
            hint = ""
        elif buffer.matches:
            keys = f"{key_for(self.app, 'log.next')}/{key_for(self.app, 'log.prev')}"
            hint = f"  {buffer.match + 1}/{len(buffer.matches)}  {keys} next/previous · {grep}"
            hint += " · esc close"
        else:
            hint = f"  no matches · {grep} · esc close"
        self.query_one("#log-search-hint", Label).update(hint)

    def _show_footer(self) -> None:
        """The footer says the view is paused, with how many lines came since."""
        lines = self.lines_view
        footer = self.query_one("#log-footer", Label)
        footer.set_class(not lines.following, "-paused")
        if not lines.following:
            count = lines.new_lines
            key = key_for(self.app, "log.follow")
            new = f" — {count:,} new {plural_word(count, 'line')}" if count else ""
            footer.update(f"⏸ following paused{new} ({key} to follow)")
