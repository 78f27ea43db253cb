"""Python tasks that fail the way real ones do, for the failure-group tests
(`tests.failing_jobs:check_dates`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any


async def check_dates(ctx: Any) -> None:
    """The job function: one task per CSV file of params["source"]."""
    for path in sorted(Path(ctx.params["source"]).glob("*.csv")):
        ctx.add_task(check_file, str(path), name=path.name)


async def check_file(ctx: Any, path: str) -> None:
    """Raise ValueError at the first row whose date (second column) does not exist."""
    with open(path) as f:  # noqa: ASYNC230 - a small test file
        for n, row in enumerate(f, 1):
            date = row.strip().split(",")[1]
            try:
                datetime.strptime(date, "%d/%m/%Y")
            except ValueError:
                raise ValueError(f"row {n}: invalid date {date!r} in {path}") from None
    ctx.log(f"{path}: dates ok")
