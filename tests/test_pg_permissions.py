"""Permission groups on a PostgreSQL store, held by the database: test_permissions.py's table
of every (user, right, job kind) combination, taken by real OS users each connecting as its
own role (peer authentication), through the service and through raw SQL on its own
connection. The config's roles reach the database by `jobdash db roles` (an "@group" member
resolved then from the system's group database); row-level security and the status
trigger then answer as jobdash's rules do, whatever SQL a user sends.

Needs the server (`JOBDASH_TEST_PG`) and root (to make users), as test_pg_users.py."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobdash.core.agent_info import AgentInfo
from jobdash.core.scheduler import schedule_specs
from jobdash.core.service import Service
from tests.conftest import run_cli
from tests.os_users import OsUser, made_user, require_root
from tests.pg import fresh_pg_store, pg_server
from tests.test_permissions import DRAIN, EXPECTED, KINDS, config_text
from tests.test_pg_users import drop_roles

RIGHTS = ("view", "run", "cancel", "pause", "retry", "clear", "schedule")
STATE_FOR = {"cancel": "queued", "pause": "queued", "retry": "finished", "clear": "finished"}
SCHEDULES = {"fin": "fin-sched", "hr": "hr-sched"}

# Run as the owner of the jobs (alice): one job per (user, right, kind, way) in the state
# the right acts on; prints their ids.
PREPARE = """
import asyncio, json, sys
from jobdash.core.service import Service

async def main() -> None:
    url, config, wanted = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    svc = await Service.open(db=url, config=config)
    ids = {}
    for key, (type_name, target, state) in wanted.items():
        job = await svc.submit(type_name, {"dir": target})
        if state == "finished":
            await svc.cancel(job.id)
        ids[key] = job.id
    await svc.close()
    print(json.dumps(ids))

asyncio.run(main())
"""
# Run as each user: every case through the service, and every case as raw SQL on a
# connection of its own (each statement in a transaction rolled back): True when done.
ATTEMPT = """
import asyncio, json, sys
import psycopg
from jobdash.core.model import Refused
from jobdash.core.service import Service

RAW = {
    "view": "SELECT id FROM jobs WHERE id = %s",
    "cancel": "UPDATE jobs SET status = 'cancelled' WHERE id = %s RETURNING id",
    "pause": "UPDATE jobs SET status = 'paused' WHERE id = %s RETURNING id",
    "retry": "UPDATE jobs SET status = 'queued', finished = NULL WHERE id = %s RETURNING id",
    "clear": "DELETE FROM jobs WHERE id = %s RETURNING id",
    "schedule": "UPDATE schedules SET enabled = 0 WHERE id = %s RETURNING id",
    "drain": "UPDATE agents SET drain = 1 WHERE name = %s RETURNING name",
    "run": "INSERT INTO jobs (type, params, \\"user\\", trigger, status, created, updated, target)"
    " VALUES (%s, '{}', current_user, 'manual', 'queued', 0, 0, %s) RETURNING id",
}
CLEAR_FIRST = ("logs", "tasks", "job_locks", "reports", "artifacts", "failures")

def raw(con, right, arg):
    try:
        with con.transaction(force_rollback=True):
            if right == "clear":
                for table in CLEAR_FIRST:
                    con.execute(f"DELETE FROM {table} WHERE job_id = %s", (arg,))
            args = tuple(arg) if isinstance(arg, list) else (arg,)
            return bool(con.execute(RAW[right], args).fetchall())
    except psycopg.errors.InsufficientPrivilege:
        return False

async def service(svc, right, arg):
    try:
        if right == "view":
            await svc.job(arg)
            return arg in {j.id for j in await svc.jobs()}
        if right == "run":
            await svc.submit(arg[0], {"dir": arg[1]})
        elif right == "cancel":
            await svc.cancel(arg)
        elif right == "pause":
            await svc.pause(arg)
        elif right == "retry":
            await svc.retry(arg)
        elif right == "clear":
            (outcome,) = await svc.act_on_jobs("clear", [arg])
            if outcome.refused is not None:
                raise outcome.refused
        elif right == "schedule":
            await svc.disable(arg)
            await svc.enable(arg)
        elif right == "drain":
            await svc.drain_agent(arg)
            await svc.drain_agent(arg, drain=False)
        return True
    except Refused:
        return False

async def main() -> None:
    url, config, cases = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    svc = await Service.open(db=url, config=config)
    out = {}
    with psycopg.connect(url, autocommit=True) as con:
        for key, (way, right, arg) in cases.items():
            out[key] = raw(con, right, arg) if way == "sql" else await service(svc, right, arg)
    await svc.close()
    print(json.dumps(out))

