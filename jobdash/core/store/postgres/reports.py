"""Execution reports of the PostgreSQL store: the report of a finished job (`reports`) and of
a failed fire (`fire_reports`), each claimed by one engine to be sent (`FOR UPDATE SKIP
LOCKED`), retried, and marked sent or failed for good, fenced on the engine that claimed it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from jobdash.core.model import FINISHED_JOB
from jobdash.core.store.postgres.counts import Con
from jobdash.core.store.postgres.db import Db
from jobdash.core.store.records import Delivery, FireReport, ReportClaim
from jobdash.core.store.sqlite.reports import after_send

_FINISHED = [str(s) for s in FINISHED_JOB]
_DUE = (
    "((r.state = 'pending' AND r.next_try <= %s) OR (r.state = 'sending' AND r.claimed_until < %s))"
)


class Reports:
    db: Db

    async def has_due_reports(self) -> bool:
        now = time.time()
        return await self.db.exists(
            "SELECT 1 FROM reports r JOIN jobs j ON j.id = r.job_id "
            f"WHERE j.status = ANY(%s) AND {_DUE} UNION ALL "
            f"SELECT 1 FROM fire_reports r WHERE {_DUE}",
            (_FINISHED, now, now, now, now),
        )

    async def claim_reports(self, owner: str, hold: float, limit: int = 10) -> list[ReportClaim]:
        def txn(con: Con, rev: int, now: float) -> list[ReportClaim]:
            rows = con.execute(
                "WITH due AS (SELECT r.job_id FROM reports r JOIN jobs j ON j.id = r.job_id "
                f"WHERE j.status = ANY(%s) AND {_DUE} ORDER BY r.job_id LIMIT %s "
                "FOR UPDATE OF r SKIP LOCKED) "
                "UPDATE reports SET state = 'sending', owner = %s, claimed_until = %s "
                "FROM due WHERE reports.job_id = due.job_id "
                "RETURNING reports.job_id, recipients, done, attempts",
                (_FINISHED, now, now, limit, owner, now + hold),
            ).fetchall()
            return sorted((r[0], json.loads(r[1]), json.loads(r[2]), r[3]) for r in rows)

        return await self.db.write(txn)

    async def report_done(
        self, job_id: int, owner: str, sent: Delivery, log: str | None = None
    ) -> bool:
        done, error, retry_at = sent.done, sent.error, sent.retry_at

        def txn(con: Con, rev: int, now: float) -> bool:
            state = after_send(error, retry_at)
            next_try = retry_at if state == "pending" and retry_at is not None else 0.0
            cur = con.execute(
                "UPDATE reports SET state = %s, done = %s, attempts = attempts + %s, "
                "next_try = %s, owner = NULL, claimed_until = NULL, sent = %s, last_error = %s "
                "WHERE job_id = %s AND owner = %s AND state = 'sending'",
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
                con.execute(
                    "INSERT INTO logs (job_id, task_id, ts, stream, text) "
                    "VALUES (%s, NULL, %s, 'system', %s)",
                    (job_id, now, log),
                )
                con.execute(
                    "UPDATE jobs SET updated = %s, rev = %s WHERE id = %s", (now, rev, job_id)
                )
            return bool(cur.rowcount)

        return await self.db.write(txn)

    async def report_state(self, job_id: int) -> dict[str, Any] | None:
        rows = await self.db.fetchall(
            "SELECT state, recipients, done, attempts, next_try, sent, last_error "
            "FROM reports WHERE job_id = %s",
            (job_id,),
        )
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

    async def claim_fire_reports(
        self, owner: str, hold: float, limit: int = 10
    ) -> list[FireReport]:
        def txn(con: Con, rev: int, now: float) -> list[FireReport]:
            rows = con.execute(
                f"WITH due AS (SELECT r.tick_id FROM fire_reports r WHERE {_DUE} "
                "ORDER BY r.tick_id LIMIT %s FOR UPDATE SKIP LOCKED), "
                "claimed AS (UPDATE fire_reports SET state = 'sending', owner = %s, "
                "claimed_until = %s FROM due WHERE fire_reports.tick_id = due.tick_id "
                "RETURNING fire_reports.*) "
                "SELECT r.tick_id, t.schedule_id, coalesce(s.type, ''), t.fire_time, t.detail, "
                "coalesce(s.timezone, 'UTC'), r.recipients, r.done, r.attempts FROM claimed r "
                "JOIN ticks t ON t.id = r.tick_id LEFT JOIN schedules s ON s.id = t.schedule_id "
                "ORDER BY r.tick_id",
                (now, now, limit, owner, now + hold),
            ).fetchall()
            return [
                FireReport(
                    r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), json.loads(r[7]), r[8]
                )
                for r in rows
            ]

        return await self.db.write(txn)

    async def fire_report_done(self, tick_id: int, owner: str, sent: Delivery) -> bool:
        done, error, retry_at = sent.done, sent.error, sent.retry_at

        def txn(con: Con, rev: int, now: float) -> bool:
            cur = con.execute(
                "UPDATE fire_reports SET state = %s, done = %s, attempts = attempts + %s, "
                "next_try = %s, owner = NULL, claimed_until = NULL, last_error = %s "
                "WHERE tick_id = %s AND owner = %s AND state = 'sending'",
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
