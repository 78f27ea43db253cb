"""The batched writer of the SQLite store: the shared one (`core.store.sql.flush`: what is
held, the bound, the flusher's loop, the batch's statements, the refill of the slots its
outcomes freed) with SQLite's own parts: its claim, and a batch run inline on the event
loop's thread when it is small (`Db.write`), so the refill's free slots are counted inside
the transaction.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from jobdash.core.store.sql import flush
from jobdash.core.store.sqlite.claims import claim_in

if TYPE_CHECKING:
    from jobdash.core.store.engine_records import Claim, Claimant, Outcome
    from jobdash.core.store.sqlite.db import Db

INLINE_MAX_LINES = 1_000  # a flush with more log lines runs in the thread: the loop goes on


class Flusher(flush.Flusher[sqlite3.Connection]):
    """The buffered writes of a SQLite store."""

    db: Db

    def claim_in(
        self, con: sqlite3.Connection, rev: int, now: float, want: Claimant
    ) -> list[Claim]:
        return claim_in(con, rev, now, want)

    async def write_batch(
        self, txn: Any, lines: int, outcomes: list[Outcome], jobs_first: bool
    ) -> list[bool]:
        """Run a batch's transaction: inline when it is small (see `Db.write`)."""
        return await self.db.write(txn, inline=lines <= INLINE_MAX_LINES)
