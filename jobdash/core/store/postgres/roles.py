"""Several users on one PostgreSQL store, the database enforcing who sees what.

Each person connects as a role of their own (peer authentication on the database host: the
role is the OS user's name, vouched for by the kernel; a password or a certificate
elsewhere). Three group roles, made by schema migration 2 (`ROLES_AND_POLICIES`):

- `jobdash_user`: may read the store and act on its own jobs. Row-level security shows and
  lets it change only the jobs whose "user" is the role it connected as (`current_user`),
  and their tasks, logs, artifacts (migration 10), locks (which all may read: who holds a lock) and reports, and its
  own audit rows: `psql` as that role
  shows the same as `jobdash`. A job it writes must carry its own name (the policy's check),
  so the user column is the database's word, never the client's.
- `jobdash_admin` and `jobdash_engine` (the role `jobdash serve` connects as): see and act on
  everything; the engine runs every user's work.

The tables' owner (who ran `jobdash db init`) and superusers are not subject to row-level
security: on such a connection the store enforces nothing and jobdash's own rules apply, as
on SQLite (see `role_of`). `grant` makes a person's login role (`jobdash db grant USER`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from jobdash.core.identity import check_user_name
from jobdash.core.permissions import Role as PermissionRole
from jobdash.core.store.side_records import Role
from jobdash.core.store.sql.audit import JOB_OF_TARGET
from jobdash.core.store.sql.filters import glob_like

USER, ADMIN, ENGINE = "jobdash_user", "jobdash_admin", "jobdash_engine"
# A sub-select, so that a statement asks it once, not for each row.
SEES_ALL = f"(SELECT pg_has_role('{ADMIN}', 'MEMBER') OR pg_has_role('{ENGINE}', 'MEMBER'))"
OWN_JOB = "EXISTS (SELECT 1 FROM jobs WHERE jobs.id = job_id)"  # the jobs policy applies
# Tables a user writes when acting on its own jobs (under the policies below), and the
# identity sequences of the rows it inserts.
USER_WRITES = "jobs, tasks, logs, job_locks, reports, audit"
SEQUENCES = "jobs_id_seq, tasks_id_seq, logs_seq_seq, audit_id_seq, ticks_id_seq"
TABLES = (
    "meta, counter, jobs, tasks, logs, job_locks, locks, agents, agents_pruned, audit, "
    "catalogue, removed, schedules, ticks, leases, reports, fire_reports"
)


def roles_block(tables: str, writes: str, sequences: str) -> str:
    """The group roles and their privileges on these tables; skipped (with a notice) when
    they do not exist yet and this role may not create them: a store made by a plain role
    serves that role alone until an administrator runs `jobdash db grant` (which runs this).
    Idempotent: a migration that adds tables runs it again with them."""
    grants = (
        f"GRANT SELECT ON {tables} TO {USER}",
        f"GRANT INSERT, UPDATE, DELETE ON {writes} TO {USER}",
        f"GRANT UPDATE ON counter TO {USER}",
        # What it removes is noted (an upsert: INSERT and UPDATE), never erased.
        f"GRANT INSERT, UPDATE ON removed TO {USER}",
        f"GRANT DELETE ON locks TO {USER}",
        f"GRANT USAGE ON {sequences} TO {USER}",
        f"GRANT ALL ON {tables} TO {ADMIN}, {ENGINE}",
        f"GRANT USAGE ON {sequences} TO {ADMIN}, {ENGINE}",
    )
    return f"""
DO $$
DECLARE r TEXT;
BEGIN
    IF (SELECT count(*) FROM pg_roles WHERE rolname IN ('{USER}', '{ADMIN}', '{ENGINE}')) < 3
        AND NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user)
    THEN
        RAISE NOTICE 'jobdash: the roles of several users are made by jobdash db grant';
        RETURN;
    END IF;
    FOREACH r IN ARRAY ARRAY['{USER}', '{ADMIN}', '{ENGINE}'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), r);
    END LOOP;
    {" ".join(f"EXECUTE '{g}';" for g in grants)}
