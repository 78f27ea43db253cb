"""A CSV export's page, written a column at a time (`csv_columns`).

Why the cells are inert: names, info lines and parameters come from users and jobs, and a
spreadsheet would run a cell such as `=cmd|' /C calc'!A0`.

Why a column at a time: a history of millions is written a page of 1,000 jobs at a time,
and a call of Python for each cell (the writer's, a time's `datetime`, a quote's test)
was most of a CSV export's time. A column is tested once, in calls of C (does any of its
texts hold a comma, a quote, a line break, start like a formula?), and written as it is
when none does; a column all the page's jobs hold alike is written once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import tzinfo
from itertools import repeat
from math import isfinite
from operator import sub
from typing import Any

from jobdash.core.model import run_time
from jobdash.core.service.page_text import KeptTexts, interleaved
from jobdash.core.store.records import RecordColumns, Same
from jobdash.present.times import iso_column

FORMULA_STARTS = frozenset("=+-@\t\r")


def inert_cell(cell: object) -> str:
    """A CSV cell that no spreadsheet reads as a formula (OWASP's rule): a cell starting
    with =, +, -, @, a tab or a carriage return gets a leading single quote, which
    spreadsheets take as "this is text" and do not display."""
    text = "" if cell is None else str(cell)
    return "'" + text if text[:1] in FORMULA_STARTS else text


_needs_quotes = re.compile('[,"\r\n]').search  # the excel dialect's delimiter, quote, line end


def _quoted(text: str) -> str:
    """A text as `csv.writer` writes it: in quotes, its own doubled, when it holds a
    comma, a quote or a line break."""
    return '"' + text.replace('"', '""') + '"' if _needs_quotes(text) else text


def _cell(value: object) -> str:
    """Any cell as `csv.writer` writes it: None empty, a number as its `str`."""
    if type(value) is int:
        return str(value)
    return _quoted("" if value is None else str(value))


def csv_columns(page: RecordColumns, tz: tzinfo) -> str:
    """A page of jobs' CSV lines, from their export cells a column at a time
    (`EXPORT_CELLS`): the text `csv.writer` writes of each job's cells in EXPORT_COLUMNS'
    order (a test holds it to it). The cells that come from users and jobs (name, info,
    user, target) are made inert; the others are numbers (none below 0), times, statuses
    and a JSON object that jobdash writes, none of which can start like a formula. The
    times are digits and signs, the duration a number: never quoted."""
    c = page.columns
    texts = (
        _times(c["started"], tz),
        _times(c["finished"], tz),
        _written(_inert, c["type"]),
        _written(_plain, c["status"]),
        _written(_inert, c["info"]),
        _written(_inert, c["user"]),
        _written(_numbers, c["id"]),
        _written(_inert, c["target"]),
        _written(_plain, c["trigger"]),
        _written(_numbers, c["total"]),
        _written(_numbers, c["succeeded"]),
        _written(_numbers, c["failed"]),
        _durations(page),
        _written(_PARAMS.column, c["params"]),
    )
    parts: list[str | Sequence[str]] = []
    for text in texts:
        parts += (text, ",")
    parts[-1] = "\r\n"
    return interleaved(parts, page.n)


def _written(
    write: Callable[[Sequence[Any]], Sequence[str]], column: Sequence[Any] | Same
) -> str | Sequence[str]:
    """A column's texts as `write` writes them; of a `Same`, its value's text (once)."""
    return write([column.value])[0] if isinstance(column, Same) else write(column)


def _times(column: Sequence[Any] | Same, tz: tzinfo) -> str | Sequence[str]:
    """`iso` of each time (a value as `iso_column` writes it)."""
    return _written(lambda times: iso_column(times, tz), column)


# What a text must not hold to be written as it is: the characters that make the writer
# quote it, and, after the NUL that `_inert` puts before each text, a formula's start.
_QUOTED = (",", '"', "\r", "\n")
_INERT = (*_QUOTED, *("\0" + start for start in FORMULA_STARTS))


def _inert(column: Sequence[Any]) -> Sequence[str]:
    """Each cell from users and jobs made inert (`inert_cell`) and quoted as the writer
    quotes it: a column of texts of which none starts like a formula or needs quotes as
    it is. Told by a few searches in C of the texts joined, each after a NUL (faster than
    a regular expression, or a test a text): a NUL inside a text before a formula's start
    is taken for a text's start, and the column written the long way."""
    if set(map(type, column)) == {str}:
        joined = "\0" + "\0".join(column)
        if not any(special in joined for special in _INERT):
            return column
    return [_quoted(inert_cell(cell)) for cell in column]


def _plain(column: Sequence[Any]) -> Sequence[str]:
    """Each cell as `_cell` writes it (a status, a trigger): texts none of which needs
    quotes (told in C) as they are."""
    if set(map(type, column)) == {str}:
        joined = "".join(column)
        if not any(special in joined for special in _QUOTED):
            return column
    return [*map(_cell, column)]


def _numbers(column: Sequence[Any]) -> Sequence[str]:
    """Each cell as `_cell` writes it (an id, a count): ints as their `str`, in C."""
    if set(map(type, column)) == {int}:
        return [*map(int.__repr__, column)]
    return [*map(_cell, column)]


_NUMBERS = {float, int}


def _durations(page: RecordColumns) -> Sequence[str]:
    """Each job's `run_time` to a tenth ("" when it did not start). A page of finished jobs
    never paused (a history's) is a column of C: the finish less the start and the idle
    time, below 0 (a clock that went back) as 0."""
    n, c = page.n, page.columns
    started, finished = page.column("started"), page.column("finished")
    paused, idle = c["paused_at"], c["idle_time"]
    if (
        isinstance(paused, Same)
        and paused.value is None
        and set(map(type, started)) | set(map(type, finished)) <= _NUMBERS
        and all(started)
        and all(finished)
        and set(map(type, page.column("idle_time"))) <= _NUMBERS
    ):
        idles = repeat(idle.value, n) if isinstance(idle, Same) else idle
        spans = [*map(sub, map(sub, finished, started), idles)]
        if not (isfinite(sum(spans)) and min(spans) > 0.0):  # (NaN: passed over by `min`)
            spans = [*map(max, repeat(0.0), spans)]
        return [*map(format, spans, repeat(".1f"))]
    pauses, idles = page.column("paused_at"), page.column("idle_time")
    return [
        f"{run_time(s, f, p, i):.1f}" if s else ""
        for s, f, p, i in zip(started, finished, pauses, idles, strict=True)
    ]


_loads = json.loads
_sorted = json.JSONEncoder(sort_keys=True).encode  # `json.dumps(…, sort_keys=True)`


def sorted_params(text: str) -> str:
    """A job's parameters as stored (JSON) with their names sorted; "{}" for none."""
    params = _loads(text)
    return _sorted(params) if params else "{}"


# Stored parameters' text: their cell (sorted, quoted), kept for the texts met.
_PARAMS = KeptTexts(lambda stored: _quoted(sorted_params(stored)))
