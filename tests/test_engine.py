"""The engine with real subprocesses, real signals and a real SQLite file."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jobdash.core.model import Job, JobStatus, NotFound, Refused, TaskStatus
from jobdash.core.processes import group_alive
from jobdash.core.service import Service
from jobdash.core.store.engine_records import Claimant
from tests.conftest import wait_finished, wait_for

pytestmark = pytest.mark.both_backends  # every test here, on SQLite and on PostgreSQL

Open = Callable[..., Awaitable[Service]]

ECHO3 = """
[types.echo3]
description = "three items"
items = ["alpha", "beta", "gamma"]
command = ["sh", "-c", "echo start {item}; echo to-stderr {item} >&2; echo done {item}"]
parallel = 2
"""


async def test_three_item_command_job_succeeds_with_log_stored(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(ECHO3))
    job = await svc.submit("echo3")
    assert job.total == 3
    job = await wait_finished(svc, job.id)
    assert job.status is JobStatus.SUCCEEDED
    assert (job.succeeded, job.failed, job.progress) == (3, 0, 100)
    tasks = await svc.tasks(job.id)
    assert [t.name for t in tasks] == ["alpha", "beta", "gamma"]
    assert all(t.exit_code == 0 and t.attempt == 1 for t in tasks)
    lines = await svc.logs(job.id)
    for item in ("alpha", "beta", "gamma"):
        mine = [(ln.stream, ln.text) for ln in lines if ln.text.endswith(item)]
        assert ("stdout", f"start {item}") in mine
        assert ("stderr", f"to-stderr {item}") in mine
        assert ("stdout", f"done {item}") in mine
    # Per task, the order of stdout lines is kept; sequence numbers increase.
    seqs = [ln.seq for ln in lines]
    assert seqs == sorted(seqs)
    by_task = await svc.logs(job.id, task=2)
    assert {ln.text for ln in by_task} == {"start beta", "to-stderr beta", "done beta"}


FLAKY = """
[types.flaky]
params.marker = { required = true }
items = ["one", "two", "three"]
command = ["sh", "-c", "echo run {item} >> {marker}.runs; test {item} != two || test -e {marker}.fixed"]
parallel = 3
"""


async def test_failing_item_fails_job_and_retry_reruns_only_it(
    services: Open, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    svc = await services(write_config(FLAKY))
    marker = str(tmp_path / "m")
    job = await wait_finished(svc, (await svc.submit("flaky", {"marker": marker})).id)
    assert job.status is JobStatus.FAILED
    assert (job.succeeded, job.failed) == (2, 1)
    assert "two" in job.info and "exit 1" in job.info
    Path(marker + ".fixed").touch()
    assert await svc.retry(job.id) == 1
    job = await wait_finished(svc, job.id)
    assert job.status is JobStatus.SUCCEEDED
    runs = Path(marker + ".runs").read_text().split("\n")
    assert sorted(r for r in runs if r) == ["run one", "run three", "run two", "run two"]
    tasks = {t.name: t for t in await svc.tasks(job.id)}
    assert (tasks["one"].attempt, tasks["two"].attempt, tasks["three"].attempt) == (1, 2, 1)
    with pytest.raises(Refused, match="no failed or cancelled tasks"):
        await svc.retry(job.id)


SLEEPER = """
[types.sleeper]
command = ["sh", "-c", "echo $$ > {pidfile}; sleep 300 & sleep 300"]
params.pidfile = { required = true }
"""


async def _wait_file(path: Path, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never written"
        await asyncio.sleep(0.05)
    return path.read_text().strip()


async def test_cancel_kills_the_whole_process_group(
    services: Open, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    svc = await services(write_config(SLEEPER))
    pidfile = tmp_path / "pid"
    job = await svc.submit("sleeper", {"pidfile": str(pidfile)})
    pid = int(await _wait_file(pidfile))
    assert group_alive(pid)
    t0 = time.monotonic()
    job = await svc.cancel(job.id)
    assert job.status is JobStatus.CANCELLING
    job = await wait_finished(svc, job.id)
    assert job.status is JobStatus.CANCELLED
    # `cancelled` is only shown once nothing of the job runs any more.
    assert not group_alive(pid)
    assert time.monotonic() - t0 < 10  # SIGTERM was enough; no grace-period wait
    (task,) = await svc.tasks(job.id)
    assert task.status is TaskStatus.CANCELLED


async def test_force_cancel_kills_a_process_that_ignores_sigterm(
    services: Open, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    cfg = """
