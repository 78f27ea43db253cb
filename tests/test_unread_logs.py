"""Unread logs through the Service and the command line: a real engine runs a command that
writes output, warnings and errors; `jobdash logs` (a real subprocess on the same SQLite
file) marks what it printed read; one task's log marks nothing; `show` says what is unread."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jobdash.core.identity import real_user
from jobdash.core.model import Unread
from jobdash.core.service import Service
from tests.conftest import run_cli, wait_finished

Open = Callable[..., Awaitable[Service]]

CONFIG = """
[types.noisy]
items = ["a", "b"]
command = ["sh", "-c", "echo {item} one; echo 'warning: {item} two' >&2; echo {item} three >&2"]
"""


@pytest.fixture
async def finished(services: Open, write_config: Callable[[str], Path]) -> tuple[Service, int]:
    """The service of the user who runs the tests (the command line's user: the kernel's),
    and a finished job whose two tasks each wrote a line, a warning and an error."""
    svc = await services(write_config(CONFIG), user=real_user())
    job = await svc.submit("noisy")
    await wait_finished(svc, job.id)
    return svc, job.id


async def unread_now(location: str, job_id: int) -> Unread | None:
    """What is unread, as `jobdash show --json` (another process) says from the store."""
    shown = run_cli("--db", location, "show", str(job_id), "--json")
    assert shown.returncode == 0, shown.stderr
    unread = json.loads(shown.stdout)["unread"]
    return None if unread is None else Unread(**unread)


async def test_logs_marks_what_it_printed_read(
    finished: tuple[Service, int], store_location: str
) -> None:
    svc, job_id = finished
    assert (await svc.job(job_id)).unread == Unread(6, 2, 2)

    # One task's lines leave the other's unread: nothing is marked.
    one = run_cli("--db", store_location, "logs", str(job_id), "--task", "1")
    assert one.returncode == 0, one.stderr
    assert "a one" in one.stdout and "b one" not in one.stdout
    assert await unread_now(store_location, job_id) == Unread(6, 2, 2)

    shown = run_cli("--db", store_location, "show", str(job_id))
    assert "unread: ●6 ⚠2 ✘2 (6 unread lines: 2 warnings, 2 errors)" in shown.stdout

    done = run_cli("--db", store_location, "logs", str(job_id))
    assert done.returncode == 0, done.stderr
    assert "b three" in done.stdout
    assert await unread_now(store_location, job_id) is None
    assert "unread:" not in run_cli("--db", store_location, "show", str(job_id)).stdout

    # New lines (a retry, late output) are unread again: the mark comes back.
    await svc.store.append_log(job_id, None, "stderr", "late: it broke after all")
    await svc.store.flush()
    assert await unread_now(store_location, job_id) == Unread(1, 0, 1)
    tail = run_cli("--db", store_location, "logs", str(job_id), "--tail", "1", "--json")
    assert tail.returncode == 0 and "it broke" in tail.stdout
    assert await unread_now(store_location, job_id) is None


async def test_read_only_marks_nothing(finished: tuple[Service, int], store_location: str) -> None:
    svc, job_id = finished
    watcher = await Service.open(db=store_location, user=real_user(), read_only=True)
    try:
        last = (await watcher.logs(job_id))[-1].seq
        assert await watcher.mark_read(job_id, last) is None
    finally:
        await watcher.close()
    assert await unread_now(store_location, job_id) == Unread(6, 2, 2)
    # The service's own mark, and its jobs as it returns them.
    assert await svc.mark_read(job_id, last) is not None
    assert (await svc.jobs(f"id:{job_id}"))[0].unread is None
