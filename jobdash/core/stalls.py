"""Stall reports: a running task attempt silent past its type's `stall_after` (the rule of
`core.timing`: no log line and no progress, its start counting as one) is reported once to
its job's recipients, for the types that ask (`report = { …, stalls = true }`).

Each engine looks every `STALL_EVERY` seconds, with its reports (`Reporter.look`): one
read of the running tasks of such types whose jobs have recipients, silent longer than the
shortest limit any of those types may have and not reported yet (`Store.silent_tasks`); the
limit of each type is its configured `stall_after`, or one derived from its history
(`core.timing`: at least `STALL_FLOOR`), read only for a type with a task that silent, and
kept `TIMING_TTL` seconds. A stalled attempt found is noted in the store, keyed by task
and attempt (`Store.add_stall_report`): whichever engine notes it first wins, so a stall is
reported once across engines and restarts, and a task that talks again and falls silent
again in the same attempt is not reported again (its next attempt may be). The note is then
sent like every report: claimed by one engine, retried with backoff.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from jobdash.core import timing
from jobdash.core.lazylog import lazy_logger
from jobdash.core.timing import HISTORY_RUNS, TIMING_TTL, past, type_timing, usual_runs

if TYPE_CHECKING:
    from jobdash.core.model import JobType, TypeTiming
    from jobdash.core.permissions import Shared
    from jobdash.core.store.base import Store

log = lazy_logger("jobdash.reports")  # `logging` loaded at its first message

STALL_EVERY = 5.0  # seconds between an engine's looks for stalled tasks to report


async def read_type_timing(
    store: Store,
    type: str,
    stall_after: float | None,
    user: str | None = None,
    shared: Shared = (),
) -> TypeTiming:
    """`type`'s timing from its last runs (of `user` only, with the jobs of others that
    `shared` names; None: everyone's): two index reads (its finished runs, their tasks'
    durations)."""
    runs = await store.type_runs(type, HISTORY_RUNS, user, shared)
    tasks = await store.task_durations([r.job_id for r in usual_runs(runs)])
    return type_timing(type, runs, tasks, stall_after)


class StallWatch:
    """One engine's look for stalled tasks to report, of the types of its own config that
    ask for it."""

    def __init__(self, store: Store, types: Mapping[str, JobType]) -> None:
        self.store = store
        # The types that ask for stall reports, and their configured stall_after (or None).
        self.watched = {n: jt.stall_after for n, jt in types.items() if jt.report.stalls}
        self._derived: dict[str, tuple[float, float | None]] = {}  # type: (read at, limit)
        self._last = -STALL_EVERY

    def floor(self) -> float:
        """The shortest silence any watched type may be told stalled after: the shortest
        configured stall_after, or the floor of a derived one (`core.timing.STALL_FLOOR`)."""
        return min(
            limit if limit is not None else timing.STALL_FLOOR for limit in self.watched.values()
        )

    async def limit(self, type: str) -> tuple[float | None, bool]:
        """`type`'s stall_after now, and whether it is configured (else derived from its
        history, read again after TIMING_TTL; None: it has too little history)."""
        configured = self.watched[type]
        if configured is not None:
            return configured, True
        kept = self._derived.get(type)
        if kept is None or time.monotonic() - kept[0] >= TIMING_TTL:
            derived = (await read_type_timing(self.store, type, None)).stall_after
            kept = self._derived[type] = (time.monotonic(), derived)
        return kept[1], False

    async def due(self) -> int:
        """`check` when STALL_EVERY has passed since the last look (0 otherwise)."""
        if not self.watched or time.monotonic() - self._last < STALL_EVERY:
            return 0
        self._last = time.monotonic()
        return await self.check()

    async def check(self) -> int:
        """Note the attempts stalled now that were not noted yet; how many this engine
        noted (another engine may have noted some first)."""
        from jobdash.core.store.engine_records import StallReport  # not loaded by a read

        if not self.watched:
            return 0
        now = time.time()
        noted = 0
        for t in await self.store.silent_tasks(sorted(self.watched), now - self.floor()):
            limit, configured = await self.limit(t.type)
            silent = now - t.quiet
            if limit is None or not past(limit, silent):
                continue
            report = StallReport(
                t.task_id,
                t.attempt,
                t.job_id,
                t.type,
                t.seq,
                t.name,
                silent=silent,
                stall_after=limit,
                configured=configured,
                last_line=await self.store.task_last_line(t.job_id, t.task_id, t.attempt),
                detected=now,
                recipients=t.recipients,
            )
            if await self.store.add_stall_report(report):
                noted += 1
                log.info(
                    "job %s task #%s stalled (silent %.0fs): to report", t.job_id, t.seq, silent
                )
        return noted
