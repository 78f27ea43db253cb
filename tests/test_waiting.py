"""Why a running job runs nothing, and how long a job has run: real engines on a real store.

- A job whose tasks wait for a free slot says so ("agents busy: 1/1 slot (job N)"),
  computed from the store, and its time starts with its first task, not its admission.
- A retried job's duration is the sum of its runs; the time between them is not counted.
- A paused job's clock stops; a cancelled job's progress is the work that was done.
- Counts are printed with the right plural ("1 task done", "with 1 warning").
"""

from __future__ import annotations

import json
import signal
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdash.core.model import JobStatus
from jobdash.core.service import Service
from jobdash.present.progress import progress_bar, progress_count
from jobdash.present.words import plural
from tests.conftest import run_cli, wait_finished, wait_for
from tests.test_agents import FAST, Cluster, until
from tests.test_agents_slots import cluster_with

pytestmark = pytest.mark.both_backends  # on SQLite and on PostgreSQL

Open = Callable[..., Awaitable[Service]]

TYPES = """
# Runs until the test creates the file {gate}.
[types.hold]
params.gate = { required = true }
command = ["sh", "-c", "while [ ! -e {gate} ]; do sleep 0.05; done"]

[types.duo]
items = ["x", "y"]
command = ["sleep", "0.2"]

[types.flag]
params.flag = { required = true }
command = ["test", "-e", "{flag}"]

[types.four]
items = ["a", "b", "c", "d"]
command = ["sh", "-c", "test {item} = a || sleep 30"]
parallel = 1

[types.nap]
command = ["sleep", "30"]

[types.single]
command = ["true"]

[types.warns]
function = "tests.test_waiting:one_warning"
"""


async def one_warning(ctx: Any) -> None:
    """A Python job type: one task, which warns once."""
    ctx.add_task(warn_once, "w")


async def warn_once(ctx: Any, item: Any) -> None:
    ctx.warn(f"{item}: something to look at")


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Cluster]:
    with cluster_with(tmp_path, TYPES) as c:
        yield c


def show(cluster: Cluster, job_id: int) -> dict[str, Any]:
    r = cluster.cli("show", str(job_id), "--json")
    assert r.returncode == 0, r.stderr
    shown: dict[str, Any] = json.loads(r.stdout)
    return shown


# --------------------------------------------------------------------------- waiting


def test_a_job_waiting_for_the_only_slot_says_why_and_starts_with_its_first_task(
    engines: Cluster, tmp_path: Path
) -> None:
    engines.start("one", "--slots", "1", kind="serve", env=FAST)
    gate = tmp_path / "gate"
    first = engines.run("hold", gate=str(gate))
    until(lambda: show(engines, first)["running"] == 1, 20, "first job running")
    second = engines.run("duo")
    reason = f"agents busy: 1/1 slot (job {first})"
    waiting = until(
        lambda: (d := show(engines, second))["info"] == reason and d, 20, "the reason shown"
    )
    assert waiting["status"] == "running" and waiting["running"] == 0
    assert waiting["started"] is None and waiting["duration"] is None
    # The dashboard's and `jobs`' info column say it too.
    assert reason in engines.cli("jobs", "--json").stdout
    gate.touch()  # the first job ends: its slot goes to the second
    until(lambda: show(engines, second)["status"] == "succeeded", 30, "second job done")
    a, b = show(engines, first), show(engines, second)
    # Its time starts with its first task, which could only start once the first job freed
    # the slot; the wait before is not its duration.
    assert b["started"] >= a["finished"] > b["created"]
    assert b["duration"] == pytest.approx(b["finished"] - b["started"], abs=1e-6)
    assert b["info"] == "2 tasks done"


def test_a_retried_jobs_duration_is_the_sum_of_its_runs(engines: Cluster, tmp_path: Path) -> None:
    engines.start("one", kind="serve", env=FAST)
    flag = tmp_path / "flag"
    job = engines.run("flag", flag=str(flag))
    until(lambda: show(engines, job)["status"] == "failed", 20, "first run failed")
    run1 = show(engines, job)
    first_span = run1["finished"] - run1["started"]
    assert run1["duration"] == pytest.approx(first_span, abs=1e-6)
    flag.touch()
    r = engines.cli("retry", str(job))
    assert r.returncode == 0, r.stderr
    until(lambda: show(engines, job)["status"] == "succeeded", 20, "retry succeeded")
    run2 = show(engines, job)
    (task,) = run2["tasks"]
    assert task["attempt"] == 2 and task["started"] > run1["finished"]
    second_span = run2["finished"] - task["started"]  # the retry's first task started it
    assert run2["started"] == run1["started"]  # when the job first started
    assert run2["duration"] == pytest.approx(first_span + second_span, abs=1e-6)
    # The gap between the runs (failed, then retried by hand) is not in it.
    assert run2["duration"] < run2["finished"] - run2["started"]


