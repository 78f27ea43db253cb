"""Permission groups through the service: every (user, right, job type/target) combination
of a config with roles, taken for real on a real SQLite store (root acting as each user,
as `JOBDASH_USER` does: what roles govern on SQLite), each answer checked against a table
written out here, not computed by the rules under test; and a role's OS group membership
read from the kernel's group database (a real group made with groupadd).

The same table runs through PostgreSQL's row-level security in `test_pg_permissions.py`."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobdash.core.agent_info import AgentInfo
from jobdash.core.config import ConfigError
from jobdash.core.model import NotFound, Refused
from jobdash.core.scheduler import Scheduler, schedule_specs
from jobdash.core.service import Service
from jobdash.core.service.locations import read_config
from jobdash.core.store.engine_records import Advance, TickRecord
from tests.conftest import run_cli, wait_finished
from tests.os_users import require_root

# Jobs of three kinds, each named by (type, target): within the finance role's limits, of
# a type it covers on another target, and of another type on its target.
KINDS = {
    "fin": ("import-a", "/srv/finance/q1"),
    "hr": ("import-a", "/srv/hr/q1"),
    "exp": ("export-b", "/srv/finance/q1"),
}
ACTIONS = ("view", "run", "cancel", "pause", "retry", "clear", "schedule")
ALL = frozenset(KINDS)
NONE: frozenset[str] = frozenset()

# What each user may do, by right, on others' jobs (and new jobs, and the schedules) of each
# kind. alice owns the jobs; root is the admin; bob is in the viewers' OS group; carol in the
# finance role; dave may drain only; eve has no role; fay may cancel (and so see) exports. alice may
# start any type.
EXPECTED: dict[str, dict[str, frozenset[str]]] = {
    "root": dict.fromkeys(ACTIONS, ALL),
    "alice": {"view": ALL, "run": ALL, "cancel": ALL, "pause": ALL, "retry": ALL,
              "clear": ALL, "schedule": NONE},
    "bob": {"view": ALL, "run": NONE, "cancel": NONE, "pause": NONE, "retry": NONE,
            "clear": NONE, "schedule": NONE},
    "carol": {"view": {"fin"}, "run": {"fin"}, "cancel": {"fin"}, "pause": {"fin"},
              "retry": {"fin"}, "clear": {"fin"}, "schedule": {"fin"}},
    "dave": dict.fromkeys(ACTIONS, NONE),
    "fay": {"view": {"exp"}, "run": NONE, "cancel": {"exp"}, "pause": NONE, "retry": NONE,
            "clear": NONE, "schedule": NONE},
    "eve": dict.fromkeys(ACTIONS, NONE),
}  # fmt: skip
DRAIN = {
    "root": True,
    "alice": False,
    "bob": False,
    "carol": False,
    "dave": True,
    "eve": False,
    "fay": False,
}


def config_text(group: str) -> str:
    return f"""
[jobdash]
admins = ["root"]

[types.import-a]
command = ["true"]
params.dir = {{ required = true }}

[types.export-b]
command = ["true"]
params.dir = {{ required = true }}

[types.fin-sched]
command = ["true"]
params.dir = {{ default = "/srv/finance/nightly" }}
schedule = "cron: 0 3 * * *"

[types.hr-sched]
command = ["true"]
params.dir = {{ default = "/srv/hr/nightly" }}
schedule = "cron: 0 4 * * *"

[roles.viewers]
members = ["@{group}"]
can = ["view"]

[roles.finance]
members = ["carol"]
can = ["view", "run", "cancel", "pause", "retry", "clear", "schedule"]
types = ["import-*", "fin-*"]
targets = ["/srv/finance/*"]

[roles.drainers]
members = ["dave"]
can = ["drain"]

[roles.starters]
members = ["alice"]
can = ["run"]

