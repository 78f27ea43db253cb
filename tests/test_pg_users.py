"""Several users on one PostgreSQL store, the database enforcing who sees what (issue 10).

The users are real: OS users made with useradd, each connecting over the test server's
socket as the role of its own name by peer authentication (the kernel vouches for it:
.ci/postgres trusts only its superusers, every other role is peer). `jobdash db init` makes
the roles and row-level security, `jobdash db grant` the login roles. A non-admin then sees
only its own jobs through `jobdash jobs`, through the dashboard (a Textual pilot run as that
user) and through `psql` as its role, and cannot act on another's; an admin sees all.

Needs the server (`JOBDASH_TEST_PG`, tests/pg.py: skipped saying why outside CI, a failure
in CI) and root (to make users: CI runs as root).
"""

from __future__ import annotations

import asyncio
import glob
import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobdash.core.store.base import open_store
from tests.conftest import run_cli
from tests.os_users import OsUser, made_user, require_root
from tests.pg import fresh_pg_store, pg_server

# A user's config that names itself an admin: the database, not the client's config,
# decides who is one on a PostgreSQL store.
CONFIG = """
[jobdash]
admins = ["{name}"]

[types.hello]
command = ["echo", "said by the job"]

[types.locked]
command = ["true"]
locks = ["disk"]
on_lock = "refuse"
"""
# The dashboard, run headless as a user: the ids of the jobs its tables show.
DASHBOARD = """
import asyncio, json, sys, time
from jobdash.core.service import Service
from jobdash.tui.app import JobdashApp

async def main() -> None:
    svc = await Service.open(db=sys.argv[1], config=sys.argv[2])
    app = JobdashApp(svc, embedded_engine=False, watch_interval=60.0)
    async with app.run_test(size=(120, 40)) as pilot:
        dash = app.screen_stack[0]
        deadline = time.monotonic() + 30
        while not dash.loaded and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.pause()
        ids = [j.id for tab in ("inprogress", "completed") for j in dash.table(tab).rows]
    await svc.close()
    print(json.dumps({"loaded": dash.loaded, "user": svc.user, "ids": sorted(ids)}))

asyncio.run(main())
"""


@dataclass
class Team:
    """A store shared by two users and an admin, each with one job of its own."""

    url: str  # as each user gives it: no role named, libpq takes the OS user's name
    admin_url: str  # the tables' owner's (the test's superuser)
    alice: OsUser
    bob: OsUser
    admin: OsUser
    jobs: dict[str, int]  # the job each made, by user name

    def run(self, who: OsUser, *args: str) -> tuple[int, str, str]:
        config = who.home / "jobdash.toml"
        done = who.run("--db", self.url, "--config", str(config), *args)
        return done.returncode, done.stdout, done.stderr

    def listed(self, who: OsUser) -> dict[int, str]:
        status, out, err = self.run(who, "jobs", "--json")
        assert status == 0, err
        return {j["id"]: j["user"] for j in json.loads(out)}

    def psql(self, who: OsUser, query: str) -> tuple[int, str, str]:
        done = who.command([psql(), "-X", "-q", "-tA", "-d", self.url, "-c", query])
        return done.returncode, done.stdout.strip(), done.stderr.strip()


def psql() -> str:
    found = (
        shutil.which("psql") or (sorted(glob.glob("/usr/lib/postgresql/*/bin/psql")) or [""])[-1]
    )
    if not found:
        pytest.skip("no psql on this machine")
    return found


@pytest.fixture
def team(request: pytest.FixtureRequest) -> Iterator[Team]:
    pg_server()  # skipped saying why (outside CI) before any user is made
    require_root()
    admin_url = fresh_pg_store(request)
    url = re.sub(r"//[^@/]*@", "//", admin_url, count=1)
    tag = secrets.token_hex(3)
    names = [f"jd_alice{tag}", f"jd_bob{tag}", f"jd_admin{tag}"]
    with ExitStack() as stack:
        users = [stack.enter_context(made_user(n)) for n in names]
        stack.callback(drop_roles, admin_url, names)
        made = run_cli("db", "init", admin_url)
        assert made.returncode == 0, made.stderr
        for n in names:
            granted = run_cli("--db", admin_url, "db", "grant", n, *["--admin"] * ("admin" in n))
            assert granted.returncode == 0, granted.stderr
        for u in users:
            (u.home / "jobdash.toml").write_text(CONFIG.format(name=u.name))
        t = Team(url, admin_url, *users, jobs={})
        for u in users:
            status, out, err = t.run(u, "run", "hello")
            assert status == 0, err
            t.jobs[str(u.name)] = int(re.findall(r"\d+", out)[0])
        yield t


