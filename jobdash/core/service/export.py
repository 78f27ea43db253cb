"""History as CSV (the documented columns first) or JSON, for `jobdash export` and the dashboard.

Why the cells are inert: names, info lines and parameters come from users and jobs, and a
spreadsheet would run a cell such as `=cmd|' /C calc'!A0`.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import tzinfo
from json.encoder import encode_basestring_ascii
from typing import Any

from jobdash.core.model import BadInput, Job, run_time
from jobdash.core.store.records import (
    RECORD_CELLS,
    RecordColumns,
    Same,
    every,
    job_cells,
    job_record_cells,
)
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
            return self.records([job_record_cells(j) for j in jobs])
        return self.cells([job_cells(j) for j in jobs])

    def records(self, page: RecordColumns | Sequence[Sequence[Any]]) -> str:
        """A page of jobs as their record cells (`RECORD_CELLS`, as `Service.export_records`
        gives them, or a column at a time: `Service.export_columns`) in JSON: the same text
        as `rows` of the jobs, without a `Job` for each."""
        assert self.fmt == "json", "record cells are what a JSON export writes"
        if isinstance(page, RecordColumns):
            return self.json.following(json_columns([*page.columns.values()], page.n))
        return self.json.following(json_records(page))

    def cells(self, page: Iterable[Sequence[Any]]) -> str:
        """A page of jobs as their export cells (`EXPORT_CELLS`, as `Store.export_cells`
        reads them) in CSV: the same text as `rows` of the jobs, without a `Job` for each."""
        assert self.fmt == "csv", "export cells hold what a CSV writes, not a job's record"
        tz = local_zone()  # once a page: looking it up reads the environment
        return "".join([csv_line(c, tz) for c in page])

    @staticmethod
    def _csv(rows: Iterable[Sequence[object]]) -> str:
        """Rows as CSV text, as they are (the column names: jobdash's own)."""
        import csv  # the column names only: each row is written by `csv_line`

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

    def following(self, text: str) -> str:
        """Items already written as JSON text, each after ",\n  " (`json_records`): the
        text `items` writes of them."""
        if self.empty and text:
            self.empty = False
            return text[1:]  # the first: no comma before it
        return text

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


_IN_RECORD = "\n    "  # a record's values: its lines' indentation, an item of the list


def json_records(page: Sequence[Sequence[Any]]) -> str:
    """Jobs' record cells (`RECORD_CELLS`) as items of a JSON export, each after ",\n  ":
    each the text of `indented(job_record(job), str)`, which is `json.dumps(…, indent=2,
    default=str)` of the record one level in (a test holds it to it).

    Written a column at a time (each as its field holds it, `_COLUMNS`): a record has 34
    values, and a call of Python for each was most of an export's time, where a column of
    one type is a call of C a value. Then the page is one join, the text that is the same
    in every record of it (the keys, and the values no job of the page differs in: most)
    put together once: a template a record (`%`) cost more than writing all its values."""
    if not page:
        return ""
    return json_columns([*zip(*page, strict=True)], len(page))


def json_columns(columns: Sequence[Sequence[Any] | Same], n: int) -> str:
    """`json_records` of `n` jobs' record cells given a column at a time, each its values
    or one `Same` that all hold (written once); `updated` may be `finished` itself."""
    if not n:
        return ""
    pieces: list[str | Sequence[str]] = []  # a text all records hold, or one a record
    same = ",\n  "  # the text all records hold since the last piece
    written = [
        _same(write, column.value) if isinstance(column, Same) else write(column)
        for write, column in zip(_COLUMNS, columns, strict=True)
    ]
    updated, finished = columns[_UPDATED], columns[_FINISHED]
    if updated is finished:  # (the same values: the same texts)
        written[_UPDATED] = written[_FINISHED]
    else:
        written[_UPDATED] = _updated(every(updated, n), every(finished, n), written[_FINISHED])
    for key, texts in zip(_RECORD_KEYS, written, strict=True):
        same += key
        if isinstance(texts, str):
            same += texts
        elif texts.count(texts[0]) == len(texts):  # (no text hashed, as a set would)
            same += texts[0]
        else:
            pieces += (same, texts)
            same = ""
    pieces.append(same + "\n  }")
    # The records' pieces one after another, each piece's texts set in place by a slice
    # (a copy in C): faster than zipping the columns into a tuple a record.
    k = len(pieces)
    joined: list[str] = [""] * (n * k)
    for i, piece in enumerate(pieces):
        joined[i::k] = [piece] * n if isinstance(piece, str) else piece
    return "".join(joined)


def _same(write: Callable[[Sequence[Any]], str | list[str]], value: object) -> str:
    """The text `write` writes of a column whose values are all `value`."""
    text = write([value])
    return text if isinstance(text, str) else text[0]


_FAST: dict[type, Callable[[Any], str]] = {str: encode_basestring_ascii, int: int.__repr__}
_FAST[float] = float.__repr__  # then its words for the three that are no number


_EXACT = frozenset({str, int, bool, type(None)})  # equal values of one of these: one text


def _values(column: Sequence[Any]) -> str | list[str]:
    """A column's values as json writes each (a str: the text of every one), of one type
    (or it and None) in one call of C a value, a column of mixed types (a subclass, a
    driver's other number) as `indented` writes each."""
    kinds = set(map(type, column))
    if len(kinds) == 1 and kinds <= _EXACT and column.count(column[0]) == len(column):
        return _value(column[0])  # most columns of a page: counted in C, written once
    nulls = type(None) in kinds
    kinds.discard(type(None))
    kind = kinds.pop() if len(kinds) == 1 else None
    write = _FAST.get(kind) if kind is not None else None
    if write is None:
        return [_value(value) for value in column]
    if kind is float and (few := _few_floats(column)) is not None:
        return few
    if nulls:
        texts = ["null" if v is None else write(v) for v in column]
    else:
        texts = [*map(write, column)]
        if kind is float and math.isfinite(sum(column)):  # (no NaN, no infinity: no text
            return texts  # looked up; a sum too large to hold is looked at below)
    if kind is float and not _NO_NUMBERS.keys().isdisjoint(texts):
        texts = [_NO_NUMBERS.get(text, text) for text in texts]
    return texts


def _few_floats(column: Sequence[float | None]) -> list[str] | None:
    """A column of floats that holds few values (a progress, an idle time: mostly 0.0 or
    100.0) as `_values` writes them, each value written once; None for a column of many
    (times), or with both zeros (equal, but written apart: 0.0 and -0.0)."""
    if len(set(column[:64])) > 16:  # a first look: times are all different
        return None
    distinct = set(column)
    if len(distinct) * 4 > len(column):
        return None
    if 0.0 in distinct and len({math.copysign(1.0, v) for v in column if v == 0.0}) > 1:
        return None
    text_of = {v: _value(v) for v in distinct}
    return [*map(text_of.__getitem__, column)]


def _updated(
    updated: Sequence[Any], finished: Sequence[Any], finished_texts: str | list[str]
) -> str | list[str]:
    """Jobs' last updates as `_values` writes them: a finished job's is mostly the time it
    finished, whose text is there (a float's shortest text costs ~0.6 µs here, a quarter
    of a record's time went to the four times)."""
    if isinstance(finished_texts, str):
        finished_texts = [finished_texts] * len(updated)
    return [
        text if u == f and type(u) is float and type(f) is float and u else _value(u)
        for u, f, text in zip(updated, finished, finished_texts, strict=True)
    ]


def _value(value: object) -> str:
    """A value as json writes it (`indented` inside a record)."""
    return indented(value, str, _IN_RECORD)


_STORED: dict[str, str] = {}  # a stored JSON text: its text in a record


def _stored(column: Sequence[str]) -> list[str]:
    """Stored JSON texts (a job's parameters, its metrics) as the record writes what they
    hold, each text kept, within a few MB: jobs of a type often have the same parameters,
    and parsing and writing them again was most of their cost (`sorted_params`)."""
    kept = [*map(_STORED.get, column)]
    if None not in kept:
        return kept  # type: ignore[return-value]  # none missing
    return [_stored_text(v) if text is None else text for v, text in zip(column, kept, strict=True)]


def _stored_text(stored: str) -> str:
    text = indented(_loads(stored), str, _IN_RECORD)
    if len(text) <= 1024:
        if len(_STORED) >= 4096:  # a history of all different parameters
            _STORED.clear()
        _STORED[stored] = text
    return text


# A frozen dataclass's id: it (kept, so that the id stays its) and its text in a record.
_FIELDS: dict[int, tuple[object, str]] = {}


def _fields(column: Sequence[Any]) -> list[str]:
    """Jobs' unread lines or timing (None, or a frozen dataclass) as `asdict` of each is
    written. A text kept for each object, not each value: many jobs share one object (a
    type's timing, `unread_of`'s), and equal values can be written apart (0.0 and -0.0)."""
    return ["null" if v is None else _fields_text(v) for v in column]


def _fields_text(value: Any) -> str:
    kept = _FIELDS.get(id(value))
    if kept is not None:
        return kept[1]
    text = indented(asdict(value), str, _IN_RECORD)
    if len(_FIELDS) >= 4096:
        _FIELDS.clear()
    _FIELDS[id(value)] = (value, text)
    return text


_COLUMN_AS: dict[str, Callable[[Sequence[Any]], str | list[str]]] = {
    "params": _stored,
    "metrics": _stored,
    "cancellable": lambda column: ["true" if stored else "false" for stored in column],
    "unread": _fields,
    "timing": _fields,
    "updated": lambda _column: "",  # written from "finished" (`_updated`)
}
_COLUMNS = tuple(_COLUMN_AS.get(name, _values) for name in RECORD_CELLS)
_UPDATED, _FINISHED = RECORD_CELLS.index("updated"), RECORD_CELLS.index("finished")
_RECORD_KEYS = tuple(  # each value's key, and the text before it (`indented`'s layout)
    ("{" if n == 0 else ",") + _IN_RECORD + _string(name) + ": "
    for n, name in enumerate(RECORD_CELLS)
)


FORMULA_STARTS = frozenset("=+-@\t\r")


def inert_cell(cell: object) -> str:
    """A CSV cell that no spreadsheet reads as a formula (OWASP's rule): a cell starting
    with =, +, -, @, a tab or a carriage return gets a leading single quote, which
    spreadsheets take as "this is text" and do not display."""
    text = "" if cell is None else str(cell)
    return "'" + text if text[:1] in FORMULA_STARTS else text