[roles.cancellers]
members = ["fay"]
can = ["cancel"]
types = ["export-*"]
"""


@dataclass
class World:
    db: Path
    config: Path
    viewer: str  # the OS user in the viewers' group


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A config with roles, and a real OS group with a real user in it (bob's part)."""
    require_root()
    group, viewer = f"jdg{secrets.token_hex(3)}", f"jdv{secrets.token_hex(3)}"
    subprocess.run(["groupadd", group], check=True, capture_output=True)
    try:
        subprocess.run(
            ["useradd", "--no-create-home", "-G", group, viewer], check=True, capture_output=True
        )
        try:
            config = tmp_path / "jobdash.toml"
            config.write_text(config_text(group))
            yield World(tmp_path / "store.db", config, viewer)
        finally:
            subprocess.run(["userdel", viewer], check=False, capture_output=True)
    finally:
        subprocess.run(["groupdel", group], check=False, capture_output=True)


async def open_as(w: World, user: str, db: str | None = None) -> Service:
    return await Service.open(db=db or str(w.db), config=str(w.config), user=user)


async def new_job(owner: Service, kind: str, state: str) -> int:
    """A job of `owner` of this kind, made `state`: queued (to cancel or pause), paused (to
    resume), or finished with a task to run again (cancelled: to retry or clear)."""
    type_name, target = KINDS[kind]
    job = await owner.submit(type_name, {"dir": target})
    if state == "paused":
        await owner.pause(job.id)
    elif state == "finished":
        await owner.cancel(job.id)
    return job.id


STATE_FOR = {"cancel": "queued", "pause": "queued", "retry": "finished", "clear": "finished"}


async def attempt(
    svc: Service, action: str, kind: str, owner: Service, names: dict[str, str]
) -> bool:
    """Take `action` as `svc`'s user on a fresh job (or new job, or schedule) of `kind`;
    True when done, False when refused. A refusal changes nothing (checked)."""
    type_name, target = KINDS[kind]
    if action == "run":
        try:
            await svc.submit(type_name, {"dir": target})
        except Refused as e:
            assert "no role allows run" in str(e) or "only admins" in str(e), e
            return False
        return True
    if action == "schedule":
        sched = names[kind]
        try:
            await svc.disable(sched)
        except Refused as e:
            assert "no role allows schedule" in str(e), e
            assert (await owner.store.get_schedule(sched)).enabled
            return False
        assert not (await owner.store.get_schedule(sched)).enabled
        await owner.store.set_schedule_enabled(sched, True, "root")
        return True
    job_id = await new_job(owner, kind, STATE_FOR.get(action, "queued"))
    before = await owner.store.get_job(job_id)
    try:
        if action == "view":
            seen = await svc.job(job_id)
            listed = job_id in {j.id for j in await svc.jobs()}
            assert listed, f"job {job_id} seen but not listed"
            return seen.id == job_id
        if action == "cancel":
            return (await svc.cancel(job_id)).status.value in ("cancelling", "cancelled")
        if action == "pause":
            return (await svc.pause(job_id)).status.value == "paused"
        if action == "retry":
            return await svc.retry(job_id) > 0
        (outcome,) = await svc.act_on_jobs("clear", [job_id])
        if outcome.refused is not None:
            raise outcome.refused
        with pytest.raises(NotFound):
            await owner.job(job_id)
        return True
    except NotFound as e:
        assert action == "view" or "among your jobs" in str(e), e
        assert job_id not in {j.id for j in await svc.jobs()}
    except Refused as e:
        assert f"no role allows {action}" in str(e), e
    after = await owner.store.get_job(job_id)
    assert (after.status, after.rev) == (before.status, before.rev), "a refusal changed the job"
    return False


def test_every_user_right_and_kind_through_the_service(world: World) -> None:
    async def main() -> None:
        owner = await open_as(world, "root")
        alice = await open_as(world, "alice")
        try:
            await owner.store.sync_schedules(schedule_specs(owner), list(owner.local_types))
            now = time.time()
            info = AgentInfo("a1", "h", 1, "x", 1, 0, "idle", now - 9999, now - 9999)  # not live
            await owner.store.register_agent(info, "owner-1")
            await owner.store.agent_offline("a1", "owner-1")  # not live: jobs are queued
            names = {"fin": "fin-sched", "hr": "hr-sched", "exp": "hr-sched"}
            for user, rights in EXPECTED.items():
                name = world.viewer if user == "bob" else user
                svc = await open_as(world, name)
                try:
                    for action in ACTIONS:
                        kinds = ("fin", "hr") if action == "schedule" else tuple(KINDS)
                        for kind in kinds:
                            # alice's own jobs are hers; the others act on alice's jobs.
                            jobs_of = alice if action not in ("run", "schedule") else owner
                            done = await attempt(svc, action, kind, jobs_of, names)
                            want = kind in rights[action]
                            assert done == want, (user, action, kind)
                    try:
                        await svc.drain_agent("a1")
                        drained = True
                        await owner.drain_agent("a1", drain=False)
                    except Refused as e:
                        assert "drain" in str(e)
                        drained = False
                    assert drained == DRAIN[user], user
                finally:
                    await svc.close()
        finally:
            await alice.close()
            await owner.close()

    asyncio.run(main())