def drop_roles(admin_url: str, names: list[str]) -> None:
    for n in names:
        run_sql(admin_url, f'DROP ROLE IF EXISTS "{n}"')


def test_a_user_sees_only_its_jobs_and_an_admin_all(team: Team) -> None:
    t = team
    a, b, adm = (str(u.name) for u in (t.alice, t.bob, t.admin))
    assert t.listed(t.alice) == {t.jobs[a]: a}
    assert t.listed(t.bob) == {t.jobs[b]: b}
    assert t.listed(t.admin) == {t.jobs[a]: a, t.jobs[b]: b, t.jobs[adm]: adm}
    # The user is the role the connection authenticated as: a spoofed environment changes
    # nothing, and alice's config naming her an admin gives her nothing either.
    spoof = {"LOGNAME": adm, "USER": adm, "JOBDASH_USER": adm}
    done = t.alice.run("--db", t.url, "jobs", "--json", env=spoof)
    assert {j["id"] for j in json.loads(done.stdout)} == {t.jobs[a]}
    # Naming the admin's role to connect as: the kernel says alice, the server refuses.
    done = t.alice.run("--db", t.url, "jobs", env=spoof | {"PGUSER": adm})
    assert done.returncode != 0
    assert f'Peer authentication failed for user "{adm}"' in done.stderr


def test_a_user_sees_only_its_own_audit_events_even_with_psql(team: Team) -> None:
    t = team
    a, b, adm = (str(u.name) for u in (t.alice, t.bob, t.admin))

    def trail(who: OsUser, *query: str) -> list[tuple[str, str, str]]:
        status, out, err = t.run(who, "audit", "--json", *query)
        assert status == 0, err
        return [(e["user"], e["action"], e["target"]) for e in json.loads(out)]

    assert trail(t.alice) == [(a, "run", f"job:{t.jobs[a]}")]
    assert trail(t.alice, f"user:{b}") == []  # asking for bob's gives her nothing
    assert {(u, action) for u, action, _ in trail(t.admin)} >= {
        (a, "run"),
        (b, "run"),
        (adm, "run"),
    }
    # The database holds her to it, whatever she asks it directly.
    assert t.psql(t.alice, 'SELECT DISTINCT "user" FROM audit') == (0, a, "")


def test_the_dashboard_shows_a_user_only_its_jobs(team: Team) -> None:
    t = team
    a = str(t.alice.name)
    for who, expected in ((t.alice, [t.jobs[a]]), (t.admin, sorted(t.jobs.values()))):
        config = str(who.home / "jobdash.toml")
        done = who.command([who.python, "-c", DASHBOARD, t.url, config], timeout=120)
        assert done.returncode == 0, done.stderr
        shown = json.loads(done.stdout.strip().splitlines()[-1])
        assert shown == {"loaded": True, "user": who.name, "ids": expected}


def test_psql_as_a_user_shows_and_changes_only_its_rows(team: Team) -> None:
    t = team
    a, b = str(t.alice.name), str(t.bob.name)
    mine, theirs = t.jobs[a], t.jobs[b]
    assert t.psql(t.alice, 'SELECT id, "user" FROM jobs ORDER BY id')[1] == f"{mine}|{a}"
    assert t.psql(t.alice, "SELECT DISTINCT job_id FROM tasks")[1] == str(mine)
    assert t.psql(t.alice, 'SELECT DISTINCT "user" FROM audit')[1] == a
    # Another's job cannot be changed nor a job made in another's name, even by raw SQL.
    changed = t.psql(t.alice, f"UPDATE jobs SET status = 'cancelled' WHERE id = {theirs}")
    assert changed[0] == 0 and changed[1] == ""
    assert t.psql(t.bob, f"SELECT status FROM jobs WHERE id = {theirs}")[1] == "queued"
    assert t.psql(t.alice, f"DELETE FROM tasks WHERE job_id = {theirs} RETURNING id")[1] == ""
    forged = t.psql(t.alice, f"UPDATE jobs SET \"user\" = '{b}' WHERE id = {mine}")
    assert forged[0] != 0 and "row-level security" in forged[2]
    # The admin sees every row.
    count = t.psql(t.admin, "SELECT count(*) FROM jobs")[1]
    assert count == str(len(t.jobs))


