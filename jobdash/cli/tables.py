"""The command line's listings (`jobs`, `agents`, `schedules`, a job's tasks …): a plain
table that fits a terminal's width, or is written whole, unstyled, into a pipe.

Rich's tables are imported with this module, when a command draws one, not when `jobdash`
starts.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich.cells import cell_len
from rich.table import Column, Table
from rich.text import Text

from jobdash.cli.render import colored, out
from jobdash.present.text import clip_path


class Listing(Table):
    """A plain table for listings (see `listing`), with the columns that may be left out,
    first to go first, when a terminal is too narrow for all of them."""

    drop: tuple[str, ...] = ()
    free: tuple[str, ...] = ()  # the free-text columns' titles: the only ones `fit` cuts
    paths: tuple[str, ...] = ()  # those of them that hold paths: cut at their start


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
    Every column ends a value it cuts with `…` (Rich's `crop` cut `3m55s` to `3m55`
    silently): `fit` cuts only free text, but no cut may pass for a whole value. The `flex`
    columns of `paths` (targets, task names) are cut at their start instead, as in the
    dashboard (`clip_path`): their ends tell the rows apart."""
    t = Listing(box=None, header_style="bold", pad_edge=False)
    t.drop = tuple(drop)
    t.paths = tuple(paths)
    for col in columns:
        if col in fold:
            t.add_column(col, overflow="fold")
        else:
            t.add_column(col, no_wrap=True, overflow="ellipsis")
    t.free = tuple(c for c in columns if c in flex or c in fold)
    return t


def fit(t: Table, width: int | None = None) -> Table:
    """Give each fixed column of a `listing` the width of its widest cell, and share what is
    left of the terminal's width among the free-text columns (Rich would otherwise shrink
    every column alike, and cut an id or a duration). A free-text column keeps at least its
    title's width; when even that does not fit, the listing's `drop` columns go, one by one,
    and then the free-text columns shrink further (to one cell, `…`). Fixed values are never
    cut: when they alone are wider than the terminal, the table is as wide as they need
    (its lines wrap, as the terminal wraps them, rather than losing digits)."""
    free_text = set(getattr(t, "free", ()))

    def widest(col: Column) -> int:
        return max(cell_len(c) for c in plain_cells(col))

    def least(col: Column) -> int:
        return (
            min(widest(col), cell_len(plain_cells(col)[0]))
            if col.header in free_text
            else widest(col)
        )

    width = width or out().width
    dropped: set[str] = set()
    for label in getattr(t, "drop", ()):
        kept = [c for c in t.columns if c.header not in dropped]
        if sum(least(c) for c in kept) + 2 * (len(kept) - 1) <= width:
            break
        dropped.add(label)
    if dropped:
        t = rebuilt(t, dropped)
    room = width - 2 * (len(t.columns) - 1)
    flexible = [c for c in t.columns if c.header in free_text]
    shown = {id(c): widest(c) for c in t.columns if c.header not in free_text}
    room -= sum(shown.values())
    for col, share in zip(
        flexible, shares(room, [(least(c), widest(c)) for c in flexible]), strict=True
    ):
        shown[id(col)] = share
    # A column of paths cut to its share is cut at the start (a table made again with them).
    clip = {
        str(col.header): shown[id(col)]
        for col in t.columns
        if col.header in getattr(t, "paths", ()) and shown[id(col)] < widest(col)
    }
    if clip:
        widths = {str(col.header): shown[id(col)] for col in t.columns}
        t = rebuilt(t, set(), clip)
        shown = {id(col): widths[str(col.header)] for col in t.columns}
    for col in t.columns:
        col.min_width = col.max_width = shown[id(col)]
    needed = sum(shown.values()) + 2 * (len(t.columns) - 1)
    if needed > width:
        t.width = needed
    return t


def shares(room: int, spans: Sequence[tuple[int, int]]) -> list[int]:
    """The widths of free-text columns, each (least, widest), in `room` cells: each gets its
    least, then what is left goes evenly, the columns that need least extra served first (a
    short column keeps its natural width; the long ones share the rest). Without room for
    the least of each, they shrink evenly, to one cell each at worst."""
    order = sorted(range(len(spans)), key=lambda i: spans[i][1] - spans[i][0])
    widths = [lo for lo, _ in spans]
    extra = room - sum(widths)
    if extra < 0:
        order = sorted(range(len(spans)), key=lambda i: spans[i][0])
        for n, i in enumerate(order):
            widths[i] = max(1, min(spans[i][0], room // (len(order) - n)))
            room -= widths[i]
        return widths
    for n, i in enumerate(order):
        more = min(spans[i][1] - spans[i][0], extra // (len(order) - n))
        widths[i] += more
        extra -= more
    return widths


def rebuilt(t: Table, dropped: set[str], clip: Mapping[str, int] | None = None) -> Listing:
    """`t` made again without the columns `dropped` names, and the paths of the columns of
    `clip` cut at their start to its widths (`clip_path`). Made again, not changed: Rich
    keeps each column's place from when it was added, and lays out by it (the column that
    was before the last one lost a cell: "FAILE"), and it offers no way to set cells."""
    clip = clip or {}
    kept = [c for c in t.columns if c.header not in dropped]
    new = Listing(box=None, header_style=t.header_style, pad_edge=False)
    new.free = getattr(t, "free", ())
    new.paths = getattr(t, "paths", ())
    for c in kept:
        new.add_column(c.header, no_wrap=c.no_wrap, overflow=c.overflow)

    def cut(cell: Any, width: int | None) -> Any:
        if width is None:
            return cell
        if isinstance(cell, Text):
            return Text(clip_path(cell.plain, width), style=cell.style)
        return clip_path(str(cell), width)

    widths = [clip.get(str(c.header)) for c in kept]
    for row in zip(*(list(c.cells) for c in kept), strict=True):
        new.add_row(*(cut(cell, w) for cell, w in zip(row, widths, strict=True)))
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
        out().print(fit(t), crop=False)  # `fit` cut what may be cut; Rich cuts nothing more
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