# --------------------------------------------------------------------------- pause, cancel


async def test_a_paused_jobs_clock_stops_and_goes_on_after_resume(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(TYPES))
    job = await svc.submit("nap")
    running = await wait_for(svc, job.id, lambda j: j.running == 1)
    assert running.started is not None and running.paused_at is None
    paused = await svc.toggle_pause(job.id)
    assert paused.status is JobStatus.PAUSED and paused.paused_at == paused.updated
    frozen = paused.duration(paused.updated)
    assert frozen is not None and frozen > 0
    # Whatever the clock says, a paused job's elapsed time and ETA stay where they were.
    assert paused.duration(paused.updated + 3600) == frozen
    assert paused.eta(paused.updated + 3600) is None
    resumed = await svc.toggle_pause(job.id)
    assert resumed.paused_at is None
    # Its clock goes on from the resume: the pause is not counted.
    assert resumed.idle_time == pytest.approx(resumed.updated - paused.updated, abs=1e-6)
    assert resumed.duration(resumed.updated) == pytest.approx(frozen, abs=1e-6)
    assert resumed.duration(resumed.updated + 10) == pytest.approx(frozen + 10, abs=1e-6)
    await svc.cancel(job.id, force=True)
    done = await wait_finished(svc, job.id)
    assert done.finished is not None and done.started is not None
    assert done.duration() == pytest.approx(done.finished - done.started - done.idle_time)


async def test_a_cancelled_jobs_progress_is_the_work_done(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    config = write_config(TYPES)
    svc = await services(config)
    job = await svc.submit("four")
    await wait_for(svc, job.id, lambda j: j.succeeded == 1 and j.running == 1)
    await svc.cancel(job.id, force=True)
    done = await wait_finished(svc, job.id)
    assert done.status is JobStatus.CANCELLED
    assert (done.worked, done.cancelled, done.total) == (1, 3, 4)
    assert done.progress == 25.0
    assert progress_count(done) == "1/4"
    assert progress_bar(done, 8) == "██▒▒▒▒▒▒"  # done, cancelled: not a full bar
    r = run_cli("show", str(job.id), "--db", str(svc.store.location), "--config", str(config))
    assert "1/4 done" in r.stdout and "3 cancelled" in r.stdout and "25%" in r.stdout


# --------------------------------------------------------------------------- plurals


def test_plural() -> None:
    assert [plural(n, "task") for n in (0, 1, 2)] == ["0 tasks", "1 task", "2 tasks"]
    assert plural(1, "warning") == "1 warning" and plural(3, "try") == "3 tries"


async def test_counts_of_one_are_singular(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    config = write_config(TYPES)
    svc = await services(config)
    single = await wait_finished(svc, (await svc.submit("single")).id)
    assert single.info == "1 task done"
    warned = await wait_finished(svc, (await svc.submit("warns")).id)
    assert warned.status is JobStatus.WARNING
    assert warned.info == "2 tasks done with 1 warning"
    r = run_cli("retry", str(single.id), "--db", str(svc.store.location), "--config", str(config))
    assert r.returncode == 1  # nothing failed: refused
    r = run_cli("clear", "--db", str(svc.store.location), "--config", str(config))
    assert r.stdout.strip() == "2 finished jobs removed", r.stdout


def test_cli_says_one_slot_and_one_job_type(engines: Cluster, tmp_path: Path) -> None:
    cfg = tmp_path / "one.toml"
    cfg.write_text('[types.single]\ncommand = ["true"]\n')
    r = run_cli("check", "--config", str(cfg))
    said = " ".join(r.stdout.split())  # a line may be wrapped (no terminal)
    assert r.returncode == 0 and "ok — 1 job type: single" in said, r.stdout
    proc = engines.start("solo", "--slots", "1", env=FAST)
    # At once, as it registers: a signal then stops it as any stop does (an official CI
    # run killed it there, by SIGTERM's default action, before it said a word).
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    log = engines.log("solo")
    assert "with 1 slot on" in log and "agent solo stopped" in log, log
