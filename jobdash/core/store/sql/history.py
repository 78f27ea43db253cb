"""The history the dashboard's pictures draw: a job type's last runs, the jobs that ended
per hour, the tasks each agent ended per minute; and what history-aware timing reads (a
type's last runs and their tasks' durations, when each running job's tasks last showed a
sign of life: `core/timing.py`). Counted in the database (`GROUP BY` over
an index range of the recent rows), so a picture costs the same beside a million finished
jobs as beside ten; the indexes are schema migration 12 (SQLite) / 3 (PostgreSQL):
`jobs_type_done`, `jobs_done`, `tasks_done`.

A bucket is whole seconds back from `now` divided by its width: the same integer division
in both databases (a float cast to an integer truncates in SQLite and rounds in
PostgreSQL, so the seconds are made whole first: a run may land a second early).
"""

from __future__ import annotations

from jobdash.core.model import Counted, JobStatus, Run
from jobdash.core.store.records import Shared
from jobdash.core.store.sql.dialect import Reading, Statements
from jobdash.core.store.sql.filters import seen_sql

# Schema migration 12 of SQLite, 3 of PostgreSQL: the same statements in both.
HISTORY_INDEXES = """
-- A job type's last finished runs (job details: their durations).
CREATE INDEX jobs_type_done ON jobs (type, id) WHERE finished IS NOT NULL;
-- The jobs that ended in the last hours (the Completed tab's header).
CREATE INDEX jobs_done ON jobs (finished) WHERE finished IS NOT NULL;
-- A schedule's latest runs (its screen).
CREATE INDEX jobs_schedule ON jobs (schedule_id, id) WHERE schedule_id IS NOT NULL;
-- The tasks each agent ended in the last hour (the Agents tab), read from the index alone.
CREATE INDEX tasks_done ON tasks (finished, agent) WHERE finished IS NOT NULL;
"""

# Schema migration 21 of SQLite, 12 of PostgreSQL: a running task's last sign of life (a log
# line, progress), written by the batched writer at most once a second per task; NULL until
# its first (its start counts then).
TASK_ACTIVE = """
ALTER TABLE tasks ADD COLUMN active REAL;
"""
# Schema migration 24 of SQLite, 19 of PostgreSQL: the seconds of a task's attempt that its
# job was paused (added on resume, sql/requests.py; zeroed by a claim): a task's time is
# its run time, as its job's is (`core.timing.task_duration`).
TASK_IDLE = """
ALTER TABLE tasks ADD COLUMN idle_time REAL NOT NULL DEFAULT 0;
"""
# How many of a type's last runs' task durations are read at most: a median of that many is
# as good as of more, and a job of 100,000 tasks costs no more than one of 2,000.
TASK_SAMPLE = 2_000

_BACK = "CAST(CAST(? AS DOUBLE PRECISION) - finished AS BIGINT) / {width}"
_RUNS = (
    "SELECT id, status, finished, finished - started - idle_time FROM jobs "
    "WHERE type = ? AND finished IS NOT NULL{user} ORDER BY id DESC LIMIT ?"
)
_ENDED = (
    f"SELECT {_BACK.format(width=3600)}, status, count(*) FROM jobs "
    "WHERE finished IS NOT NULL AND finished > ?{user} GROUP BY 1, 2"
)

