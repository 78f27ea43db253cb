"""Which columns a table shows in a view of a given width, shared by the job table and the
line tables (schedules, agents, tasks): on a narrow terminal the least needed columns go
first, in the order the table names, so the ones that matter stay on screen instead of off
to the right; then the columns that may narrow do.  Then how the flexible columns share the
rest of the line, and how a cell's text fits its width.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from jobdash.present.text import sanitize

K = TypeVar("K", bound=Hashable)


def fit_columns(
    columns: Sequence[tuple[K, int, int]],
    view: int,
    drops: Sequence[K] = (),
    narrow: Mapping[K, int] | None = None,
    want: Mapping[K, int] | None = None,
    last: Sequence[K] = (),
) -> list[tuple[K, int]]:
    """The (key, width) of the columns to show, in order, from (key, width, min width) of
    every column; width 0 is a flexible column (at least its min width; the caller shares
    out the rest). While they do not fit in `view` cells (one-cell gaps), the next key of
    `drops` goes; if they still do not, the columns of `narrow` shrink to their width there.
    A flexible column of `want` counts as that wide while columns go and shrink: it is
    what the table is read for (a job's info line: why it waits), and at its min width it
    showed `waiting: ex…` beside a full `updated` column. Last, while a flexible column
    would still get less than its min width, the keys of `last` go (the table would scroll
    and cut it at the screen's edge).
    """
    wants = want or {}

    def need(shown: Sequence[tuple[K, int, int]], wanted: bool = True) -> int:
        return (
            sum(
                width or max(least, wants.get(key, 0) if wanted else 0)
                for key, width, least in shown
            )
            + len(shown)
            - 1
        )

    shown = list(columns)
    for key in drops:
        if need(shown) <= view:
            break
        shown = [c for c in shown if c[0] != key]
    if narrow and need(shown) > view:
        shown = [
            (key, min(width, narrow[key]) if width and key in narrow else width, least)
            for key, width, least in shown
        ]
    for key in last:
        if need(shown, wanted=False) <= view:
            break
        shown = [c for c in shown if c[0] != key]
    return [(key, width) for key, width, _ in shown]


def fit_text(text: str, width: int, align: str = "left") -> str:
    """Pad or truncate `text` to exactly `width` cells, marking a cut with "…"."""
    if width <= 0:
        return ""
    if text.isascii():
        length = len(text)
        if length > width:
            return text[: width - 1] + "…"
    else:
        length = cell_len(text)
        if length > width:
            return set_cell_size(text, width - 1) + "…"
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


def spread(
    shown: Sequence[tuple[K, int]], least: Mapping[K, int], width: int
) -> list[tuple[K, int]]:
    """(key, width) of the shown columns in a table `width` cells wide: the flexible ones
    (width 0) share what the others leave, each at least its `least` width."""
    fixed = sum(w for _, w in shown) + len(shown) - 1
    flex = sum(1 for _, w in shown if w == 0)
    share = max(0, width - fixed) // flex if flex else 0
    return [(key, w or max(least[key], share)) for key, w in shown]


def needed(shown: Sequence[tuple[K, int]], least: Mapping[K, int]) -> int:
    """Cells the shown columns need, the flexible ones at their least width, gaps included."""
    return sum(w or least[key] for key, w in shown) + len(shown) - 1


def centred(text: str, width: int, style: Style, base: Style) -> Strip:
    """A pane's message (`No lines yet`) in `style`, centred on a `base` line `width` cells
    wide; plain text, sanitized (a filter's text may be in it), cut with "…" if too long."""
    text = sanitize(text)
    length = cell_len(text)
    if length > width:
        text = fit_text(text, width)
        length = width
    left = (width - length) // 2
    return Strip(
        [
            Segment(" " * left, base),
            Segment(text, style),
            Segment(" " * (width - left - length), base),
        ],
        width,
    )
