"""History as CSV (the documented columns first; its lines: `export_csv`) or JSON, for
`jobdash export` and the dashboard."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from json.encoder import encode_basestring_ascii
from typing import Any

from jobdash.core.model import BadInput, Job
from jobdash.core.service.export_csv import csv_columns
from jobdash.core.service.page_text import KeptTexts, interleaved
from jobdash.core.store.records import (
    EXPORT_CELLS,
    RECORD_CELLS,
    RecordColumns,
    Same,
    every,
    job_cells,
    job_record_cells,
    record_columns,
)
from jobdash.present.times import local_zone

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

    def cells(self, page: RecordColumns | Sequence[Sequence[Any]]) -> str:
        """A page of jobs as their export cells (`EXPORT_CELLS`, as `Store.export_cells`
        reads them, or a column at a time: `Service.export_columns`) in CSV: the same text
        as `rows` of the jobs, without a `Job` for each."""
        assert self.fmt == "csv", "export cells hold what a CSV writes, not a job's record"
        if not isinstance(page, RecordColumns):
            page = record_columns(page, EXPORT_CELLS)
        return csv_columns(page, local_zone())  # (the zone once a page: it reads the env)

    @staticmethod
    def _csv(rows: Iterable[Sequence[object]]) -> str:
        """Rows as CSV text, as they are (the column names: jobdash's own)."""
        import csv  # the column names only: each row is written by `csv_line`

        out = io.StringIO()
        csv.writer(out).writerows(rows)
        return out.getvalue()


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
_loads = json.loads
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
    written = [
        _same(write, column.value) if isinstance(column, Same) else write(column)
        for write, column in zip(_COLUMNS, columns, strict=True)
    ]
    updated, finished = columns[_UPDATED], columns[_FINISHED]
    if updated is finished:  # (the same values: the same texts)
        written[_UPDATED] = written[_FINISHED]
    else:
        written[_UPDATED] = _updated(every(updated, n), every(finished, n), written[_FINISHED])
    parts: list[str | Sequence[str]] = [",\n  "]
    for key, texts in zip(_RECORD_KEYS, written, strict=True):
        parts += (key, texts)
    parts.append("\n  }")
    return interleaved(parts, n)


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


# A stored JSON text (a job's parameters, its metrics): its text in a record, kept.
_STORED = KeptTexts(lambda stored: indented(_loads(stored), str, _IN_RECORD))


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
    "params": _STORED.column,
    "metrics": _STORED.column,
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
