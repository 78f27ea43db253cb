"""What the dashboard's first frame shows, read before the app starts (`FirstRows`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from jobdash.core.model import Job
from jobdash.core.service import Service

__all__ = ["FIRST_PAGE", "FirstRows", "read_history"]

FIRST_PAGE = 500  # finished jobs shown before the rest of the history is loaded
HISTORY_PAGE = 1_000  # finished jobs per read while the whole history is loaded


@dataclass
class FirstRows:
    """What the first frame shows, read before the app starts (its event loop is busy
    mounting and drawing then): the active jobs, the newest finished ones, and the store
    revision they were read at, from which the change feed starts."""

    rev: int
    active: list[Job]
    finished: list[Job]

    @classmethod
    async def read(cls, svc: Service) -> FirstRows:
        rev = await svc.rev()
        active = await svc.jobs(active=True, limit=None)
        return cls(rev, active, await svc.jobs(active=False, limit=FIRST_PAGE))


async def read_history(
    svc: Service, page: int | None = None, go: asyncio.Event | None = None
) -> list[Job]:
    """Every finished job this user may see, newest first, read a page at a time (by id),
    each page once `go` is set (None: at once).

    Why pages: the store has one reader, and it serves requests in turn. Read whole, 100,000
    jobs hold it for seconds, and a read asked meanwhile (the Failures tab's groups, a job's
    details) waits for all of them; read in pages, it waits for one. Why `go`: converting
    the pages takes the CPU (and the GIL) for seconds, which a view in front of the job
    tables needs more; it clears `go` and the reading waits. A job that changes between two
    pages is in the change feed, which the dashboard applies once they are in."""
    page = page or HISTORY_PAGE
    jobs: list[Job] = []
    after: int | None = None
    while True:
        if go is not None:
            await go.wait()
        got = await svc.jobs(active=False, limit=page, after_id=after)
        jobs.extend(got)
        if len(got) < page:
            return jobs
        after = got[-1].id
