"""The PostgreSQL store's own reads: whether a claim would find something (the claims'
statements), and how the change feed and agents are woken: by a NOTIFY from any process
(hints.py), with polling of the revision behind it (one small read: the watermark below which every
writer has ended, see db.py). The feed's loop and the other reads are shared
(`core.store.sql.reads`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Collection

from jobdash.core.alarm import Alarm
from jobdash.core.store.postgres.claims import ORDINARY_READY, SUSPECT_READY, types_sql
from jobdash.core.store.postgres.db import WATERMARK, Db
from jobdash.core.store.postgres.words import HAS_INDEX
from jobdash.core.store.sql import reads


class Reads(reads.Reads):
    db: Db
    ordinary_ready = ORDINARY_READY
    words_indexed: bool | None = None  # has the store the index of words (asked once)

    async def index_text(self, batches: int | None = 1) -> bool:
        """Whether free words may be looked up in the index of words (words.py): the
        database keeps it current at each write, so there is nothing to bring up to date;
        a store made where `pg_trgm` could not be created has none."""
        if self.words_indexed is None:
            rows = await self.db.fetchall(HAS_INDEX)
            self.words_indexed = bool(rows and rows[0][0])
        return self.words_indexed

    async def rev(self) -> int:
        """The watermark (db.py): every row stamped at or below it is committed and seen,
        though writers commit in another order than they are numbered."""
        rows = await self.db.fetchall(WATERMARK)
        return int(rows[0][0])

    def claimable_parts(self, types: Collection[str] | None, now: float) -> reads.Parts:
        suspect_of, suspect_args = types_sql(types, "j.type_hash")
        jobs_of, type_args = types_sql(types)
        suspect = f"SELECT s.not_before FROM ({SUSPECT_READY.format(types=suspect_of)}) s"
        return suspect, [now, *suspect_args], jobs_of, list(type_args)

    def change_wait(self, interval: float) -> reads.ChangeWait:
        return HintedWait(self.db, interval)

    def watch_work(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake` when another process's commit may have made tasks claimable (a
        NOTIFY: hints.py); returns the function that stops it."""
        listener = self.db.listener
        listener.wakes.append(wake)
        listener.start()

        def stop() -> None:
            with contextlib.suppress(ValueError):
                listener.wakes.remove(wake)

        return stop


class HintedWait(reads.ChangeWait):
    """The feed's pause on PostgreSQL: until a hint (a NOTIFY from any process, or a commit
    of this one) or, while the hints flow, a poll every `POLL_BEHIND` (the listener's
    `poll_behind`: what a lost hint costs); while the listener is down, every `interval`.
    Batches stay `interval` apart, as on SQLite: a burst of hints is one look."""

    def __init__(self, db: Db, interval: float) -> None:
        super().__init__(interval)
        self.db = db
        self.alarm = Alarm()
        self.last = time.monotonic()
        db.listener.alarms.add(self.alarm)
        db.on_commit.append(self.alarm.ring)
        db.listener.start()

    async def next(self) -> None:
        listener = self.db.listener
        poll = max(listener.poll_behind, self.interval) if listener.listening else self.interval
        await self.alarm.wait(max(0.0, self.last + poll - time.monotonic()))
        gap = self.last + self.interval - time.monotonic()
        if gap > 0:
            await asyncio.sleep(gap)
        self.last = time.monotonic()

    def close(self) -> None:
        self.db.listener.alarms.discard(self.alarm)
        with contextlib.suppress(ValueError):
            self.db.on_commit.remove(self.alarm.ring)
