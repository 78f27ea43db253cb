"""A Python job type with a finalize step, for the engine processes of tests/test_finalize.py
(`tests.finalize_jobs:…`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from jobdash.api import FinalizeContext, JobContext, TaskContext


async def plan(ctx: JobContext) -> None:
    """Three parts; `fail` names one that fails."""
    for i in range(3):
        ctx.add_task(part, i, name=f"part {i}")


async def part(ctx: TaskContext, i: int) -> None:
    if ctx.params.get("fail") == str(i):
        raise ValueError(f"bad part {i}")
    ctx.metric("rows", 10)
    ctx.log(f"part {i}: 10 rows")


async def compile_results(ctx: FinalizeContext) -> None:
    """Says what it was told, waits for the test's go (a file), then fails if asked to."""
    r = ctx.results
    ctx.log(f"compiling {r.tasks} tasks: {r.outcome}, {r.failed} failed, rows {r.metrics}")
    tasks = await ctx.tasks()
    ctx.log("seen: " + ", ".join(f"{t.name}={t.status}" for t in tasks))
    go = Path(ctx.params["dir"]) / "go"
    while not go.exists():
        await ctx.checkpoint()
        await asyncio.sleep(0.05)
    if ctx.params.get("step_fails") == "1":
        raise RuntimeError("mail server down")
    ctx.log("report sent")