[types.stubborn]
command = ["sh", "-c", "trap '' TERM; echo $$ > {pidfile}; while true; do sleep 0.1; done"]
params.pidfile = { required = true }
"""
    svc = await services(write_config(cfg))
    pidfile = tmp_path / "pid"
    job = await svc.submit("stubborn", {"pidfile": str(pidfile)})
    pid = int(await _wait_file(pidfile))
    await svc.cancel(job.id)
    await asyncio.sleep(0.5)
    assert (await svc.job(job.id)).status is JobStatus.CANCELLING  # still trapping TERM
    await svc.cancel(job.id, force=True)
    job = await wait_finished(svc, job.id)
    assert job.status is JobStatus.CANCELLED
    assert not group_alive(pid)


LOCKED = """
[types.locked]
params.folder = { required = true }
params.log = { required = true }
command = ["sh", "-c", "echo start $(date +%s.%N) >> {log}; sleep 0.4; echo end $(date +%s.%N) >> {log}"]
locks = ["folder:{folder}"]

[types.excl]
params.log = { required = true }
command = ["sh", "-c", "echo start $(date +%s.%N) >> {log}; sleep 0.4; echo end $(date +%s.%N) >> {log}"]
exclusive = true

[types.refuser]
params.folder = { required = true }
command = ["true"]
locks = ["folder:{folder}"]
on_lock = "refuse"
"""


def _intervals(log: Path) -> list[tuple[float, float]]:
    """(start, end) pairs recorded by the jobs themselves, in order."""
    starts, ends = [], []
    for line in log.read_text().splitlines():
        what, ts = line.split()
        (starts if what == "start" else ends).append(float(ts))
    return list(zip(sorted(starts), sorted(ends), strict=True))


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


@pytest.mark.parametrize("kind", ["lock", "exclusive"])
async def test_jobs_sharing_a_lock_never_overlap(
    services: Open, write_config: Callable[[str], Path], tmp_path: Path, kind: str
) -> None:
    cfg = write_config(LOCKED)
    # Two engines on one store: the lock holds in the store, not in one process.
    svc = await services(cfg, slots=4)
    await services(cfg, slots=4)
    logs = [tmp_path / f"log{i}" for i in range(3)]
    if kind == "lock":
        jobs = [await svc.submit("locked", {"folder": "/data/x", "log": str(lg)}) for lg in logs]
    else:
        jobs = [await svc.submit("excl", {"log": str(lg)}) for lg in logs]
    # While the first runs, the later ones wait with the holder named.
    waiting = await wait_for(svc, jobs[1].id, lambda j: j.status is JobStatus.WAITING, 10)
    assert f"held by job {jobs[0].id}" in waiting.info
    for j in jobs:
        assert (await wait_finished(svc, j.id)).status is JobStatus.SUCCEEDED
    spans = [(min(s for s, _ in _intervals(lg)), max(e for _, e in _intervals(lg))) for lg in logs]
    for i in range(len(spans)):
        for k in range(i + 1, len(spans)):
            assert not _overlap(spans[i], spans[k]), spans
    # FIFO: they ran in the order they were submitted.
    assert [s for s, _ in spans] == sorted(s for s, _ in spans)


async def test_different_lock_keys_run_side_by_side(
    services: Open, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    svc = await services(write_config(LOCKED))
    a = await svc.submit("locked", {"folder": "/a", "log": str(tmp_path / "a")})
    b = await svc.submit("locked", {"folder": "/b", "log": str(tmp_path / "b")})
    await wait_finished(svc, a.id)
    await wait_finished(svc, b.id)
    assert _overlap(_intervals(tmp_path / "a")[0], _intervals(tmp_path / "b")[0])


async def test_lock_refuse_policy(
    services: Open, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    svc = await services(write_config(LOCKED))
    holder = await svc.submit("locked", {"folder": "/x", "log": str(tmp_path / "l")})
    await wait_for(svc, holder.id, lambda j: j.status is JobStatus.RUNNING)
    with pytest.raises(Refused, match=f"lock folder:/x is held by job {holder.id}"):
        await svc.submit("refuser", {"folder": "/x"})


async def test_not_cancellable_type_refuses_cancel(services: Open) -> None:
    svc = await services(demo=True)
    job = await svc.submit("fix-permissions", {"path": "/srv/x"})
    with pytest.raises(Refused, match="cannot be cancelled"):
        await svc.cancel(job.id)
    assert (await wait_finished(svc, job.id)).status is JobStatus.SUCCEEDED


async def test_users_see_and_act_on_their_own_jobs_only(
    services: Open, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    cfg = write_config('[jobdash]\nadmins = ["root"]\n' + SLEEPER)
    bob = await services(cfg, user="bob", engine=False)
    alice = await services(cfg, user="alice", engine=False)
    root = await services(cfg, user="root", engine=False)
    job = await bob.submit("sleeper", {"pidfile": str(tmp_path / "p")})
    assert [j.id for j in await bob.jobs()] == [job.id]
    assert await alice.jobs() == []
    with pytest.raises(NotFound):
        await alice.job(job.id)
    with pytest.raises(NotFound):
        await alice.cancel(job.id)
    with pytest.raises(NotFound):
        await alice.logs(job.id)
    assert (await bob.job(job.id)).status is JobStatus.QUEUED  # untouched
    # An admin sees and acts on everyone's jobs; the action is audited with who did it.
    assert [j.id for j in await root.jobs()] == [job.id]
    await root.cancel(job.id)
    events = await root.store.audit_events(f"job:{job.id}")
    assert [(e.user, e.action) for e in events] == [("root", "cancel"), ("bob", "run")]
    # Clearing: your own finished jobs; everyone's only for admins.
    with pytest.raises(Refused, match="only admins"):
        await alice.clear(everyone=True)
    assert await alice.clear() == 0
    assert await bob.clear() == 1


async def test_pause_stops_the_process_and_resume_continues(
    services: Open, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    cfg = """
