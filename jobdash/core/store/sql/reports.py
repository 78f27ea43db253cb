"""Execution reports: the report of a finished job (`reports`) and of a failed fire
(`fire_reports`), each claimed by one engine to be sent, retried, and marked sent or failed
for good, fenced on the engine that claimed it. The claims are each backend's own (SQLite's
`UPDATE … RETURNING`, PostgreSQL's `FOR UPDATE SKIP LOCKED`); the rest is here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jobdash.core.model import FINISHED_JOB
from jobdash.core.store.sql.dialect import Connection, Reading, Statements

if TYPE_CHECKING:
    from jobdash.core.store.engine_records import Delivery, FireReport

FINISHED = [str(s) for s in FINISHED_JOB]
# A report that is due: pending and its time come, or claimed by an engine that let it go.
DUE = "((r.state = 'pending' AND r.next_try <= ?) OR (r.state = 'sending' AND r.claimed_until < ?))"


def fire_report(r: Sequence[Any]) -> FireReport:
    """A claimed fire report's row as a record (its email and webhook lists are JSON)."""
    from jobdash.core.store.engine_records import FireReport  # not loaded by a read

    return FireReport(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), json.loads(r[7]), r[8])


Q = Statements(
    due_job="SELECT 1 FROM reports r JOIN jobs j ON j.id = r.job_id WHERE ",
    due_rest=f" AND {DUE} UNION ALL SELECT 1 FROM fire_reports r WHERE {DUE}"
    f" UNION ALL SELECT 1 FROM stall_reports r WHERE {DUE}",
    done="UPDATE reports SET state = ?, done = ?, attempts = attempts + ?, next_try = ?, "
    "owner = NULL, claimed_until = NULL, sent = ?, last_error = ? "
    "WHERE job_id = ? AND owner = ? AND state = 'sending'",
    log="INSERT INTO logs (job_id, task_id, ts, stream, text) VALUES (?, NULL, ?, 'system', ?)",
    touch="UPDATE jobs SET updated = ?, rev = ? WHERE id = ?",
    state="SELECT state, recipients, done, attempts, next_try, sent, last_error "
    "FROM reports WHERE job_id = ?",
    fire_done="UPDATE fire_reports SET state = ?, done = ?, attempts = attempts + ?, "
    "next_try = ?, owner = NULL, claimed_until = NULL, last_error = ? "
    "WHERE tick_id = ? AND owner = ? AND state = 'sending'",
)


def after_send(error: str, retry_at: float | None) -> str:
    """A report after a send: sent, pending again (a retry is due), or failed for good."""
    if not error:
        return "sent"
    return "pending" if retry_at is not None else "failed"


class Reports:
    """Job reports and failed fires' reports (the claims are the backend's)."""

    db: Reading

    async def has_due_reports(self) -> bool:
        """Any report to send: a finished job's, a failed fire's, a stalled task's."""
        now = time.time()
        d = self.db.dialect
        q = Q[d]
        among, args = d.among("j.status", FINISHED)
        return await self.db.exists(q.due_job + among + q.due_rest, (*args, *(now,) * 6))

    async def report_done(
        self, job_id: int, owner: str, sent: Delivery, log: str | None = None
    ) -> bool:
        """Record a send: sent (no error), pending again at `retry_at`, or failed for good
        (error and no retry). Fenced on the owner; False when another engine took it over."""
        done, error, retry_at = sent.done, sent.error, sent.retry_at
        q = Q[self.db.dialect]

        def txn(con: Connection, rev: int, now: float) -> bool:
            state = after_send(error, retry_at)
            next_try = retry_at if state == "pending" and retry_at is not None else 0.0
            cur = con.execute(
                q.done,
                (
                    state,
                    json.dumps(done),
                    1 if error else 0,
                    next_try,
                    now if not error else None,
                    error,
                    job_id,
                    owner,
                ),
            )
            if cur.rowcount and log:
                con.execute(q.log, (job_id, now, log))
                con.execute(q.touch, (now, rev, job_id))
            return bool(cur.rowcount)

        return await self.db.write(txn)

    async def report_state(self, job_id: int) -> dict[str, Any] | None:
        rows = await self.db.fetchall(Q[self.db.dialect].state, (job_id,))
        if not rows:
            return None
        r = rows[0]
        return {
            "state": r[0],
            "recipients": json.loads(r[1]),
            "done": json.loads(r[2]),
            "attempts": r[3],
            "next_try": r[4],
            "sent": r[5],
            "last_error": r[6],
        }

    async def fire_report_done(self, tick_id: int, owner: str, sent: Delivery) -> bool:
        """Record a send (as `report_done` does for a job's report); fenced on the owner."""
        done, error, retry_at = sent.done, sent.error, sent.retry_at
        q = Q[self.db.dialect]

        def txn(con: Connection, rev: int, now: float) -> bool:
            cur = con.execute(
                q.fire_done,
                (
                    after_send(error, retry_at),
                    json.dumps(done),
                    1 if error else 0,
                    retry_at or 0.0,
                    error,
                    tick_id,
                    owner,
                ),
            )
            return bool(cur.rowcount)

        return await self.db.write(txn)
