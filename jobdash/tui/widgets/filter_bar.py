"""The filter bar (`/`): the query language of `jobdash jobs`, applied as you type.

It parses the text on every change (`jobdash.core.query.parse_query`); a valid query is
posted as `FilterBar.Applied`, an invalid one shows its one-line error in the bar and the
last valid filter stays in force. `esc` clears the filter and closes the bar; `enter`
keeps the filter and gives the focus back to the table.

The bar is hidden until `/` opens it: its field (a Textual `Input`, whose styles are the
longest of the dashboard's first frame) is made after that frame (`fill`, with the
hidden tabs' panes), or at once when `/` comes first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import AwaitMount, Widget
from textual.widgets import Input, Static

from jobdash.core.model import BadInput
from jobdash.core.query import Query, parse_query
from jobdash.present.text import sanitize
from jobdash.tui.keymap import key_for

PLACEHOLDER = "text  status:failed  type:import  user:alice  since:1h  -field:value   ({} clears)"


class FilterInput(Input):
    """The bar's field: its `enter` is the bar's (`FilterBar.action_done`)."""

    def __init__(self, done: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._finish = done

    async def action_submit(self) -> None:
        """`enter` read before `/` had opened the bar: it reached the table first and came
        back up to this field's binding, the keys read after it still behind it."""
        self._finish()


class FilterBar(Vertical):
    """An input for the filter query, with a line for its error."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_and_close", "Clear filter", id="filter.escape"),
        # A priority binding runs as the app reads the key, before it hands on the keys
        # read with it: the focus leaves the field before the key after `enter` is given
        # to a widget (`fail⏎s` filters on "fail" and sorts; not on "fails"). An `enter`
        # read before `/` opened the bar comes to the field's own binding (`FilterInput`).
        Binding("enter", "done", "Keep filter", show=False, priority=True, id="filter.enter"),
    ]

    DEFAULT_CSS = """
    FilterBar {
        height: auto;
        background: $panel;
        padding: 0 1;
        #filter-row { height: 1; }
        #filter-prompt { width: 2; color: $accent; text-style: bold; }
        Input { border: none; height: 1; padding: 0; background: $panel; }
        Input:focus { border: none; background-tint: $foreground 5%; }
        #filter-error { display: none; color: $error; height: auto; max-height: 2; }
        &.-invalid #filter-prompt { color: $error; }
    }
    """

    class Applied(Message):
        """A valid query to apply (an empty one shows everything)."""

        def __init__(self, bar: FilterBar, query: Query, text: str) -> None:
            self.bar = bar
            self.query = query
            self.text = text
            super().__init__()

    class _Done(Message):
        """`enter`, queued behind the keys the field has yet to take in (see `action_done`)."""

    class Closed(Message):
        """The user is done with the bar (enter or esc): focus goes back to the table."""

        def __init__(self, bar: FilterBar, cleared: bool) -> None:
            self.bar = bar
            self.cleared = cleared
            super().__init__()

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.query_text = ""  # the text of the filter in force
        self.error = ""
        self._filling: AwaitMount | None = None
        self._came_from: Widget | None = None  # what had the focus when the bar opened

    def compose(self) -> ComposeResult:
        yield from ()  # the field is made by `fill`, after the first frame

    async def fill(self) -> None:
        """Make the field and its error line, once: after the first frame (which shows
        none of it), or when the bar is first opened. The bar stays hidden meanwhile."""
        if self._filling is None:
            placeholder = PLACEHOLDER.format(key_for(self.app, "filter.escape"))
            row = Horizontal(
                Static("/", id="filter-prompt"),
                FilterInput(
                    self.action_done,
                    placeholder=placeholder,
                    id="filter-input",
                    select_on_focus=False,
                ),
                id="filter-row",
            )
            self._filling = self.mount(row, Static("", id="filter-error"))
        await self._filling

    @property
    def filled(self) -> bool:
        """Whether the field is there (`fill` has mounted it)."""
        return bool(self.query("#filter-input"))

    @property
    def input(self) -> Input:
        """The field: there once the bar is `filled` (the first frame has none)."""
        return self.query_one("#filter-input", Input)

    @property
    def typing(self) -> bool:
        """Whether the field has the focus (False before it is made)."""
        return self.filled and self.input.has_focus

    @property
    def active(self) -> bool:
        """Whether a non-empty filter is in force."""
        return bool(self.query_text.strip())

    async def open(self) -> None:
        """Show the bar and put the cursor at the end of the current text (the field made
        first if `/` came before it was). The focus moves now, not once the keys already
        read are handled (`Widget.focus` waits for them), so that the text typed right
        after `/` is the filter's (see `JobdashApp.on_key`)."""
        await self.fill()
        self.display = True
        if self.screen.focused is not self.input:
            self._came_from = self.screen.focused
        self.screen.set_focus(self.input)
        self.input.cursor_position = len(self.input.value)

    def clear(self) -> None:
        """Drop the filter (the table shows everything again)."""
        self.input.value = ""  # posts Input.Changed -> Applied(empty)
        self._apply("")

    @on(Input.Changed, "#filter-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if event.value != self.input.value:
            # Keys typed faster than the tables filter are already in the input, each
            # with its own Changed queued behind this one: the last one applies the
            # newest text, and the ones before it would only delay it (~40 ms each).
            return
        self._apply(event.value)

    def action_done(self) -> None:
        """`enter`: the focus goes back at once to where it came from, so that the keys
        read with this one go there; the keys read before it are already the field's, and
        the bar closes once it has taken them in (`_Done` waits behind them in its queue)."""
        came_from = self._came_from
        if came_from is not None and came_from.is_attached and came_from.focusable:
            self.screen.set_focus(came_from)
        self.input.post_message(self._Done())

    @on(_Done)
    def _done(self, event: _Done) -> None:
        event.stop()
        self._apply(self.input.value)  # the text as typed, its Changed still queued
        if not self.active:
            self.display = False
        self.post_message(self.Closed(self, cleared=False))

    def _apply(self, text: str) -> None:
        try:
            query = parse_query(text)
        except BadInput as e:
            self._show_error(str(e))
            return
        self._show_error("")
        if text == self.query_text:
            return
        self.query_text = text
        self.post_message(self.Applied(self, query, text))

    def _show_error(self, message: str) -> None:
        if message == self.error:
            return  # Static.update re-lays out the screen: not on every keystroke
        self.error = message
        error = self.query_one("#filter-error", Static)
        error.update(Text(sanitize(message)))
        error.display = bool(message)
        self.set_class(bool(message), "-invalid")

    def action_clear_and_close(self) -> None:
        self.clear()
        self.display = False
        self.post_message(self.Closed(self, cleared=True))
