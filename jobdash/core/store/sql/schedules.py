"""Schedules, ticks and the leader lease of a store.

- `schedules`: one row per schedule. `planning` is what is in force as written ("automatic"
  follows the config's `config_planning`); `source` = admin marks a run-time override that a
  config sync never overwrites. `last_fire` is the watermark: every fire time up to it has a
  tick (or was before the schedule existed).
- `ticks`: one row per (schedule, fire time): ran, skipped (overlap), missed (no engine was
  up), paused (schedule disabled), error (the job could not be created).
- `leases`: the scheduler's leader lease (one engine fires at a time).
- `fire_reports` (written here with an error tick, sent by `reports`): the reports of
  failed fires.

A schedule's planning (`core.planning`, with its cron reader) is imported where a row is
made a `Schedule` or a `Tick`: a command that reads no schedule (`jobdash jobs`) loads none
of it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jobdash.core.model import NotFound, Report
from jobdash.core.store.sql.counts import ACTIVE_ONLY, COUNTS
from jobdash.core.store.sql.dialect import Connection, Reading, Statements

if TYPE_CHECKING:
    from jobdash.core.planning import Schedule, Tick
    from jobdash.core.store.engine_records import Advance, PolicyChange, ScheduleSpec, TickRecord

SCHEDULE_COLUMNS = (  # Schedule's fields, in their order (see schedule_from_row)
    "s.id, s.type, s.params, s.planning, s.timezone, s.enabled, s.overlap, s.catchup, "
    "s.catchup_bound, s.next_run, s.last_job, j.status, s.last_run, s.last_fire, s.source, "
    "s.config_planning, s.updated, s.rev, s.report, t.outcome, t.detail, t.fire_time, "
    "s.report_source"
)
# Each schedule with its last run's status and its latest tick (its state shows an error).
SCHEDULE_FROM = (
    "schedules s LEFT JOIN jobs j ON j.id = s.last_job LEFT JOIN ticks t ON t.id = "
    "(SELECT id FROM ticks WHERE schedule_id = s.id ORDER BY fire_time DESC, id DESC LIMIT 1)"
)
TICK_COLUMNS = "id, schedule_id, fire_time, outcome, job_id, ts, detail"

# Schema migration 22 of SQLite, 15 of PostgreSQL: a schedule's jobs' target (its type's
# target parameter's default), written by each config sync: what a role's `targets` match,
# which PostgreSQL's policy on the schedules asks (roles.py). "" until an engine syncs.
SCHEDULE_TARGET = """
ALTER TABLE schedules ADD COLUMN target TEXT NOT NULL DEFAULT '';
"""
Q = Statements(
    every=f"SELECT {SCHEDULE_COLUMNS} FROM {SCHEDULE_FROM} ORDER BY s.id",
    one=f"SELECT {SCHEDULE_COLUMNS} FROM {SCHEDULE_FROM} WHERE s.id = ?",
    ticks=f"SELECT {TICK_COLUMNS} FROM ticks WHERE schedule_id = ? "
    "ORDER BY fire_time DESC, id DESC LIMIT ?",
    active=f"SELECT id FROM jobs WHERE schedule_id = ? AND {ACTIVE_ONLY} ORDER BY +id",
    for_fire="SELECT id FROM jobs WHERE schedule_id = ? AND fire_time = ?",
    # A config sync changes a schedule only where the config did (`{distinct}`: NULLs
    # compare as values).
    sync="INSERT INTO schedules (id, type, planning, timezone, config_planning, source, "
    "overlap, catchup, catchup_bound, config_policy, report, config_report, last_fire, "
    "updated, rev, target) VALUES (?, ?, 'automatic', ?, ?, 'config', ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, ?) ON CONFLICT (id) DO UPDATE SET type = excluded.type, target = excluded.target, "
    "config_planning = excluded.config_planning, config_report = excluded.config_report, "
    "report = CASE WHEN schedules.report_source = 'admin' THEN schedules.report "
    "ELSE excluded.report END, "
    "last_fire = CASE WHEN schedules.source = 'config' AND "
    "schedules.config_planning {distinct} excluded.config_planning THEN "
    "{max}(coalesce(schedules.last_fire, 0), excluded.last_fire) "
    "ELSE schedules.last_fire END, "
    "timezone = CASE WHEN schedules.source = 'admin' THEN schedules.timezone "
    "ELSE excluded.timezone END, "
    + ", ".join(
        f"{c} = CASE WHEN schedules.policy_source = 'admin' THEN schedules.{c} "
        f"ELSE excluded.{c} END"
        for c in ("overlap", "catchup", "catchup_bound")
    )
    + ", config_policy = excluded.config_policy, "
    "updated = excluded.updated, rev = excluded.rev "
    "WHERE schedules.type {distinct} excluded.type "
    "OR schedules.config_planning {distinct} excluded.config_planning "
    "OR schedules.config_policy {distinct} excluded.config_policy "
    "OR schedules.config_report {distinct} excluded.config_report "
    "OR (schedules.source = 'config' "
    "AND schedules.timezone {distinct} excluded.timezone)",
    unsync="DELETE FROM schedules WHERE source = 'config' AND ",
    planning="UPDATE schedules SET planning = ?, timezone = coalesce(?, timezone), "
    "source = CASE WHEN CAST(? AS TEXT) = 'automatic' AND CAST(? AS TEXT) IS NULL "
    "THEN 'config' ELSE 'admin' END, last_fire = {max}(coalesce(last_fire, 0), ?), "
    "next_run = ?, updated = ?, rev = ? WHERE id = ?",
    policy="UPDATE schedules SET overlap = coalesce(?, overlap), "
    "catchup = coalesce(?, catchup), policy_source = 'admin', "
    "catchup_bound = coalesce(?, catchup_bound), updated = ?, rev = ? WHERE id = ?",
    # An admin's recipients (NULL: back to the config's).
    report="UPDATE schedules SET report = coalesce(CAST(? AS TEXT), config_report, '{}'), "
    "report_source = ?, updated = ?, rev = ? WHERE id = ?",
    enabled="UPDATE schedules SET enabled = ?, last_fire = CASE WHEN ? THEN "
    "{max}(coalesce(last_fire, 0), ?) ELSE last_fire END, updated = ?, rev = ? WHERE id = ?",
    # A tick already recorded for the same fire time (another leader, briefly) is kept; it
    # only gains the job id when it had none.
    tick="INSERT INTO ticks (schedule_id, fire_time, outcome, job_id, ts, detail) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (schedule_id, fire_time) DO UPDATE SET "
    "detail = CASE WHEN ticks.job_id IS NULL AND excluded.job_id IS NOT NULL "
    "THEN excluded.detail ELSE ticks.detail END, "
    "job_id = coalesce(ticks.job_id, excluded.job_id)",
    fire_report="INSERT INTO fire_reports (tick_id, recipients) SELECT id, ? FROM ticks "
    "WHERE schedule_id = ? AND fire_time = ? AND outcome = 'error' ON CONFLICT DO NOTHING",
    advance="UPDATE schedules SET last_fire = "
    "{max}(coalesce(last_fire, 0), coalesce(CAST(? AS DOUBLE PRECISION), 0)), next_run = ?, "
    "last_job = CASE WHEN CAST(? AS BIGINT) IS NOT NULL AND (last_job IS NULL "
    "OR CAST(? AS BIGINT) > last_job) THEN CAST(? AS BIGINT) ELSE last_job END, "
    "last_run = coalesce(?, last_run), rev = ? WHERE id = ?",
    ran="UPDATE schedules SET last_job = ?, last_run = ?, rev = ? WHERE id = ?",
    lease="INSERT INTO leases (name, owner, until) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until "
    "WHERE leases.owner = excluded.owner OR leases.until < ? RETURNING owner",
    unlease="DELETE FROM leases WHERE name = ? AND owner = ?",
)


def report_to_json(report: Report) -> str:
    return json.dumps({"email": list(report.email), "webhook": list(report.webhook)})


def report_from_json(text: str | None) -> Report:
    d = json.loads(text or "{}")
    return Report(tuple(d.get("email", ())), tuple(d.get("webhook", ())))


def schedule_from_row(r: Sequence[Any]) -> Schedule:
    from jobdash.core.planning import PlanningError, Schedule, resolve  # see the module's docstring

    try:
        effective = resolve(r[3], r[15]).text
    except PlanningError:
        effective = "disabled"
    # SCHEDULE_COLUMNS are Schedule's fields in their order, `effective` (worked out here)
    # aside; a few values are made of their column (JSON, a default, a flag).
    fields = [r[0], r[1], json.loads(r[2]), r[3], effective, r[4] or "UTC", bool(r[5])]
    fields += [*r[6:18], report_from_json(r[18]), r[19], r[20] or "", r[21], r[22]]
    return Schedule(*fields)


class Schedules:
    """Schedules, ticks and leases."""

    db: Reading

    # ----------------------------------------------------------------- reading

    async def schedules(self) -> list[Schedule]:
        rows = await self.db.fetchall(Q[self.db.dialect].every)
        return [schedule_from_row(r) for r in rows]

    async def get_schedule(self, schedule_id: str) -> Schedule:
        rows = await self.db.fetchall(Q[self.db.dialect].one, (schedule_id,))
        if not rows:
            raise NotFound(f"no schedule {schedule_id!r}")
        return schedule_from_row(rows[0])

    async def ticks(self, schedule_id: str, limit: int = 100) -> list[Tick]:
        """The newest ticks of a schedule first."""
        from jobdash.core.planning import Tick

        rows = await self.db.fetchall(Q[self.db.dialect].ticks, (schedule_id, limit))
        return [Tick(*r) for r in rows]

    async def active_schedule_jobs(self, schedule_id: str) -> list[int]:
        rows = await self.db.fetchall(Q[self.db.dialect].active, (schedule_id,))
        return [r[0] for r in rows]

    async def job_for_fire(self, schedule_id: str, fire_time: float) -> int | None:
        rows = await self.db.fetchall(Q[self.db.dialect].for_fire, (schedule_id, fire_time))
        return rows[0][0] if rows else None

    # ----------------------------------------------------------------- writing

    async def sync_schedules(
        self, specs: Sequence[ScheduleSpec], known_types: Sequence[str]
    ) -> None:
        """Publish the config's schedules. A new one starts now (no missed ticks for the past);
        an admin override (source = admin) keeps its planning, time zone and enabled flag, and
        a policy an admin set (policy_source = admin) stays; a schedule the config no longer
        declares for a type it knows is removed."""
        d = self.db.dialect
        q = Q[d]

        def txn(con: Connection, rev: int, now: float) -> None:
            for s in specs:
                p = s.policy
                policy = json.dumps([p.overlap, p.catchup, p.catchup_bound])
                con.execute(
                    q.sync,
                    (
                        s.id,
                        s.type,
                        s.timezone,
                        s.planning,
                        p.overlap,
                        p.catchup,
                        p.catchup_bound,
                        policy,
                        report_to_json(s.report),
                        report_to_json(s.report),
                        now,
                        now,
                        rev,
                        s.target,
                    ),
                )
            declared = {s.id for s in specs}
            gone = [t for t in known_types if t not in declared]
            if gone:
                among, args = d.among("id", gone)
                con.execute(q.unsync + among, args)

        await self.db.write(txn)

    async def set_schedule_planning(
        self,
        schedule_id: str,
        planning: str,
        tz: str | None,
        user: str,
        next_run: float | None,
        config_zone: str | None = None,
    ) -> None:
        """An admin's new planning (survives restarts and config syncs; "automatic" with no
        zone goes back to following the config, its zone too: `config_zone`). Fire times
        before now are not counted as missed."""
        actor = self.db.actor
        q = Q[self.db.dialect]
        audit_row = COUNTS[self.db.dialect.name].audit_row
        zone = tz if tz is not None or planning != "automatic" else config_zone

        def txn(con: Connection, rev: int, now: float) -> None:
            cur = con.execute(
                q.planning, (planning, zone, planning, tz, now, next_run, now, rev, schedule_id)
            )
            if not cur.rowcount:
                raise NotFound(f"no schedule {schedule_id!r}")
            detail = planning + (f" ({tz})" if tz else "")
            audit_row(con, now, actor, user, "edit", f"schedule:{schedule_id}", detail)

        await self.db.write(txn)

    async def set_schedule_policy(self, schedule_id: str, user: str, change: PolicyChange) -> None:
        actor = self.db.actor
        q = Q[self.db.dialect]
        audit_row = COUNTS[self.db.dialect.name].audit_row
        overlap, catchup, catchup_bound = change.overlap, change.catchup, change.catchup_bound

        def txn(con: Connection, rev: int, now: float) -> None:
            cur = con.execute(q.policy, (overlap, catchup, catchup_bound, now, rev, schedule_id))
            if not cur.rowcount:
                raise NotFound(f"no schedule {schedule_id!r}")
            parts = [
                f"{k}={v}"
                for k, v in (
                    ("overlap", overlap),
                    ("catchup", catchup),
                    ("catchup_bound", catchup_bound),
                )
                if v is not None
            ]
            audit_row(con, now, actor, user, "edit", f"schedule:{schedule_id}", " ".join(parts))

        await self.db.write(txn)

    async def set_schedule_report(self, schedule_id: str, user: str, report: Report | None) -> None:
        """An admin's report recipients for a schedule's runs (kept across config syncs);
        None: the config's again."""
        actor = self.db.actor
        q = Q[self.db.dialect]
        audit_row = COUNTS[self.db.dialect.name].audit_row
        text = None if report is None else report_to_json(report)
        source = "config" if report is None else "admin"

        def txn(con: Connection, rev: int, now: float) -> None:
            cur = con.execute(q.report, (text, source, now, rev, schedule_id))
            if not cur.rowcount:
                raise NotFound(f"no schedule {schedule_id!r}")
            if report is None:
                detail = "report recipients from the config"
            else:
                detail = "report recipients: " + (
                    ", ".join((*report.email, *report.webhook)) or "none"
                )
            audit_row(con, now, actor, user, "edit", f"schedule:{schedule_id}", detail)

        await self.db.write(txn)

    async def set_schedule_enabled(self, schedule_id: str, enabled: bool, user: str) -> None:
        """Enable or disable (pause). While disabled, fire times get `paused` ticks; enabling
        again does not count the paused time as missed."""
        actor = self.db.actor
        q = Q[self.db.dialect]
        audit_row = COUNTS[self.db.dialect.name].audit_row

        def txn(con: Connection, rev: int, now: float) -> None:
            cur = con.execute(q.enabled, (int(enabled), enabled, now, now, rev, schedule_id))
            if not cur.rowcount:
                raise NotFound(f"no schedule {schedule_id!r}")
            audit_row(
                con, now, actor, user, "enable" if enabled else "disable", f"schedule:{schedule_id}"
            )

        await self.db.write(txn)

    async def record_ticks(
        self, schedule_id: str, ticks: Sequence[TickRecord], advance: Advance
    ) -> None:
        """Record ticks and move the schedule's watermark and next run, in one transaction.

        A tick already recorded for the same fire time (another leader, briefly) is kept; it
        only gains the job id when it had none."""
        d = self.db.dialect
        q = Q[d]
        a, job = advance, advance.last_job

        def txn(con: Connection, rev: int, now: float) -> None:
            if ticks:
                d.many(
                    con,
                    q.tick,
                    [(schedule_id, t.fire_time, t.outcome, t.job_id, now, t.detail) for t in ticks],
                )
            for t in ticks:
                if t.report:  # kept only when this tick is the error (not another leader's)
                    con.execute(q.fire_report, (json.dumps(t.report), schedule_id, t.fire_time))
            con.execute(
                q.advance, (a.watermark, a.next_run, job, job, job, a.last_run, rev, schedule_id)
            )

        await self.db.write(txn)

    async def note_schedule_run(self, schedule_id: str, job_id: int, user: str) -> None:
        """A run-now job: it becomes the schedule's last run; audited."""
        actor = self.db.actor
        q = Q[self.db.dialect]
        audit_row = COUNTS[self.db.dialect.name].audit_row

        def txn(con: Connection, rev: int, now: float) -> None:
            con.execute(q.ran, (job_id, now, rev, schedule_id))
            audit_row(con, now, actor, user, "run", f"schedule:{schedule_id}", f"job {job_id}")

        await self.db.write(txn)

    async def acquire_lease(self, name: str, owner: str, duration: float) -> bool:
        """Take or renew the lease `name`; True when `owner` holds it now."""
        q = Q[self.db.dialect]

        def txn(con: Connection, rev: int, now: float) -> bool:
            return bool(con.execute(q.lease, (name, owner, now + duration, now)).fetchall())

        return await self.db.write(txn)

    async def release_lease(self, name: str, owner: str) -> None:
        q = Q[self.db.dialect]

        def txn(con: Connection, rev: int, now: float) -> None:
            con.execute(q.unlease, (name, owner))

        await self.db.write(txn)
