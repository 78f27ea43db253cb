"""`core.loopfree`: a coroutine run to its end without an event loop, and one that awaits
something only a loop can finish failing loudly, its own `finally`s run, never waiting."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from jobdash.core.loopfree import LoopNeeded, run_loop_free
from jobdash.core.service import Service


class Waits:
    """What an asyncio future does when awaited before it is done: it yields itself."""

    def __await__(self) -> Generator[Waits, None, None]:
        yield self


async def answer() -> int:
    async def inner() -> int:
        return 42

    return await inner()


def test_a_coroutine_that_never_waits_gives_its_result() -> None:
    assert run_loop_free(answer()) == 42


def test_its_exception_comes_out_as_raised() -> None:
    async def fails() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        run_loop_free(fails())


def test_a_coroutine_that_awaits_a_future_fails_loudly_after_its_finally() -> None:
    done: list[str] = []

    async def waits() -> None:
        try:
            await Waits()
            done.append("went on")  # never: nothing resumes it
        finally:
            done.append("finally")

    with pytest.raises(LoopNeeded, match="needs the event loop"):
        run_loop_free(waits())
    assert done == ["finally"]


def test_one_that_swallows_the_error_still_fails() -> None:
    async def swallows() -> int:
        try:
            await Waits()
        except LoopNeeded:
            return 1
        return 0

    with pytest.raises(LoopNeeded):
        run_loop_free(swallows())


async def read_jobs(db: str, loop_free: bool = True) -> list[int]:
    svc = await Service.open(db=db, loop_free=loop_free)
    try:
        return [j.id for j in await svc.jobs()]
    finally:
        await svc.close()


def test_the_service_reads_a_sqlite_store_without_a_loop(tmp_path: Path) -> None:
    """The same coroutines as on a loop, over a plain reader: a store made by the loop's
    path (opening it the first time creates it) is then read without one."""
    from jobdash.core.service import NeedsLoop

    db = str(tmp_path / "s.db")
    with pytest.raises(NeedsLoop):  # to create: said before anything is opened
        run_loop_free(read_jobs(db))
    assert not Path(db).exists()
    import asyncio

    assert asyncio.run(read_jobs(db, loop_free=False)) == []  # created on the loop
    assert run_loop_free(read_jobs(db)) == []
