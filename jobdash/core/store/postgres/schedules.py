"""Schedules, ticks and the leader lease of the PostgreSQL store (see the SQLite backend's
schedules.py for the tables' meaning). (schedule, fire time) is unique in `ticks` and in
`jobs` (jobs_fire); the leader lease is one row of `leases`, taken over only once it ran out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from jobdash.core.model import NotFound
from jobdash.core.planning import Schedule, Tick
from jobdash.core.store.postgres.counts import Con, audit_row
from jobdash.core.store.postgres.db import Db
from jobdash.core.store.postgres.schema import ACTIVE_ONLY
from jobdash.core.store.records import Advance, PolicyChange, ScheduleSpec, TickRecord
from jobdash.core.store.sqlite.schedules import report_to_json, schedule_from_row

SCHEDULE_COLUMNS = (
    "s.id, s.type, s.params, s.planning, s.timezone, s.enabled, s.overlap, s.catchup, "
    "s.catchup_bound, s.next_run, s.last_job, j.status, s.last_run, s.last_fire, s.source, "
    "s.config_planning, s.updated, s.rev, s.report, t.outcome, t.detail, t.fire_time"
)
SCHEDULE_FROM = (
    "schedules s LEFT JOIN jobs j ON j.id = s.last_job LEFT JOIN ticks t ON t.id = "
    "(SELECT id FROM ticks WHERE schedule_id = s.id ORDER BY fire_time DESC, id DESC LIMIT 1)"
)
TICK_COLUMNS = "id, schedule_id, fire_time, outcome, job_id, ts, detail"
# A config sync changes a schedule only where the config did (`IS DISTINCT FROM`: NULLs
# compare as values).
_SYNC = (
    "INSERT INTO schedules (id, type, planning, timezone, config_planning, source, "
    "overlap, catchup, catchup_bound, config_policy, report, last_fire, updated, "
    "rev) VALUES (%s, %s, 'automatic', %s, %s, 'config', %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (id) DO UPDATE SET type = excluded.type, "
    "config_planning = excluded.config_planning, report = excluded.report, "
    "last_fire = CASE WHEN schedules.source = 'config' AND "
    "schedules.config_planning IS DISTINCT FROM excluded.config_planning THEN "
    "greatest(coalesce(schedules.last_fire, 0), excluded.last_fire) "
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
    "WHERE schedules.type IS DISTINCT FROM excluded.type "
    "OR schedules.config_planning IS DISTINCT FROM excluded.config_planning "
    "OR schedules.config_policy IS DISTINCT FROM excluded.config_policy "
    "OR schedules.report IS DISTINCT FROM excluded.report "
    "OR (schedules.source = 'config' "
    "AND schedules.timezone IS DISTINCT FROM excluded.timezone)"
)


class Schedules:
    db: Db

    # ----------------------------------------------------------------- reading

    async def schedules(self) -> list[Schedule]:
        rows = await self.db.fetchall(
            f"SELECT {SCHEDULE_COLUMNS} FROM {SCHEDULE_FROM} ORDER BY s.id"
        )
        return [schedule_from_row(r) for r in rows]

    async def get_schedule(self, schedule_id: str) -> Schedule:
        rows = await self.db.fetchall(
            f"SELECT {SCHEDULE_COLUMNS} FROM {SCHEDULE_FROM} WHERE s.id = %s", (schedule_id,)
        )
        if not rows:
            raise NotFound(f"no schedule {schedule_id!r}")
        return schedule_from_row(rows[0])

    async def ticks(self, schedule_id: str, limit: int = 100) -> list[Tick]:
        rows = await self.db.fetchall(
            f"SELECT {TICK_COLUMNS} FROM ticks WHERE schedule_id = %s "
            "ORDER BY fire_time DESC, id DESC LIMIT %s",
            (schedule_id, limit),
        )
        return [Tick(*r) for r in rows]

    async def active_schedule_jobs(self, schedule_id: str) -> list[int]:
        rows = await self.db.fetchall(
            f"SELECT id FROM jobs WHERE schedule_id = %s AND {ACTIVE_ONLY} ORDER BY id",
            (schedule_id,),
        )
        return [r[0] for r in rows]

    async def job_for_fire(self, schedule_id: str, fire_time: float) -> int | None:
        rows = await self.db.fetchall(
            "SELECT id FROM jobs WHERE schedule_id = %s AND fire_time = %s",
            (schedule_id, fire_time),
        )
        return rows[0][0] if rows else None

    # ----------------------------------------------------------------- writing

    async def sync_schedules(
        self, specs: Sequence[ScheduleSpec], known_types: Sequence[str]
    ) -> None:
        def txn(con: Con, rev: int, now: float) -> None:
            for s in specs:
                p = s.policy
                policy = json.dumps([p.overlap, p.catchup, p.catchup_bound])
                con.execute(
                    _SYNC,
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
                        now,
                        now,
                        rev,
                    ),
                )
            declared = {s.id for s in specs}
            gone = [t for t in known_types if t not in declared]
            if gone:
                con.execute(
                    "DELETE FROM schedules WHERE source = 'config' AND id = ANY(%s)", (gone,)
                )

        await self.db.write(txn)

    async def set_schedule_planning(
        self, schedule_id: str, planning: str, tz: str | None, user: str, next_run: float | None
    ) -> None:
        actor = self.db.actor

        def txn(con: Con, rev: int, now: float) -> None:
            cur = con.execute(
                "UPDATE schedules SET planning = %s, timezone = coalesce(%s, timezone), "
                "source = CASE WHEN %s::text = 'automatic' AND %s::text IS NULL THEN 'config' "
                "ELSE 'admin' END, last_fire = greatest(coalesce(last_fire, 0), %s), "
                "next_run = %s, updated = %s, rev = %s WHERE id = %s",
                (planning, tz, planning, tz, now, next_run, now, rev, schedule_id),
            )
            if not cur.rowcount:
                raise NotFound(f"no schedule {schedule_id!r}")
            detail = planning + (f" ({tz})" if tz else "")
            audit_row(con, now, actor, user, "edit", f"schedule:{schedule_id}", detail)

        await self.db.write(txn)

    async def set_schedule_policy(self, schedule_id: str, user: str, change: PolicyChange) -> None:
        actor = self.db.actor
        overlap, catchup, catchup_bound = change.overlap, change.catchup, change.catchup_bound

        def txn(con: Con, rev: int, now: float) -> None:
            cur = con.execute(
                "UPDATE schedules SET overlap = coalesce(%s, overlap), "
                "catchup = coalesce(%s, catchup), policy_source = 'admin', "
                "catchup_bound = coalesce(%s, catchup_bound), updated = %s, rev = %s "
                "WHERE id = %s",
                (overlap, catchup, catchup_bound, now, rev, schedule_id),
            )
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

    async def set_schedule_enabled(self, schedule_id: str, enabled: bool, user: str) -> None:
        actor = self.db.actor

        def txn(con: Con, rev: int, now: float) -> None:
            cur = con.execute(
                "UPDATE schedules SET enabled = %s, last_fire = CASE WHEN %s THEN "
                "greatest(coalesce(last_fire, 0), %s) ELSE last_fire END, updated = %s, "
                "rev = %s WHERE id = %s",
                (int(enabled), enabled, now, now, rev, schedule_id),
            )
            if not cur.rowcount:
                raise NotFound(f"no schedule {schedule_id!r}")
            audit_row(
                con, now, actor, user, "enable" if enabled else "disable", f"schedule:{schedule_id}"
            )

        await self.db.write(txn)

    async def record_ticks(
        self, schedule_id: str, ticks: Sequence[TickRecord], advance: Advance
    ) -> None:
        a, job = advance, advance.last_job

        def txn(con: Con, rev: int, now: float) -> None:
            if ticks:
                con.cursor().executemany(
                    "INSERT INTO ticks (schedule_id, fire_time, outcome, job_id, ts, detail) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (schedule_id, fire_time) DO "
                    "UPDATE SET detail = CASE WHEN ticks.job_id IS NULL AND excluded.job_id IS "
                    "NOT NULL THEN excluded.detail ELSE ticks.detail END, "
                    "job_id = coalesce(ticks.job_id, excluded.job_id)",
                    [(schedule_id, t.fire_time, t.outcome, t.job_id, now, t.detail) for t in ticks],
                )
            for t in ticks:
                if t.report:  # kept only when this tick is the error (not another leader's)
                    con.execute(
                        "INSERT INTO fire_reports (tick_id, recipients) SELECT id, %s FROM ticks "
                        "WHERE schedule_id = %s AND fire_time = %s AND outcome = 'error' "
                        "ON CONFLICT DO NOTHING",
                        (json.dumps(t.report), schedule_id, t.fire_time),
                    )
            con.execute(
                "UPDATE schedules SET last_fire = greatest(coalesce(last_fire, 0), "
                "coalesce(%s::float8, 0)), next_run = %s, "
                "last_job = CASE WHEN %s::bigint IS NOT NULL AND (last_job IS NULL "
                "OR %s::bigint > last_job) THEN %s::bigint ELSE last_job END, "
                "last_run = coalesce(%s, last_run), rev = %s WHERE id = %s",
                (a.watermark, a.next_run, job, job, job, a.last_run, rev, schedule_id),
            )

        await self.db.write(txn)

    async def note_schedule_run(self, schedule_id: str, job_id: int, user: str) -> None:
        actor = self.db.actor

        def txn(con: Con, rev: int, now: float) -> None:
            con.execute(
                "UPDATE schedules SET last_job = %s, last_run = %s, rev = %s WHERE id = %s",
                (job_id, now, rev, schedule_id),
            )
            audit_row(con, now, actor, user, "run", f"schedule:{schedule_id}", f"job {job_id}")

        await self.db.write(txn)

    async def acquire_lease(self, name: str, owner: str, duration: float) -> bool:
        def txn(con: Con, rev: int, now: float) -> bool:
            rows = con.execute(
                "INSERT INTO leases (name, owner, until) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until "
                "WHERE leases.owner = excluded.owner OR leases.until < %s RETURNING owner",
                (name, owner, now + duration, now),
            ).fetchall()
            return bool(rows)

        return await self.db.write(txn)

    async def release_lease(self, name: str, owner: str) -> None:
        def txn(con: Con, rev: int, now: float) -> None:
            con.execute("DELETE FROM leases WHERE name = %s AND owner = %s", (name, owner))

        await self.db.write(txn)