asyncio.run(main())
"""


@dataclass
class Crew:
    url: str
    admin_url: str
    config: Path
    users: dict[str, OsUser]  # by the table's names (root: the admins' role)

    def script(self, who: str, code: str, arg: object) -> dict[str, object]:
        u = self.users[who]
        done = u.command([u.python, "-c", code, self.url, str(self.config), json.dumps(arg)])
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture
def crew(request: pytest.FixtureRequest) -> Iterator[Crew]:
    yield from made_crew(request, config_text)


def made_crew(request: pytest.FixtureRequest, text_of: Callable[[str], str]) -> Iterator[Crew]:
    """test_permissions.py's users as OS users with roles of their own on a fresh store,
    the config (`text_of` the viewers' OS group) and its roles written to the store."""
    pg_server()
    require_root()
    admin_url = fresh_pg_store(request)
    url = re.sub(r"//[^@/]*@", "//", admin_url, count=1)
    tag = secrets.token_hex(3)
    group = f"jdg{tag}"
    table_names = list(EXPECTED)  # root, alice, bob, carol, dave, eve, fay
    names = {n: f"jd_{n}{tag}" for n in table_names}
    subprocess.run(["groupadd", group], check=True, capture_output=True)
    with ExitStack() as stack:
        stack.callback(subprocess.run, ["groupdel", group], check=False, capture_output=True)
        users = {n: stack.enter_context(made_user(names[n])) for n in table_names}
        stack.callback(drop_roles, admin_url, list(names.values()))
        subprocess.run(["usermod", "-aG", group, names["bob"]], check=True, capture_output=True)
        assert run_cli("db", "init", admin_url).returncode == 0
        for n, role in names.items():
            extra = ["--admin"] if n == "root" else []
            granted = run_cli("--db", admin_url, "db", "grant", role, *extra)
            assert granted.returncode == 0, granted.stderr
        text = text_of(group)
        for n in ("carol", "dave", "alice", "fay"):
            text = text.replace(f'members = ["{n}"]', f'members = ["{names[n]}"]')
        text = text.replace('admins = ["root"]', f'admins = ["{names["root"]}"]')
        config = users["root"].home.parent / f"jobdash-{tag}.toml"
        config.write_text(text)
        config.chmod(0o644)
        stack.callback(config.unlink)
        written = run_cli("--db", admin_url, "--config", str(config), "db", "roles")
        assert written.returncode == 0, written.stderr
        assert "5 roles written" in written.stdout, written.stdout
        asyncio.run(setup_store(admin_url, config))
        yield Crew(url, admin_url, config, users)


async def setup_store(admin_url: str, config: Path) -> None:
    """The schedules (as an engine publishes them) and an agent (offline: jobs queue)."""
    svc = await Service.open(db=admin_url, config=str(config))
    try:
        await svc.store.sync_schedules(schedule_specs(svc), list(svc.local_types))
        now = time.time()
        await svc.store.register_agent(AgentInfo("a1", "h", 1, "x", 1, 0, "idle", now, now), "o")
        await svc.store.agent_offline("a1", "o")
    finally:
        await svc.close()


def test_every_user_right_and_kind_through_row_level_security(crew: Crew) -> None:
    # The jobs each case acts on: alice's, fresh, in the state its right acts on.
    wanted = {
        f"{user}/{right}/{kind}/{way}": (*KINDS[kind], STATE_FOR.get(right, "queued"))
        for user in EXPECTED
        for right in ("view", "cancel", "pause", "retry", "clear")
        for kind in KINDS
        for way in ("service", "sql")
    }
    ids = crew.script("alice", PREPARE, wanted)
    for user, rights in EXPECTED.items():
        cases: dict[str, tuple[str, str, object]] = {}
        for way in ("service", "sql"):
            for right in RIGHTS:
                for kind in SCHEDULES if right == "schedule" else KINDS:
                    key = f"{user}/{right}/{kind}/{way}"
                    arg = {"run": list(KINDS[kind]), "schedule": SCHEDULES.get(kind)}.get(
                        right, ids.get(key)
                    )
                    cases[key] = (way, right, arg)
            cases[f"{user}/drain/-/{way}"] = (way, "drain", "a1")
        done = crew.script(user, ATTEMPT, cases)
        for key, (_, right, _) in cases.items():
            kind = key.split("/")[2]
            want = DRAIN[user] if right == "drain" else kind in rights[right]
            assert done[key] == want, (key, done[key])
