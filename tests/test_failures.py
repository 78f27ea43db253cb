"""Failures grouped by cause, end to end: real commands (a CSV importer, `cp`, `tar`) and
Python tasks fail in a real engine; their failed attempts fall in one group per cause (the
invalid dates of two files in one, each tool's own apart); a task's error is the command's
last stderr line; retrying a group runs again exactly its failed tasks; `jobdash failures`
lists, shows and retries the groups, and refuses a bad group id in one line."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jobdash.core.fingerprint import fingerprint
from jobdash.core.model import JobStatus, TaskStatus
from jobdash.core.service import Service
from tests.conftest import run_cli, wait_finished

IMPORTER = """\
import sys
from datetime import datetime

path = sys.argv[1]
print(f"reading {path}")
for n, row in enumerate(open(path), 1):
    date = row.strip().split(",")[1]
    try:
        datetime.strptime(date, "%d/%m/%Y")
    except ValueError:
        print(f"row {n}: invalid date '{date}' in {path}", file=sys.stderr)
        sys.exit(3)
print("imported")
"""


def write_csv(path: Path, rows: int, bad: dict[int, str]) -> None:
    """`rows` rows of id,date; the rows of `bad` with that date instead of a real one."""
    path.write_text("".join(f"{n},{bad.get(n, '28/02/2026')}\n" for n in range(1, rows + 1)))


@pytest.fixture
def world(tmp_path: Path, write_config: Callable[[str], Path]) -> tuple[Path, Path]:
    """The input folder (two files with an invalid date, one good) and the config."""
    src = tmp_path / "in"
    src.mkdir()
    write_csv(src / "b-003.csv", 170, {162: "31/02/2026"})
    write_csv(src / "b-017.csv", 20, {9: "30/02/2026"})
    write_csv(src / "ok.csv", 5, {})
    (tmp_path / "importer.py").write_text(IMPORTER)
    (tmp_path / "out").mkdir()
    config = write_config(
        f"""
[types.import]
params.source = {{ required = true }}
items = {{ glob = "{{source}}/*.csv" }}
command = ["{sys.executable}", "{tmp_path / "importer.py"}", "{{item}}"]
parallel = 3

[types.copy]
items = ["{tmp_path}/gone/a.csv", "{tmp_path}/gone/b b.csv"]
command = ["cp", "{{item}}", "{tmp_path / "out"}"]

[types.archive]
command = ["tar", "-cf", "{tmp_path / "out" / "x.tar"}", "{tmp_path}/gone"]

