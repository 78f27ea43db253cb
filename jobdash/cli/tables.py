"""The command line's listings (`jobs`, `agents`, `schedules`, a job's tasks …): a plain
table that fits a terminal's width, or is written whole, unstyled, into a pipe.

Rich's tables are imported with this module, when a command draws one, not when `jobdash`
starts.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rich.cells import cell_len
from rich.table import Column, Table
from rich.text import Text

from jobdash.cli.render import colored, out
from jobdash.present.text import clip_path


class Listing(Table):
    """A plain table for listings (see `listing`), with the columns that may be left out,
    first to go first, when a terminal is too narrow for all of them."""

    drop: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()


def listing(
    *columns: str,
    flex: Sequence[str] = (),
    fold: Sequence[str] = (),
    drop: Sequence[str] = (),
    paths: Sequence[str] = (),
) -> Listing:
    """A plain table for listings. Only the free-text columns (`flex`, cut with an ellipsis,
    or `fold`, wrapped) give way on a narrow terminal; `fit` keeps the others whole, and
    leaves out the columns of `drop` (in that order) when they would not fit otherwise.
    The `flex` columns of `paths` (targets, task names) are cut at their start instead, as
    in the dashboard (`clip_path`): their ends tell the rows apart."""
    t = Listing(box=None, header_style="bold", pad_edge=False)
    t.drop = tuple(drop)
    t.paths = tuple(paths)
    for col in columns:
        if col in fold:
            t.add_column(col, overflow="fold")
        elif col in flex:
            t.add_column(col, no_wrap=True, overflow="ellipsis")
        else:
            t.add_column(col, no_wrap=True, overflow="crop")
    return t


def fit(t: Table, width: int | None = None) -> Table:
    """Give each fixed column of a `listing` the width of its widest cell, and share what is
    left of the terminal's width among the free-text columns (Rich would otherwise shrink
    every column alike, down to nothing). A free-text column keeps at least its title's
    width; when even that does not fit, the listing's `drop` columns go, one by one."""

    def widest(col: Column) -> int:
        return max(cell_len(c) for c in plain_cells(col))

    def least(col: Column) -> int:
        title = cell_len(plain_cells(col)[0])
        return widest(col) if col.overflow == "crop" else min(widest(col), title)

    width = width or out().width
    paths = set(getattr(t, "paths", ()))
    dropped: set[str] = set()
    for label in getattr(t, "drop", ()):
        kept = [c for c in t.columns if c.header not in dropped]
        if sum(least(c) for c in kept) + 2 * (len(kept) - 1) <= width:
            break
        dropped.add(label)
    if dropped:
        t = without(t, dropped)
    free = width - 2 * (len(t.columns) - 1)
    flexible = []
    for col in t.columns:
        if col.overflow == "crop":
            col.min_width = widest(col)
            free -= col.min_width
        else:
            flexible.append(col)
    # Narrow columns keep their natural width; the widest share the rest evenly.
    flexible.sort(key=widest)
    for i, col in enumerate(flexible):
        share = max(least(col), 4, free // (len(flexible) - i))
        col.max_width = min(widest(col), share)
        free -= col.max_width
        if col.header in paths:
            cut_paths(col, col.max_width)
    return t


def cut_paths(col: Column, width: int) -> None:
    """Cut the cells of a column of paths at their start to `width` cells (Rich would cut
    their ends, which tell the rows apart)."""
    col._cells = [
        Text(clip_path(c.plain, width), style=c.style)
        if isinstance(c, Text)
        else clip_path(str(c), width)
        for c in col._cells
    ]


def without(t: Table, dropped: set[str]) -> Table:
    """`t` made again without the columns `dropped` names. Not by taking them out of its
    columns: Rich keeps each column's place from when it was added, and lays out by it (the
    column that was before the last one lost a cell: "FAILE")."""
    kept = [c for c in t.columns if c.header not in dropped]
    new = Table(box=None, header_style=t.header_style, pad_edge=False)
    for c in kept:
        new.add_column(c.header, no_wrap=c.no_wrap, overflow=c.overflow)
    for row in zip(*(list(c.cells) for c in kept), strict=True):
        new.add_row(*row)
    return new


def plain_cells(col: Column) -> list[str]:
    """A column's header and cells as plain text."""
    return [c.plain if isinstance(c, Text) else str(c) for c in (col.header, *col.cells)]


def show_table(t: Table) -> None:
    """Print a `listing`. On a terminal it fits the terminal's width. Anywhere else (a pipe,
    a file) there is no width to fit: like `kubectl get` and `git branch`, the same columns
    and header are written whole, each column as wide as its widest value, nothing cut or
    wrapped and no styles, so `grep`, `less -S` and `cut` see every value; programs use
    `--json`. With `--color always` the cells keep their colours, in the same layout."""
    if out().is_terminal:
        out().print(fit(t))
        return
    columns = [plain_cells(col) for col in t.columns]
    widths = [max(map(cell_len, cells)) for cells in columns]
    styled = colored()
    sources = [[col.header, *col.cells] for col in t.columns] if styled else []
    for n, row in enumerate(zip(*columns, strict=True)):
        padded = [cell + " " * (w - cell_len(cell)) for cell, w in zip(row, widths, strict=True)]
        if not styled:
            sys.stdout.write("  ".join(padded).rstrip() + "\n")
            continue
        line = Text(style="bold" if n == 0 else "")
        for cells, text in zip(sources, padded, strict=True):
            cell = cells[n]
            piece = cell.copy() if isinstance(cell, Text) else Text(str(cell))
            line.append_text(piece)
            line.append(text[len(piece.plain) :] + "  ")
        line.rstrip()
        out().print(line, soft_wrap=True)
