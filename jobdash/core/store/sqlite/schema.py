"""The SQLite schema as a list of forward migrations (`migrate.py` applies them).

Each entry moves the store from version N to N+1. A store is recognised by the
`meta` row app = 'jobdash'; a file without it (and not empty) is not ours and is
never modified.
"""

from __future__ import annotations

from jobdash.core.store.sql.artifacts import ARTIFACTS_TABLE
from jobdash.core.store.sql.audit import AUDIT_HOST
from jobdash.core.store.sql.history import HISTORY_INDEXES, TASK_ACTIVE, TASK_IDLE
from jobdash.core.store.sql.marks import READ_MARKS
from jobdash.core.store.sql.schedules import SCHEDULE_TARGET
from jobdash.core.store.sql.stalls import STALL_REPORTS

APP_ID = "jobdash"

# The partial index jobs_active (migration 1, its condition rewritten by 26) covers the
# unfinished jobs, a few among a long history. SQLite uses a partial index only when a query
# repeats its condition, so every query for active jobs says counts.ACTIVE_ONLY (without it:
# a scan of everything).

MIGRATIONS: list[str] = [
    # 1: jobs, tasks, logs, locks, agents, audit, the published catalogue.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE counter (id INTEGER PRIMARY KEY CHECK (id = 1), rev INTEGER NOT NULL);
    INSERT INTO counter (id, rev) VALUES (1, 0);

    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        params TEXT NOT NULL,
        user TEXT NOT NULL,
        trigger TEXT NOT NULL,
        schedule_id TEXT,
        fire_time REAL,
        status TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        started REAL,
        finished REAL,
        pending INTEGER NOT NULL DEFAULT 0,
        running INTEGER NOT NULL DEFAULT 0,
        succeeded INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        cancelled INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        progress REAL NOT NULL DEFAULT 0,
        info TEXT NOT NULL DEFAULT '',
        metrics TEXT NOT NULL DEFAULT '{}',
        warnings INTEGER NOT NULL DEFAULT 0,
        target TEXT NOT NULL DEFAULT '',
        parallel INTEGER NOT NULL DEFAULT 1,
        cancellable INTEGER NOT NULL DEFAULT 1,
        on_lock TEXT NOT NULL DEFAULT 'wait',
        timeout REAL,
        retries INTEGER NOT NULL DEFAULT 0,
        backoff REAL NOT NULL DEFAULT 1,
        force INTEGER NOT NULL DEFAULT 0,
        admitted INTEGER NOT NULL DEFAULT 0,
        rev INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_rev ON jobs (rev);
    CREATE INDEX jobs_active ON jobs (status) WHERE status NOT IN
        ('succeeded', 'warning', 'failed', 'cancelled');
    CREATE UNIQUE INDEX jobs_fire ON jobs (schedule_id, fire_time)
        WHERE schedule_id IS NOT NULL AND fire_time IS NOT NULL;

    CREATE TABLE tasks (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        key TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,              -- 'command', 'function', 'job' (a job function)
        spec TEXT NOT NULL,              -- JSON: argv, or function reference
        item TEXT NOT NULL DEFAULT 'null',
        status TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        base_attempt INTEGER NOT NULL DEFAULT 0,  -- attempt at the last manual retry
        owner TEXT,
        lease_until REAL,
        agent TEXT,
        started REAL,
        finished REAL,
        exit_code INTEGER,
        error TEXT NOT NULL DEFAULT '',
        progress REAL NOT NULL DEFAULT 0,
        not_before REAL NOT NULL DEFAULT 0,
        UNIQUE (job_id, seq),
        UNIQUE (job_id, key)
    );
    CREATE INDEX tasks_pending ON tasks (job_id, id) WHERE status = 'pending';
    CREATE INDEX tasks_running ON tasks (owner) WHERE status = 'running';
    CREATE INDEX tasks_lease ON tasks (lease_until) WHERE status = 'running';

    CREATE TABLE logs (
        seq INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL,
        task_id INTEGER,
        ts REAL NOT NULL,
        stream TEXT NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX logs_job ON logs (job_id, seq);

    -- The lock keys each job needs, and the keys held right now (one holder per key).
    CREATE TABLE job_locks (
        job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        PRIMARY KEY (job_id, key)
    );
    CREATE TABLE locks (key TEXT PRIMARY KEY, job_id INTEGER NOT NULL);

    CREATE TABLE agents (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        version TEXT NOT NULL,
        slots INTEGER NOT NULL,
        running INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        started REAL NOT NULL,
        heartbeat REAL NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        drain INTEGER NOT NULL DEFAULT 0,
        rev INTEGER NOT NULL DEFAULT 0
    );

    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        user TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );

    CREATE TABLE catalogue (
        name TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        published REAL NOT NULL
    );

    -- Ids of removed jobs, so watchers can drop them from what they show.
    CREATE TABLE removed (job_id INTEGER PRIMARY KEY, rev INTEGER NOT NULL);
    CREATE INDEX removed_rev ON removed (rev);
    """,
    # 2: schedules, their tick history, and leases (the scheduler's leader lease).
    """
    CREATE TABLE schedules (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        params TEXT NOT NULL DEFAULT '{}',
        planning TEXT NOT NULL,            -- automatic, cron: …, interval: …, daily: …, once: …, disabled
        timezone TEXT,
        enabled INTEGER NOT NULL DEFAULT 1,
        overlap TEXT NOT NULL DEFAULT 'skip',
        catchup TEXT NOT NULL DEFAULT 'once',
        catchup_bound REAL,
        next_run REAL,
        last_job INTEGER,
        last_status TEXT,
        last_run REAL,
        last_fire REAL,                    -- watermark: fire times up to here are handled
        config_planning TEXT,              -- the config's planning ("automatic" resolves to it)
        report TEXT NOT NULL DEFAULT '{}',
        source TEXT NOT NULL DEFAULT 'config',  -- config, or admin (a run-time override)
        updated REAL NOT NULL DEFAULT 0,
        rev INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX schedules_rev ON schedules (rev);
    CREATE TABLE ticks (
        id INTEGER PRIMARY KEY,
        schedule_id TEXT NOT NULL,
        fire_time REAL NOT NULL,
        outcome TEXT NOT NULL,             -- ran, skipped, missed, paused, error
        job_id INTEGER,
        ts REAL NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        UNIQUE (schedule_id, fire_time)
    );
    CREATE INDEX ticks_schedule ON ticks (schedule_id, id);
    CREATE TABLE leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, until REAL NOT NULL);
    """,
    # 3: execution reports (email, webhook) of finished jobs, sent once across engines.
    """
    -- One row per job that has recipients, written with the job (durable like it). A finished
    -- job's row is claimed by one engine (owner + claimed_until), sent, and marked sent; a
    -- failed send is retried at next_try. `done` lists the recipients already served.
    CREATE TABLE reports (
        job_id INTEGER PRIMARY KEY,
        state TEXT NOT NULL,               -- pending, sending, sent, failed
        recipients TEXT NOT NULL DEFAULT '{}',  -- JSON {"email": [...], "webhook": [...]}
        done TEXT NOT NULL DEFAULT '[]',   -- JSON list of "email:addr" / "webhook:url" sent
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try REAL NOT NULL DEFAULT 0,
        owner TEXT,
        claimed_until REAL,
        sent REAL,
        last_error TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX reports_due ON reports (next_try) WHERE state IN ('pending', 'sending');
    -- Agents: how many attempts of a task were lost with their agent (quarantine).
    ALTER TABLE tasks ADD COLUMN lost INTEGER NOT NULL DEFAULT 0;
    -- The process group of a running command attempt, so that when its agent is found dead
    -- on this host the attempt's leftover processes are killed before it runs again.
    ALTER TABLE tasks ADD COLUMN pgid INTEGER;
    """,
    # 4: schedule policies (overlap, catch-up) declared in the config, like plannings.
    """
    -- The config's policy as JSON, and who set the policy in force: config, or admin (set at
    -- run time; a config change then leaves it alone).
    ALTER TABLE schedules ADD COLUMN config_policy TEXT;
    ALTER TABLE schedules ADD COLUMN policy_source TEXT NOT NULL DEFAULT 'config';
    -- Before this version only an admin could set a policy other than the defaults.
    UPDATE schedules SET policy_source = 'admin'
        WHERE overlap != 'skip' OR catchup != 'once' OR catchup_bound IS NOT NULL;
    """,
    # 5: reports of failed fires (a schedule whose fire time could not start its job).
    """
    -- One row per error tick whose error is new (an error that lasts is reported once), sent
    -- like a job's report: claimed by one engine, retried at next_try, then sent or failed.
    CREATE TABLE fire_reports (
        tick_id INTEGER PRIMARY KEY,
        state TEXT NOT NULL DEFAULT 'pending',  -- pending, sending, sent, failed
        recipients TEXT NOT NULL,          -- JSON {"email": [...], "webhook": [...]}
        done TEXT NOT NULL DEFAULT '[]',   -- JSON list of "email:addr" / "webhook:url" sent
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try REAL NOT NULL DEFAULT 0,
        owner TEXT,
        claimed_until REAL,
        last_error TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX fire_reports_due ON fire_reports (next_try) WHERE state IN ('pending', 'sending');
    """,
    # 6: the audit's real actor: the OS user of the process that acted, from the kernel.
    """
    -- `user` is who the action was for; `actor` who did it: the same, but for root acting
    -- as another user (JOBDASH_USER). Empty in rows written before this version.
    ALTER TABLE audit ADD COLUMN actor TEXT NOT NULL DEFAULT '';
    """,
    # 7: each agent's catalogue with hashes; what a job's submitter saw; deaths charged to a
    # task; the attempt that wrote a log line.
    """
    -- The job types each agent runs (its own config), by the hash of their definition. A
    -- submitter checks its type against the live agents' rows; an agent claims only the
    -- tasks of jobs whose type_hash it holds itself (in memory, not from this table).
    DROP TABLE catalogue;
    CREATE TABLE catalogue (
        agent TEXT NOT NULL,
        name TEXT NOT NULL,
        hash TEXT NOT NULL,
        spec TEXT NOT NULL,
        published REAL NOT NULL,
        PRIMARY KEY (agent, name)
    );
    -- The hash of the type definition the submitter saw (NULL: made before hashes).
    ALTER TABLE jobs ADD COLUMN type_hash TEXT;
    -- Agent deaths attributed to a task (it ran alone there, or was the one task common to
    -- several deaths); `lost` still counts every attempt lost with its agent. A pending task
    -- with lost > 0 is a suspect: it runs alone, so that its next death is attributable.
    ALTER TABLE tasks ADD COLUMN charged INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX tasks_suspect ON tasks (job_id) WHERE status = 'pending' AND lost > 0;
    -- The attempt that wrote a task's line (NULL for job-level lines): output an attempt
    -- printed before its claim was taken over stays marked as that attempt's.
    ALTER TABLE logs ADD COLUMN attempt INTEGER;
    """,
    # 8: agents: the running count is derived from tasks (a stored counter drifted: a claim
    # added to it, a finished task never took off); pruned agents' totals are kept.
    """
    ALTER TABLE agents DROP COLUMN running;
    CREATE TABLE agents_pruned (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        agents INTEGER NOT NULL DEFAULT 0,
        done INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        rev INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO agents_pruned (id) VALUES (1);
    """,
    # 9: job timing and waits. A job's time counts from its first task started (not its
    # admission), without the time it was paused or that passed between a finish and a retry:
    # `idle_time` is the seconds of such spans already ended, `paused_at` the start of the one
    # going on (NULL when none is). `waiting` says why a running job has tasks ready and none
    # running (agents busy, none live, all draining); it is shown instead of the info line.
    """
    ALTER TABLE jobs ADD COLUMN idle_time REAL NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN paused_at REAL;
    ALTER TABLE jobs ADD COLUMN waiting TEXT NOT NULL DEFAULT '';
    UPDATE jobs SET paused_at = updated WHERE status = 'paused' AND started IS NOT NULL;
    """,
    # 10: the agent whose loss was last charged to a task as a death: when that agent's
    # heartbeat comes back (it was stopped or paused, not dead), it withdraws the charge.
    """
    ALTER TABLE tasks ADD COLUMN charged_by TEXT;
    """,
    # 11: indexes so that no per-event cost grows with the history or the backlog.
    """
    -- A claim walks the running jobs fewest-running first and stops after as many as it
    -- has free slots (without it: every running job, sorted, per claim).
    CREATE INDEX jobs_claimable ON jobs (running, id) WHERE status = 'running';
    -- A job's running tasks: the Agents pane (in job, seq order) and a job's progress.
    CREATE INDEX tasks_running_seq ON tasks (job_id, seq) WHERE status = 'running';
    -- The locks a settling job lets go (one per running job with a lock, at most).
    CREATE INDEX locks_job ON locks (job_id);
    """,
    # 12: report recipients an admin sets for a schedule at run time. `report` is what is in
    # force, `config_report` what the config says; with report_source = 'admin' a config
    # sync updates only `config_report`, as with a planning override.
    """
    ALTER TABLE schedules ADD COLUMN config_report TEXT;
    ALTER TABLE schedules ADD COLUMN report_source TEXT NOT NULL DEFAULT 'config';
    UPDATE schedules SET config_report = report;
    """,
    # 13: whose job a removed job was: on PostgreSQL a user sees only its own removed jobs
    # (row-level security); kept the same here, as the statements are shared.
    """
    ALTER TABLE removed ADD COLUMN "user" TEXT NOT NULL DEFAULT '';
    """,
    # 14: the history the dashboard's pictures draw (core/store/sql/history.py) and a
    # schedule's latest runs, each an index range of the recent rows however long the history.
    HISTORY_INDEXES,
    # 15: failures grouped by cause: one row per failed task attempt (core/fingerprint.py).
    """
    -- Each failed attempt (a failure retried or final, an attempt lost with its agent), with
    -- the fingerprint of its cause, the normalised message, the error as it was, and its
    -- job's type and user (a job's never change): grouping and "your own jobs" read this
    -- table alone. Whether it is the first of its task and of its job in its cause is said
    -- when it is written, so that a group's tasks and jobs are sums, not distinct counts
    -- (whole jobs are filtered and removed, so the sums stay exact). Rows go with their
    -- job (clear, retention).
    CREATE TABLE failures (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL,
        task_id INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        ts REAL NOT NULL,
        fingerprint TEXT NOT NULL,
        message TEXT NOT NULL,
        error TEXT NOT NULL,
        type TEXT NOT NULL,
        user TEXT NOT NULL,
        new_task INTEGER NOT NULL,  -- 1: the first attempt of its task of this cause
        new_job INTEGER NOT NULL    -- 1: the first attempt of its job of this cause
    );
    -- Grouping reads this index alone, in its order (a covering index: no row is visited).
    CREATE INDEX failures_group ON failures
        (fingerprint, type, ts, new_task, new_job, user, job_id, task_id);
    CREATE INDEX failures_ts ON failures (ts);
    CREATE INDEX failures_job ON failures (job_id, fingerprint);
    CREATE INDEX failures_task ON failures (task_id, fingerprint, attempt);
    """,
    # 16: the dashboard's windows onto the history: a text index of the finished jobs for
    # free words, and indexes for the fields a filter names.
    """
    -- The text free words are searched in (type, target, user, info, id, parameter values) of
    -- each finished job, by any substring of three characters or more (trigram tokenizer,
    -- case folded): it finds the candidates, the exact condition is checked beside it. Kept
    -- up to date in batches (text_index.py), not by each write: jobs_text_rev is the revision
    -- up to which it holds every finished job. A store upgraded to this version is indexed by
    -- the first batches.
    CREATE VIRTUAL TABLE jobs_text USING fts5(text, tokenize = 'trigram', columnsize = 0);
    CREATE TABLE jobs_text_rev (id INTEGER PRIMARY KEY CHECK (id = 1), rev INTEGER NOT NULL);
    INSERT INTO jobs_text_rev (id, rev) VALUES (1, -1);
    -- Of the finished jobs only (the active ones have jobs_active, and the live path's plans
    -- stay as they were): status:, user: (a page of them in id order), the jobs a user who
    -- is not an admin sees (their own), and the count. A query names the finished statuses
    -- as these say it (filters.FINISHED_ONLY), or SQLite does not use them.
    CREATE INDEX jobs_status ON jobs (status, id)
        WHERE status IN ('cancelled', 'failed', 'succeeded', 'warning');
    CREATE INDEX jobs_user_folded ON jobs (lower(coalesce("user", '')), id)
        WHERE status IN ('cancelled', 'failed', 'succeeded', 'warning');
    CREATE INDEX jobs_user ON jobs ("user", id)
        WHERE status IN ('cancelled', 'failed', 'succeeded', 'warning');
    """,
    # 17: the host an audit event came from (the kernel's node name of the process that wrote
    # it), and a target's events by index (the audit sections of the details screens).
    AUDIT_HOST,
    # 18: finalize steps (a type's step run after a job's last task, the job `finalizing`).
    """
    -- NULL: the job's type has no finalize step; 0: it has one, not yet added; else the id
    -- of the step's task (kind 'finalize'), added when the last other task ended.
    ALTER TABLE jobs ADD COLUMN finalize INTEGER;
    -- A finalizing job's step is claimed as a running job's tasks are (lifecycle.CLAIMABLE);
    -- the claim repeats this condition word for word (counts.CLAIMABLE_SQL).
    DROP INDEX jobs_claimable;
    CREATE INDEX jobs_claimable ON jobs (running, id) WHERE status IN ('finalizing', 'running');
    """,
    # 19: the artifacts of jobs (core/store/sql/artifacts.py), big ones kept as files beside.
    ARTIFACTS_TABLE.format(id="INTEGER PRIMARY KEY", blob="BLOB"),
    # 20: unread logs: each job's lines to read counted by level, and how far each user
    # has read each job's log.
    READ_MARKS,
    # 21: stall detection: a running task's last sign of life (a log line, progress), written
    # by the batched writer at most once a second per task (core/store/sql/flush.py).
    TASK_ACTIVE,
    # 22: a schedule's target, written by the config sync (core/store/sql/schedules.py).
    SCHEDULE_TARGET,
    # 23: stall reports, one per stalled task attempt (core/store/sql/stalls.py).
    STALL_REPORTS,
    # 24: the seconds of a task's attempt its job was paused (core/store/sql/history.py).
    TASK_IDLE,
    # 25: one index of the finished jobs by user, not two: each finished job entered five
    # b-trees, and their writes were most of a small job's cost. A user who is not an admin
    # reads their own jobs through jobs_user_folded too (filters.job_query: their folded
    # name, then the exact one from the row).
    """
    DROP INDEX jobs_user;
    """,
    # 26: the partial indexes of active and of finished jobs say their statuses as
    # comparisons (counts.ACTIVE_ONLY, filters.FINISHED_ONLY), not as lists: SQLite builds a
    # list of more than two values as a temporary b-tree each time it evaluates it, and
    # writing a job's row evaluates the predicates of its partial indexes: six b-trees built
    # and zeroed (a 4 KiB page each) for each job settled, three for each job inserted,
    # ~90,000 instructions of a bulk one-task job's ~560,000.
    """
    DROP INDEX jobs_active;
    CREATE INDEX jobs_active ON jobs (status) WHERE status <> 'succeeded' AND status <> 'warning' AND status <> 'failed' AND status <> 'cancelled';
    DROP INDEX jobs_status;
    CREATE INDEX jobs_status ON jobs (status, id) WHERE (status = 'cancelled' OR status = 'failed' OR status = 'succeeded' OR status = 'warning');
    DROP INDEX jobs_user_folded;
    CREATE INDEX jobs_user_folded ON jobs (lower(coalesce("user", '')), id) WHERE (status = 'cancelled' OR status = 'failed' OR status = 'succeeded' OR status = 'warning');
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