END $$;
"""


# The roles as migration 2 made them (the tables of that version), and as they are now:
# `grant` and each later migration that adds tables run the latest.
ROLES_2 = roles_block(TABLES, USER_WRITES, SEQUENCES)
ROLES_7 = roles_block(
    TABLES + ", failures", USER_WRITES + ", failures", SEQUENCES + ", failures_id_seq"
)
ROLES_10 = roles_block(
    TABLES + ", failures, artifacts",
    USER_WRITES + ", failures, artifacts",
    SEQUENCES + ", failures_id_seq, artifacts_id_seq",
)
ROLES_11 = roles_block(
    TABLES + ", failures, artifacts, read_marks",
    USER_WRITES + ", failures, artifacts, read_marks",
    SEQUENCES + ", failures_id_seq, artifacts_id_seq",
)
# Migration 13 (permission groups, below): the roles' grants, and agents and schedules
# writable under their policies (a role may drain, or change a schedule).
ROLES = roles_block(
    TABLES + ", failures, artifacts, read_marks, role_grants",
    USER_WRITES + ", failures, artifacts, read_marks, agents, schedules",
    SEQUENCES + ", failures_id_seq, artifacts_id_seq",
)

# Migration 16: stall reports, written by engines; a user reads those of the jobs it sees.
ROLES_16 = roles_block(
    TABLES + ", failures, artifacts, read_marks, role_grants, stall_reports",
    USER_WRITES + ", failures, artifacts, read_marks, agents, schedules",
    SEQUENCES + ", failures_id_seq, artifacts_id_seq",
)


def own_rows(table: str) -> str:
    """Row-level security on a table with a "user" column: its user's rows (all of them for
    those who see all), and a row written must carry the writer's own name."""
    return (
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n"
        f'CREATE POLICY own ON {table} USING ({SEES_ALL} OR "user" = current_user)\n'
        f'    WITH CHECK ({SEES_ALL} OR "user" = current_user);\n'
    )


