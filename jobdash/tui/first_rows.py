"""What the dashboard's first frame shows, read before the app starts (`FirstRows`)."""

from __future__ import annotations

from dataclasses import dataclass

from jobdash.core.model import Job
from jobdash.core.service import Service

__all__ = ["FIRST_PAGE", "FirstRows"]

FIRST_PAGE = 500  # finished jobs shown before the rest of the history is loaded


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
