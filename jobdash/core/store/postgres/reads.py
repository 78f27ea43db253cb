"""The PostgreSQL store's own reads: whether a claim would find something (the claims'
statements), and the change feed, which polls the counter (one tiny read: revisions are
taken in commit order, see db.py) and reads the rows only when it moved. The other reads
are shared (`core.store.sql.reads`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection

from jobdash.core.lifecycle import suspect_way
from jobdash.core.store.postgres.claims import ORDINARY_READY, SUSPECT_READY, types_sql
from jobdash.core.store.postgres.db import Db
from jobdash.core.store.records import Changes
from jobdash.core.store.sql import reads
from jobdash.core.store.sql.counts import ACTIVE_ONLY


class Reads(reads.Reads):
    db: Db

    async def has_claimable(self, types: Collection[str] | None = None, idle: bool = True) -> bool:
        if types is not None and not types:
            return False  # no job types: nothing to claim
        now = time.time()
        suspect_of, suspect_args = types_sql(types, "j.type_hash")
        jobs_of, type_args = types_sql(types)
        rows = await self.db.fetchall(
            f"SELECT (SELECT s.not_before FROM ({SUSPECT_READY.format(types=suspect_of)}) s), "
            f"EXISTS (SELECT 1 FROM jobs WHERE status = 'running' AND {ACTIVE_ONLY} "
            f"AND running < parallel{jobs_of} AND EXISTS ({ORDINARY_READY}))",
            (now, *suspect_args, *type_args, now),
        )
        suspect_ready, ordinary = rows[0]
        way = suspect_way(suspect_ready, idle, now)
        return way == "alone" or (way == "ordinary" and bool(ordinary))

    async def changes(
        self, since: int | None = None, interval: float = 0.25
    ) -> AsyncIterator[Changes]:
        """Yield what changed, as it changes: a poll of the counter every `interval`, then
        the rows stamped with a newer revision. `since`: a revision read before the caller
        loaded what it shows; what changed after it comes first."""
        rev = since if since is not None else await self.rev()
        while True:
            await asyncio.sleep(interval)
            if await self.rev() == rev:
                continue
            changes = await self.changes_since(rev)
            rev = changes.rev
            yield changes
