"""The audit trail made visible: `jobdash audit [QUERY]` (who, what, which job or schedule,
when, from which host), the filter language it reads, and the audit sections of the job
details and schedule screens. An admin sees every event, anyone else only their own (on
PostgreSQL the database holds it to that: tests/test_pg_users.py)."""

from __future__ import annotations

import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jobdash.core.audit import parse_audit_query
from jobdash.core.model import BadInput
from jobdash.core.scheduler import schedule_specs
from jobdash.core.service import Service
from jobdash.core.store.side_records import AuditFilter
from jobdash.tui.screens.job_details import JobDetailsScreen
from jobdash.tui.widgets.audit_table import AuditTable
from tests.conftest import run_cli
from tests.tui.pane_harness import SIZE, PaneApp, until

Open = Callable[..., Awaitable[Service]]

CONFIG = """\
[jobdash]
admins = ["root"]

[types.sleepy]
command = ["sleep", "30"]
schedule = "cron: 0 3 * * *"
"""


def test_the_audit_query_language() -> None:
    f = parse_audit_query("user:alice,bob -action:run job:#12 'disk full' -noise since:2h", 10_000)
    assert f == AuditFilter(
        terms=(
            ("user", "alice", False),
            ("user", "bob", False),
            ("action", "run", True),
            ("target", "job:12", False),
        ),
        words=(("disk full", False), ("noise", True)),
        since=10_000 - 7200,
    )
    assert parse_audit_query("schedule:nightly agent:a1 HOST:db1").terms == (
        ("target", "schedule:nightly", False),
        ("target", "agent:a1", False),
        ("host", "db1", False),
    )
    assert parse_audit_query("'http://x'").words == (("http://x", False),)  # quoted: text
    for bad, says in [
        ("colour:red", "unknown audit field 'colour'"),
        ("http://x", "quote the word to search for text containing ':'"),
        ("-since:1h", "since cannot be negated"),
        ("since:soon", "since:soon"),
        ("'open", "no closing quotation"),
        ("user:a,,b", "an empty value in its comma list"),
        ("action:", "needs a value"),
        ("action:cancle", "unknown audit action 'cancle', did you mean 'cancel'?"),
        ("-action:run,pasue", "unknown audit action 'pasue', did you mean 'pause'?"),
        ("action:frobnicate", r"unknown audit action 'frobnicate' \(actions: run, cancel, "),
    ]:
        with pytest.raises(BadInput, match=says):
            parse_audit_query(bad)


@pytest.mark.both_backends
async def test_the_trail_filters_and_a_user_sees_only_their_own(
    services: Open, write_config: Callable[[str], Path], backend: str
) -> None:
    cfg = write_config(CONFIG)
    root = await services(cfg, engine=False)
    alice = await services(cfg, user="alice", engine=False)
    mine = await root.submit("sleepy")
    hers = await alice.submit("sleepy")
    await root.cancel(mine.id)
    await alice.pause(hers.id)
    everything = await root.audit_trail()
    assert [(e.user, e.action, e.target) for e in everything] == [
        ("alice", "pause", f"job:{hers.id}"),
        ("root", "cancel", f"job:{mine.id}"),
        ("alice", "run", f"job:{hers.id}"),
        ("root", "run", f"job:{mine.id}"),
    ]
    assert {e.host for e in everything} == {socket.gethostname()}
    assert {e.actor for e in everything} == {"root"}  # root's process acted for alice
    # Fields, negation, free words, a target and a limit.
    assert [e.action for e in await root.audit_trail("user:alice")] == ["pause", "run"]
    assert [e.user for e in await root.audit_trail("-user:alice")] == ["root", "root"]
    assert [e.action for e in await root.audit_trail("action:cancel,pause")] == [
        "pause",
        "cancel",
    ]
    assert [e.action for e in await root.audit_trail("SLEEPY")] == ["run", "run"]  # detail
    assert [e.action for e in await root.audit_trail(f"job:{mine.id}")] == ["cancel", "run"]
    assert [e.action for e in await root.audit_trail(target=f"job:{hers.id}")] == [
        "pause",
        "run",
    ]
    assert len(await root.audit_trail(limit=1)) == 1
    assert await root.audit_trail("since:1h") == everything
    assert await root.audit_trail("user:nobody") == []
    # alice is no admin: her own events only, whatever she asks for.
    assert [(e.user, e.action) for e in await alice.audit_trail()] == [
        ("alice", "pause"),
        ("alice", "run"),
    ]
    assert await alice.audit_trail("user:root") == []
    assert await alice.audit_trail(target=f"job:{mine.id}") == []
    # A schedule's fire is the scheduler's, in the trail as on the job (root's process
    # acted: the actor); run now from the schedule is the user's.
    await root.store.sync_schedules(schedule_specs(root), list(root.local_types))
    (nightly,) = await root.schedules()
    fired = await root.submit_schedule(nightly, fire_time=1_000_000.0)
    ran = await root.submit_schedule(nightly)
    assert (fired.user, ran.user) == ("scheduler", "root")
    assert [(e.user, e.actor) for e in await root.audit_trail(f"job:{fired.id}")] == [
        ("scheduler", "root")
    ]
    assert [e.user for e in await root.audit_trail(f"job:{ran.id}")] == ["root"]


