"""Which columns a table shows in a view of a given width, shared by the job table and the
line tables (schedules, agents, tasks): on a narrow terminal the least needed columns go
first, in the order the table names, so the ones that matter stay on screen instead of off
to the right; then the columns that may narrow do.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def fit_columns(
    columns: Sequence[tuple[K, int, int]],
    view: int,
    drops: Sequence[K] = (),
    narrow: Mapping[K, int] | None = None,
) -> list[tuple[K, int]]:
    """The (key, width) of the columns to show, in order, from (key, width, min width) of
    every column; width 0 is a flexible column (at least its min width; the caller shares
    out the rest). While they do not fit in `view` cells (one-cell gaps), the next key of
    `drops` goes; if they still do not, the columns of `narrow` shrink to their width there.
    """

    def need(shown: Sequence[tuple[K, int, int]]) -> int:
        return sum(width or least for _, width, least in shown) + len(shown) - 1

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
    return [(key, width) for key, width, _ in shown]