def test_a_user_cannot_cancel_anothers_job(team: Team) -> None:
    t = team
    theirs = t.jobs[str(t.bob.name)]
    status, _, err = t.run(t.alice, "cancel", str(theirs))
    assert status == 2  # not one of hers: an unknown id
    assert err.strip() == f"jobdash: cancel: no job {theirs} among your jobs: nothing done"
    # The admin may: it sees and acts on all.
    status, _, err = t.run(t.admin, "cancel", str(theirs))
    assert status == 0, err
    assert t.psql(t.bob, f"SELECT status FROM jobs WHERE id = {theirs}")[1] == "cancelled"
    # Nor see it, nor clear it; its user may.
    status, _, err = t.run(t.alice, "show", str(theirs))
    assert status == 2 and err.strip() == f"jobdash: show: no job {theirs} among your jobs"
    status, _, err = t.run(t.alice, "clear", "--all")
    assert status == 1 and "only admins may clear every user's jobs" in err
    status, _, err = t.run(t.bob, "clear")
    assert status == 0, err
    assert theirs not in t.listed(t.admin)


def test_a_user_sees_only_its_own_removed_jobs(team: Team) -> None:
    """A removed job names its user: the change feed's `removed` rows are under row-level
    security too, and no user can erase them."""
    t = team
    a, b = str(t.alice.name), str(t.bob.name)
    for who, name in ((t.alice, a), (t.bob, b)):
        status, _, err = t.run(t.admin, "cancel", str(t.jobs[name]))
        assert status == 0, err
        status, _, err = t.run(who, "clear")
        assert status == 0, err
    assert t.psql(t.alice, 'SELECT job_id, "user" FROM removed')[1] == f"{t.jobs[a]}|{a}"
    assert t.psql(t.bob, 'SELECT job_id, "user" FROM removed')[1] == f"{t.jobs[b]}|{b}"
    assert t.psql(t.admin, "SELECT count(*) FROM removed")[1] == "2"
    erased = t.psql(t.alice, "DELETE FROM removed")
    assert erased[0] != 0 and "permission denied" in erased[2]
    forged = t.psql(t.alice, f"INSERT INTO removed (job_id, rev, \"user\") VALUES (0, 0, '{b}')")
    assert forged[0] != 0 and "row-level security" in forged[2]


def test_db_grant_engine_makes_the_engines_role(team: Team, request: pytest.FixtureRequest) -> None:
    """`jobdash db grant NAME --engine` (by a superuser): a login role in jobdash_engine with
    BYPASSRLS, which sees every user's jobs; again, it changes nothing."""
    t = team
    name = f"jd_engine{secrets.token_hex(3)}"
    with made_user(name) as engine:
        request.addfinalizer(lambda: drop_roles(t.admin_url, [name]))
        for said in ("created login role", "role"):
            done = run_cli("--db", t.admin_url, "db", "grant", name, "--engine")
            assert done.returncode == 0, done.stderr
            assert done.stdout.strip() == f"{said} {name}: member of jobdash_engine, BYPASSRLS"
        (engine.home / "jobdash.toml").write_text(CONFIG.format(name=name))
        assert set(t.listed(engine)) == set(t.jobs.values())
    done = run_cli("--db", t.admin_url, "db", "grant", name, "--engine", "--admin")
    assert done.returncode == 2 and "not allowed with argument" in done.stderr


def test_a_lock_held_by_anothers_job_is_seen_but_not_released(team: Team) -> None:
    t = team
    theirs = t.jobs[str(t.bob.name)]
    run_sql(t.admin_url, f"INSERT INTO locks (key, job_id) VALUES ('disk', {theirs})")
    status, _, err = t.run(t.alice, "run", "locked")
    assert status == 1
    assert err.strip() == f"jobdash: lock disk is held by job {theirs}; locked refuses to wait"
    assert t.psql(t.alice, "DELETE FROM locks WHERE key = 'disk' RETURNING key")[1] == ""
    assert t.psql(t.admin, "SELECT job_id FROM locks WHERE key = 'disk'")[1] == str(theirs)


