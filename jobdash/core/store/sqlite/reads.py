"""The SQLite store's own reads: whether a claim would find something (the claims'
statements), and the change feed, which polls `PRAGMA data_version` (it moves when any
other connection, in any process, commits) and reads the rows only when it moved. The other
reads are shared (`core.store.sql.reads`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection

from jobdash.core.lifecycle import suspect_way
from jobdash.core.store.records import Changes
from jobdash.core.store.sql import reads
from jobdash.core.store.sql.counts import ACTIVE_ONLY
from jobdash.core.store.sqlite.claims import ORDINARY_READY, SUSPECT_READY, types_sql
from jobdash.core.store.sqlite.db import Db


class Reads(reads.Reads):
    """Reading jobs, tasks and logs, and the change feed."""

    db: Db

    async def has_claimable(self, types: Collection[str] | None = None, idle: bool = True) -> bool:
        """Would `claim` (with these `types` and `idle`) find something? One cheap read."""
        if types is not None and not types:
            return False  # no job types: nothing to claim (see `claims.claim_in`)
        # From the few active jobs to their first ready task: joining from the tasks side
        # walked every pending task whenever the jobs were full (O(pending) per look).
        jobs_of, type_args = types_sql(types)
        now = time.time()
        rows = await self.db.fetchall(
            f"SELECT (SELECT not_before FROM ({SUSPECT_READY % jobs_of})), EXISTS (SELECT 1 "
            f"FROM jobs WHERE status = 'running' AND {ACTIVE_ONLY} AND running < parallel"
            f"{jobs_of} AND EXISTS ({ORDINARY_READY}))",
            (now, *type_args, *type_args, now),
        )
        suspect_ready, ordinary = rows[0]
        way = suspect_way(suspect_ready, idle, now)
        return way == "alone" or (way == "ordinary" and bool(ordinary))

    async def data_version(self) -> int:
        """Moves when any other connection, in any process, commits (SQLite's own count)."""
        rows = await self.db.fetchall("PRAGMA data_version")
        return int(rows[0][0])

    async def changes(
        self, since: int | None = None, interval: float = 0.25
    ) -> AsyncIterator[Changes]:
        """Yield what changed, as it changes: cheap polling of `data_version`, then the rows
        stamped with a newer revision. `since`: a revision read before the caller loaded
        what it shows; what changed after it comes first (otherwise the feed starts now)."""
        rev = since if since is not None else await self.rev()
        version = None if since is not None else await self.data_version()
        while True:
            await asyncio.sleep(interval)
            v = await self.data_version()
            if v == version:
                continue
            version = v
            changes = await self.changes_since(rev)
            rev = changes.rev
            yield changes
