"""The SQLite store's own reads: whether a claim would find something (the claims'
statements), and what the change feed polls: `PRAGMA data_version` (it moves when any other
connection, in any process, commits). The feed's loop and the other reads are shared
(`core.store.sql.reads`).
"""

from __future__ import annotations

from collections.abc import Collection

from jobdash.core.store.sql import reads
from jobdash.core.store.sqlite.claims import ORDINARY_READY, SUSPECT_READY, types_sql
from jobdash.core.store.sqlite.db import Db


class Reads(reads.Reads):
    db: Db
    ordinary_ready = ORDINARY_READY

    def claimable_parts(self, types: Collection[str] | None, now: float) -> reads.Parts:
        jobs_of, type_args = types_sql(types)
        suspect = f"SELECT not_before FROM ({SUSPECT_READY % jobs_of})"
        return suspect, [now, *type_args], jobs_of, list(type_args)

    async def change_mark(self) -> int:
        """`PRAGMA data_version`: moves when any other connection, in any process, commits
        (SQLite's own count; cheaper than reading the revision)."""
        rows = await self.db.fetchall("PRAGMA data_version")
        return int(rows[0][0])
