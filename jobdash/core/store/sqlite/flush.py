"""The batched writer of the SQLite store: the shared one (`core.store.sql.flush`: what is
held, the bound, the flusher's loop, the batch's statements) with SQLite's own parts. A
batch runs inline on the event loop's thread when it is small (`Db.write`), and the slots
its outcomes freed are refilled in the same transaction (`Refill`): one write per finished
batch instead of a completion and then a claim.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from jobdash.core.store.records import Outcome
from jobdash.core.store.sql import flush
from jobdash.core.store.sqlite.claims import claim_in, complete_in
from jobdash.core.store.sqlite.db import Db

INLINE_MAX_LINES = 1_000  # a flush with more log lines runs in the thread: the loop goes on


class Flusher(flush.Flusher[sqlite3.Connection]):
    """The buffered writes of a SQLite store."""

    db: Db

    def complete_in(
        self, con: sqlite3.Connection, rev: int, now: float, outcomes: list[Outcome]
    ) -> list[bool]:
        return complete_in(con, rev, now, outcomes)

    def refill_in(self, con: sqlite3.Connection, rev: int, now: float, refilled: list[Any]) -> None:
        refill = self.refill
        if refill is not None:
            want = refill.want()
            if want is not None:
                refilled[:] = [refill, *claim_in(con, rev, now, want)]

    async def write_batch(self, txn: Any, lines: int) -> list[bool]:
        """Run a batch's transaction: inline when it is small (see `Db.write`)."""
        return await self.db.write(txn, inline=lines <= INLINE_MAX_LINES)