Q = Statements(
    type_runs=_RUNS.format(user=""),
    ended=_ENDED.format(user=""),
    # A user who does not see every job (`{user}`: filters.seen_sql, added when asked).
    type_runs_of=_RUNS,
    ended_of=_ENDED,
    # The tasks of jobs that took their usual course (jobs_of_type gives the ids), by the
    # tasks' (job_id, seq) key.
    task_durations=(
        "SELECT finished - started FROM tasks WHERE {ids} "
        "AND status = 'succeeded' AND started IS NOT NULL AND finished IS NOT NULL LIMIT ?"
    ),
    # When each running job's running tasks last showed a sign of life: the earliest, so a
    # silent task is not hidden by a talkative one (by the running tasks' partial index);
    # and the earliest end of their leases (past: no live agent holds that task).
    quiet=(
        "SELECT job_id, min({max}(coalesce(active, started), started)), min(lease_until) "
        "FROM tasks "
        "WHERE status = 'running' AND started IS NOT NULL GROUP BY job_id"
    ),
    # Done as the Agents tab's `done` counts (an agent's succeeded attempts): succeeded
    # tasks, by the agent that ran them. Failed tasks are not (that column counts failed
    # attempts, retries included, which the tasks' rows do not keep).
    tasks_done=(
        f"SELECT {_BACK.format(width=60)}, agent, count(*) FROM tasks "
        "WHERE finished IS NOT NULL AND finished > ? AND agent IS NOT NULL "
        "AND status = 'succeeded' GROUP BY 1, 2"
    ),
)
_STATUS = {str(s): s for s in JobStatus}


class History:
    """The reads behind the pictures (the Store contract's `type_runs`, `jobs_ended`,
    `tasks_done`)."""

    db: Reading

    async def type_runs(
        self, type: str, limit: int, user: str | None = None, shared: Shared = ()
    ) -> list[Run]:
        """The last `limit` finished jobs of `type`, newest first (of `user` only, and those
        of `shared`, when given)."""
        if user is None:
            rows = await self.db.fetchall(Q[self.db.dialect].type_runs, (type, limit))
        else:
            d, args = self.db.dialect, [type]
            sql = Q[d].type_runs_of.format(user=" AND " + seen_sql(d, user, shared, args))
            rows = await self.db.fetchall(sql, (*args, limit))
        return [
            Run(r[0], _STATUS[r[1]], r[2], None if r[3] is None else max(0.0, r[3])) for r in rows
        ]

    async def task_durations(self, job_ids: list[int]) -> list[float]:
        """How long the succeeded tasks of these jobs ran (at most TASK_SAMPLE of them)."""
        if not job_ids:
            return []
        d = self.db.dialect
        among, args = d.among("job_id", job_ids)
        sql = Q[d].task_durations.replace("{ids}", among)
        rows = await self.db.fetchall(sql, (*args, TASK_SAMPLE))
        return [max(0.0, float(r[0])) for r in rows]

    async def quiet_since(self) -> dict[int, float]:
        """Per running job, the last sign of life of its quietest running task."""
        return {job: quiet for job, (quiet, _) in (await self.running_signs()).items()}

    async def running_signs(self) -> dict[int, tuple[float, float | None]]:
        """Per running job, the last sign of life of its quietest running task and the
        earliest end of its running tasks' leases (one read of the running tasks)."""
        rows = await self.db.fetchall(Q[self.db.dialect].quiet, ())
        return {
            int(r[0]): (float(r[1]), None if r[2] is None else float(r[2]))
            for r in rows
            if r[1] is not None
        }

    async def jobs_ended(
        self, now: float, hours: int, user: str | None = None, shared: Shared = ()
    ) -> list[Counted]:
        """Jobs that ended in each of the last `hours` hours before `now`, by status (of
        `user` only, and those of `shared`, when given)."""
        since = now - 3600 * hours
        if user is None:
            rows = await self.db.fetchall(Q[self.db.dialect].ended, (now, since))
        else:
            d, args = self.db.dialect, [now, since]
            sql = Q[d].ended_of.format(user=" AND " + seen_sql(d, user, shared, args))
            rows = await self.db.fetchall(sql, args)
        return [(int(r[0]), str(r[1]), int(r[2])) for r in rows if 0 <= r[0] < hours]

    async def tasks_done(self, now: float, minutes: int) -> list[Counted]:
        """Tasks done (succeeded) in each of the last `minutes` minutes before `now`, by agent."""
        rows = await self.db.fetchall(Q[self.db.dialect].tasks_done, (now, now - 60 * minutes))
        return [(int(r[0]), str(r[1]), int(r[2])) for r in rows if 0 <= r[0] < minutes]
