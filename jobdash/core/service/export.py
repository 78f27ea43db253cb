"""History as CSV (the documented columns first) or JSON, for `jobdash export` and the dashboard.

Why the cells are inert: names, info lines and parameters come from users and jobs, and a
spreadsheet would run a cell such as `=cmd|' /C calc'!A0`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Sequence

from jobdash.core.model import BadInput, Job
from jobdash.present.times import iso

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
    if fmt == "json":
        return json.dumps([dataclasses.asdict(j) for j in jobs], indent=2, default=str)
    if fmt != "csv":
        raise BadInput(f"unknown export format {fmt!r} (csv or json)")
    out = io.StringIO()
    w = InertCsvWriter(out)
    w.writerow(EXPORT_COLUMNS)
    for j in jobs:
        w.writerow(
            [
                iso(j.started),
                iso(j.finished),
                j.type,
                str(j.status),
                j.info,
                j.user,
                j.id,
                j.target,
                str(j.trigger),
                j.total,
                j.succeeded,
                j.failed,
                f"{j.duration():.1f}" if j.started else "",
                json.dumps(j.params, sort_keys=True),
            ]
        )
    return out.getvalue()


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