[types.counter]
params.out = { required = true }
command = ["sh", "-c", "i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo $i > {out}; sleep 0.05; done"]
"""
    svc = await services(write_config(cfg))
    out = tmp_path / "count"
    job = await svc.submit("counter", {"out": str(out)})
    await _wait_file(out)
    await svc.pause(job.id)
    await asyncio.sleep(0.6)  # the agent sees the pause within 0.2 s and SIGSTOPs the group
    frozen = out.read_text()
    await asyncio.sleep(0.5)
    assert out.read_text() == frozen, "the process kept running while paused"
    assert (await svc.job(job.id)).status is JobStatus.PAUSED
    await svc.resume(job.id)
    job = await wait_finished(svc, job.id)
    assert job.status is JobStatus.SUCCEEDED
    assert out.read_text().strip() == "30"
    with pytest.raises(Refused, match="not paused"):
        await svc.resume(job.id)


async def test_timeout_and_retries_with_backoff(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    cfg = """
[types.slow]
command = ["sleep", "10"]
timeout = "300ms"
retries = 2
backoff = "100ms"
"""
    svc = await services(write_config(cfg))
    job = await wait_finished(svc, (await svc.submit("slow")).id)
    assert job.status is JobStatus.FAILED
    (task,) = await svc.tasks(job.id)
    assert task.attempt == 3 and "timed out" in task.error
    system = [ln.text for ln in await svc.logs(job.id) if ln.stream == "system"]
    assert sum("retrying in" in t for t in system) == 2


async def test_python_job_type_adds_tasks_reports_metrics_and_warnings(services: Open) -> None:
    svc = await services(demo=True)
    job = await svc.submit("import-files", {"files": "12"})
    job = await wait_finished(svc, job.id)
    tasks = await svc.tasks(job.id)
    assert len(tasks) == 13  # the job function, then one task per file
    assert tasks[0].name == "main" and tasks[0].status is TaskStatus.SUCCEEDED
    assert job.metrics["files"] == job.succeeded - 1
    assert job.metrics["rows"] > 0
    lines = [ln.text for ln in await svc.logs(job.id)]
    assert "found 12 files to import" in lines


async def test_cancel_python_job(services: Open) -> None:
    svc = await services(demo=True)
    job = await svc.submit("archive-space", {"space": "OPS"})
    await wait_for(svc, job.id, lambda j: j.running > 0 and j.total > 1)
    await svc.cancel(job.id)
    job = await wait_finished(svc, job.id)
    assert job.status is JobStatus.CANCELLED
    assert job.running == 0 and job.pending == 0


async def test_illegal_requests_are_refused_with_one_line(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    svc = await services(write_config(ECHO3))
    job = await wait_finished(svc, (await svc.submit("echo3")).id)
    for action, match in (
        (svc.cancel, r"has ended \(succeeded\); there is nothing to cancel"),
        (svc.pause, "only a queued or running job can be paused"),
        (svc.retry, "no failed or cancelled tasks"),
    ):
        with pytest.raises(Refused, match=match) as e:
            await action(job.id)
        assert "\n" not in str(e.value)


async def test_fenced_completion_rejects_a_stale_attempt(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    from jobdash.core.store.engine_records import Outcome

    svc = await services(write_config(ECHO3), engine=False)
    job = await svc.submit("echo3")
    await svc.store.admit()
    (claim,) = await svc.store.claim(Claimant("owner-a", "a", 1, 60))
    ok = TaskStatus.SUCCEEDED
    assert not await svc.store.complete(Outcome(claim.task_id, claim.attempt, "owner-b", ok))
    assert not await svc.store.complete(Outcome(claim.task_id, claim.attempt + 1, "owner-a", ok))
    assert await svc.store.complete(Outcome(claim.task_id, claim.attempt, "owner-a", ok))
    # Once recorded, the same attempt can't be recorded again.
    assert not await svc.store.complete(Outcome(claim.task_id, claim.attempt, "owner-a", ok))
    job = await svc.job(job.id)
    assert (job.succeeded, job.pending) == (1, 2)


async def test_per_job_parallel_limit(services: Open, write_config: Callable[[str], Path]) -> None:
    cfg = """
