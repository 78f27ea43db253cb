"""History as CSV (the documented columns first) or JSON, for `jobdash export` and the dashboard.

Why the cells are inert: names, info lines and parameters come from users and jobs, and a
spreadsheet would run a cell such as `=cmd|' /C calc'!A0`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import tzinfo
from typing import Any

from jobdash.core.model import BadInput, Job, job_record, run_time
from jobdash.core.store.records import job_cells
from jobdash.present.times import iso, local_zone

EXPORT_COLUMNS = [
    "startDate",
    "endDate",
    "jobName",
    "jobStatus",
    "jobInfo",
    "jobUser",
    "id",
    "target",
    "trigger",
    "tasks",
    "succeeded",
    "failed",
    "duration",
    "params",
]


def export_jobs(jobs: list[Job], fmt: str = "csv") -> str:
    """History as CSV (the documented columns first, every cell an `inert_cell`) or JSON."""
    export = Export(fmt)
    return export.begin() + export.rows(jobs) + export.end()


class Export:
    """An export written a page of jobs at a time (`begin`, `rows` for each page, `end`),
    so that a history of millions never sits in memory whole; the pieces joined are the
    whole export's text."""

    def __init__(self, fmt: str) -> None:
        if fmt not in ("csv", "json"):
            raise BadInput(f"unknown export format {fmt!r} (csv or json)")
        self.fmt = fmt
        self.json = JsonList(default=str)

    def begin(self) -> str:
        return self.json.begin() if self.fmt == "json" else self._csv([EXPORT_COLUMNS])

    def end(self) -> str:
        return self.json.end() if self.fmt == "json" else ""

    def rows(self, jobs: Sequence[Job]) -> str:
        if self.fmt == "json":
            return self.json.items(job_record(j) for j in jobs)
        return self.cells([job_cells(j) for j in jobs])

    def cells(self, page: Iterable[Sequence[Any]]) -> str:
        """A page of jobs as their export cells (`EXPORT_CELLS`, as `Store.export_cells`
        reads them) in CSV: the same text as `rows` of the jobs, without a `Job` for each."""
        assert self.fmt == "csv", "export cells hold what a CSV writes, not a job's record"
        tz = local_zone()  # once a page: looking it up reads the environment
        return "".join([csv_line(c, tz) for c in page])

    @staticmethod
    def _csv(rows: Iterable[Sequence[object]]) -> str:
        """Rows as CSV text, as they are (the column names: jobdash's own)."""
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        return out.getvalue()


def csv_line(cells: Sequence[Any], tz: tzinfo) -> str:
    """A job's CSV line, from its export cells (`EXPORT_CELLS`): the text `csv.writer`
    writes of its cells in EXPORT_COLUMNS' order (a test holds it to it), in one join (the
    writer took a third of a row's time). The cells that come from users and jobs (name,
    info, user, target) are made inert; the others are numbers (none below 0), times,
    statuses and a JSON object that jobdash writes, none of which can start like a formula.
    The times are digits and signs, the duration a number: never quoted."""
    (
        id_,
        started,
        finished,
        type_,
        status,
        info,
        user,
        target,
        trigger,
        total,
        succeeded,
        failed,
        paused_at,
        idle_time,
        params,
    ) = cells
    return (
        ",".join(
            (
                iso(started, tz),
                iso(finished, tz),
                _quoted(inert_cell(type_)),
                _cell(status),
                _quoted(inert_cell(info)),
                _quoted(inert_cell(user)),
                _cell(id_),
                _quoted(inert_cell(target)),
                _cell(trigger),
                _cell(total),
                _cell(succeeded),
                _cell(failed),
                f"{run_time(started, finished, paused_at, idle_time):.1f}" if started else "",
                _quoted(sorted_params(params)),
            )
        )
        + "\r\n"
    )


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


_loads = json.loads
_sorted = json.JSONEncoder(sort_keys=True).encode  # `json.dumps(…, sort_keys=True)`


