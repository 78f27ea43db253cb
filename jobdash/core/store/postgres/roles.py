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

from typing import Any

import psycopg
from psycopg import sql

from jobdash.core.identity import check_user_name
from jobdash.core.store.records import Role

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
ROLES = roles_block(
    TABLES + ", failures, artifacts, read_marks",
    USER_WRITES + ", failures, artifacts, read_marks",
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
READ_MARKS_POLICY = ROLES + own_rows("read_marks")


def role_of(con: psycopg.Connection[Any]) -> Role | None:
    """Who the database says this connection is, when row-level security applies to it;
    None for the tables' owner or a superuser (the store enforces nothing for them)."""
    with con.transaction():
        row = con.execute("SELECT current_user, row_security_active('jobs')").fetchone()
        assert row is not None
        if not row[1]:
            return None
        admin = con.execute(f"SELECT {SEES_ALL}").fetchone()
    return Role(str(row[0]), bool(admin and admin[0]))


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
        con.execute(ROLES.encode())
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
