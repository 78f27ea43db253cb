"""A small table on Textual's Line API: rows of plain-text cells, a row cursor, and
repaints limited to the rows that changed.

Used for the tasks of a job (a job may have 50,000 tasks), the schedules and the agents.
Unlike `DataTable`, replacing the rows with `set_rows` compares them with the previous
ones and repaints only the lines whose cells changed, so a 1 s heartbeat-age tick costs
one line per agent on the wire, not the whole table.

Cells are plain strings, sanitized and turned into `Segment`s: nothing is parsed as markup.
A cell's style is a short name ("dim", "ok", "warn", "error", "accent", "bold") mapped to a
component class, so colours follow the theme.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import ClassVar, Literal, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from jobdash.present.text import sanitize
from jobdash.tui.widgets.fitting import fit_columns

__all__ = ["STYLES", "Cell", "LineTable", "Row", "TableColumn"]

STYLES = ("dim", "ok", "warn", "error", "accent", "bold")


class TableColumn(NamedTuple):
    """`width` 0: takes the rest of the line (at least `min_width`)."""

    label: str
    width: int
    align: Literal["left", "right"] = "left"
    min_width: int = 8


class Cell(NamedTuple):
    text: str
    style: str = ""  # one of STYLES, or "" for the row's style


class Row(NamedTuple):
    key: Hashable
    cells: tuple[Cell | str, ...]


def _fit(text: str, width: int, align: str = "left") -> str:
    if width <= 0:
        return ""
    length = len(text) if text.isascii() else cell_len(text)
    if length > width:
        return (text[: width - 1] if text.isascii() else set_cell_size(text, width - 1)) + "…"
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


class LineTable(ScrollView, can_focus=True):
    """Rows of cells with a header line and an optional-selection row cursor.

    `cursor` None means "no row chosen" (`allow_no_cursor`); the first move picks a row.
    """

    ALLOW_SELECT = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False, id="table.cursor_up"),
        Binding("down", "cursor_down", "Down", show=False, id="table.cursor_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="table.page_down"),
        Binding("home", "cursor_top", "First", show=False, id="table.cursor_top"),
        Binding("end", "cursor_bottom", "Last", show=False, id="table.cursor_bottom"),
        Binding("enter", "select_cursor", "Select", show=False, id="table.select"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "linetable--header",
        "linetable--cursor",
        "linetable--empty",
        *(f"linetable--{name}" for name in STYLES),
    }

    DEFAULT_CSS = """
    LineTable {
        background: $surface;
        color: $foreground;
        scrollbar-size-vertical: 1;
        &:focus { background-tint: $foreground 5%; }
        & > .linetable--header { text-style: bold; background: $panel; color: $foreground; }
        & > .linetable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .linetable--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .linetable--empty { color: $text-muted; text-style: italic; }
        & > .linetable--dim { color: $text-muted; }
        & > .linetable--ok { color: $success; }
        & > .linetable--warn { color: $warning; }
        & > .linetable--error { color: $error; text-style: bold; }
        & > .linetable--accent { color: $accent; }
        & > .linetable--bold { text-style: bold; }
    }
    """

    class Highlighted(Message):
        """The cursor moved to another row (`key` None: no row chosen)."""

        def __init__(self, table: LineTable, key: Hashable | None) -> None:
            self.table = table
            self.key = key
            super().__init__()

        @property
        def control(self) -> LineTable:
            return self.table

    class Selected(Message):
        """Enter (or a click on the cursor row) on a row."""

        def __init__(self, table: LineTable, key: Hashable) -> None:
            self.table = table
            self.key = key
            super().__init__()

        @property
        def control(self) -> LineTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[TableColumn],
        *,
        empty_text: str = "Nothing to show",
        allow_no_cursor: bool = False,
        drops: Sequence[str] = (),
        narrow: Mapping[str, int] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`drops`: labels of the columns to leave out, in this order, while the view is
        too narrow for all; `narrow`: label -> the width a column shrinks to after that."""
        super().__init__(name=name, id=id, classes=classes)
        self.columns = tuple(columns)
        self.drops = tuple(drops)
        self.narrow = dict(narrow or {})
        self._fitted: tuple[int, list[tuple[int, int]]] | None = None  # (view width, shown)
        self.empty_text = empty_text
        self._allow_none = allow_no_cursor
        self._rows: list[Row] = []
        self._index: dict[Hashable, int] = {}
        self._cursor: int | None = None if allow_no_cursor else 0
        self._cursor_key: Hashable | None = None
        self._announced: Hashable | None = None
        self._cache: LRUCache[tuple[Hashable, tuple[object, ...], int, int], Strip] = LRUCache(1024)

    # ------------------------------------------------------------------ public API

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def rows(self) -> Sequence[Row]:
        return self._rows

    @property
    def cursor_key(self) -> Hashable | None:
        """Key of the row under the cursor (None when no row is chosen or no rows)."""
        if self._cursor is None or not self._rows:
            return None
        return self._rows[self._cursor].key

    @property
    def cursor_row(self) -> int | None:
        return self._cursor if self._rows else None

    def row_text(self, index: int) -> str:
        """A row's cells joined by spaces (for tests and accessibility)."""
        return " ".join(c.text if isinstance(c, Cell) else c for c in self._rows[index].cells)

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace the rows; the cursor stays on its key; only changed lines repaint."""
        old = self._rows
        rows = list(rows)
        same_keys = len(old) == len(rows) and all(
            a.key == b.key for a, b in zip(old, rows, strict=True)
        )
        self._rows = rows
        if same_keys:
            changed = [i for i, (a, b) in enumerate(zip(old, rows, strict=True)) if a != b]
            self._sync_cursor()
            top = round(self.scroll_y)
            page = self._page_rows()
            for i in changed:
                if top <= i < top + page:
                    self.refresh_line(i + 1)  # +1: the header line
            return
        self._index = {row.key: i for i, row in enumerate(rows)}
        self._sync_cursor()
        self._update_virtual_size()
        self.refresh()

    def clear_cursor(self) -> None:
        """No row chosen (only with `allow_no_cursor`)."""
        if not self._allow_none or self._cursor is None:
            return
        self._cursor = None
        self._cursor_key = None
        self._announce()
        self.refresh()

    def move_cursor(self, row: int) -> None:
        if not self._rows:
            return
        row = max(0, min(row, len(self._rows) - 1))
        self._cursor = row
        self._cursor_key = self._rows[row].key
        top = round(self.scroll_y)
        page = self._page_rows()
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + page:
            self.scroll_to(y=row - page + 1, animate=False)
        self.refresh()
        self._announce()

    def select_key(self, key: Hashable) -> bool:
        position = self._index.get(key)
        if position is None:
            return False
        self.move_cursor(position)
        return True

    # ------------------------------------------------------------------ actions

    def action_cursor_up(self) -> None:
        self.move_cursor((self._cursor if self._cursor is not None else 1) - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor((self._cursor if self._cursor is not None else -1) + 1)

    def action_page_up(self) -> None:
        self.move_cursor((self._cursor or 0) - self._page_rows())

    def action_page_down(self) -> None:
        self.move_cursor((self._cursor or 0) + self._page_rows())

    def action_cursor_top(self) -> None:
        self.move_cursor(0)

    def action_cursor_bottom(self) -> None:
        self.move_cursor(len(self._rows) - 1)

    def action_select_cursor(self) -> None:
        key = self.cursor_key
        if key is None and self._rows:
            self.move_cursor(0)
            key = self.cursor_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    # ------------------------------------------------------------------ events

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        row = round(self.scroll_y) + offset.y - 1
        if 0 <= row < len(self._rows):
            event.stop()
            if row == self._cursor:
                self.action_select_cursor()
            else:
                self.move_cursor(row)

    def on_resize(self, event: events.Resize) -> None:
        self._cache.clear()
        self._update_virtual_size()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    # ------------------------------------------------------------------ internals

    def _page_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _sync_cursor(self) -> None:
        rows = self._rows
        if not rows:
            self._cursor = None if self._allow_none else 0
            self._cursor_key = None
        elif self._cursor is not None:
            position = self._index.get(self._cursor_key) if self._cursor_key is not None else None
            if position is None:
                position = max(0, min(self._cursor, len(rows) - 1))
            if position != self._cursor:
                self.refresh()
            self._cursor = position
            self._cursor_key = rows[position].key
        self._announce()

    def _announce(self) -> None:
        key = self._cursor_key if self._cursor is not None else None
        if key != self._announced:
            self._announced = key
            self.post_message(self.Highlighted(self, key))

    def _update_virtual_size(self) -> None:
        size = Size(self._table_width(), len(self._rows) + 1)
        if size != self.virtual_size:
            self.set_reactive(LineTable.virtual_size, size)
            self.refresh(repaint=False, layout=True)
            if self.scroll_y > self.max_scroll_y:
                self.scroll_to(y=self.max_scroll_y, animate=False)

    def _shown(self) -> list[tuple[int, int]]:
        """(column index, width) of the columns the view has room for (flexible: 0)."""
        view = self.scrollable_content_region.width
        if self._fitted is not None and self._fitted[0] == view:
            return self._fitted[1]
        fitted = fit_columns(
            [(c.label, c.width, c.min_width if c.width == 0 else 0) for c in self.columns],
            view,
            self.drops,
            self.narrow,
        )
        index = {c.label: n for n, c in enumerate(self.columns)}
        shown = [(index[label], width) for label, width in fitted]
        self._fitted = (view, shown)
        return shown

    def _table_width(self) -> int:
        """The view, or wider (scrolling) if even the fitted columns need more."""
        shown = self._shown()
        need = sum(w or self.columns[n].min_width for n, w in shown) + len(shown) - 1
        return max(self.scrollable_content_region.width, need)

    def _widths(self, width: int) -> list[tuple[int, int]]:
        """(column index, width) of the shown columns in a table `width` cells wide: the
        flexible ones share what the others leave."""
        shown = self._shown()
        fixed = sum(w for _, w in shown) + len(shown) - 1
        flex = [n for n, w in shown if w == 0]
        share = max(0, width - fixed) // len(flex) if flex else 0
        return [(n, w or max(self.columns[n].min_width, share)) for n, w in shown]

    def render_line(self, y: int) -> Strip:
        width = self._table_width()
        view_width = self.scrollable_content_region.width
        scroll_x = round(self.scroll_x)
        if y == 0:
            strip = self._header(width)
        elif not self._rows:
            if y != 1 + (self.scrollable_content_region.height - 1) // 2:
                return Strip.blank(view_width, self.rich_style)
            style = self.get_component_rich_style("linetable--empty")
            text = _fit(sanitize(self.empty_text), view_width)
            pad = max(0, (view_width - cell_len(text.rstrip())) // 2)
            return Strip([Segment(" " * pad + text.rstrip(), style)]).adjust_cell_length(
                view_width, self.rich_style
            )
        else:
            index = round(self.scroll_y) + y - 1
            if index >= len(self._rows):
                return Strip.blank(view_width, self.rich_style)
            row = self._rows[index]
            state = 0
            if index == self._cursor:
                state = 2 if self.has_focus else 1
            key = (row.key, row.cells, width, state)
            cached = self._cache.get(key)
            if cached is None:
                cached = self._render_row(row, width, state != 0)
                self._cache.set(key, cached)
            strip = cached
        return strip.crop_extend(scroll_x, scroll_x + view_width, self.rich_style)

    def _header(self, width: int) -> Strip:
        style = self.get_component_rich_style("linetable--header")
        columns = self.columns
        parts = [_fit(columns[n].label, w, columns[n].align) for n, w in self._widths(width)]
        return Strip([Segment(" ".join(parts), style)]).adjust_cell_length(width, style)

    def _render_row(self, row: Row, width: int, is_cursor: bool) -> Strip:
        get = self.get_component_rich_style
        base = get("linetable--cursor") if is_cursor else self.rich_style
        segments: list[Segment] = []
        cells = row.cells
        for position, (n, cell_width) in enumerate(self._widths(width)):
            if n >= len(cells):
                break
            column, cell = self.columns[n], cells[n]
            if position:
                segments.append(Segment(" ", base))
            if isinstance(cell, Cell):
                text, style_name = cell
            else:
                text, style_name = cell, ""
            style = base
            if style_name and not is_cursor:
                style = base + get(f"linetable--{style_name}")
            segments.append(Segment(_fit(sanitize(text), cell_width, column.align), style))
        return Strip(segments).adjust_cell_length(width, base)
