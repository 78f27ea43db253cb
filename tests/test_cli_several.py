"""`cancel`, `pause`, `resume`, `retry` of several ids or of every job `--query` selects,
and `schedule run|enable|disable` of several schedules, in real processes: one line per job
(done on standard output, refused on standard error), exit status 0 when all applied, 1 when
some were refused (the others done), 2 for an unknown id or a bad query with nothing done.

No engine runs: submitted jobs stay queued, so what each command did is exactly what the
store shows afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
from collections.abc import Callable
from pathlib import Path

import pytest

from jobdash.core.scheduler import schedule_specs
from jobdash.core.service import Service
from tests.conftest import run_cli

SCHEDULED = """
[types.nightly]
command = ["true"]
schedule = "cron: 0 3 * * *"

[types.weekly]
command = ["true"]
schedule = "cron: 0 4 * * 1"

[types.hourly]
command = ["true"]
schedule = "cron: 0 * * * *"
"""
ME = pwd.getpwuid(os.getuid()).pw_name  # who the kernel says runs the tests: the admin

CONFIG = f"""\
[jobdash]
admins = ["{ME}"]

[types.slow]
command = ["sleep", "30"]
items = ["a", "b"]

[types.other]
command = ["true"]

[types.pinned]
command = ["true"]
cancellable = false

