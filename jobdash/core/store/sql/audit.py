"""The audit trail: who asked for what, on which job, agent or schedule, and who wrote it
(`Db.actor`). Actions write their row in their own transaction (`counts.audit_row`); this
area writes the rows of actions that have none (a clear, a config sync) and reads the trail
back.
"""

from __future__ import annotations

from typing import Any

from jobdash.core.model import AuditEvent
from jobdash.core.store.sql.counts import COUNTS
from jobdash.core.store.sql.dialect import Connection, Reading, Statements

Q = Statements(
    events='SELECT id, ts, "user", action, target, detail, actor FROM audit',
    of_target=" WHERE target = ?",
    last=" ORDER BY id DESC LIMIT ?",
)


async def write_audit(db: Reading, user: str, action: str, target: str, detail: str = "") -> None:
    """One audit row, in a transaction of its own."""
    actor = db.actor
    audit_row = COUNTS[db.dialect.name].audit_row

    def txn(con: Connection, rev: int, now: float) -> None:
        audit_row(con, now, actor, user, action, target, detail)

    await db.write(txn)


class Audit:
    db: Reading

    async def audit(self, user: str, action: str, target: str, detail: str = "") -> None:
        await write_audit(self.db, user, action, target, detail)

    async def audit_events(self, target: str | None = None, limit: int = 100) -> list[AuditEvent]:
        q = Q[self.db.dialect]
        sql = q.events
        args: list[Any] = []
        if target:
            sql += q.of_target
            args.append(target)
        rows = await self.db.fetchall(sql + q.last, (*args, limit))
        return [AuditEvent(*r) for r in rows]