[types.wide]
items = ["1", "2", "3", "4", "5", "6"]
command = ["sleep", "0.3"]
parallel = 2
"""
    svc = await services(write_config(cfg), slots=8)
    job = await svc.submit("wide")
    peak = 0
    while not (j := await svc.store.get_job(job.id)).status.finished:
        peak = max(peak, j.running)
        await asyncio.sleep(0.02)
    assert peak == 2


async def test_task_leftover_children_are_killed_when_main_process_exits(
    services: Open, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    cfg = """
[types.leaky]
params.pidfile = { required = true }
command = ["sh", "-c", "sleep 300 & echo $! > {pidfile}; echo bye"]
"""
    svc = await services(write_config(cfg))
    pidfile = tmp_path / "leak"
    job = await wait_finished(svc, (await svc.submit("leaky", {"pidfile": str(pidfile)})).id, 15)
    assert job.status is JobStatus.SUCCEEDED
    leaked = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(leaked, 0) if not _zombie(leaked) else (_ for _ in ()).throw(ProcessLookupError())


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] == "Z"


async def test_graceful_shutdown_releases_claims(
    services: Open, write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    cfg = write_config(SLEEPER)
    svc = await services(cfg)
    pidfile = tmp_path / "pid"
    job = await svc.submit("sleeper", {"pidfile": str(pidfile)})
    pid = int(await _wait_file(pidfile))
    assert svc.engine is not None
    await svc.engine.shutdown(timeout=0.2)
    svc.engine = None
    assert not group_alive(pid)
    (task,) = await svc.tasks(job.id)
    # The claim is given back, not counted as an attempt: another agent starts it afresh.
    assert task.status is TaskStatus.PENDING and task.attempt == 0
    assert (await svc.job(job.id)).status is JobStatus.RUNNING
    _ = signal  # signals are exercised through the CLI tests (serve + SIGTERM)


async def test_slots_are_shared_fairly_between_jobs(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    """Two slots, two wide jobs: each gets a slot, even though the first could take both."""
    cfg = """
