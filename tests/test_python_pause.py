"""A Python job function paused and resumed through its run (what the agent does when its
job is paused): it stops at its next `checkpoint` and goes on from there; stopped while
paused, it ends cancelled. The run makes the pause's Event only when first paused (most
tasks never are), so these hold with and without one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from jobdash.core.model import TaskStatus
from jobdash.core.runners.python import FunctionRun, JobContext
from jobdash.core.store.engine_records import Claim
from jobdash.core.store.sqlite import SqliteStore

STEPS: list[int] = []


async def stepping(ctx: JobContext) -> None:
    """Counts its steps, a checkpoint before each."""
    for i in range(40):
        await ctx.checkpoint()
        STEPS.append(i)
        await asyncio.sleep(0.005)


def claim() -> Claim:
    return Claim(1, 1, 1, "main", "job", None, None, 1, params={}, type="t")


async def until_steps(n: int) -> None:
    for _ in range(1000):
        if len(STEPS) >= n:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{len(STEPS)} steps, not {n}")


@contextlib.asynccontextmanager
async def function_run(tmp_path: Path) -> AsyncIterator[FunctionRun]:
    """A run of `stepping` on a real store (its checkpoints ask it whether lines back up)."""
    store = await SqliteStore.open(tmp_path / "s.db")
    STEPS.clear()
    try:
        yield FunctionRun(claim(), store, f"{__name__}:stepping", __name__)
    finally:
        await store.close()


async def test_a_paused_python_job_waits_at_its_checkpoint_and_resumes(tmp_path: Path) -> None:
    async with function_run(tmp_path) as run:
        running = asyncio.ensure_future(run.wait())
        await until_steps(3)
        run.pause()
        await asyncio.sleep(0.05)  # a step under way ends at the next checkpoint
        held = len(STEPS)
        await asyncio.sleep(0.1)
        assert len(STEPS) == held and not running.done()
        run.resume()
        result = await asyncio.wait_for(running, 10)
        assert result.status is TaskStatus.SUCCEEDED and len(STEPS) == 40


async def test_a_python_job_stopped_while_paused_ends_cancelled(tmp_path: Path) -> None:
    async with function_run(tmp_path) as run:
        running = asyncio.ensure_future(run.wait())
        await until_steps(2)
        run.pause()
        await asyncio.sleep(0.05)
        await run.stop()
        result = await asyncio.wait_for(running, 10)
        assert result.status is TaskStatus.CANCELLED and len(STEPS) < 40


async def test_a_python_job_never_paused_runs_to_its_end(tmp_path: Path) -> None:
    async with function_run(tmp_path) as run:
        run.resume()  # a resume with no pause before it changes nothing
        result = await asyncio.wait_for(run.wait(), 10)
        assert result.status is TaskStatus.SUCCEEDED and len(STEPS) == 40