_SORTED: dict[str, str] = {}  # stored parameters' text: its sorted text


def sorted_params(text: str) -> str:
    """A job's parameters as stored (JSON) with their names sorted; "{}" for none. Kept
    for the texts met: the jobs of a schedule or a type often have the same parameters,
    and parsing and writing them again was a third of a CSV row's time."""
    done = _SORTED.get(text)
    if done is None:
        params = _loads(text)
        done = _sorted(params) if params else "{}"
        if len(text) <= 512:  # a few MB at most, whatever the parameters
            if len(_SORTED) >= 4096:  # a history of all different parameters
                _SORTED.clear()
            _SORTED[text] = done
    return done


class JsonList:
    """A JSON array written a few items at a time: `begin`, `items`, `end` joined are the
    text of `json.dumps(all_items, indent=2)`."""

    def __init__(self, default: Callable[[Any], Any] | None = None) -> None:
        self.default = default
        self.empty = True

    def begin(self) -> str:
        return "["

    def items(self, items: Iterable[object]) -> str:
        parts = []
        for item in items:
            # An item's own lines, indented one level.
            parts.append(("\n  " if self.empty else ",\n  ") + indented(item, self.default))
            self.empty = False
        return "".join(parts)

    def end(self) -> str:
        return "]" if self.empty else "\n]"


_dumps = json.dumps
_string = json.JSONEncoder().encode  # a str: one call of the C encoder


_NO_NUMBERS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}  # json's `allow_nan`


def _float(value: float) -> str:
    """A float as json writes it (its `allow_nan` words for the three that are no number)."""
    text = float.__repr__(value)
    return _NO_NUMBERS.get(text, text)


_SCALARS: dict[type, Callable[[Any], str]] = {
    str: _string,
    int: int.__repr__,
    float: _float,
    bool: lambda value: "true" if value else "false",
    type(None): lambda _value: "null",
}


_KEYS: dict[str, str] = {}  # a key's text, and the ": " after it


def indented(
    value: object, default: Callable[[Any], Any] | None = None, newline: str = "\n  "
) -> str:
    """`json.dumps(value, indent=2, default=default)` with each line break followed by
    `newline`'s indentation: the same text, at a fraction of the cost. The standard library
    writes indented JSON in pure Python, several calls a value (~50 µs a job, most of a
    JSON export); here a scalar is one call."""
    scalar = _SCALARS.get(type(value))
    if scalar is not None:
        return scalar(value)
    inner = newline + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        pairs = []
        for k, v in value.items():
            key = _KEYS.get(k)  # only str keys are kept: no other key equals one
            if key is None:
                if type(k) is not str:  # json's own key rules
                    return _dumps(value, indent=2, default=default).replace("\n", newline)
                key = _string(k) + ": "
                if len(_KEYS) < 4096:  # a job's fields, its parameters' names: few
                    _KEYS[k] = key
            scalar = _SCALARS.get(type(v))
            pairs.append(key + (scalar(v) if scalar is not None else indented(v, default, inner)))
        return "{" + inner + ("," + inner).join(pairs) + newline + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        cells = [indented(v, default, inner) for v in value]
        return "[" + inner + ("," + inner).join(cells) + newline + "]"
    for base in (str, int, float):  # a subclass (an enum): as its base writes it
        if isinstance(value, base):
            if len(_SCALARS) < 64:  # a job's status and trigger: one call from now on
                _SCALARS[type(value)] = _SCALARS[base]
            return _SCALARS[base](value)
    if default is None:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
    return indented(default(value), default, newline)


FORMULA_STARTS = frozenset("=+-@\t\r")


def inert_cell(cell: object) -> str:
    """A CSV cell that no spreadsheet reads as a formula (OWASP's rule): a cell starting
    with =, +, -, @, a tab or a carriage return gets a leading single quote, which
    spreadsheets take as "this is text" and do not display."""
    text = "" if cell is None else str(cell)
    return "'" + text if text[:1] in FORMULA_STARTS else text
