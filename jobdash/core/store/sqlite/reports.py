"""The claims of execution reports in the SQLite store: a finished job's report and a failed
fire's, each taken by one engine with an `UPDATE … RETURNING` (the store's writes are
serialised). Sending, retrying and reading them back are shared (`core.store.sql.reports`).
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from jobdash.core.store.sql import reports
from jobdash.core.store.sql.reports import DUE, FINISHED
from jobdash.core.store.sql.stalls import STALL_COLUMNS, Stalls, stall_report
from jobdash.core.store.sqlite.db import Db, qmarks

if TYPE_CHECKING:
    from jobdash.core.store.engine_records import FireReport, StallReport

_CLAIM = (
    "UPDATE reports SET state = 'sending', owner = ?, claimed_until = ? "
    "WHERE job_id IN (SELECT r.job_id FROM reports r JOIN jobs j ON j.id = r.job_id "
    f"WHERE j.status IN ({qmarks(FINISHED)}) AND {DUE} "
    "ORDER BY r.job_id LIMIT ?) RETURNING job_id, recipients, done, attempts"
)
_CLAIM_FIRES = (
    "UPDATE fire_reports SET state = 'sending', owner = ?, claimed_until = ? "
    f"WHERE tick_id IN (SELECT r.tick_id FROM fire_reports r WHERE {DUE} "
    "ORDER BY r.tick_id LIMIT ?) RETURNING tick_id"
)

_CLAIM_STALLS = (
    "UPDATE stall_reports SET state = 'sending', owner = ?, claimed_until = ? "
    f"WHERE rowid IN (SELECT r.rowid FROM stall_reports r WHERE {DUE} "
    f"ORDER BY r.detected LIMIT ?) RETURNING {STALL_COLUMNS}"
)


class Reports(reports.Reports, Stalls):
    """Job reports, failed fires' reports and stall reports."""

    db: Db

    async def claim_reports(
        self, owner: str, hold: float, limit: int = 10
    ) -> list[tuple[int, dict[str, list[str]], list[str], int]]:
        """Take the reports of finished jobs that are due (one engine sends each): returns
        (job id, recipients, recipients already served, attempts so far)."""

        def txn(
            con: sqlite3.Connection, rev: int, now: float
        ) -> list[tuple[int, dict[str, list[str]], list[str], int]]:
            rows = con.execute(_CLAIM, (owner, now + hold, *FINISHED, now, now, limit)).fetchall()
            return [(r[0], json.loads(r[1]), json.loads(r[2]), r[3]) for r in rows]

        return await self.db.write(txn)

    async def claim_fire_reports(
        self, owner: str, hold: float, limit: int = 10
    ) -> list[FireReport]:
        """Take the due reports of failed fires (one engine sends each, like job reports)."""

        def txn(con: sqlite3.Connection, rev: int, now: float) -> list[FireReport]:
            claimed = con.execute(_CLAIM_FIRES, (owner, now + hold, now, now, limit)).fetchall()
            ids = [r[0] for r in claimed]
            if not ids:
                return []
            rows = con.execute(
                "SELECT r.tick_id, t.schedule_id, coalesce(s.type, ''), t.fire_time, t.detail, "
                "coalesce(s.timezone, 'UTC'), r.recipients, r.done, r.attempts FROM fire_reports r "
                "JOIN ticks t ON t.id = r.tick_id LEFT JOIN schedules s ON s.id = t.schedule_id "
                f"WHERE r.tick_id IN ({qmarks(ids)}) ORDER BY r.tick_id",
                ids,
            ).fetchall()
            return [reports.fire_report(r) for r in rows]

        return await self.db.write(txn)

    async def claim_stall_reports(
        self, owner: str, hold: float, limit: int = 10
    ) -> list[StallReport]:
        """Take the due stall reports (one engine sends each, like job reports)."""

        def txn(con: sqlite3.Connection, rev: int, now: float) -> list[StallReport]:
            rows = con.execute(_CLAIM_STALLS, (owner, now + hold, now, now, limit)).fetchall()
            return [stall_report(r) for r in rows]

        return await self.db.write(txn)
