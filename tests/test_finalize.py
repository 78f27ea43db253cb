"""A job type's finalize step with real processes: `jobdash serve` subprocesses running a
command type (`finalize = [argv]`) and a Python type (`finalize = "module:attr"`), read by
`jobdash show`, `jobdash logs` and `jobdash types` as a user would; cancel during the step,
a step that fails, an engine killed (kill -9) during the step; a type without a step never
shows `finalizing`. On SQLite and on PostgreSQL (marker both_backends)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdash.core.model import JobStatus
from jobdash.core.processes import group_alive
from jobdash.core.store.base import Store
from tests.test_agents import Cluster, until

pytestmark = pytest.mark.both_backends

CONFIG = """
[jobdash]
admins = ["root", "%(user)s"]

# Each item writes a file; the step collects them, says what it was told, and waits for the
# test's go (a file) before it says "sent".
[types.cmdreport]
params.dir = { required = true }
items = ["a", "b", "c"]
command = ['sh', '-c', 'echo "{item} done" > {dir}/{item}.out; echo "task {item}"']
finalize = ['sh', '-c', 'echo $$ > {dir}/step.$JOBDASH_ATTEMPT; echo "told: $JOBDASH_OUTCOME $JOBDASH_SUCCEEDED of $JOBDASH_TASKS, attempt $JOBDASH_ATTEMPT"; cat {dir}/a.out {dir}/b.out {dir}/c.out > {dir}/all.txt; while [ ! -e {dir}/go ]; do sleep 0.05; done; echo sent']
parallel = 3
retries = 1

[types.pyreport]
function = "tests.finalize_jobs:plan"
finalize = "tests.finalize_jobs:compile_results"
params.dir = { required = true }
params.fail = { default = "" }
params.step_fails = { default = "0" }
parallel = 3

