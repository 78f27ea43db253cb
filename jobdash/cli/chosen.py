"""Which jobs a command is for: the ids given (each once), or every job `--query`
selects. `cancel`, `pause`, `resume`, `retry` and `logs` take them alike; `schedule
run|enable|disable` checks its several ids the same way (`known_ids`).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from jobdash.core.model import BadInput, NotFound

if TYPE_CHECKING:
    from jobdash.core.service import Service

__all__ = ["chosen_jobs", "known_ids"]

T = TypeVar("T")


async def known_ids(ids: Sequence[T], read: Callable[[T], Awaitable[Any]]) -> None:
    """An id that is not there (or not yours) is bad input, said before anything is done,
    a lone id as one of several: exit status 2 and one line, `jobdash: cancel: no job 9:
    nothing done`, as every command says an unknown id (`main.unknown`)."""
    for i in ids:
        try:
            await read(i)
        except NotFound as e:
            raise NotFound(f"{e}: nothing done") from None


async def chosen_jobs(svc: Service, a: argparse.Namespace) -> list[int]:
    """The ids a job action is for: those given (each once), or every job `--query`
    selects (none: said, nothing done)."""
    if a.query is not None:
        if a.job:
            raise BadInput(f"{a.command}: give job ids or --query, not both")
        if not a.query.strip():
            raise BadInput(f"{a.command}: --query is empty: say which jobs (e.g. status:failed)")
        return sorted(job.id for job in await svc.jobs(a.query, limit=None))
    ids = list(dict.fromkeys(a.job))
    if not ids:
        raise BadInput(f"{a.command}: give one or more job ids, or --query QUERY")
    await known_ids(ids, svc.job)
    return ids
