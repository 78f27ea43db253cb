"""The batched writer of the PostgreSQL store: log lines, progress, process groups, metrics,
warnings and task outcomes are held in memory and written together, in one transaction, by a
single flusher task. Log lines go in by COPY. Outcomes do not wait for the batch interval.
What is held is bounded (back-pressure), and what could not be written is put back and
tried again.

As SQLite's, a batch refills the slots its outcomes freed (`Refill`): one transaction per
batch of outcomes, not a completion and then a claim. The transaction runs in the writer's
thread, so the agent's free slots are counted before it, on the event loop, once the batch
holds the write lock (`write_batch`): the outcomes that arrived meanwhile join the batch
first, so every slot counted free has its outcome written in the same transaction, before
the claim. (An agent counts a slot free when its process ends, and hands in the outcome at
once, without yielding to the loop.) Were another batch's outcomes held (an explicit
`flush` beside the flusher's), the refill is left out and the agent claims after the commit
wakes it (see `Claims.claim`).

The buffering (what is held, the bound, the flusher's loop) and the batch's statements are
shared (`core.store.sql.flush`); this class adds COPY, its claim, and runs a batch in the
writer's thread.
"""

from __future__ import annotations

from typing import Any

from jobdash.core.model import TaskStatus
from jobdash.core.store.engine_records import Claim, Claimant, Outcome, Refill
from jobdash.core.store.postgres.claims import claim_in, lock_jobs
from jobdash.core.store.postgres.counts import Con
from jobdash.core.store.postgres.db import Db
from jobdash.core.store.sql.counts import Known
from jobdash.core.store.sql.flush import Flusher, LogRow

FAILED = TaskStatus.FAILED


class PgFlusher(Flusher[Con]):
    """The buffered writes of a PostgreSQL store."""

    def __init__(self, db: Db) -> None:
        super().__init__(db)
        self.pg = db
        db.record_outcomes = self.record_outcomes
        db.outcomes_held = lambda: 0 if self.closed else self.outcomes_held()
        self._want: tuple[Refill, Claimant] | None = None  # the running batch's refill

    async def record_outcomes(self) -> None:
        """Write now the outcomes held, if any, and wait for those a batch is writing (see
        `Claims.claim`)."""
        if self.outcomes_held() and not self.closed:
            await self.outcomes_written()

    def insert_logs(self, con: Con, logs: list[LogRow]) -> None:
        """The lines of a batch, by COPY (INSERTs under row-level security: see `Db.copy`)."""
        self.pg.copy(con.cursor(), "logs (job_id, task_id, ts, stream, text, attempt)", logs)

    def wanted(self) -> tuple[Refill, Claimant] | None:
        return self._want

    def claim_in(self, con: Con, rev: int, now: float, want: Claimant) -> list[Claim]:
        return claim_in(con, rev, now, want)

    def lock_jobs(self, progress: dict[int, float]) -> Any:
        """Batches of several processes run side by side (`write_batch`), and each writes
        the rows of several jobs: its outcomes' counters, its claim's, its progress. Taken
        one statement at a time, two batches could each hold a row the other waits for (a
        deadlock, which PostgreSQL ends by rolling one back a second later). So the rows it
        will write are locked first, in one statement in the order of their ids, before the
        fenced read of its outcomes, which then reads each job's counters after any other
        batch's commit."""
        want = self._want
        tasks = list(progress)

        def lock(con: Con, outcome_tasks: list[int]) -> dict[int, Known]:
            return lock_jobs(
                con, [], [*tasks, *outcome_tasks], want[1] if want is not None else None
            )

        return lock

    async def write_batch(
        self, txn: Any, lines: int, outcomes: list[Outcome], jobs_first: bool
    ) -> list[bool]:
        """Run a batch's transaction in the writer's thread, its refill counted first (on
        the event loop, under the write lock: see the module). It runs beside the other
        processes' claims and batches (`Db.write`'s `shared`) when it only records
        outcomes other than failures, refills and notes progress: every row it decides on
        is locked (the fenced tasks, the jobs' rows its counters change, the claim's).
        Log lines (their `seq` is commit-ordered only among exclusive writers), a failure
        (its first-seen flags read the other failures; its retry may add a line), metrics
        (read, merged, written back) and warnings (jobs' rows written before the others are
        locked in order: see `lock_jobs`) make it exclusive."""

        def shared() -> bool:
            return not (lines or jobs_first) and all(o.status is not FAILED for o in outcomes)

        def ready() -> bool:
            if self._outcomes:  # arrived while the batch waited for the lock: written with it
                more, self._outcomes = self._outcomes, []
                outcomes.extend(more)
                self._writing_outcomes += len(more)
            refill = self.refill
            alone = self._writing_outcomes == len(outcomes)  # no other batch's are held
            want = refill.want() if outcomes and alone and refill is not None else None
            self._want = None if want is None or refill is None else (refill, want)
            return True

        try:
            result: list[bool] = await self.pg.write(txn, ready, shared=shared)
        finally:
            self._want = None
        return result
