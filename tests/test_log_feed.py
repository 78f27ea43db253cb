"""`LogFeed`, the one reader of one or several jobs' logs (`jobdash logs`, the dashboard's
panes), on a real store of each backend: pages of several jobs merged in the order written
(one job's backlog never runs ahead of another's lines), every line once, `more` while a
page was full, and following's end once a job has finished and every line of it was given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jobdash.core.model import LogLine
from jobdash.core.service import LogFeed, Service

pytestmark = pytest.mark.both_backends

CONFIG = '[types.two]\ncommand = ["true"]\nitems = ["a", "b"]\n'


async def write(svc: Service, lines: list[tuple[int, str]]) -> None:
    """(job, text) lines, in this order, from each job's first task."""
    for job, text in lines:
        task = (await svc.store.tasks(job))[0].id
        await svc.store.append_log(job, task, "stdout", text)
    await svc.store.flush()


async def test_pages_of_several_jobs_come_in_the_order_written(
    services: Callable[..., Awaitable[Service]], write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(CONFIG), engine=False)
    ids = [(await svc.submit("two")).id for _ in range(3)]
    # Job 1 writes a backlog of 10 lines first, then all three in turn.
    written = [(ids[0], f"early {i}") for i in range(10)]
    written += [(job, f"{job} {i}") for i in range(4) for job in ids]
    await write(svc, written)
    feed = LogFeed(svc, ids, page=3)
    got: list[LogLine] = []
    mores = []
    while lines := await feed.read():
        mores.append(feed.more)
        got += lines
    assert mores[0] and not mores[-1] and not feed.more
    reads = len(mores)
    assert [(line.job_id, line.text) for line in got] == written  # all, once, in order
    assert reads > len(written) // (3 * 3)  # in pages, each cut at the slowest full job
    assert await feed.read() == []
    await write(svc, [(ids[2], "later")])
    assert [line.text for line in await feed.read()] == ["later"]
    tail = LogFeed(svc, ids)
    assert [line.text for line in await tail.tail(1)] == [f"{ids[0]} 3", f"{ids[1]} 3", "later"]


async def test_following_ends_once_every_job_finished_and_was_read(
    services: Callable[..., Awaitable[Service]], write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(CONFIG), engine=False)
    job = (await svc.submit("two")).id
    other = (await svc.submit("two")).id
    feed = LogFeed(svc, [job, other])
    await write(svc, [(job, "one")])
    assert [line.text for line in await feed.poll()] == ["one"]
    assert not feed.done
    await svc.cancel(job)  # queued: cancelled at once, finished
    await svc.cancel(other)
    assert await feed.poll() == []
    assert not feed.done  # finished, but lines may still come a batch after the end
    await write(svc, [(job, "after the end")])
    await asyncio.sleep(0.35)  # SETTLE
    # A read that began SETTLE after the end gives what was written before it: then over.
    assert [line.text for line in await feed.poll()] == ["after the end"]
    assert feed.done and feed.ended == {job, other} and not feed.gone
    assert await feed.poll() == []


async def test_lines_written_between_the_jobs_reads_still_come_in_the_order_written(
    services: Callable[..., Awaitable[Service]], write_config: Callable[[str], Path]
) -> None:
    """A follower reads the jobs one after the other: lines all the jobs write while the
    first is read come at the next read, behind the lines written before them, not the
    later jobs' first (what the dashboard's `L` pane showed out of order)."""
    svc = await services(write_config(CONFIG), engine=False)
    ids = [(await svc.submit("two")).id for _ in range(3)]
    feed = LogFeed(svc, ids)
    await write(svc, [(job, f"{job} before") for job in ids])
    assert await feed.tail(10) != []
    meanwhile = [(job, f"{job} meanwhile {i}") for i in range(2) for job in ids]
    read = svc.logs

    async def logs_written_meanwhile(job_id: int, *args: object, **kwargs: object) -> object:
        """The real read; the first job's read a moment late, the others' lines in by then."""
        if meanwhile and job_id == ids[0]:
            got = await read(job_id, *args, **kwargs)  # type: ignore[arg-type]
            await write(svc, meanwhile)
            meanwhile.clear()
            return got
        return await read(job_id, *args, **kwargs)  # type: ignore[arg-type]

    svc.logs = logs_written_meanwhile  # type: ignore[method-assign]
    got = [(line.job_id, line.text) for line in await feed.poll()]
    got += [(line.job_id, line.text) for line in await feed.poll()]
    assert got == [(job, f"{job} meanwhile {i}") for i in range(2) for job in ids]