ROLES_AND_POLICIES = (
    ROLES_2
    + own_rows("jobs")
    + own_rows("audit")
    + "".join(
        f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;\n"
        f"CREATE POLICY own ON {t} USING ({SEES_ALL} OR {OWN_JOB});\n"
        for t in ("tasks", "logs", "job_locks", "locks", "reports")
    )
    # Who holds a lock is everyone's to read: a job that refuses to wait for a lock is
    # refused whoever's job holds it. Only the holder's user releases it.
    + "CREATE POLICY seen ON locks FOR SELECT USING (true);\n"
)
# Migration 5: a removed job names its user, and a user sees (in the change feed, or psql)
# only its own; a store made before takes away the DELETE its users had on it.
REMOVED_POLICY = (
    "ALTER TABLE removed ADD COLUMN \"user\" TEXT NOT NULL DEFAULT '';\n"
    + own_rows("removed")
    + f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{USER}') THEN
        REVOKE DELETE ON removed FROM {USER};
    END IF;
END $$;
"""
)
# Migration 7: a failed attempt carries its job's user, so its policy is the jobs' own.
FAILURES_POLICY = ROLES_7 + own_rows("failures")
# Migration 10: a job's artifacts are seen (and removed with it) as its tasks are.
ARTIFACTS_POLICY = (
    ROLES_10
    + "ALTER TABLE artifacts ENABLE ROW LEVEL SECURITY;\n"
    + f"CREATE POLICY own ON artifacts USING ({SEES_ALL} OR {OWN_JOB});\n"
)
# Migration 11: a read mark is its user's own, as an audit row is (an admin sees them all);
# it goes with its job by the foreign key's cascade, which row-level security does not
# hold back, so an admin's mark on a user's job goes when that user clears the job.
READ_MARKS_POLICY = ROLES_11 + own_rows("read_marks")

# Migration 12: permission groups (`core.permissions`) as row-level security. The config's
# roles are written by `jobdash db roles` (an admin, `write_grants`) into `role_grants`, one
# row per member and right, a role's "@group" resolved then from the system's group database
# (run it again when the config or a group changes); each user reads only its own rows. The
# policies ask `may(right, type, target)` (and the trigger `jobdash_may`), the same rule as `Rights.refusal`:
# besides an admin and a job's own user, a grant of that right whose type and target
# patterns (globs kept as LIKE patterns) match. Which move of a job's status a user may make
# on another's job (cancel, pause or resume, retry) is held by a trigger on the status.
_GRANTS_TABLE = f"""
CREATE TABLE role_grants (
    member TEXT NOT NULL,
    role TEXT NOT NULL,
    can TEXT NOT NULL,
    types TEXT[] NOT NULL,
    targets TEXT[] NOT NULL,
    type_likes TEXT[] NOT NULL,
    target_likes TEXT[] NOT NULL,
    PRIMARY KEY (member, role, can)
);
ALTER TABLE role_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON role_grants FOR SELECT USING (member = current_user);
CREATE POLICY admins ON role_grants USING ({SEES_ALL}) WITH CHECK ({SEES_ALL});
"""
# The functions name the store's tables with its schema (they must find them whatever the
# connection's path). `jobdash_may` is declared cheap (COST 1): written out in a policy as
# a sub-query, the rule made the planner's estimate of a user's read of 40,000 jobs pass
# the JIT's threshold, whose compiling then took over a second; as a function, a call costs
# ~17 µs, and only for a user holding a grant (`may`). Its target NULL: not asked.
_FUNCTIONS = """
DO $do$
BEGIN
EXECUTE format($f$
CREATE FUNCTION jobdash_may(wants TEXT[], jtype TEXT, jtarget TEXT) RETURNS boolean
LANGUAGE sql STABLE COST 1 AS $b$
    SELECT EXISTS (
        SELECT 1 FROM %I.role_grants g
        WHERE g.member = current_user
          AND g.can = ANY (wants)
          AND (cardinality(g.type_likes) = 0 OR jtype LIKE ANY (g.type_likes))
          AND (jtarget IS NULL OR cardinality(g.target_likes) = 0
               OR jtarget LIKE ANY (g.target_likes)))
$b$$f$, current_schema());
EXECUTE format($f$
CREATE FUNCTION jobdash_roles_configured() RETURNS boolean
LANGUAGE sql STABLE AS $b$
    SELECT EXISTS (SELECT 1 FROM %I.meta WHERE key = 'roles')
$b$$f$, current_schema());
EXECUTE format($f$
CREATE FUNCTION jobdash_check_move() RETURNS trigger
LANGUAGE plpgsql SET search_path = %I, pg_catalog AS $b$
DECLARE want TEXT;
BEGIN
    IF NOT row_security_active('jobs') OR OLD."user" = current_user
        OR pg_has_role('jobdash_admin', 'MEMBER') OR pg_has_role('jobdash_engine', 'MEMBER')
    THEN
        RETURN NEW;
    END IF;
    IF NEW.status IN ('cancelling', 'cancelled') THEN
        want := 'cancel';
    ELSIF NEW.status = 'paused' OR OLD.status = 'paused' THEN
        want := 'pause';
    ELSIF OLD.status IN ('succeeded', 'failed', 'warning', 'cancelled') THEN
        want := 'retry';
    ELSE
        RETURN NEW;
    END IF;
    IF NOT jobdash_may(ARRAY[want], OLD.type, OLD.target) THEN
        RAISE EXCEPTION 'jobdash: %% may not %% job %%', current_user, want, OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$b$$f$, current_schema());
END $do$;
CREATE TRIGGER jobs_moves BEFORE UPDATE OF status ON jobs FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION jobdash_check_move();
"""
# Whether the user holds any grant: asked once a statement (a sub-select), so that a user
# without one pays no look-up per row.
HAS_GRANTS = "(SELECT EXISTS (SELECT 1 FROM role_grants g WHERE g.member = current_user))"


def may(rights: tuple[str, ...], type_col: str, target_col: str | None) -> str:
    """SQL: the user holds one of `rights` on a job of the type and target in these columns
    (None: targets not asked: an agent has none), guarded by HAS_GRANTS (asked once a statement: a user without a grant makes
    no call per row)."""
    among = ", ".join(f"'{r}'" for r in rights)
    target = "NULL" if target_col is None else target_col
    return f"({HAS_GRANTS} AND jobdash_may(ARRAY[{among}], {type_col}, {target}))"


SEEING = ("view", "cancel", "pause", "retry", "clear")  # a right to act lets one see
MOVING = ("cancel", "pause", "retry")
ACTS_ON_JOB = (
    'EXISTS (SELECT 1 FROM jobs WHERE jobs.id = job_id AND (jobs."user" = current_user OR '
    + may((*MOVING, "clear"), "jobs.type", "jobs.target")
    + "))"
)
CLEARS = "EXISTS (SELECT 1 FROM role_grants g WHERE g.member = current_user AND g.can = 'clear')"


def _job_rows(table: str) -> str:
    """A table of a job's rows (tasks, logs…): seen with the job, written by whoever may
    act on it (its own user, an admin, a role's right on it); before, seeing was acting."""
    return (
        f"DROP POLICY own ON {table};\n"
        f"CREATE POLICY own ON {table} FOR SELECT USING ({SEES_ALL} OR {OWN_JOB});\n"
        f"CREATE POLICY acts_i ON {table} FOR INSERT WITH CHECK ({SEES_ALL} OR {ACTS_ON_JOB});\n"
        f"CREATE POLICY acts_u ON {table} FOR UPDATE USING ({SEES_ALL} OR {ACTS_ON_JOB})\n"
        f"    WITH CHECK ({SEES_ALL} OR {ACTS_ON_JOB});\n"
        f"CREATE POLICY acts_d ON {table} FOR DELETE USING ({SEES_ALL} OR {ACTS_ON_JOB});\n"
    )


PERMISSIONS_POLICY = (
    _GRANTS_TABLE
    + _FUNCTIONS
    + ROLES
    # Jobs: seen with a right on them, moved by a right (the trigger says which), removed
    # with `clear`, and a new one (a user's own) needs `run` once roles are configured (or
    # `schedule`, for a schedule's job).
    + f"CREATE POLICY role_view ON jobs FOR SELECT USING {may(SEEING, 'type', 'target')};\n"
    + f"CREATE POLICY role_act ON jobs FOR UPDATE USING {may(MOVING, 'type', 'target')}"
    + f" WITH CHECK {may(MOVING, 'type', 'target')};\n"
    + f"CREATE POLICY role_clear ON jobs FOR DELETE USING {may(('clear',), 'type', 'target')};\n"
    + f"CREATE POLICY run ON jobs AS RESTRICTIVE FOR INSERT WITH CHECK ({SEES_ALL} "
    + f"OR NOT jobdash_roles_configured() OR {may(('run',), 'type', 'target')} "
    + f"OR (schedule_id IS NOT NULL AND {may(('schedule',), 'type', 'target')}));\n"
    + "".join(_job_rows(t) for t in ("tasks", "logs", "job_locks", "locks", "reports", "artifacts"))
    + "CREATE POLICY role_clear ON failures FOR DELETE USING (EXISTS (SELECT 1 FROM jobs "
    + f"WHERE jobs.id = job_id AND {may(('clear',), 'jobs.type', 'jobs.target')}));\n"
    + f"CREATE POLICY role_clear ON removed USING ({CLEARS}) WITH CHECK ({CLEARS});\n"
    # Agents and schedules: everyone's to read; changed by an admin, or a role's right.
    + "".join(
        f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;\n"
        f"CREATE POLICY seen ON {t} FOR SELECT USING (true);\n"
        f"CREATE POLICY admins ON {t} USING ({SEES_ALL}) WITH CHECK ({SEES_ALL});\n"
        for t in ("agents", "schedules")
    )
    + f"CREATE POLICY role_drain ON agents FOR UPDATE USING {may(('drain',), 'NULL', None)}"
    + f" WITH CHECK {may(('drain',), 'NULL', None)};\n"
    + "CREATE POLICY role_schedule ON schedules FOR UPDATE"
    + f" USING {may(('schedule',), 'type', None)} WITH CHECK {may(('schedule',), 'type', None)};\n"
)


# Migration 14: what a role's `view` (or a right to act) reaches is seen in every read by
# job, as `Rights.seen` says: a failed attempt of such a job, and of the audit trail every
# event on one ("job:ID", `JOB_OF_TARGET`), besides the user's own rows (the policies
# `own`). The history the pictures count reads the jobs, whose policy already says so.
_SEES_JOB = "jobdash_may(ARRAY[{among}], jobs.type, jobs.target)".format(
    among=", ".join(f"'{r}'" for r in SEEING)
)
VIEW_POLICY = (
    f"CREATE POLICY role_view ON failures FOR SELECT USING ({HAS_GRANTS} AND EXISTS "
    f"(SELECT 1 FROM jobs WHERE jobs.id = failures.job_id AND {_SEES_JOB}));\n"
    f"CREATE POLICY role_view ON audit FOR SELECT USING ({HAS_GRANTS} AND EXISTS "
    f"(SELECT 1 FROM jobs WHERE jobs.id = {JOB_OF_TARGET} AND {_SEES_JOB}));\n"
)

# Migration 15: a schedule's target is in the store (`schedules.target`, written by each
# config sync), so a role's `targets` limit `schedule` here as jobdash's own check does.
SCHEDULE_POLICY = (
    "DROP POLICY role_schedule ON schedules;\n"
    "CREATE POLICY role_schedule ON schedules FOR UPDATE"
    f" USING {may(('schedule',), 'type', 'target')}"
    f" WITH CHECK {may(('schedule',), 'type', 'target')};\n"
)


def role_of(con: psycopg.Connection[Any]) -> Role | None:
    """Who the database says this connection is, when row-level security applies to it;
    None for the tables' owner or a superuser (the store enforces nothing for them)."""
    with con.transaction():
        row = con.execute("SELECT current_user, row_security_active('jobs')").fetchone()
        assert row is not None
        if not row[1]:
            return None
        admin = con.execute(f"SELECT {SEES_ALL}").fetchone()
        grants = con.execute(
            "SELECT role, can, types, targets FROM role_grants WHERE member = current_user "
            "ORDER BY role, can"
        ).fetchall()
        configured = con.execute("SELECT jobdash_roles_configured()").fetchone()
    roles: dict[str, PermissionRole] = {}
    for name, can, types, targets in grants:
        had = roles.get(name)
        rights = (had.can if had else frozenset()) | {can}
        roles[name] = PermissionRole(name, (str(row[0]),), rights, tuple(types), tuple(targets))
    return Role(
        str(row[0]),
        bool(admin and admin[0]),
        tuple(roles.values()),
        bool(configured and configured[0]),
    )


def write_grants(
    con: psycopg.Connection[Any],
    roles: Sequence[PermissionRole],
    members_of: Callable[[str], Sequence[str]],
) -> str:
    """Make the store's grants the config's `roles` (`jobdash db roles`): one row per
    member and right, an "@group" member resolved now by `members_of`; what was done, in
    one line. None configured: the rows go, and anyone may start any type again."""
    rows = []
    for r in roles:
        users = sorted(
            {u for m in r.members for u in (members_of(m[1:]) if m.startswith("@") else [m])}
        )
        likes = ([glob_like(g) for g in r.types], [glob_like(g) for g in r.targets])
        rows += [
            (u, r.name, can, list(r.types), list(r.targets), *likes)
            for u in users
            for can in sorted(r.can)
        ]
    with con.transaction():
        con.execute("DELETE FROM role_grants")
        with con.cursor() as cur:
            cur.executemany(
                "INSERT INTO role_grants (member, role, can, types, targets, type_likes, "
                "target_likes) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
        if roles:
            con.execute(
                "INSERT INTO meta (key, value) VALUES ('roles', 'configured') "
                "ON CONFLICT (key) DO NOTHING"
            )
        else:
            con.execute("DELETE FROM meta WHERE key = 'roles'")
    members = len({r[0] for r in rows})
    return f"{len(roles)} roles written: {len(rows)} grants to {members} users"


GROUPS = {"user": USER, "admin": ADMIN, "engine": ENGINE}


def grant(con: psycopg.Connection[Any], user: str, kind: str) -> str:
    """Make `user` a login role of the store's users, admins or engines (`kind`, see
    GROUPS), creating it if needed; what was done, in one line. Idempotent.

    An engine's role also gets BYPASSRLS when this role may give it (a superuser): under
    row-level security, which refuses COPY, its log lines and tasks would go in by INSERTs."""
    check_user_name(user, "user")
    group = GROUPS[kind]
    role = sql.Identifier(user)
    with con.transaction():
        con.execute(ROLES_16.encode())  # the latest tables
        exists = con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
        if not exists:
            con.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
        con.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), role))
        note = ""
        if kind == "engine":
            row = con.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if (found := row.fetchone()) and found[0]:
                con.execute(sql.SQL("ALTER ROLE {} BYPASSRLS").format(role))
                note = ", BYPASSRLS"
            else:
                note = " (without BYPASSRLS, which only a superuser may give: slower writes)"
    made = "created login role" if not exists else "role"
    return f"{made} {user}: member of {group}{note}"


STALL_REPORTS_POLICY = (
    ROLES_16
    + "ALTER TABLE stall_reports ENABLE ROW LEVEL SECURITY;\n"
    + f"CREATE POLICY own ON stall_reports USING ({SEES_ALL} OR {OWN_JOB});\n"
)
