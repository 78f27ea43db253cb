"""The batched writer of the PostgreSQL store: log lines, progress, process groups, metrics,
warnings and task outcomes are held in memory and written together, in one transaction, by a
single flusher task. Log lines go in by COPY. Outcomes do not wait for the batch interval.
What is held is bounded (back-pressure), and what could not be written is put back and
tried again.

Unlike SQLite's, a batch does not refill the slots its outcomes freed (`Refill`): the
agent's free slots must be counted on the event loop under the write lock (see
`Claims.claim`), and this transaction runs in the writer's thread. The agent claims right
after the commit wakes it (`on_commit`): one more transaction per batch of outcomes.

The buffering (what is held, the bound, the flusher's loop) is the SQLite backend's
`Flusher`; this class only writes a batch with PostgreSQL's statements.
"""

from __future__ import annotations

import json
from typing import Any

from jobdash.core.store.postgres.claims import complete_in
from jobdash.core.store.postgres.counts import INFO_MAX, Con, update_progress
from jobdash.core.store.postgres.db import Db
from jobdash.core.store.records import Outcome
from jobdash.core.store.sqlite.flush import Flusher, LogRow


class PgFlusher(Flusher):
    """The buffered writes of a PostgreSQL store."""

    def __init__(self, db: Db) -> None:
        super().__init__(db)  # type: ignore[arg-type]  # it uses held, inflight and faults
        self.pg = db
        db.record_outcomes = self.record_outcomes
        db.outcomes_held = lambda: 0 if self.closed else self.outcomes_held()

    async def record_outcomes(self) -> None:
        """Write now the outcomes held, if any (see `Claims.claim`)."""
        if self.outcomes_held() and not self.closed:
            await self.flush()

    def batch(
        self,
        logs: list[LogRow],
        outcomes: list[Outcome],
        progress: dict[int, float],
        pgids: dict[int, int],
        metrics: dict[int, dict[str, float]],
        warnings: dict[int, int],
        refilled: list[Any],
    ) -> Any:
        """The transaction that writes one batch (see `Flusher.batch`)."""

        def txn(con: Con, rev: int, now: float) -> list[bool]:
            refilled.clear()
            cur = con.cursor()
            if logs:
                self.pg.copy(cur, "logs (job_id, task_id, ts, stream, text, attempt)", logs)
                last: dict[int, str] = {}
                for job_id, _t, _ts, stream, text, _a in logs:
                    if stream != "system" and text.strip():
                        last[job_id] = text
                cur.executemany(
                    "UPDATE jobs SET info = %s, updated = %s, rev = %s WHERE id = %s",
                    [(t.strip()[:INFO_MAX], now, rev, j) for j, t in last.items()],
                )
            if progress:
                cur.executemany(
                    "UPDATE tasks SET progress = %s WHERE id = %s AND status = 'running'",
                    [(p, tid) for tid, p in progress.items()],
                )
            if pgids:
                cur.executemany(
                    "UPDATE tasks SET pgid = %s WHERE id = %s AND status = 'running'",
                    [(g, tid) for tid, g in pgids.items()],
                )
            if metrics:
                rows = con.execute(
                    "SELECT id, metrics FROM jobs WHERE id = ANY(%s)", (list(metrics),)
                ).fetchall()
                merged = []
                for job_id, text in rows:
                    total = json.loads(text)
                    for k, v in metrics[job_id].items():
                        total[k] = total.get(k, 0) + v
                    merged.append((json.dumps(total), rev, job_id))
                cur.executemany("UPDATE jobs SET metrics = %s, rev = %s WHERE id = %s", merged)
            if warnings:
                cur.executemany(
                    "UPDATE jobs SET warnings = warnings + %s, rev = %s WHERE id = %s",
                    [(n, rev, j) for j, n in warnings.items()],
                )
            accepted = complete_in(con, rev, now, outcomes) if outcomes else []
            touched = {j for j, *_ in logs} | set(metrics) | set(warnings)
            if progress:
                rows = con.execute(
                    "SELECT DISTINCT job_id FROM tasks WHERE id = ANY(%s)", (list(progress),)
                ).fetchall()
                touched |= {r[0] for r in rows}
            update_progress(con, rev, touched)
            return accepted

        return txn

    async def write_batch(self, txn: Any, lines: int) -> list[bool]:
        """Run a batch's transaction, in the writer's thread (no inline: a round trip)."""
        result: list[bool] = await self.pg.write(txn)
        return result
