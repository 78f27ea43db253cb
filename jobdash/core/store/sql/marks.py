"""Read marks (unread logs), written once for both backends: how far each user has read
each job's log, and the counts that make "unread" a subtraction.

The log writer counts each job's lines to read by level as it writes them (`Job.log_lines`,
`log_warnings`, `log_errors`: one more assignment in the statement that already sets the
job's info line, see `flush.py`). A mark keeps the line a user read through and the job's
counts up to that line; what is unread is the job's counts less the mark's. So nothing per
job is counted when a table is drawn or refreshed: a dashboard holds its user's marks and
subtracts. A mark's counts are found from the nearer of two known points, so that moving a
mark costs the lines it moves over or the lines after it, whichever are fewer:

- the job's counts less the lines after the mark, as one read saw them (the counts and the
  job's last line in one statement; then the lines between the mark and that last line,
  classified): a viewer marks the line at the end of what it shows, so those are the ones
  written since, which a log followed at 20,000 lines/s makes tens of thousands;
- or the user's previous mark (none: zero before the job's first line) plus the lines
  between it and the new one: `logs` printing a log of millions of lines marks what it
  printed each second, far from the log's end (from the end, each mark would read the
  rest of the log again: 1,000,000 lines took six minutes).

The lines are read and classified outside the write transaction, which then only moves the
mark forward: the engine's log writes never wait behind a viewer's mark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobdash.core.model import LineLevel, counts_as_read, line_level
from jobdash.core.store.sql.dialect import Connection, Reading, Statements

if TYPE_CHECKING:
    from jobdash.core.store.side_records import ReadMark

# Migration (SQLite 17, PostgreSQL 8, where INTEGER becomes BIGINT).
READ_MARKS = """
-- Each job's lines to read (its output that is not blank) and, of them, warnings and
-- errors (core.model.line_level), counted by the log writer as it writes them. A job
-- written before this version counts none: it shows nothing unread.
ALTER TABLE jobs ADD COLUMN log_lines INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN log_warnings INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN log_errors INTEGER NOT NULL DEFAULT 0;
-- How far each user has read each job's log: through line seq, which held the job's
-- counts lines, warnings and errors. Goes with its job (the foreign key's cascade).
CREATE TABLE read_marks (
    "user" TEXT NOT NULL,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    warnings INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    rev INTEGER NOT NULL,
    PRIMARY KEY ("user", job_id)
);
CREATE INDEX read_marks_job ON read_marks (job_id);
CREATE INDEX read_marks_rev ON read_marks (rev);
"""

MARK_COLUMNS = '"user", job_id, seq, lines, warnings, errors'

Q = Statements(
    # The job's counts and its last line, in one statement: one snapshot of both.
    counts="SELECT log_lines, log_warnings, log_errors, "
    "(SELECT min(seq) FROM logs WHERE job_id = jobs.id), "
    "(SELECT max(seq) FROM logs WHERE job_id = jobs.id) FROM jobs WHERE id = ?",
    exists="SELECT 1 FROM jobs WHERE id = ?",
    seq_of='SELECT seq, lines, warnings, errors FROM read_marks WHERE "user" = ? AND job_id = ?',
    after="SELECT stream, text FROM logs WHERE job_id = ? AND seq > ? AND seq <= ?",
    upsert=f"INSERT INTO read_marks ({MARK_COLUMNS}, rev) VALUES (?, ?, ?, ?, ?, ?, ?) "
    'ON CONFLICT ("user", job_id) DO UPDATE SET seq = excluded.seq, lines = excluded.lines, '
    "warnings = excluded.warnings, errors = excluded.errors, rev = excluded.rev",
    # The job is stamped: a feed reads it again, and its watcher shows it with the new mark.
    stamp="UPDATE jobs SET rev = ? WHERE id = ?",
    of_user=f'SELECT {MARK_COLUMNS} FROM read_marks WHERE "user" = ?',
    changed=f"SELECT {MARK_COLUMNS} FROM read_marks WHERE rev > ? AND rev <= ?",
)


def mark_of(user: str, job_id: int, seq: int, counts: Any, texts: Any, sign: int = -1) -> ReadMark:
    """`user`'s mark on `job_id` through line `seq`: `counts` (lines, warnings, errors) less
    (`sign` -1) the lines to read among `texts` ((stream, text) of the lines past `seq`
    that the job's counts include), or plus them (`sign` 1: the lines between the user's
    previous mark, whose counts `counts` are, and `seq`)."""
    lines, warnings, errors = counts
    for stream, text in texts:
        if counts_as_read(stream, text):
            level = line_level(stream, text)
            lines += sign
            warnings += sign * (level is LineLevel.WARNING)
            errors += sign * (level is LineLevel.ERROR)
    from jobdash.core.store.side_records import ReadMark  # loaded where one is made

    return ReadMark(user, job_id, seq, max(0, lines), max(0, warnings), max(0, errors))


def mark_in(con: Connection, q: Any, rev: int, mark: ReadMark) -> ReadMark | None:
    """Move `mark.user`'s mark on its job forward to `mark`, in a write transaction (`q`:
    the dialect's statements); the mark, or None when the job is gone or the mark was there
    already (a mark never moves back)."""
    if con.execute(q.exists, (mark.job_id,)).fetchone() is None:
        return None
    old = con.execute(q.seq_of, (mark.user, mark.job_id)).fetchone()
    if old is not None and old[0] >= mark.seq:
        return None
    con.execute(q.upsert, (*_values(mark), rev))
    con.execute(q.stamp, (rev, mark.job_id))
    return mark


def _values(m: ReadMark) -> tuple[str, int, int, int, int, int]:
    return (m.user, m.job_id, m.seq, m.lines, m.warnings, m.errors)


async def marks_changed(db: Reading, rev: int, new_rev: int) -> list[ReadMark]:
    """The marks written after revision `rev`, up to `new_rev` (the change feed's)."""
    rows = await db.fetchall(Q[db.dialect].changed, (rev, new_rev))
    from jobdash.core.store.side_records import ReadMark  # loaded where one is made

    return [ReadMark(*r) for r in rows]


class ReadMarks:
    """Marking a job's log read, and reading a user's marks."""

    db: Reading

    async def mark_read(self, user: str, job_id: int, seq: int) -> ReadMark | None:
        q = Q[self.db.dialect]
        old = await self.db.fetchall(q.seq_of, (user, job_id))
        if old and old[0][0] >= seq:
            return None  # there already: nothing read, nothing written
        rows = await self.db.fetchall(q.counts, (job_id,))
        if not rows:
            return None
        *counts, first, last = rows[0]
        # No mark yet is a mark before the first line, that counts nothing. Lines are
        # numbered across all jobs: the numbers only say which side is nearer.
        since, *read = old[0] if old else ((first or 1) - 1, 0, 0, 0)
        if last and seq - since < last - seq:
            between = await self.db.fetchall(q.after, (job_id, since, seq))
            mark = mark_of(user, job_id, seq, read, between, sign=1)
        else:
            after = await self.db.fetchall(q.after, (job_id, seq, last)) if last else ()
            mark = mark_of(user, job_id, seq, counts, after)

        def txn(con: Connection, rev: int, now: float) -> ReadMark | None:
            return mark_in(con, q, rev, mark)

        return await self.db.write(txn)

    async def read_marks(self, user: str) -> list[ReadMark]:
        rows = await self.db.fetchall(Q[self.db.dialect].of_user, (user,))
        if not rows:  # nothing read yet: `ReadMark` need not be loaded
            return []
        from jobdash.core.store.side_records import ReadMark  # loaded where one is made

        return [ReadMark(*r) for r in rows]