def test_jobdash_audit_lists_filters_and_refuses_a_bad_query(tmp_path: Path) -> None:
    config = tmp_path / "jobdash.toml"
    config.write_text(CONFIG)
    env = {"JOBDASH_DB": str(tmp_path / "j.db"), "JOBDASH_CONFIG": str(config)}
    assert run_cli("run", "sleepy", env=env).returncode == 0
    assert run_cli("cancel", "1", env=env).returncode == 0
    done = run_cli("audit", "--json", env=env)
    assert done.returncode == 0, done.stderr
    events = json.loads(done.stdout)
    assert [(e["user"], e["action"], e["target"], e["host"]) for e in events] == [
        ("root", "cancel", "job:1", socket.gethostname()),
        ("root", "run", "job:1", socket.gethostname()),
    ]
    table = run_cli("audit", "-action:run", env={**env, "COLUMNS": "120"})
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["WHEN", "(UTC)", "USER", "ACTION", "TARGET", "DETAIL", "HOST"]
    assert len(lines) == 2 and lines[1].split()[1:4] == ["root", "cancel", "job:1"]
    bad = run_cli("audit", "colour:red", env=env)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "jobdash: unknown audit field 'colour' (fields: user, action, target, actor, host, "
        "since, job, schedule, agent, failures); quote the word to search for text containing ':'"
    ]
    assert run_cli("audit", "user:nobody", env=env).stderr.strip() == "no audit events match"
    typo = run_cli("audit", "action:cancle", env=env)
    assert typo.returncode == 2 and typo.stdout == ""
    assert typo.stderr.strip().splitlines() == [
        "jobdash: unknown audit action 'cancle', did you mean 'cancel'? (actions: run, cancel, "
        "force-cancel, pause, resume, retry, clear, edit, enable, disable, drain, undrain)"
    ]
    assert [
        e["action"] for e in json.loads(run_cli("audit", "action:CANCEL", "--json", env=env).stdout)
    ] == ["cancel"]


async def test_the_job_details_show_the_jobs_audit_events_and_follow_them(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(CONFIG), engine=False)
    other = await svc.submit("sleepy")
    job = await svc.submit("sleepy")
    await svc.cancel(other.id)
    app = PaneApp(svc, screen=lambda: JobDetailsScreen(svc, job.id))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, JobDetailsScreen))
        table = app.screen.query_one(AuditTable)

        def shown() -> list[list[str]]:
            return [table.row_text(i).split()[1:3] for i in range(table.row_count)]

        await until(pilot, lambda: shown() == [["root", "run"]])  # this job's only
        await svc.pause(job.id)
        await until(pilot, lambda: shown() == [["root", "pause"], ["root", "run"]])