def test_without_roles_admins_do_anything_and_owners_their_own(tmp_path: Path) -> None:
    """No role configured: today's two levels, unchanged (anyone starts any type)."""
    config = tmp_path / "jobdash.toml"
    config.write_text('[jobdash]\nadmins = ["root"]\n[types.t]\ncommand = ["true"]\n')

    async def main() -> None:
        db = str(tmp_path / "s.db")
        alice = await Service.open(db=db, config=str(config), user="alice")
        bob = await Service.open(db=db, config=str(config), user="bob")
        try:
            mine = await alice.submit("t")
            theirs = await bob.submit("t")
            assert (await alice.pause(mine.id)).status.value == "paused"
            with pytest.raises(NotFound, match="among your jobs"):
                await alice.cancel(theirs.id)
            with pytest.raises(Refused, match=r"only admins may drain an agent \(alice"):
                await alice.drain_agent("x")
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('[roles.ops]\nmembers = ["a"]\ncan = ["cancle"]\n', 'roles.ops.can: unknown right "cancle" (did you mean "cancel"?)'),
        ('[roles.ops]\nmembers = ["a"]\ncan = ["drain"]\ntypes = ["x*"]\n', 'roles.ops.can: "drain" acts on agents'),
        ('[roles.ops]\ncan = ["view"]\n', "roles.ops: missing members"),
        ('[roles.ops]\nmembers = ["a b"]\ncan = ["view"]\n', 'roles.ops.members: "a b" is not a user name'),
        ('[roles.ops]\nmembers = ["a"]\ncan = ["view"]\ntargets = ["/srv/[ab]"]\n', 'roles.ops.targets: "/srv/[ab]": patterns use * and ? only'),
        ('[roles.ops]\nmembers = ["a"]\ncan = []\n', "roles.ops.can: must name a right"),
        ('[roles.ops]\nmembers = ["a"]\ncan = ["view"]\nwho = 1\n', "roles.ops.who: unknown key"),
    ],
)  # fmt: skip
def test_bad_role_config_is_one_line_naming_file_and_line(
    tmp_path: Path, text: str, said: str
) -> None:
    config = tmp_path / "jobdash.toml"
    config.write_text("[jobdash]\n\n" + text)
    with pytest.raises(ConfigError) as caught:
        read_config(str(config))
    assert caught.value.line is not None and caught.value.line >= 3
    done = run_cli("--config", str(config), "whoami")
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"jobdash: {config}:{caught.value.line}: ") and said in line, line


def test_cli_refuses_in_one_line_and_whoami_says_what_roles_allow(world: World) -> None:
    common = ("--db", str(world.db), "--config", str(world.config))
    ran = run_cli(*common, "run", "import-a", "-p", "dir=/srv/hr/x")
    assert ran.returncode == 0, ran.stderr
    as_carol = {"JOBDASH_USER": "carol"}
    done = run_cli(*common, "cancel", "1", env=as_carol)
    assert done.returncode == 2 and done.stdout == ""  # not one of hers: an unknown id
    assert done.stderr.strip() == "jobdash: cancel: no job 1 among your jobs: nothing done"
    done = run_cli(*common, "run", "export-b", "-p", "dir=/srv/finance/x", env=as_carol)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "jobdash: carol may not start a job (export-b on /srv/finance/x): no role allows run "
        "there (carol's roles: finance)"
    )
    done = run_cli(*common, "whoami", env=as_carol)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["carol", "roles: finance"]
    assert "  run       import-*, fin-* on /srv/finance/* (role finance)" in lines
    assert "  drain     no" in lines
    done = run_cli(*common, "whoami", "--json", env={"JOBDASH_USER": world.viewer})
    import json

    data = json.loads(done.stdout)
    assert data["user"] == world.viewer and [r["name"] for r in data["roles"]] == ["viewers"]
    assert data["allows"]["view"] == ["own jobs", "every job (role viewers)"]
    assert data["allows"]["cancel"] == ["own jobs"]


