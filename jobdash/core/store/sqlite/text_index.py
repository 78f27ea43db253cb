"""The SQLite store's text index of finished jobs (the FTS5 table jobs_text, migration 12),
brought up to date in batches.

Why in batches and not by a trigger on each write: adding a job's text to an FTS5 index costs
50-100 µs, as much as the whole of a small job's submission and run; a batch adds thousands
at 10-20 µs each. The engine's agents bring it up to date at each heartbeat, and the
dashboard before it looks a free word up, so that it lags the writes by seconds at most; the
index says up to which revision it holds every finished job (jobs_text_rev), and a batch
takes the jobs stamped since, by the jobs_rev index (a cost of what changed, never of the
history).

A job changed since (retried, its info rewritten, removed) loses its old text; one finished
now gets its current text. What the index finds is a superset of what a word matches
(trigrams fold case beyond ASCII): the exact condition is always checked beside it.
"""

from __future__ import annotations

import sqlite3

from jobdash.core.store.sql.counts import ACTIVE_ONLY
from jobdash.core.store.sqlite.db import Db

# Each text field on its own line: a word of one line cannot match across two fields.
JOB_TEXT = (
    'type || char(10) || target || char(10) || "user" || char(10) || info || char(10) || id '
    "|| char(10) || coalesce((SELECT group_concat(value, char(10)) FROM json_each(jobs.params)), '')"
)
BATCH = 5_000  # jobs per write: ~0.1 s of the write lock
INDEXED = "SELECT rev FROM jobs_text_rev"
CHANGED = "SELECT 1 WHERE EXISTS (SELECT 1 FROM jobs WHERE rev > ?) OR EXISTS (SELECT 1 FROM removed WHERE rev > ?)"
# The revision that closes a batch of `batch` jobs changed after the index's.
BATCH_END = "SELECT rev FROM jobs WHERE rev > ? ORDER BY rev LIMIT 1 OFFSET ?"
FORGET = "DELETE FROM jobs_text WHERE rowid IN (SELECT id FROM jobs WHERE rev > ? AND rev <= ?)"
FORGET_REMOVED = (
    "DELETE FROM jobs_text WHERE rowid IN (SELECT job_id FROM removed WHERE rev > ? AND rev <= ?)"
)
ADD = (
    f"INSERT INTO jobs_text (rowid, text) SELECT id, {JOB_TEXT} FROM jobs "
    f"WHERE rev > ? AND rev <= ? AND NOT ({ACTIVE_ONLY})"
)


class TextIndex:
    """`Store.index_text` for SQLite."""

    db: Db

    async def index_text(self, batches: int | None = 1) -> bool:
        """Add the jobs finished (and forget those changed or removed) since the index's
        revision, BATCH jobs at most in one write, `batches` writes at most (None: until
        done); True when it holds every finished job."""
        done = 0
        while batches is None or done < batches:
            rows = await self.db.fetchall(INDEXED)
            indexed = int(rows[0][0])
            if not await self.db.exists(CHANGED, (indexed, indexed)):
                return True
            if self.db.read_only is not None:
                return False  # another's store, or one opened for reading: it lags
            if await self.db.write(lambda con, rev, now: _index(con, rev, BATCH)):
                return True
            done += 1
        return False


def _index(con: sqlite3.Connection, rev: int, batch: int) -> bool:
    """One batch, in the writer's transaction (revision `rev`: all before it is committed)."""
    start = int(con.execute(INDEXED).fetchall()[0][0])
    end = rev - 1
    found = con.execute(BATCH_END, (start, batch)).fetchall()
    if found:
        end = min(end, int(found[0][0]))
    for sql in (FORGET, FORGET_REMOVED, ADD):
        con.execute(sql, (start, end))
    con.execute("UPDATE jobs_text_rev SET rev = ?", (end,))
    return end == rev - 1
