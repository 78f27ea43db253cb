"""The audit trail of the PostgreSQL store: who asked for what, on which job, agent or
schedule, and who wrote it (`Db.actor`). Actions write their row in their own transaction
(`counts.audit_row`); this area writes the rows of actions that have none and reads the
trail back.
"""

from __future__ import annotations

from typing import Any

from jobdash.core.model import AuditEvent
from jobdash.core.store.postgres.counts import Con, audit_row
from jobdash.core.store.postgres.db import Db


async def write_audit(db: Db, user: str, action: str, target: str, detail: str = "") -> None:
    actor = db.actor

    def txn(con: Con, rev: int, now: float) -> None:
        audit_row(con, now, actor, user, action, target, detail)

    await db.write(txn)


class Audit:
    db: Db

    async def audit(self, user: str, action: str, target: str, detail: str = "") -> None:
        await write_audit(self.db, user, action, target, detail)

    async def audit_events(self, target: str | None = None, limit: int = 100) -> list[AuditEvent]:
        sql = 'SELECT id, ts, "user", action, target, detail, actor FROM audit'
        args: list[Any] = []
        if target:
            sql += " WHERE target = %s"
            args.append(target)
        rows = await self.db.fetchall(sql + " ORDER BY id DESC LIMIT %s", (*args, limit))
        return [AuditEvent(*r) for r in rows]
