"""The batched writer of the PostgreSQL store: log lines, progress, process groups, metrics,
warnings and task outcomes are held in memory and written together, in one transaction, by a
single flusher task. Log lines go in by COPY. Outcomes do not wait for the batch interval.
What is held is bounded (back-pressure), and what could not be written is put back and
tried again.

Unlike SQLite's, a batch does not refill the slots its outcomes freed (`Refill`): the
agent's free slots must be counted on the event loop under the write lock (see
`Claims.claim`), and this transaction runs in the writer's thread. The agent claims right
after the commit wakes it (`on_commit`): one more transaction per batch of outcomes.

The buffering (what is held, the bound, the flusher's loop) and the batch's statements are
shared (`core.store.sql.flush`); this class adds COPY and runs a batch in the writer's
thread.
"""

from __future__ import annotations

from typing import Any

from jobdash.core.store.postgres.claims import complete_in
from jobdash.core.store.postgres.counts import Con
from jobdash.core.store.postgres.db import Db
from jobdash.core.store.records import Outcome
from jobdash.core.store.sql.flush import Flusher, LogRow


class PgFlusher(Flusher[Con]):
    """The buffered writes of a PostgreSQL store."""

    def __init__(self, db: Db) -> None:
        super().__init__(db)
        self.pg = db
        db.record_outcomes = self.record_outcomes
        db.outcomes_held = lambda: 0 if self.closed else self.outcomes_held()

    async def record_outcomes(self) -> None:
        """Write now the outcomes held, if any, and wait for those a batch is writing (see
        `Claims.claim`)."""
        if self.outcomes_held() and not self.closed:
            await self.outcomes_written()

    def insert_logs(self, con: Con, logs: list[LogRow]) -> None:
        """The lines of a batch, by COPY (INSERTs under row-level security: see `Db.copy`)."""
        self.pg.copy(con.cursor(), "logs (job_id, task_id, ts, stream, text, attempt)", logs)

    def complete_in(self, con: Con, rev: int, now: float, outcomes: list[Outcome]) -> list[bool]:
        return complete_in(con, rev, now, outcomes)

    async def write_batch(self, txn: Any, lines: int) -> list[bool]:
        """Run a batch's transaction, in the writer's thread (no inline: a round trip)."""
        result: list[bool] = await self.pg.write(txn)
        return result
