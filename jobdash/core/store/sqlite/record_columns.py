"""An export's page of cells a column at a time, the columns that the previous page's jobs
all held alike read as one value (`Reads.record_columns`, `Reads.export_columns`).

Why: the sqlite3 module making a Python value of a cell costs ~0.1 µs, NULL or not, a
third of a JSON export's time (31 cells a job), under the interpreter's lock; and in a
history most columns hold one value page after page (no task running or pending, no
pause, progress 100, no schedule). Such a column is not read: each job's row says whether
it holds the previous page's values in all of them at once (one cell: SQLite compares, in
the reader's thread, where the lock is let go), and a page where a job does not is read
again whole (its values then tell the next page's). So the text written is the same
whatever the page held: what was expected is only how it is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from jobdash.core.store.records import EXPORT_CELLS, STORED_CELLS, RecordColumns, Same
from jobdash.core.store.sql.reads import INFO, TOTAL


class Cells(NamedTuple):
    """A page's cells: their names, in order, and the column each is read from."""

    names: tuple[str, ...]
    expressions: dict[str, str]


def _cells(names: tuple[str, ...]) -> Cells:
    """Cells read from the columns of their names but these (`reads.RECORD_COLUMNS`,
    `reads.CELL_COLUMNS`, name by name)."""
    own = {"user": '"user"', "info": f"({INFO})", "total": f"({TOTAL})"}
    return Cells(names, {name: own.get(name, name) for name in names})


RECORD = _cells(STORED_CELLS)  # a JSON export's (`record_cells`)
EXPORT = _cells(EXPORT_CELLS)  # a CSV export's (`export_cells`)

# `updated` in a hint: every job's last update is the time it finished (the same float).
UPDATED_IS_FINISHED = "updated"


def hinted_columns(hint: dict[str, Any], cells: Cells) -> tuple[str, list[Any], list[str]]:
    """The columns of a page's read when the previous page's jobs all held `hint`'s values
    (`hint_of`), its arguments, and the names of the cells read (the others: the hint's).
    The test of those values is told by the id (never NULL): NULL where a job fails it
    (a cell of its own would cost as much as another column)."""
    same = [name for name in hint if name != UPDATED_IS_FINISHED]
    tests = [f"{cells.expressions[name]} IS ?" for name in same]
    if UPDATED_IS_FINISHED in hint:
        tests.append("updated IS finished")
    read = [name for name in cells.names if name not in hint]
    assert read[0] == "id", "the id is read first, never expected"
    columns = [f"CASE WHEN {' AND '.join(tests) or '1'} THEN id END"]
    columns += [cells.expressions[n] for n in read[1:]]
    return ", ".join(columns), [hint[name] for name in same], read


def hinted_page(
    rows: list[Any], hint: dict[str, Any], read: list[str], cells: Cells
) -> RecordColumns | None:
    """The page of `rows` read by `hinted_columns`, None when a job did not hold the
    hint's values (the page is then read whole)."""
    n = len(rows)
    columns = [*zip(*rows, strict=True)] if rows else [()] * len(read)
    if None in columns[0]:
        return None
    got = dict(zip(read, columns, strict=True))
    page: dict[str, Sequence[Any] | Same] = {}
    for name in cells.names:
        page[name] = got[name] if name in got else Same(hint.get(name))
    if UPDATED_IS_FINISHED in hint:
        page["updated"] = page["finished"]
    return RecordColumns(n, page)


def hint_of(page: RecordColumns) -> dict[str, Any]:
    """The values all of `page`'s jobs held (a column's one value, of one type), which the
    next page's are expected to hold (not the id)."""
    hint: dict[str, Any] = {}
    for name, column in page.columns.items():
        if isinstance(column, Same):
            hint[name] = column.value
        elif name == "id" or not column:  # (the id: each job's own)
            continue
        elif name == "updated":
            if column is page.columns["finished"] or column == page.columns["finished"]:
                hint[UPDATED_IS_FINISHED] = True
        elif (
            column[-1] == column[0]  # (most columns that differ: told here)
            and column.count(column[0]) == len(column)
            and len(set(map(type, column))) == 1
        ):
            hint[name] = column[0]
    return hint
