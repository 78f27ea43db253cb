"""A Python job type that produces artifacts (tests/test_artifacts.py): the job function
keeps a summary, one task a CSV report (bytes), one a file of `mb` MiB (a path), one tries a
name that is a path (refused: the task fails, saying why)."""

from __future__ import annotations

import os
from pathlib import Path

from jobdash.api import JobContext, TaskContext


async def report_job(ctx: JobContext) -> None:
    await ctx.artifact("summary.txt", b"3 tasks planned\n")
    ctx.add_task(write_report, "report", name="report")
    if int(ctx.params.get("mb", "0")):
        ctx.add_task(write_big, int(ctx.params["mb"]), name="big")
    if ctx.params.get("evil"):
        ctx.add_task(bad_name, ctx.params["evil"], name="evil")


async def write_report(ctx: TaskContext, item: str) -> None:
    await ctx.artifact("report.csv", b"host,rows\nvm-1,400\n", media_type="text/csv")


async def write_big(ctx: TaskContext, mb: int) -> None:
    path = Path(ctx.params["dir"]) / "big.bin"
    with path.open("wb") as f:
        for _ in range(mb):
            f.write(os.urandom(1024 * 1024))
    await ctx.artifact("big.bin", path)


async def bad_name(ctx: TaskContext, name: str) -> None:
    await ctx.artifact(name, b"x")
