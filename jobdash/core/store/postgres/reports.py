"""The claims of execution reports in the PostgreSQL store: a finished job's report and a
failed fire's, each taken by one engine (`FOR UPDATE SKIP LOCKED`: engines of several
processes claim side by side). Sending, retrying and reading them back are shared
(`core.store.sql.reports`).
"""

from __future__ import annotations

import json

from jobdash.core.store.engine_records import FireReport, StallReport
from jobdash.core.store.postgres.counts import Con
from jobdash.core.store.postgres.db import Db
from jobdash.core.store.records import ReportClaim
from jobdash.core.store.sql import reports
from jobdash.core.store.sql.dialect import POSTGRES
from jobdash.core.store.sql.reports import FINISHED
from jobdash.core.store.sql.stalls import STALL_COLUMNS, Stalls, stall_report

_DUE = POSTGRES.prep(reports.DUE)
_CLAIM = (
    "WITH due AS (SELECT r.job_id FROM reports r JOIN jobs j ON j.id = r.job_id "
    f"WHERE j.status = ANY(%s) AND {_DUE} ORDER BY r.job_id LIMIT %s "
    "FOR UPDATE OF r SKIP LOCKED) "
    "UPDATE reports SET state = 'sending', owner = %s, claimed_until = %s "
    "FROM due WHERE reports.job_id = due.job_id "
    "RETURNING reports.job_id, recipients, done, attempts"
)
_CLAIM_FIRES = (
    f"WITH due AS (SELECT r.tick_id FROM fire_reports r WHERE {_DUE} "
    "ORDER BY r.tick_id LIMIT %s FOR UPDATE SKIP LOCKED), "
    "claimed AS (UPDATE fire_reports SET state = 'sending', owner = %s, "
    "claimed_until = %s FROM due WHERE fire_reports.tick_id = due.tick_id "
    "RETURNING fire_reports.*) "
    "SELECT r.tick_id, t.schedule_id, coalesce(s.type, ''), t.fire_time, t.detail, "
    "coalesce(s.timezone, 'UTC'), r.recipients, r.done, r.attempts FROM claimed r "
    "JOIN ticks t ON t.id = r.tick_id LEFT JOIN schedules s ON s.id = t.schedule_id "
    "ORDER BY r.tick_id"
)

_CLAIM_STALLS = (
    f"WITH due AS (SELECT r.task_id, r.attempt FROM stall_reports r WHERE {_DUE} "
    "ORDER BY r.detected LIMIT %s FOR UPDATE SKIP LOCKED) "
    "UPDATE stall_reports SET state = 'sending', owner = %s, claimed_until = %s FROM due "
    "WHERE stall_reports.task_id = due.task_id AND stall_reports.attempt = due.attempt "
    "RETURNING " + ", ".join(f"stall_reports.{c.strip()}" for c in STALL_COLUMNS.split(","))
)


class Reports(reports.Reports, Stalls):
    db: Db

    async def claim_reports(self, owner: str, hold: float, limit: int = 10) -> list[ReportClaim]:
        def txn(con: Con, rev: int, now: float) -> list[ReportClaim]:
            rows = con.execute(_CLAIM, (FINISHED, now, now, limit, owner, now + hold)).fetchall()
            return sorted((r[0], json.loads(r[1]), json.loads(r[2]), r[3]) for r in rows)

        return await self.db.write(txn)

    async def claim_fire_reports(
        self, owner: str, hold: float, limit: int = 10
    ) -> list[FireReport]:
        def txn(con: Con, rev: int, now: float) -> list[FireReport]:
            rows = con.execute(_CLAIM_FIRES, (now, now, limit, owner, now + hold)).fetchall()
            return [reports.fire_report(r) for r in rows]

        return await self.db.write(txn)

    async def claim_stall_reports(
        self, owner: str, hold: float, limit: int = 10
    ) -> list[StallReport]:
        def txn(con: Con, rev: int, now: float) -> list[StallReport]:
            rows = con.execute(_CLAIM_STALLS, (now, now, limit, owner, now + hold)).fetchall()
            return sorted((stall_report(r) for r in rows), key=lambda r: r.detected)

        return await self.db.write(txn)
