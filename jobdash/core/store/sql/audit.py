"""The audit trail: who asked for what, on which job, agent or schedule, who wrote it
(`Db.actor`) and from which host. Actions write their row in their own transaction
(`counts.audit_row`); this area writes the rows of actions that have none (a clear, a config
sync) and reads the trail back, filtered (`AuditFilter`, parsed by `core.audit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobdash.core.store.sql.counts import COUNTS
from jobdash.core.store.sql.filters import TEXT_OF, seen_sql

if TYPE_CHECKING:
    from jobdash.core.store.side_records import AuditFilter
    from jobdash.core.store.sql.dialect import Connection, Dialect, Reading
    from jobdash.core.views import AuditEvent

# The schemas' migration adding the host (SQLite 17, PostgreSQL 8): both the same.
AUDIT_HOST = """
    ALTER TABLE audit ADD COLUMN host TEXT NOT NULL DEFAULT '';
    CREATE INDEX audit_target ON audit (target, id);
"""
EVENTS = 'SELECT id, ts, "user", action, target, detail, actor, host FROM audit'
COLUMNS = {
    "user": '"user"',
    "action": "action",
    "target": "target",
    "actor": "actor",
    "host": "host",
}
# The job an event is about, by its target ("job:ID"; NULL for others: a schedule, an agent,
# a failure group), as the jobs' key: what a role's view of jobs shows of the trail. The
# same expression in both databases, and in the audit's policy on PostgreSQL (roles.py).
JOB_OF_TARGET = (
    "CASE WHEN substr(audit.target, 1, 4) = 'job:' THEN CAST(substr(audit.target, 5) AS BIGINT) END"
)
# Each field on its own line, so that a word cannot match across two (newline: char(10)
# in SQLite, chr(10) in PostgreSQL).
FIELDS_TEXT = ('"user"', "action", "target", "detail", "actor", "host")
NEWLINE = {"sqlite": " || char(10) || ", "postgres": " || chr(10) || "}


def audit_where(d: Dialect, f: AuditFilter, target: str | None = None) -> tuple[str, list[Any]]:
    """`f` (and `target`, exactly) as a WHERE clause over `audit` and its arguments, in
    dialect `d`."""
    text = TEXT_OF[d.name]
    conditions: list[str] = []
    args: list[Any] = []
    for column in COLUMNS:
        for negated in (False, True):
            values = [v for (c, v, n) in f.terms if c == column and n == negated]
            if values:
                among, more = d.among(COLUMNS[column], values)
                conditions.append(f"NOT ({among})" if negated else among)
                args += more
    hay = text.fold.format(NEWLINE[d.name].join(FIELDS_TEXT))
    for word, negated in f.words:
        found = text.contains.format(hay)
        conditions.append(f"NOT ({found})" if negated else found)
        args.append(word)
    if f.since is not None:
        conditions.append(f"ts >= {d.mark}")
        args.append(f.since)
    if f.user is not None:
        conditions.append(seen_sql(d, f.user, f.shared, args, job_id=JOB_OF_TARGET))
    if target is not None:
        conditions.append(f"target = {d.mark}")
        args.append(target)
    return (" WHERE " + " AND ".join(conditions) if conditions else ""), args


async def write_audit(db: Reading, user: str, action: str, target: str, detail: str = "") -> None:
    """One audit row, in a transaction of its own."""
    actor = db.actor
    audit_row = COUNTS[db.dialect.name].audit_row

    def txn(con: Connection, rev: int, now: float) -> None:
        audit_row(con, now, actor, user, action, target, detail)

    await db.write(txn)


class Audit:
    db: Reading

    async def audit(self, user: str, action: str, target: str, detail: str = "") -> None:
        await write_audit(self.db, user, action, target, detail)

    async def audit_events(
        self, target: str | None = None, limit: int = 100, f: AuditFilter | None = None
    ) -> list[AuditEvent]:
        from jobdash.core.views import AuditEvent  # not loaded by a read that makes none

        d = self.db.dialect
        from jobdash.core.store.side_records import AuditFilter  # loaded where one is made

        where, args = audit_where(d, f or AuditFilter(), target or None)
        rows = await self.db.fetchall(
            f"{EVENTS}{where} ORDER BY id DESC LIMIT {d.mark}", (*args, limit)
        )
        return [AuditEvent(*r) for r in rows]