[types.check-dates]
function = "tests.failing_jobs:check_dates"
params.source = {{ required = true }}
"""
    )
    return src, config


async def run_all(svc: Service, src: Path) -> dict[str, int]:
    jobs = {
        "import": await svc.submit("import", {"source": str(src)}),
        "copy": await svc.submit("copy"),
        "archive": await svc.submit("archive"),
        "check-dates": await svc.submit("check-dates", {"source": str(src)}),
    }
    for job in jobs.values():
        await wait_finished(svc, job.id)
    return {name: job.id for name, job in jobs.items()}


async def test_real_failures_group_by_cause_and_a_group_retry_runs_exactly_them(
    world: tuple[Path, Path], services: Callable[..., Awaitable[Service]]
) -> None:
    src, config = world
    svc = await services(config)
    ids = await run_all(svc, src)

    tasks = {t.name: t for t in await svc.tasks(ids["import"])}
    # The error column is the exit status and what the command said last on stderr.
    b003 = f"exit 3: row 162: invalid date '31/02/2026' in {src}/b-003.csv"
    assert [tasks[f"{src}/b-003.csv"].error, tasks[f"{src}/ok.csv"].status] == [
        b003,
        TaskStatus.SUCCEEDED,
    ]

    groups = {g.message: g for g in await svc.failures()}
    home = str(src.parent)
    assert {m: (g.attempts, g.tasks, g.jobs, g.types) for m, g in groups.items()} == {
        "exit 3: row <n>: invalid date '<q>' in <path>": (2, 2, 1, {"import": 2}),
        "exit 1: cp: cannot stat '<q>': No such file or directory": (2, 2, 1, {"copy": 2}),
        "exit 2: tar: Exiting with failure status due to previous errors": (
            1,
            1,
            1,
            {"archive": 1},
        ),
        "ValueError: row <n>: invalid date '<q>' in <path>": (2, 2, 1, {"check-dates": 2}),
    }, home
    dates = groups["exit 3: row <n>: invalid date '<q>' in <path>"]
    assert dates.id == fingerprint(b003)

    # The sample: the end of the latest failed attempt's log, where it failed.
    failed = await svc.failure_tasks(dates.id)
    sample = await svc.failure_sample(failed[0])
    assert sample[0].text.startswith(f"reading {src}/") and "invalid date" in sample[-1].text

    # The files are mended; retrying the group runs its two tasks again, and nothing else.
    write_csv(src / "b-003.csv", 170, {})
    write_csv(src / "b-017.csv", 20, {})
    plan = await svc.retry_group(dates.id, plan_only=True)
    assert (plan.tasks, plan.jobs, plan.left) == (2, 1, 0)
    done = await svc.retry_group(dates.id)
    assert (done.tasks, done.jobs, done.left) == (2, 1, 0)
    assert (await wait_finished(svc, ids["import"])).status is JobStatus.SUCCEEDED
    attempts = {t.name: t.attempt for t in await svc.tasks(ids["import"])}
    assert attempts == {f"{src}/b-003.csv": 2, f"{src}/b-017.csv": 2, f"{src}/ok.csv": 1}
    for other in ("copy", "archive", "check-dates"):
        job = await svc.job(ids[other])
        assert job.status is JobStatus.FAILED
        assert {t.attempt for t in await svc.tasks(job.id)} == {1}
    # The group stays in the history; none of its tasks is failed any more.
    assert not any(t.retriable for t in await svc.failure_tasks(dates.id))
    events = await svc.store.audit_events(f"failures:{dates.id}")
    assert [e.detail for e in events] == ["2 failed tasks of 1 job"]


async def test_the_command_line_lists_shows_and_retries_groups(
    world: tuple[Path, Path], services: Callable[..., Awaitable[Service]], store_location: str
) -> None:
    src, config = world
    svc = await services(config)
    ids = await run_all(svc, src)
    db = ["--db", store_location, "--config", str(config)]

    listed = run_cli("failures", "--json", *db)
    assert listed.returncode == 0, listed.stderr
    groups = {g["message"]: g for g in json.loads(listed.stdout)}
    assert len(groups) == 4
    cp = groups["exit 1: cp: cannot stat '<q>': No such file or directory"]
    assert (cp["attempts"], cp["tasks"], cp["jobs"], sum(cp["trend"])) == (2, 2, 1, 2)

    # Piped: the table whole, one row per group, the message as it is.
    table = run_cli("failures", "type:copy,archive", *db)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["GROUP", "FAILS", "TASKS", "JOBS"] and len(lines) == 3
    assert any(line.startswith(cp["id"]) and "cp: cannot stat" in line for line in lines)
    words = run_cli("failures", "--json", '"exiting with failure"', *db)  # in the message
    tar = groups["exit 2: tar: Exiting with failure status due to previous errors"]
    assert [g["id"] for g in json.loads(words.stdout)] == [tar["id"]]
    # Every failure is more than a second old (the commands above took that long on a busy
    # machine, not on a quiet one): none is within `--since 1s`.
    await asyncio.sleep(max(0.0, max(g["last"] for g in groups.values()) + 1.2 - time.time()))
    assert json.loads(run_cli("failures", "--json", "--since", "1s", *db).stdout) == []

    shown = run_cli("failures", "show", cp["id"], *db)
    assert shown.returncode == 0, shown.stderr
    assert f"{src.parent}/gone/b b.csv" in shown.stdout and "the end of its log" in shown.stdout

    for bad, why in (
        (["retry", "nothex"], "not a failure group id: 'nothex'"),
        (["retry"], "failures retry: give one group id"),
        (["retry", "0123456789ab"], "no failure group 0123456789ab"),
        (["--since", "soon"], "since"),
    ):
        done = run_cli("failures", *bad, *db)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert why in done.stderr and "Traceback" not in done.stderr

    retried = run_cli("failures", "retry", cp["id"], *db)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.strip() == f"retrying 2 failed tasks of 1 job (failure group {cp['id']})"
    job = await wait_finished(svc, ids["copy"])
    assert job.status is JobStatus.FAILED
    assert {t.attempt for t in await svc.tasks(ids["copy"])} == {2}
    again = {g["id"]: g for g in json.loads(run_cli("failures", "--json", *db).stdout)}
    assert (again[cp["id"]]["attempts"], again[cp["id"]]["tasks"]) == (4, 2)


async def test_a_progress_meter_does_not_hide_the_cause(
    tmp_path: Path,
    write_config: Callable[[str], Path],
    services: Callable[..., Awaitable[Service]],
) -> None:
    """rsync, curl or pv draw their progress over one line with carriage returns: a task's
    error is what that line says last, and two causes behind the same meter are two groups."""
    meter = "printf '10%%\\r50%%\\r100%%\\r{}\\n' >&2; exit 23"
    config = write_config(
        f"""
[types.full]
command = ["sh", "-c", "{meter.format("rsync: write failed: No space left on device (28)")}"]
[types.closed]
command = ["sh", "-c", "{meter.format("rsync: connection unexpectedly closed")}"]
"""
    )
    svc = await services(config)
    full, closed = await svc.submit("full"), await svc.submit("closed")
    for job in (full, closed):
        await wait_finished(svc, job.id)
    [task] = await svc.tasks(full.id)
    assert task.error == "exit 23: rsync: write failed: No space left on device (28)"
    assert sorted(g.message for g in await svc.failures()) == [
        "exit 23: rsync: connection unexpectedly closed",
        "exit 23: rsync: write failed: No space left on device (<n>)",
    ]
