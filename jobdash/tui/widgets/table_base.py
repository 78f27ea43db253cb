"""What the dashboard's tables share: a header line and rows on Textual's Line API.

A `ScrollView` whose `render_line` draws line 0 as the header and every other line as a
row from the scroll position; a row cursor that follows its row by key across updates and
posts the table's `Highlighted` / `Selected` messages; the columns fitted to the view
(`fitting`); and a bounded cache of rendered rows (a `Strip` per row version, width and
cursor state), so a row is rendered once per change, not once per frame.

Marks (`show_marks`): while any row is marked, a gutter of `MARK_WIDTH` cells left of the
columns holds the mark of each marked row, whose text is also bold on a tinted background
(bold stays when `NO_COLOR` turns the colours grey). Which rows are marked is the owner's:
the table draws the keys it is given.

The job table and the line table (tasks, schedules, agents) say what their rows are and
how one is drawn; the rest lives here.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from jobdash.present.bulk import MARK
from jobdash.tui.widgets.fitting import centred, fit_columns, needed, spread
from jobdash.tui.widgets.messages import ControlMessage

__all__ = ["RowMessage", "TableBase", "cursor_bindings"]

# Colours a cell may take (a status's tone, or a table's own emphasis), as component classes
# "table--<name>" so they follow the theme.
CELL_STYLES = ("dim", "ok", "warn", "error", "accent", "bold", "bar", "failed")
MARK_WIDTH = 2  # the mark and a space, left of the columns while a row is marked


def cursor_bindings(
    prefix: str, first: str, last: str, select: str, show_select: bool
) -> list[BindingType]:
    """The cursor keys of a table, with ids under `prefix` (the keymap's names for them)."""
    keys = (
        ("up", "cursor_up", "Up"),
        ("down", "cursor_down", "Down"),
        ("pageup", "page_up", "Page up"),
        ("pagedown", "page_down", "Page down"),
        ("home", "cursor_top", first),
        ("end", "cursor_bottom", last),
    )
    bindings: list[BindingType] = [
        Binding(key, action, text, show=False, id=f"{prefix}.{action}")
        for key, action, text in keys
    ]
    bindings.append(Binding("enter", "select_cursor", select, show_select, id=f"{prefix}.select"))
    return bindings


class RowMessage(ControlMessage):
    """A table's message about one row: `key` (None: no row)."""

    def __init__(self, table: TableBase, key: Hashable | None) -> None:
        self.key = key
        super().__init__(table)

    @property
    def table(self) -> TableBase:
        """The table that sent the message."""
        return self.control  # type: ignore[return-value]


class TableBase(ScrollView, can_focus=True):
    """A header and rows with a row cursor; subclasses say what the rows are.

    `cursor` None means "no row chosen" (only with `allow_no_cursor`); the first move then
    picks a row.  Otherwise the cursor is a row index, 0 when the table is empty.
    """

    ALLOW_SELECT = False
    PAGE_SCROLLS_VIEW: ClassVar[bool] = False  # page keys scroll the view by a page too

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "table--header",
        "table--cursor",
        "table--empty",
        "table--marked",
        *(f"table--{name}" for name in CELL_STYLES),
    }

    DEFAULT_CSS = """
    TableBase {
        background: $surface;
        color: $foreground;
        scrollbar-size-vertical: 1;
        &:focus { background-tint: $foreground 5%; }
        & > .table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .table--empty { color: $text-muted; text-style: italic; }
        & > .table--dim { color: $text-muted; }
        & > .table--ok { color: $success; }
        & > .table--warn { color: $warning; }
        & > .table--error { color: $error; text-style: bold; }
        & > .table--accent { color: $accent; }
        & > .table--bold { text-style: bold; }
        & > .table--bar { color: $accent; }
        & > .table--failed { color: $error; }
        & > .table--marked { color: $accent; background: $accent 20%; text-style: bold; }
    }
    """

    def __init__(
        self,
        *,
        cache_size: int,
        allow_no_cursor: bool = False,
        drops: tuple[int, ...] = (),
        narrow: dict[int, int] | None = None,
        want: dict[int, int] | None = None,
        last_drops: tuple[int, ...] = (),
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        """`drops`: indices of the columns to leave out, in this order, while the view is
        too narrow for all; `narrow`: column index -> the width it shrinks to after that;
        `want`: flexible column index -> the width it counts as meanwhile; `last_drops`:
        the columns that go last, rather than the table scrolling (`fit_columns`)."""
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._allow_none = allow_no_cursor
        self._cursor: int | None = None if allow_no_cursor else 0
        self._cursor_key: Hashable | None = None
        self._announced: Hashable | None = None  # the key of the last Highlighted
        self._cache: LRUCache[tuple[Any, ...], Strip] = LRUCache(cache_size)
        self._drops = drops
        self._narrow = narrow or {}
        self._want = want or {}
        self._last_drops = last_drops
        self._fitted: tuple[Hashable, list[tuple[int, int]], dict[int, int]] | None = None
        self._laid_out: tuple[Hashable, list[tuple[int, int]]] | None = None
        self._paint_widths: tuple[int, int] | None = None  # (table, view) during a paint
        self._paint_style: Style | None = None  # `rich_style` during a paint
        self._marks: Collection[Hashable] = ()  # the keys of the marked rows (the owner's)
        self._marked: frozenset[Hashable] = frozenset()  # those keys when last shown

    # ------------------------------------------------------------------ what a table says

    def _row_total(self) -> int:
        """How many rows are shown."""
        raise NotImplementedError

    def _row_key(self, index: int) -> Hashable:
        """The key of shown row `index` (the cursor follows it)."""
        raise NotImplementedError

    def _position(self, key: Hashable) -> int | None:
        """Where the row with `key` is shown, if it is."""
        raise NotImplementedError

    def _column_spec(self) -> list[tuple[int, int]]:
        """(width, least width) of every column; width 0: flexible, at least `least`."""
        raise NotImplementedError

    def _layout_key(self) -> Hashable:
        """What `_column_spec` depends on besides the view (columns sized to the data)."""
        return ()

    def _row_cache_key(self, index: int) -> Hashable:
        """What a row's rendering depends on, besides width and cursor (its version)."""
        raise NotImplementedError

    def _render_row(self, index: int, width: int, is_cursor: bool) -> Strip:
        """Draw shown row `index` in a table `width` cells wide."""
        raise NotImplementedError

    def _header_strip(self, width: int) -> Strip:
        """Draw the header line."""
        raise NotImplementedError

    def _empty_message(self) -> str:
        """The text in the middle of an empty table."""
        raise NotImplementedError

    def _highlighted(self, key: Hashable | None) -> Message:
        """The message saying the cursor is now on the row with `key`."""
        raise NotImplementedError

    def _selected(self, key: Hashable) -> Message:
        """The message saying the user chose the row with `key`."""
        raise NotImplementedError

    def _header_clicked(self, x: int) -> None:
        """A click on the header at table column `x` (0: the first column's first cell)."""

    # ------------------------------------------------------------------ marks

    def show_marks(self, marks: Collection[Hashable]) -> None:
        """Mark the rows whose keys are in `marks` (and no others); call again when the
        owner's marks change. The gutter comes with the first mark and goes with the last."""
        keys = frozenset(marks)
        if marks is self._marks and keys == self._marked:
            return  # nothing changed: no repaint (this runs on every batch of changes)
        had = self._gutter()
        self._marks, self._marked = marks, keys
        if self._gutter() != had:
            self._update_virtual_size()
        self.refresh()

    def is_marked(self, key: Hashable) -> bool:
        """Whether the row with `key` is marked."""
        return key in self._marks

    def _gutter(self) -> int:
        """The cells left of the columns: the marks' while any row is marked."""
        return MARK_WIDTH if self._marks else 0

    def _inner_width(self) -> int:
        """The width the columns share (the table's, less the marks' gutter)."""
        return self._table_width() - self._gutter()

    def _with_mark(self, strip: Strip, marked: bool, is_cursor: bool) -> Strip:
        """A row's strip behind the gutter: a marked row has its mark, and its text bold on
        the mark's background (the cursor row keeps the cursor's colours)."""
        look = self.get_component_rich_style("table--marked")
        base = self.get_component_rich_style("table--cursor") if is_cursor else self.rich_style
        if not marked:
            return Strip([Segment(" " * MARK_WIDTH, base), *strip], strip.cell_length + MARK_WIDTH)
        post = Style(bold=True) if is_cursor else Style(bold=True, bgcolor=look.bgcolor)
        row = Segment.apply_style(strip, post_style=post)
        mark = Segment(MARK + " " * (MARK_WIDTH - 1), look)
        return Strip([mark, *row], strip.cell_length + MARK_WIDTH)

    # ------------------------------------------------------------------ cursor

    def move_cursor(self, row: int) -> None:
        """Put the cursor on shown row `row` (clamped) and scroll it into view."""
        total = self._row_total()
        if not total:
            return
        row = max(0, min(row, total - 1))
        if row != self._cursor:
            if self._cursor is not None:
                self._refresh_row(self._cursor)
            self._cursor = row
            self._refresh_row(row)
        self._cursor_key = self._row_key(row)
        self._scroll_cursor_into_view()
        self._announce()

    def action_cursor_up(self) -> None:
        """Move the cursor one row up."""
        self.move_cursor((self._cursor if self._cursor is not None else 1) - 1)

    def action_cursor_down(self) -> None:
        """Move the cursor one row down."""
        self.move_cursor((self._cursor if self._cursor is not None else -1) + 1)

    def action_page_up(self) -> None:
        """Move the cursor one page up."""
        self._page(-1)

    def action_page_down(self) -> None:
        """Move the cursor one page down."""
        self._page(1)

    def action_cursor_top(self) -> None:
        """Move the cursor to the first row."""
        self.move_cursor(0)

    def action_cursor_bottom(self) -> None:
        """Move the cursor to the last row."""
        self.move_cursor(self._row_total() - 1)

    def action_select_cursor(self) -> None:
        """Post the selection of the row under the cursor (the first, if none is)."""
        if not self._row_total():
            return
        if self._cursor is None:
            self.move_cursor(0)
        self.post_message(self._selected(self._row_key(self._cursor or 0)))

    def _page(self, direction: int) -> None:
        page = self._page_rows()
        if self.PAGE_SCROLLS_VIEW:
            self.scroll_to(y=max(0, round(self.scroll_y) + direction * page), animate=False)
        self.move_cursor((self._cursor or 0) + direction * page)

    def _sync_cursor(self) -> None:
        """Put the cursor back on its row by key; if that row is gone, keep the index."""
        total = self._row_total()
        if not total:
            self._cursor = None if self._allow_none else 0
            self._cursor_key = None
        elif self._cursor is not None:
            key = self._cursor_key
            position = self._position(key) if key is not None else None
            if position is None:
                position = max(0, min(self._cursor, total - 1))
            self._cursor = position
            self._cursor_key = self._row_key(position)
        self._announce()

    def _announce(self) -> None:
        """Post `Highlighted` when the row under the cursor is a different one."""
        key = self._cursor_key if self._cursor is not None else None
        if key != self._announced:
            self._announced = key
            self.post_message(self._highlighted(key))

    def _page_rows(self) -> int:
        """How many rows fit below the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def _refresh_row(self, row: int) -> None:
        """Repaint one shown row if it is on screen."""
        top = round(self.scroll_y)
        if top <= row < top + self._page_rows():
            self.refresh_line(row + 1)  # +1: virtual line 0 is the header

    def _scroll_cursor_into_view(self) -> None:
        """Scroll the least needed to show the cursor row under the header."""
        if self._cursor is None:
            return
        top = round(self.scroll_y)
        page = self._page_rows()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=False)

    # ------------------------------------------------------------------ events

    def on_click(self, event: events.Click) -> None:
        """Click a row to move the cursor there; click the cursor row to select it."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            self._header_clicked(offset.x + round(self.scroll_x) - self._gutter())
            return
        row = round(self.scroll_y) + offset.y - 1
        if 0 <= row < self._row_total():
            event.stop()
            if row == self._cursor:
                self.action_select_cursor()
            else:
                self.move_cursor(row)

    def on_resize(self, event: events.Resize) -> None:
        """The flexible columns take the rest of the width, so the virtual width follows."""
        self._update_virtual_size()

    def notify_style_update(self) -> None:
        """Theme, focus or hover changed: cached strips carry old colours."""
        super().notify_style_update()
        self._cache.clear()

    # ------------------------------------------------------------------ layout

    def _update_virtual_size(self) -> None:
        """One virtual line per shown row, plus the header.

        Assigning `virtual_size` would repaint the whole widget; callers repaint just
        the rows that changed, so it is set quietly with a layout for the scrollbars.
        """
        size = Size(self._table_width(), self._row_total() + 1)
        if size != self.virtual_size:
            self.set_reactive(TableBase.virtual_size, size)
            self.refresh(repaint=False, layout=True)
            if self.scroll_y > self.max_scroll_y:  # rows removed under the view
                self.scroll_to(y=self.max_scroll_y, animate=False)

    def _shown(self) -> tuple[list[tuple[int, int]], dict[int, int]]:
        """(column index, width) of the columns the view has room for (flexible: 0), and
        the least width of each flexible one."""
        view = self.scrollable_content_region.width - self._gutter()
        key = (view, self._layout_key())
        if self._fitted is not None and self._fitted[0] == key:
            return self._fitted[1], self._fitted[2]
        spec = self._column_spec()
        columns = [(n, width, least if width == 0 else 0) for n, (width, least) in enumerate(spec)]
        shown = fit_columns(columns, view, self._drops, self._narrow, self._want, self._last_drops)
        least = {n: spec[n][1] for n, width in shown if width == 0}
        self._fitted = (key, shown, least)
        return shown, least

    def _table_width(self) -> int:
        """The view, or wider (scrolling) if even the fitted columns need more."""
        shown, least = self._shown()
        view = self.scrollable_content_region.width
        return max(view, needed(shown, least) + self._gutter())

    def _layout(self, width: int) -> list[tuple[int, int]]:
        """(column index, width) of the shown columns in a table `width` cells wide."""
        view = self._paint_widths[1] if self._paint_widths else self.scrollable_content_region.width
        key = (width, view, self._gutter(), self._layout_key())
        if self._laid_out is not None and self._laid_out[0] == key:
            return self._laid_out[1]
        layout = spread(*self._shown(), width)
        self._laid_out = (key, layout)
        return layout

    # ------------------------------------------------------------------ rendering

    def render_lines(self, crop: Region) -> list[Strip]:
        """The table's and the view's widths, and its style, are worked out once per paint,
        not per line."""
        self._paint_widths = (self._table_width(), self.scrollable_content_region.width)
        self._paint_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._paint_widths = None
            self._paint_style = None

    @property
    def rich_style(self) -> Style:
        """Textual's works it out from every ancestor's styles at each call: a paint keeps
        the one it began with, the same for every line (a row's cells use it)."""
        return super().rich_style if self._paint_style is None else self._paint_style

    def render_line(self, y: int) -> Strip:
        """Line 0 is the fixed header; the others are rows from the scroll position."""
        width, view_width = self._paint_widths or (
            self._table_width(),
            self.scrollable_content_region.width,
        )
        scroll_x = round(self.scroll_x)
        if y == 0:
            gutter = self._gutter()
            strip = self._header_strip(width - gutter)
            if gutter:
                style = self.get_component_rich_style("table--header")
                strip = Strip([Segment(" " * gutter, style), *strip], width)
        elif not self._row_total():
            return self._empty_strip(y, view_width)
        else:
            row = round(self.scroll_y) + y - 1
            if row >= self._row_total():
                return Strip.blank(view_width, self.rich_style)
            strip = self._row_strip(row, width)
        if scroll_x or strip.cell_length != view_width:
            strip = strip.crop_extend(scroll_x, scroll_x + view_width, self.rich_style)
        return strip

    def _row_strip(self, row: int, width: int) -> Strip:
        """Render (or fetch from the cache) the full-width strip for shown row `row`."""
        # 0: plain row, 1: cursor (table blurred), 2: cursor (table focused).
        cursor_state = (2 if self.has_focus else 1) if row == self._cursor else 0
        gutter = self._gutter()
        marked = bool(gutter) and self._row_key(row) in self._marks
        cache_key = (self._row_cache_key(row), width, cursor_state, gutter, marked)
        strip = self._cache.get(cache_key)
        if strip is None:
            strip = self._render_row(row, width - gutter, cursor_state != 0)
            if gutter:
                strip = self._with_mark(strip, marked, cursor_state != 0)
            self._cache.set(cache_key, strip)
        return strip

    def _empty_strip(self, y: int, width: int) -> Strip:
        """A dim, centred message in the middle of an empty table."""
        height = self.scrollable_content_region.height
        if y != max(1, height // 2):
            return Strip.blank(width, self.rich_style)
        style = self.get_component_rich_style("table--empty")
        return centred(self._empty_message(), width, style, self.rich_style)