[types.wide]
params.n = { required = true }
items = ["1", "2", "3", "4", "5", "6", "7", "8"]
command = ["sleep", "0.2"]
parallel = 4
"""
    svc = await services(write_config(cfg), slots=2)
    a = await svc.submit("wide", {"n": "a"})
    b = await svc.submit("wide", {"n": "b"})
    samples = both = 0

    async def both_jobs() -> tuple[Job, Job]:
        """Both jobs in one read (two reads could see a slot move from one to the other)."""
        jobs = {j.id: j for j in await svc.store.list_jobs()}
        return jobs[a.id], jobs[b.id]

    while not (pair := await both_jobs())[0].status.finished:
        ja, jb = pair
        assert ja.running + jb.running <= 2
        if ja.running + jb.running == 2:
            samples += 1
            both += ja.running == 1 and jb.running == 1
        await asyncio.sleep(0.01)
    # While both slots were busy, each job held one (the first job took both when the
    # oldest job won every slot that freed).
    assert samples > 20 and both / samples > 0.8, (both, samples)
    ja = pair[0]
    b_done = await wait_finished(svc, b.id)
    assert b_done.finished is not None and ja.finished is not None
    assert b_done.finished - ja.finished < 0.5


async def test_watch_since_a_revision_delivers_what_changed_before_it_started(
    services: Open, write_config: Callable[[str], Path]
) -> None:
    """The dashboard reads its first rows before its feed starts: nothing in between is lost."""
    svc = await services(write_config(ECHO3), engine=False)
    rev = await svc.store.rev()
    job = await svc.submit("echo3")  # after the first rows were read, before the feed
    feed = svc.watch(0.05, since=rev)
    changes = await asyncio.wait_for(anext(feed), 5)
    assert job.id in [j.id for j in changes.jobs]
    await feed.aclose()
    # Without `since` the feed starts from now: that job is old news.
    feed = svc.watch(0.05)
    first = asyncio.ensure_future(anext(feed))
    await asyncio.sleep(0.2)
    assert not first.done()
    first.cancel()


async def test_an_engine_without_job_types_claims_nothing_and_logs_no_error(
    services: Open, write_config: Callable[[str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    """A dashboard opened without a config runs an engine with no types: it claims nothing,
    quietly (SQLite has no plan for the claim's `type_hash IN ()`: an error every poll)."""
    svc = await services(write_config("[jobdash]\nadmins = ['root']\n"))
    assert await svc.store.has_claimable(frozenset()) is False
    assert await svc.store.claim(Claimant("tool", "tool", 4, 15.0, frozenset())) == []
    await asyncio.sleep(0.5)  # the engine's claim loop looks every 0.1 s
    assert [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "WARNING")] == []