"""


@pytest.fixture(autouse=True)
def config(write_config: Callable[[str], Path]) -> Path:
    return write_config(CONFIG + SCHEDULED)  # ./jobdash.toml: found without --config


def submit(*types: str) -> list[int]:
    ids = []
    for t in types:
        done = run_cli("run", t, "--json")
        assert done.returncode == 0, done.stderr
        ids.append(int(json.loads(done.stdout)["id"]))
    return ids


def statuses() -> dict[int, str]:
    done = run_cli("jobs", "--all", "--json")
    assert done.returncode == 0, done.stderr
    return {int(j["id"]): str(j["status"]) for j in json.loads(done.stdout)}


def lines(text: str) -> list[str]:
    return text.strip().splitlines() if text.strip() else []


def test_several_ids_one_line_each_and_exit_1_when_some_are_refused() -> None:
    a, b, c, pinned = submit("slow", "slow", "other", "pinned")
    assert run_cli("cancel", str(c)).returncode == 0  # finished: cancelled
    done = run_cli("cancel", str(a), str(b), str(c), str(pinned))
    assert done.returncode == 1
    assert lines(done.stdout) == [f"job {a}: ⊗ cancelled", f"job {b}: ⊗ cancelled"]
    assert lines(done.stderr) == [
        f"jobdash: job {c} has ended (cancelled); there is nothing to cancel",
        f"jobdash: job {pinned} (pinned) cannot be cancelled: its type says cancellable = false",
    ]
    assert statuses() == {a: "cancelled", b: "cancelled", c: "cancelled", pinned: "queued"}

    # All applied: exit status 0 (and a repeated id is acted on once).
    done = run_cli("retry", str(a), str(b), str(a))
    assert done.returncode == 0, done.stderr
    assert lines(done.stdout) == [
        f"job {a}: 2 tasks queued again",
        f"job {b}: 2 tasks queued again",
    ]
    assert statuses()[a] == statuses()[b] == "queued"


def test_an_unknown_id_among_several_is_bad_input_and_nothing_is_done() -> None:
    a, b = submit("slow", "slow")
    for command in (["cancel"], ["cancel", "--force"], ["pause"], ["resume"], ["retry"]):
        done = run_cli(*command, str(a), "999", str(b))
        assert done.returncode == 2, (command, done.stderr)
        assert done.stdout == ""
        assert lines(done.stderr) == [f"jobdash: {command[0]}: no job 999: nothing done"]
    assert statuses() == {a: "queued", b: "queued"}
    # A lone unknown id is bad input too (exit status 2), as it is for every command.
    done = run_cli("cancel", "999")
    assert (done.returncode, lines(done.stderr)) == (
        2,
        ["jobdash: cancel: no job 999: nothing done"],
    )


def test_query_acts_on_exactly_the_jobs_it_selects() -> None:
    a, b, other = submit("slow", "slow", "other")
    done = run_cli("pause", "--query", "type:slow")
    assert done.returncode == 0, done.stderr
    assert lines(done.stdout) == [f"job {a} paused", f"job {b} paused"]
    assert statuses() == {a: "paused", b: "paused", other: "queued"}

    # Some refused: the paused ones resume, the queued one is not paused.
    done = run_cli("resume", "--query", "status:paused,queued")
    assert done.returncode == 1
    assert lines(done.stdout) == [f"job {a} resumed (queued)", f"job {b} resumed (queued)"]
    assert lines(done.stderr) == [f"jobdash: job {other} is queued, not paused"]

    done = run_cli("cancel", "--force", "--query", f"id:{b}")
    assert done.returncode == 0, done.stderr
    assert statuses() == {a: "queued", b: "cancelled", other: "queued"}

    # A query that selects nothing does nothing, and says so.
    done = run_cli("cancel", "--query", "type:nothing-like-it")
    assert done.returncode == 0
    assert done.stdout == "" and "no jobs match" in done.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["cancel", "--query", "status:nonsense"], "status"),
        (["cancel", "1", "--query", "type:slow"], "cancel: give job ids or --query, not both"),
        (["pause"], "pause: give one or more job ids, or --query QUERY"),
        (["retry", "--query", "  "], "retry: --query is empty"),
        (["resume", "1", "x"], "not a job id: 'x'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_done(args: list[str], said: str) -> None:
    (job,) = submit("slow")
    done = run_cli(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(lines(done.stderr)) == 1 and said in done.stderr, done.stderr
    assert statuses() == {job: "queued"}


async def sync_schedules(config: Path) -> None:
    """The schedules in the store, as an engine publishes them when it starts."""
    svc = await Service.open(config=str(config))
    try:
        await svc.store.sync_schedules(schedule_specs(svc), list(svc.local_types))
    finally:
        await svc.close()


def schedule_states() -> dict[str, bool]:
    done = run_cli("schedules", "--json")
    assert done.returncode == 0, done.stderr
    return {s["id"]: s["enabled"] for s in json.loads(done.stdout)}


def test_schedules_several_ids(config: Path) -> None:
    asyncio.run(sync_schedules(config))
    done = run_cli("schedule", "run", "nightly", "hourly")
    assert done.returncode == 0, done.stderr
    assert [line.split(":")[0] for line in lines(done.stdout)] == [
        "schedule nightly",
        "schedule hourly",
    ]
    jobs = json.loads(run_cli("jobs", "--json").stdout)
    assert sorted(j["schedule_id"] for j in jobs) == ["hourly", "nightly"]

    # An unknown id among several: nothing done (no job, no schedule disabled).
    for action in ("run", "disable"):
        done = run_cli("schedule", action, "weekly", "nope")
        assert done.returncode == 2
        assert lines(done.stderr) == [
            f"jobdash: schedule {action}: no schedule 'nope': nothing done"
        ]
    assert len(json.loads(run_cli("jobs", "--json").stdout)) == 2
    assert schedule_states() == {"hourly": True, "nightly": True, "weekly": True}

    done = run_cli("schedule", "disable", "weekly", "nightly")
    assert done.returncode == 0, done.stderr
    assert [line.split(";")[0] for line in lines(done.stdout)] == [
        "schedule weekly disabled",
        "schedule nightly disabled",
    ]
    assert schedule_states() == {"hourly": True, "nightly": False, "weekly": False}
    done = run_cli("schedule", "enable", "weekly", "nightly")
    assert done.returncode == 0, done.stderr
    assert schedule_states() == {"hourly": True, "nightly": True, "weekly": True}
