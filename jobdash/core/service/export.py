"""History as CSV (the documented columns first) or JSON, for `jobdash export` and the dashboard.

Why the cells are inert: names, info lines and parameters come from users and jobs, and a
spreadsheet would run a cell such as `=cmd|' /C calc'!A0`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import tzinfo
from typing import Any

from jobdash.core.model import BadInput, Job, job_record
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
        tz = local_zone()  # once a page: looking it up reads the environment
        out = io.StringIO()
        csv.writer(out).writerows(csv_row(j, tz) for j in jobs)
        return out.getvalue()

    @staticmethod
    def _csv(rows: Iterable[Sequence[object]]) -> str:
        out = io.StringIO()
        w = InertCsvWriter(out)
        for row in rows:
            w.writerow(row)
        return out.getvalue()


def csv_row(j: Job, tz: tzinfo) -> tuple[object, ...]:
    """A job's cells in EXPORT_COLUMNS' order. The cells that come from users and jobs
    (name, info, user, target) are made inert; the others are numbers (none below 0),
    times, statuses and a JSON object that jobdash writes, none of which can start like a
    formula."""
    return (
        iso(j.started, tz),
        iso(j.finished, tz),
        inert_cell(j.type),
        str(j.status),
        inert_cell(j.info),
        inert_cell(j.user),
        j.id,
        inert_cell(j.target),
        str(j.trigger),
        j.total,
        j.succeeded,
        j.failed,
        f"{j.duration():.1f}" if j.started else "",  # never below 0
        json.dumps(j.params, sort_keys=True) if j.params else "{}",  # starts with "{"
    )


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
            # An item's own lines, indented one level: JSON text has no other line breaks
            # (a string's are escaped).
            text = json.dumps(item, indent=2, default=self.default).replace("\n", "\n  ")
            parts.append(("\n  " if self.empty else ",\n  ") + text)
            self.empty = False
        return "".join(parts)

    def end(self) -> str:
        return "]" if self.empty else "\n]"


FORMULA_STARTS = frozenset("=+-@\t\r")


def inert_cell(cell: object) -> str:
    """A CSV cell that no spreadsheet reads as a formula (OWASP's rule): a cell starting
    with =, +, -, @, a tab or a carriage return gets a leading single quote, which
    spreadsheets take as "this is text" and do not display."""
    text = "" if cell is None else str(cell)
    return "'" + text if text[:1] in FORMULA_STARTS else text


class InertCsvWriter:
    """`csv.writer` whose every cell is an `inert_cell`."""

    def __init__(self, out: io.StringIO) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Sequence[object]) -> None:
        self._writer.writerow([inert_cell(cell) for cell in row])
