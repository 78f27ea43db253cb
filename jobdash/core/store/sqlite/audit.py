"""The audit trail of the SQLite store: who asked for what, on which job, agent or schedule,
and who wrote it (`Db.actor`). Actions write their row in their own transaction
(`counts.audit_row`); this area writes the rows of actions that have none (a clear, a
config sync) and reads the trail back.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from jobdash.core.model import AuditEvent
from jobdash.core.store.sqlite.counts import audit_row
from jobdash.core.store.sqlite.db import Db


class Audit:
    db: Db

    async def audit(self, user: str, action: str, target: str, detail: str = "") -> None:
        actor = self.db.actor

        def txn(con: sqlite3.Connection, rev: int, now: float) -> None:
            audit_row(con, now, actor, user, action, target, detail)

        await self.db.write(txn)

    async def audit_events(self, target: str | None = None, limit: int = 100) -> list[AuditEvent]:
        sql = "SELECT id, ts, user, action, target, detail, actor FROM audit"
        args: list[Any] = []
        if target:
            sql += " WHERE target = ?"
            args.append(target)
        rows = await self.db.reader.execute_fetchall(
            sql + " ORDER BY id DESC LIMIT ?", (*args, limit)
        )
        return [AuditEvent(*r) for r in rows]