[types.plain]
items = ["a", "b"]
command = ["true"]
parallel = 2
"""


@pytest.fixture
def cluster(tmp_path: Path, store_location: str) -> Iterator[Cluster]:
    c = Cluster(tmp_path, store_location)
    c.cfg.write_text(CONFIG % {"user": os.environ.get("USER", "root")})
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def out(tmp_path: Path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


def show(c: Cluster, job: int) -> str:
    r = c.cli("show", str(job))
    assert r.returncode == 0, r.stderr
    return r.stdout


def logs(c: Cluster, job: int) -> str:
    r = c.cli("logs", str(job))
    assert r.returncode == 0, r.stderr
    return r.stdout


def status(c: Cluster, job: int) -> str:
    return str(c.job(job)["status"])


def test_a_command_step_runs_after_every_task_and_shows_finalizing(
    cluster: Cluster, out: Path
) -> None:
    cluster.start("s1", kind="serve")
    job = cluster.run("cmdreport", dir=str(out))
    until(lambda: "◔ finalizing" in show(cluster, job), 30, "finalizing in jobdash show")
    text = show(cluster, job)
    assert "finalize: sh -c 'echo $$ > {dir}/step.$JOBDASH_ATTEMPT;" in text
    tasks = cluster.tasks(job)
    assert [(n, t["status"]) for n, t in tasks.items()] == [
        ("a", "succeeded"),
        ("b", "succeeded"),
        ("c", "succeeded"),
        ("finalize", "running"),
    ]
    # It sees what the tasks made and how they ended.
    until(lambda: (out / "all.txt").exists(), 20, "the step's collected file")
    assert (out / "all.txt").read_text() == "a done\nb done\nc done\n"
    until(lambda: "told:" in logs(cluster, job), 20, "the step's first line")
    assert "told: succeeded 3 of 3, attempt 1" in logs(cluster, job)
    assert status(cluster, job) == "finalizing"
    (out / "go").touch()
    until(lambda: status(cluster, job) == "succeeded", 30, "the job succeeded")
    assert cluster.job(job)["info"] == "4 tasks done, finalized"  # the step is task 4
    # The step's own log lines (task 4), and its lines in the job's log.
    r = cluster.cli("logs", str(job), "--task", "4")
    assert r.stdout.splitlines() == ["told: succeeded 3 of 3, attempt 1", "sent"]
    assert logs(cluster, job).splitlines()[-1].endswith("| sent")
    assert "✔ succeeded" in show(cluster, job)


def test_types_lists_the_step(cluster: Cluster) -> None:
    r = cluster.cli("types")
    assert r.returncode == 0, r.stderr
    flagged = {ln.split()[0] for ln in r.stdout.splitlines() if "finalize" in ln}
    assert flagged == {"cmdreport", "pyreport"}


def test_a_python_step_is_told_the_results_and_runs_after_a_failed_task(
    cluster: Cluster, out: Path
) -> None:
    cluster.start("s1", kind="serve")
    job = cluster.run("pyreport", dir=str(out), fail="1")
    until(lambda: "seen:" in logs(cluster, job), 30, "the step's lines")
    assert status(cluster, job) == "finalizing"
    said = logs(cluster, job)
    assert "compiling 4 tasks: failed, 1 failed, rows {'rows': 20.0}" in said
    assert "seen: main=succeeded, part 0=succeeded, part 1=failed, part 2=succeeded" in said
    assert "function tests.finalize_jobs:compile_results" in show(cluster, job)
    (out / "go").touch()
    until(lambda: status(cluster, job) == "failed", 30, "the job ended")
    assert cluster.job(job)["info"] == (
        "1 of 5 tasks failed — first: part 1: ValueError: bad part 1; finalized"
    )
    assert "report sent" in logs(cluster, job)


def test_a_failing_step_fails_the_job_with_its_error(cluster: Cluster, out: Path) -> None:
    (out / "go").touch()
    cluster.start("s1", kind="serve")
    job = cluster.run("pyreport", dir=str(out), step_fails="1")
    until(lambda: JobStatus(status(cluster, job)).finished, 30, "the job ended")
    assert (status(cluster, job), cluster.job(job)["info"]) == (
        "failed",
        "finalize failed: RuntimeError: mail server down",
    )
    step = cluster.tasks(job)["finalize"]
    assert (step["status"], step["error"]) == ("failed", "RuntimeError: mail server down")
    assert "RuntimeError: mail server down" in logs(cluster, job)


def test_cancel_during_the_step_stops_it_and_the_job_ends_cancelled(
    cluster: Cluster, out: Path
) -> None:
    cluster.start("s1", kind="serve")
    job = cluster.run("cmdreport", dir=str(out))
    until(lambda: (out / "step.1").exists() and "told:" in logs(cluster, job), 30, "the step")
    pid = int((out / "step.1").read_text())
    cluster.pids_to_kill.append(pid)
    r = cluster.cli("cancel", str(job))
    assert r.returncode == 0, r.stderr
    until(lambda: status(cluster, job) == "cancelled", 30, "the job cancelled")
    assert cluster.job(job)["info"] == "cancelled while finalizing (1 of 4 tasks cancelled)"
    assert cluster.tasks(job)["finalize"]["status"] == "cancelled"
    assert not group_alive(pid)
    assert "sent" not in logs(cluster, job).split()


def test_an_engine_killed_during_the_step_runs_it_again_on_the_next(
    cluster: Cluster, out: Path
) -> None:
    """retries = 1: the step's attempt lost with its engine runs again (its leftover process
    killed first); with no retries left the job fails "agent lost" (next test)."""
    s1 = cluster.start("s1", kind="serve")
    job = cluster.run("cmdreport", dir=str(out))
    until(lambda: (out / "step.1").exists(), 30, "attempt 1 of the step")
    pid1 = int((out / "step.1").read_text())
    cluster.pids_to_kill.append(pid1)
    os.kill(s1.pid, signal.SIGKILL)
    s1.wait()
    cluster.start("s2", kind="serve", wait=False)
    until(lambda: (out / "step.2").exists(), 30, "attempt 2 of the step")
    cluster.pids_to_kill.append(int((out / "step.2").read_text()))
    assert status(cluster, job) == "finalizing"
    until(lambda: not group_alive(pid1), 10, "attempt 1's process gone")
    (out / "go").touch()
    until(lambda: status(cluster, job) == "succeeded", 30, "the job succeeded")
    step = cluster.tasks(job)["finalize"]
    assert (step["attempt"], step["agent"], step["lost"]) == (2, "s2", 1)
    assert any(
        "finalize: attempt 1 lost with agent s1" in t and "running it again" in t
        for t in cluster.system_log(job)
    )
    assert "told: succeeded 3 of 3, attempt 2" in logs(cluster, job)


def test_an_engine_killed_during_a_step_without_retries_fails_the_job(
    cluster: Cluster, out: Path
) -> None:
    s1 = cluster.start("s1", kind="serve")
    job = cluster.run("pyreport", dir=str(out))
    until(lambda: "seen:" in logs(cluster, job), 30, "the step running")
    os.kill(s1.pid, signal.SIGKILL)
    s1.wait()
    cluster.start("s2", kind="serve", wait=False)
    until(lambda: JobStatus(status(cluster, job)).finished, 30, "the job ended")
    assert (status(cluster, job), cluster.job(job)["info"]) == (
        "failed",
        "finalize failed: agent lost",
    )


def test_a_type_without_a_step_never_shows_finalizing(cluster: Cluster, out: Path) -> None:
    """Every revision of its job row, as the change feed reads them, and its tasks: the job
    ended in the transaction of its last task. The same feed sees a job with a step
    finalizing."""
    cluster.start("s1", kind="serve")
    plain = cluster.run("plain")
    with_step = cluster.run("cmdreport", dir=str(out))
    seen: dict[int, set[str]] = {plain: set(), with_step: set()}

    async def watch(store: Store) -> None:
        async with asyncio.timeout(60):
            async for changes in store.changes(since=0, interval=0.01):
                for j in changes.jobs:
                    if j.id in seen:
                        seen[j.id].add(str(j.status))
                        if j.id == with_step and j.status is JobStatus.FINALIZING:
                            (out / "go").touch()
                if all("succeeded" in s for s in seen.values()):
                    return

    cluster.read(watch)
    assert "finalizing" not in seen[plain]
    assert "finalizing" in seen[with_step]
    assert list(cluster.tasks(plain)) == ["a", "b"]
    assert cluster.job(plain)["info"] == "2 tasks done"
    assert cluster.q("SELECT finalize FROM jobs WHERE id = ?", (plain,)) == [(None,)]
