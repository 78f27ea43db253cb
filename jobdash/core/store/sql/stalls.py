"""Stall reports (`core.stalls`): a running task attempt silent past its type's
`stall_after`, reported once to its job's recipients. One row per (task, attempt), its
primary key: whichever engine sees the stall first inserts it, the others' inserts do nothing,
so a stall is reported once across engines and restarts; a task that talks again and falls
silent again in the same attempt finds its row there. The row is then sent like a failed
fire's report (claimed by one engine, retried at `next_try`, sent or failed for good); the
claim is each backend's own (`claim_stall_reports`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jobdash.core.store.sql.dialect import Connection, Reading, Statements
from jobdash.core.store.sql.reports import Q as REPORTS
from jobdash.core.store.sql.reports import after_send

if TYPE_CHECKING:
    from jobdash.core.store.engine_records import Delivery, SilentTask, StallReport

# Schema migration 23 of SQLite, 16 of PostgreSQL (there INTEGER becomes BIGINT and REAL
# DOUBLE PRECISION). Goes with its job by the foreign key's cascade.
STALL_REPORTS = """
CREATE TABLE stall_reports (
    task_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    silent REAL NOT NULL,          -- seconds the task had been silent when seen stalled
    stall_after REAL NOT NULL,     -- the limit that applied
    configured INTEGER NOT NULL,   -- 1: the type's stall_after; 0: derived from its history
    last_line TEXT,                -- the task's last log line then (NULL: it wrote none)
    detected REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',  -- pending, sending, sent, failed
    recipients TEXT NOT NULL,      -- JSON {"email": [...], "webhook": [...]}, the job's
    done TEXT NOT NULL DEFAULT '[]',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    owner TEXT,
    claimed_until REAL,
    last_error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (task_id, attempt)
);
CREATE INDEX stall_reports_due ON stall_reports (next_try) WHERE state IN ('pending', 'sending');
CREATE INDEX stall_reports_job ON stall_reports (job_id);
"""

# What a claim returns of a row (both backends' claims), in StallReport's order.
STALL_COLUMNS = (
    "task_id, attempt, job_id, type, seq, name, silent, stall_after, configured, last_line, "
    "detected, recipients, done, attempts"
)
_QUIET = "{max}(coalesce(t.active, t.started), t.started)"

Q = Statements(
    # The check: running attempts of jobs with recipients, of the types that ask for stall
    # reports, silent since before `?`, not reported yet; not a paused job's (stopped, not
    # hung: `lifecycle.task_stopped`). The running tasks' partial index;
    # the job and its report by their primary keys.
    silent=(
        f"SELECT t.id, t.attempt, t.job_id, j.type, t.seq, t.name, {_QUIET}, r.recipients "
        "FROM tasks t JOIN jobs j ON j.id = t.job_id JOIN reports r ON r.job_id = t.job_id "
        f"WHERE t.status = 'running' AND t.started IS NOT NULL AND {_QUIET} < ? "
        "AND j.status <> 'paused' AND {types} "
        "AND NOT EXISTS (SELECT 1 FROM stall_reports s "
        "WHERE s.task_id = t.id AND s.attempt = t.attempt)"
    ),
    last_line=(
        "SELECT text FROM logs WHERE job_id = ? AND task_id = ? AND attempt = ? "
        "AND stream != 'system' "
        "ORDER BY seq DESC LIMIT 1"
    ),
    add=(
        "INSERT INTO stall_reports (task_id, attempt, job_id, type, seq, name, silent, "
        "stall_after, configured, last_line, detected, recipients) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
    ),
    done=(
        "UPDATE stall_reports SET state = ?, done = ?, attempts = attempts + ?, next_try = ?, "
        "owner = NULL, claimed_until = NULL, last_error = ? "
        "WHERE task_id = ? AND attempt = ? AND owner = ? AND state = 'sending'"
    ),
    state=(
        "SELECT task_id, attempt, job_id, state, silent, stall_after, attempts, last_error "
        "FROM stall_reports WHERE job_id = ? ORDER BY task_id, attempt"
    ),
)


def attempt_of(r: Sequence[Any]) -> tuple[int, int, int, str, int, str]:
    """A row's first columns as a TaskAttempt's fields (task id, attempt, job id, type,
    seq, name)."""
    return int(r[0]), int(r[1]), int(r[2]), str(r[3]), int(r[4]), str(r[5])


def stall_report(r: Sequence[Any]) -> StallReport:
    """A claimed row (STALL_COLUMNS) as a record."""
    from jobdash.core.store.engine_records import StallReport  # not loaded by a read

    return StallReport(
        *attempt_of(r),
        silent=float(r[6]),
        stall_after=float(r[7]),
        configured=bool(r[8]),
        last_line=None if r[9] is None else str(r[9]),
        detected=float(r[10]),
        recipients=json.loads(r[11]),
        done=json.loads(r[12]),
        attempts=int(r[13]),
    )


class Stalls:
    """The stall check's read, its reports' rows and their sends' outcomes."""

    db: Reading

    async def silent_tasks(self, types: Sequence[str], before: float) -> list[SilentTask]:
        """Running attempts of jobs with report recipients, of `types`, silent since before
        `before` and not reported as stalled yet: one read (the stall check)."""
        from jobdash.core.store.engine_records import SilentTask  # not loaded by a read

        if not types:
            return []
        d = self.db.dialect
        among, args = d.among("j.type", list(types))
        rows = await self.db.fetchall(Q[d].silent.replace("{types}", among), (before, *args))
        return [SilentTask(*attempt_of(r), float(r[6]), json.loads(r[7])) for r in rows]

    async def task_last_line(self, job_id: int, task_id: int, attempt: int) -> str | None:
        """The last line an attempt of a task wrote, None when it wrote none (the job's
        lines by index, newest first)."""
        rows = await self.db.fetchall(Q[self.db.dialect].last_line, (job_id, task_id, attempt))
        return str(rows[0][0]) if rows else None

    async def add_stall_report(self, report: StallReport) -> bool:
        """Note a stall to report; False when that attempt's stall is noted already (by this
        engine or another)."""
        q = Q[self.db.dialect]
        r = report
        args = (
            r.task_id,
            r.attempt,
            r.job_id,
            r.type,
            r.seq,
            r.name,
            r.silent,
            r.stall_after,
            1 if r.configured else 0,
            r.last_line,
            r.detected,
            json.dumps(r.recipients),
        )

        def txn(con: Connection, rev: int, now: float) -> bool:
            return bool(con.execute(q.add, args).rowcount)

        return await self.db.write(txn)

    async def stall_report_done(
        self, report: StallReport, owner: str, sent: Delivery, log: str
    ) -> bool:
        """Record a stall report's send (as `report_done`), noted in its job's log; fenced
        on the owner: False when another engine took it over."""
        q = Q[self.db.dialect]
        r = REPORTS[self.db.dialect]
        state = after_send(sent.error, sent.retry_at)
        args = (
            state,
            json.dumps(sent.done),
            1 if sent.error else 0,
            sent.retry_at if state == "pending" and sent.retry_at is not None else 0.0,
            sent.error,
            report.task_id,
            report.attempt,
            owner,
        )

        def txn(con: Connection, rev: int, now: float) -> bool:
            cur = con.execute(q.done, args)
            if cur.rowcount:
                con.execute(r.log, (report.job_id, now, log))
                con.execute(r.touch, (now, rev, report.job_id))
            return bool(cur.rowcount)

        return await self.db.write(txn)

    async def stall_reports_of(self, job_id: int) -> list[dict[str, Any]]:
        """A job's stall reports: task id, attempt, state, silent, stall_after, attempts,
        last error (oldest task first)."""
        rows = await self.db.fetchall(Q[self.db.dialect].state, (job_id,))
        keys = ("task_id", "attempt", "job_id", "state", "silent", "stall_after", "attempts")
        return [dict(zip((*keys, "last_error"), r, strict=True)) for r in rows]