def test_a_failure_group_retries_only_the_jobs_the_user_may_retry(tmp_path: Path) -> None:
    """bob sees every job (viewers) and may retry exports only: a group holding alice's
    failed import and export runs again the export alone."""
    config = tmp_path / "jobdash.toml"
    config.write_text(
        '[jobdash]\nadmins = ["root"]\n'
        '[types.import-x]\ncommand = ["sh", "-c", "echo broken >&2; exit 3"]\n'
        '[types.export-x]\ncommand = ["sh", "-c", "echo broken >&2; exit 3"]\n'
        '[roles.viewers]\nmembers = ["bob"]\ncan = ["view"]\n'
        '[roles.exporters]\nmembers = ["bob"]\ncan = ["retry"]\ntypes = ["export-*"]\n'
        '[roles.all]\nmembers = ["alice"]\ncan = ["run"]\n'
    )

    async def main() -> None:
        db = str(tmp_path / "s.db")
        engine = await Service.open(db=db, config=str(config), user="root")
        alice = await Service.open(db=db, config=str(config), user="alice")
        bob = await Service.open(db=db, config=str(config), user="bob")
        try:
            await engine.start_engine(slots=2, scheduler=False)
            imp = await alice.submit("import-x")
            exp = await alice.submit("export-x")
            for job in (imp, exp):
                assert (await wait_finished(alice, job.id)).status.value == "failed"
            (group,) = await bob.failures()
            done = await bob.retry_group(group.id)
            assert (done.jobs, done.tasks) == (1, 1)
            assert (await bob.store.get_job(imp.id)).status.value == "failed"
            assert (await bob.store.get_job(exp.id)).status.value != "failed"
        finally:
            for svc in (bob, alice, engine):
                await svc.close()

    asyncio.run(main())


def test_a_schedules_runs_are_seen_only_by_whom_may_see_its_jobs(tmp_path: Path) -> None:
    """Schedules are everyone's to read, their runs are jobs: carol (view on exports only)
    saw "last run job N failed" and the tick history's job ids of the import schedule, whose
    jobs her job list does not show."""
    config = tmp_path / "jobdash.toml"
    config.write_text(
        '[jobdash]\nadmins = ["root"]\n'
        '[types.import-x]\ncommand = ["sh", "-c", "exit 3"]\nschedule = "interval: 1h"\n'
        '[types.export-x]\ncommand = ["true"]\nschedule = "interval: 1h"\n'
        '[roles.exports]\nmembers = ["carol"]\ncan = ["view"]\ntypes = ["export-*"]\n'
    )

    async def main() -> None:
        db = str(tmp_path / "s.db")
        root = await Service.open(db=db, config=str(config), user="root")
        carol = await Service.open(db=db, config=str(config), user="carol")
        try:
            await root.start_engine(slots=2, scheduler=False)
            await Scheduler(root).sync()
            runs = {}
            for name in ("import-x", "export-x"):  # each fired once, as the scheduler does
                fire = time.time()
                job = await root.submit_schedule(await root.schedule(name), fire)
                runs[name] = (await wait_finished(root, job.id)).id
                tick = TickRecord(fire, "ran", job.id)
                await root.store.record_ticks(name, [tick], Advance(fire, None, job.id, fire))
            for name, seen in (("import-x", False), ("export-x", True)):
                s = await carol.schedule(name)
                listed = {x.id: x for x in await carol.schedules()}[name]
                ticks = await carol.ticks(name)
                assert (s.last_job, listed.last_job) == ((runs[name],) * 2 if seen else (None,) * 2)
                assert [t.job_id for t in ticks] == [runs[name] if seen else None]
                assert (await root.schedule(name)).last_job == runs[name]  # an admin sees all
                assert [t.job_id for t in await root.ticks(name)] == [runs[name]]
        finally:
            for svc in (carol, root):
                await svc.close()

    asyncio.run(main())
