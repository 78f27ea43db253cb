"""Execution reports of the SQLite store: the report of a finished job (`reports`) and of a
failed fire (`fire_reports`), each claimed by one engine to be sent, retried, and marked
sent or failed for good, fenced on the engine that claimed it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from jobdash.core.model import FINISHED_JOB
from jobdash.core.store.records import Delivery, FireReport
from jobdash.core.store.sqlite.db import Db, qmarks


def after_send(error: str, retry_at: float | None) -> str:
    """A report after a send: sent, pending again (a retry is due), or failed for good."""
    if not error:
        return "sent"
    return "pending" if retry_at is not None else "failed"


class Reports:
    """Job reports and failed fires' reports."""

    db: Db

    async def has_due_reports(self) -> bool:
        """Any report to send: a finished job's, or a failed fire's."""
        now = time.time()
        return await self.db.exists(
            "SELECT 1 FROM reports r JOIN jobs j ON j.id = r.job_id "
            f"WHERE j.status IN ({qmarks(FINISHED_JOB)}) AND ((r.state = 'pending' AND "
            "r.next_try <= ?) OR (r.state = 'sending' AND r.claimed_until < ?)) UNION ALL "
            "SELECT 1 FROM fire_reports WHERE (state = 'pending' AND next_try <= ?) "
            "OR (state = 'sending' AND claimed_until < ?)",
            (*(str(s) for s in FINISHED_JOB), now, now, now, now),
        )

    async def claim_reports(
        self, owner: str, hold: float, limit: int = 10
    ) -> list[tuple[int, dict[str, list[str]], list[str], int]]:
        """Take the reports of finished jobs that are due (one engine sends each): returns
        (job id, recipients, recipients already served, attempts so far)."""

        def txn(
            con: sqlite3.Connection, rev: int, now: float
        ) -> list[tuple[int, dict[str, list[str]], list[str], int]]:
            rows = con.execute(
                "UPDATE reports SET state = 'sending', owner = ?, claimed_until = ? "
                "WHERE job_id IN (SELECT r.job_id FROM reports r JOIN jobs j ON j.id = r.job_id "
                f"WHERE j.status IN ({qmarks(FINISHED_JOB)}) AND ((r.state = 'pending' AND "
                "r.next_try <= ?) OR (r.state = 'sending' AND r.claimed_until < ?)) "
                "ORDER BY r.job_id LIMIT ?) RETURNING job_id, recipients, done, attempts",
                (owner, now + hold, *(str(s) for s in FINISHED_JOB), now, now, limit),
            ).fetchall()
            return [(r[0], json.loads(r[1]), json.loads(r[2]), r[3]) for r in rows]

        return await self.db.write(txn)

    async def report_done(
        self, job_id: int, owner: str, sent: Delivery, log: str | None = None
    ) -> bool:
        """Record a send: sent (no error), pending again at `retry_at`, or failed for good
        (error and no retry). Fenced on the owner; False when another engine took it over."""
        done, error, retry_at = sent.done, sent.error, sent.retry_at

        def txn(con: sqlite3.Connection, rev: int, now: float) -> bool:
            state = after_send(error, retry_at)
            next_try = retry_at if state == "pending" and retry_at is not None else 0.0
            cur = con.execute(
                "UPDATE reports SET state = ?, done = ?, attempts = attempts + ?, next_try = ?, "
                "owner = NULL, claimed_until = NULL, sent = ?, last_error = ? "
                "WHERE job_id = ? AND owner = ? AND state = 'sending'",
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
                    "INSERT INTO logs (job_id, task_id, ts, stream, text) VALUES (?, NULL, ?, "
                    "'system', ?)",
                    (job_id, now, log),
                )
                con.execute("UPDATE jobs SET updated = ?, rev = ? WHERE id = ?", (now, rev, job_id))
            return bool(cur.rowcount)

        return await self.db.write(txn)

    async def report_state(self, job_id: int) -> dict[str, Any] | None:
        rows = list(
            await self.db.reader.execute_fetchall(
                "SELECT state, recipients, done, attempts, next_try, sent, last_error "
                "FROM reports WHERE job_id = ?",
                (job_id,),
            )
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
        """Take the due reports of failed fires (one engine sends each, like job reports)."""

        def txn(con: sqlite3.Connection, rev: int, now: float) -> list[FireReport]:
            claimed = con.execute(
                "UPDATE fire_reports SET state = 'sending', owner = ?, claimed_until = ? "
                "WHERE tick_id IN (SELECT tick_id FROM fire_reports WHERE "
                "(state = 'pending' AND next_try <= ?) OR (state = 'sending' AND claimed_until < ?) "
                "ORDER BY tick_id LIMIT ?) RETURNING tick_id",
                (owner, now + hold, now, now, limit),
            ).fetchall()
            ids = [r[0] for r in claimed]
            if not ids:
                return []
            rows = con.execute(
                "SELECT r.tick_id, t.schedule_id, coalesce(s.type, ''), t.fire_time, t.detail, "
                "coalesce(s.timezone, 'UTC'), r.recipients, r.done, r.attempts FROM fire_reports r "
                "JOIN ticks t ON t.id = r.tick_id LEFT JOIN schedules s ON s.id = t.schedule_id "
                f"WHERE r.tick_id IN ({', '.join('?' for _ in ids)}) ORDER BY r.tick_id",
                ids,
            ).fetchall()
            return [
                FireReport(
                    r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), json.loads(r[7]), r[8]
                )
                for r in rows
            ]

        return await self.db.write(txn)

    async def fire_report_done(self, tick_id: int, owner: str, sent: Delivery) -> bool:
        """Record a send (as `report_done` does for a job's report); fenced on the owner."""
        done, error, retry_at = sent.done, sent.error, sent.retry_at

        def txn(con: sqlite3.Connection, rev: int, now: float) -> bool:
            cur = con.execute(
                "UPDATE fire_reports SET state = ?, done = ?, attempts = attempts + ?, "
                "next_try = ?, owner = NULL, claimed_until = NULL, last_error = ? "
                "WHERE tick_id = ? AND owner = ? AND state = 'sending'",
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