def test_an_engine_role_runs_every_users_work(team: Team, request: pytest.FixtureRequest) -> None:
    """`jobdash serve` as a member of jobdash_engine (no BYPASSRLS: row-level security
    applies, so its tasks and log lines go in by INSERT) runs alice's and bob's jobs."""
    t = team
    name = f"jd_engine{secrets.token_hex(3)}"
    with made_user(name) as engine:
        run_sql(t.admin_url, f'CREATE ROLE "{name}" LOGIN IN ROLE jobdash_engine')
        request.addfinalizer(lambda: drop_roles(t.admin_url, [name]))
        (engine.home / "jobdash.toml").write_text(CONFIG.format(name=name))
        config = str(engine.home / "jobdash.toml")
        serve = subprocess.Popen(
            [engine.python, "-m", "jobdash", "--db", t.url, "--config", config, "serve"],
            env=engine.environ(),
            cwd=engine.home,
            user=engine.uid,
            group=engine.gid,
            extra_groups=[],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            mine = {t.jobs[str(u.name)] for u in (t.alice, t.bob)}
            statuses: dict[int, str] = {}
            while time.monotonic() < deadline and serve.poll() is None:
                status, out, _ = t.run(t.admin, "jobs", "--json")
                statuses = {j["id"]: j["status"] for j in json.loads(out)}
                if all(statuses.get(i) == "succeeded" for i in mine):
                    break
                time.sleep(0.2)
        finally:
            serve.terminate()
            _, err = serve.communicate(timeout=30)
        assert all(statuses.get(i) == "succeeded" for i in mine), (statuses, err)
        # The user sees its job's log, written by the engine under row-level security.
        job = t.jobs[str(t.alice.name)]
        status, out, err = t.run(t.alice, "logs", str(job))
        assert status == 0 and "said by the job" in out, err


def test_read_marks_are_each_users_own_and_go_with_the_job(team: Team) -> None:
    """Unread logs: a read mark is under the audit's policy (its user's own, an admin sees
    all; none in another's name), and goes with its job when its user clears it, an
    admin's mark too (the foreign key's cascade, which row-level security does not stop)."""
    t = team
    a, b = str(t.alice.name), str(t.bob.name)
    job = t.jobs[a]

    async def output() -> None:  # the job's output, as an engine writes it
        store = await open_store(t.admin_url)
        await store.append_log(job, None, "stderr", "it broke")
        await store.close()

    asyncio.run(output())
    for who in (t.alice, t.admin):
        status, out, err = t.run(who, "show", str(job))
        assert status == 0 and "unread: ●1 ✘1 (1 unread line: 1 error)" in out, err
        status, out, err = t.run(who, "logs", str(job))
        assert status == 0 and "it broke" in out, err
        assert "unread:" not in t.run(who, "show", str(job))[1]
    assert t.psql(t.alice, 'SELECT "user", job_id FROM read_marks')[1] == f"{a}|{job}"
    assert t.psql(t.admin, "SELECT count(*) FROM read_marks")[1] == "2"
    forged = t.psql(
        t.alice,
        f'INSERT INTO read_marks ("user", job_id, seq, lines, warnings, errors, rev) '
        f"VALUES ('{b}', {job}, 1, 0, 0, 0, 0)",
    )
    assert forged[0] != 0 and "row-level security" in forged[2]
    status, _, err = t.run(t.admin, "cancel", str(job))
    assert status == 0, err
    status, _, err = t.run(t.alice, "clear")
    assert status == 0, err
    assert t.psql(t.admin, "SELECT count(*) FROM read_marks")[1] == "0"


def run_sql(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(statement.encode())


def test_a_sqlite_store_has_no_roles_to_grant(tmp_path: Path) -> None:
    done = run_cli("--db", str(tmp_path / "s.db"), "db", "grant", "someone")
    assert done.returncode == 2  # bad input, as the CLI says it
    assert "a SQLite store has no roles" in done.stderr
    assert "Traceback" not in done.stderr
