"""A small table on Textual's Line API: rows of plain-text cells, a row cursor, and
repaints limited to the rows that changed.

Used for the tasks of a job (a job may have 50,000 tasks), the schedules and the agents.
Unlike `DataTable`, replacing the rows with `set_rows` compares them with the previous
ones and repaints only the lines whose cells changed, so a 1 s heartbeat-age tick costs
one line per agent on the wire, not the whole table.

Cells are plain strings, sanitized and turned into `Segment`s: nothing is parsed as markup.
A cell's style is a short name ("dim", "ok", "warn", "error", "accent", "bold") mapped to a
component class ("table--dim"…), so colours follow the theme.  The header, cursor, messages,
column fitting and row cache are the tables' shared `TableBase`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal, NamedTuple, TypeVar

from rich.segment import Segment
from textual.binding import BindingType
from textual.message import Message
from textual.strip import Strip

from jobdash.present.text import cells, clip_path, sanitize
from jobdash.tui.widgets.fitting import fit_text
from jobdash.tui.widgets.table_base import CELL_STYLES, RowMessage, TableBase, cursor_bindings

T = TypeVar("T")


def _id(item: Any) -> Hashable:
    """A shown thing's key: its id."""
    return item.id


def _text(cell: Cell | str) -> str:
    """A cell's text."""
    return cell.text if isinstance(cell, Cell) else cell


__all__ = ["STYLES", "Cell", "LineTable", "Row", "TableColumn"]

STYLES = CELL_STYLES[:6]  # the cell styles of the line tables


class TableColumn(NamedTuple):
    """`width` 0: takes the rest of the line (at least `min_width`). `path`: its cells are
    paths or names made like them (a task's `HR/pages`), cut at the start when too long
    (`clip_path`), so rows that differ only at the end still differ on screen. `shrink`: a
    fixed column as wide as its widest cell or title, up to `width`; the flexible columns
    get the rest (a time zone column padded `Etc/UTC` with nine blanks while the planning
    beside it was cut)."""

    label: str
    width: int
    align: Literal["left", "right"] = "left"
    min_width: int = 8
    path: bool = False
    shrink: bool = False


class Cell(NamedTuple):
    text: str
    style: str = ""  # one of STYLES, or "" for the row's style


class Row(NamedTuple):
    key: Hashable
    cells: tuple[Cell | str, ...]


class LineTable(TableBase):
    """Rows of cells with a header line and an optional-selection row cursor.

    `cursor` None means "no row chosen" (`allow_no_cursor`); the first move picks a row.
    """

    BINDINGS: ClassVar[list[BindingType]] = cursor_bindings(
        "table", "First", "Last", "Select", show_select=False
    )

    class Highlighted(RowMessage):
        """The cursor moved to another row (`key` None: no row chosen)."""

    class Selected(RowMessage):
        """Enter (or a click on the cursor row) on a row."""

    def __init__(
        self,
        columns: Sequence[TableColumn],
        *,
        empty_text: str = "Nothing to show",
        allow_no_cursor: bool = False,
        drops: Sequence[str] = (),
        narrow: Mapping[str, int] | None = None,
        want: Mapping[str, int] | None = None,
        last: Sequence[str] = (),
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`drops`: labels of the columns to leave out, in this order, while the view is
        too narrow for all; `narrow`: label -> the width a column shrinks to after that;
        `want`: label of a flexible column -> the width it counts as meanwhile; `last`:
        labels of the columns that go last, rather than the table scrolling."""
        index = {c.label: n for n, c in enumerate(columns)}
        super().__init__(
            cache_size=1024,
            allow_no_cursor=allow_no_cursor,
            drops=tuple(index[label] for label in drops),
            narrow={index[label]: width for label, width in (narrow or {}).items()},
            want={index[label]: width for label, width in (want or {}).items()},
            last_drops=tuple(index[label] for label in last),
            name=name,
            id=id,
            classes=classes,
        )
        self.columns = tuple(columns)
        self.empty_text = empty_text
        self._rows: list[Row] = []
        self._index: dict[Hashable, int] = {}
        self._widths = self._sized_widths()

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

    def under_cursor(self, items: Iterable[T], key: Callable[[T], Hashable] = _id) -> T | None:
        """The one of `items` (what the rows show) whose key is the cursor row's."""
        at = self.cursor_key
        return None if at is None else next((i for i in items if key(i) == at), None)

    @property
    def cursor_row(self) -> int | None:
        return self._cursor if self._rows else None

    def row_text(self, index: int) -> str:
        """A row's cells joined by spaces (for tests and accessibility)."""
        return " ".join(map(_text, self._rows[index].cells))

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace the rows; the cursor stays on its key; only changed lines repaint."""
        old = self._rows
        rows = list(rows)
        same_keys = len(old) == len(rows) and all(
            a.key == b.key for a, b in zip(old, rows, strict=True)
        )
        self._rows = rows
        widths = self._sized_widths()
        if widths != self._widths:  # a shrinking column's widest cell changed: all lines
            self._widths = widths
            same_keys = False
        if same_keys:
            self._sync_cursor()
            for i, (a, b) in enumerate(zip(old, rows, strict=True)):
                if a != b:
                    self._refresh_row(i)
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

    def select_key(self, key: Hashable) -> bool:
        position = self._index.get(key)
        if position is None:
            return False
        self.move_cursor(position)
        return True

    # ------------------------------------------------------------------ the table's rows

    def _row_total(self) -> int:
        return len(self._rows)

    def _row_key(self, index: int) -> Hashable:
        return self._rows[index].key

    def _position(self, key: Hashable) -> int | None:
        return self._index.get(key)

    def _column_spec(self) -> list[tuple[int, int]]:
        return [(width, c.min_width) for c, width in zip(self.columns, self._widths, strict=True)]

    def _layout_key(self) -> Hashable:
        return self._widths

    def _sized_widths(self) -> tuple[int, ...]:
        """Each column's width: a `shrink` column's sized to its widest cell and title."""
        widths = []
        for n, column in enumerate(self.columns):
            width = column.width
            if column.shrink and width:
                texts = (_text(row.cells[n]) for row in self._rows if n < len(row.cells))
                widest = max(map(cells, texts), default=0)
                width = min(width, max(cells(column.label), widest))
            widths.append(width)
        return tuple(widths)

    def _row_cache_key(self, index: int) -> Hashable:
        row = self._rows[index]
        return (row.key, row.cells)

    def _empty_message(self) -> str:
        return self.empty_text

    def _highlighted(self, key: Hashable | None) -> Message:
        return self.Highlighted(self, key)

    def _selected(self, key: Hashable) -> Message:
        return self.Selected(self, key)

    def _header_strip(self, width: int) -> Strip:
        style = self.get_component_rich_style("table--header")
        columns = self.columns
        parts = [fit_text(columns[n].label, w, columns[n].align) for n, w in self._layout(width)]
        return Strip([Segment(" ".join(parts), style)]).adjust_cell_length(width, style)

    def _render_row(self, index: int, width: int, is_cursor: bool) -> Strip:
        get = self.get_component_rich_style
        base = get("table--cursor") if is_cursor else self.rich_style
        segments: list[Segment] = []
        cells = self._rows[index].cells
        for position, (n, cell_width) in enumerate(self._layout(width)):
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
                style = base + get(f"table--{style_name}")
            text = sanitize(text)
            if column.path:
                text = clip_path(text, cell_width)
            segments.append(Segment(fit_text(text, cell_width, column.align), style))
        return Strip(segments).adjust_cell_length(width, base)
