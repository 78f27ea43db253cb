"""Shared fixtures: a real SQLite file per test, a service with a live engine, the CLI.

A test marked `both_backends` runs twice: on a SQLite file and on a PostgreSQL store (a
fresh schema on the `JOBDASH_TEST_PG` server, tests/pg.py; skipped, saying why, without
one). `services` opens its services on the store of the test's backend."""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

import jobdash.demo
from jobdash.core.model import Job, Trigger
from jobdash.core.service import Service
from jobdash.core.store.base import open_store
from jobdash.core.store.engine_records import NewJob, NewTask
from tests.pg import fresh_pg_store

# The demo types sleep; tests run them fast.
jobdash.demo.SPEED = 0.02

# No time limit per example: this suite runs on two workers of a two-core machine shared
# with other work, where an example's time swings twofold and more; a deadline would fail
# a property for the machine's load, not for the code (hypothesis' own advice for CI).
settings.register_profile("jobdash", deadline=None)
settings.load_profile("jobdash")


@pytest.fixture(scope="session")
def _empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store as the first command makes it (made once, copied for each test)."""
    path = tmp_path_factory.mktemp("template") / "empty.db"

    async def make() -> None:
        store = await open_store(str(path))
        await store.close()

    asyncio.run(make())
    return path


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _empty_store: Path) -> None:
    """No test reads the developer's config or store. The default store of a test exists
    already, as a user's does after their first command (which says `created store at …`);
    it sits beside the test's folder, which starts empty."""
    default = tmp_path.parent / f"{tmp_path.name}.db"
    shutil.copyfile(_empty_store, default)
    default.chmod(0o600)
    monkeypatch.setenv("JOBDASH_DB", str(default))
    monkeypatch.delenv("JOBDASH_CONFIG", raising=False)
    monkeypatch.delenv("JOBDASH_USER", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "jobdash.db"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `both_backends` runs once per backend (its `backend` parameter)."""
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_backends"
    ):
        metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The backend of the test's store: sqlite, unless the test runs on both."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def store_location(request: pytest.FixtureRequest, db_path: Path, backend: str) -> str:
    """The test's store: the SQLite file `db_path`, or a fresh PostgreSQL store."""
    return fresh_pg_store(request) if backend == "postgresql" else str(db_path)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        path = tmp_path / "jobdash.toml"
        path.write_text(text)
        return path

    return write


@pytest.fixture
async def services(store_location: str) -> AsyncIterator[Callable[..., Awaitable[Service]]]:
    """Open services (each with its own engine unless engine=False) on the test's store."""
    opened: list[Service] = []

    async def open_(
        config: Path | None = None,
        user: str = "root",
        engine: bool = True,
        slots: int = 4,
        demo: bool = False,
    ) -> Service:
        svc = await Service.open(
            db=store_location,
            config=str(config) if config else None,
            user=user,
            extra_types=jobdash.demo.DEMO_TYPES if demo else None,
        )
        opened.append(svc)
        if engine:
            await svc.start_engine(slots=slots)
        return svc

    yield open_
    for svc in reversed(opened):
        await svc.close()


async def wait_for(
    svc: Service, job_id: int, cond: Callable[[Job], bool], timeout: float = 20.0
) -> Job:
    """Poll the store until the job satisfies `cond` (the engine runs in the same loop)."""
    deadline = time.monotonic() + timeout
    while True:
        job = await svc.store.get_job(job_id)
        if cond(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.status} ({job.info}) after {timeout}s")
        await asyncio.sleep(0.05)


async def wait_finished(svc: Service, job_id: int, timeout: float = 20.0) -> Job:
    return await wait_for(svc, job_id, lambda j: j.status.finished, timeout)


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
    umask: int = -1,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `jobdash` command line in a subprocess (`umask`: its own; -1: ours;
    `input`: its standard input)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "jobdash", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
        umask=umask,
        input=input,
        check=False,
    )


def new_job(type_: str, tasks: list[NewTask], **fields: Any) -> NewJob:
    """A job to write straight into the store (as a tool or another process could)."""
    defaults: dict[str, Any] = {
        "params": {},
        "user": "root",
        "trigger": Trigger.API,
        "target": "",
        "parallel": 4,
        "cancellable": True,
        "on_lock": "wait",
        "timeout": None,
        "retries": 0,
        "backoff": 1.0,
        "lock_keys": [],
    }
    return NewJob(type=type_, tasks=tasks, **(defaults | fields))


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
LIBC = ctypes.CDLL(None, use_errno=True)
PRCTL = LIBC.prctl  # looked up before any fork: the child only calls it


def ending_with(parent: int) -> Callable[[], None]:
    """A `preexec_fn`: the child gets SIGTERM when `parent` (this process) dies, or ends at
    once if it has died already (before the request)."""

    def preexec() -> None:
        PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def start_serve(
    log: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.Popen[bytes]:
    """A real `jobdash serve` (in its own session, its output in `log`), once it is ready;
    it ends with this process (`ending_with`): start it from the test's own thread."""
    with log.open("wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobdash", "serve", *args],
            stdout=f,
            stderr=f,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            preexec_fn=ending_with(os.getpid()),  # a ctypes call only: takes no lock
        )
    deadline = time.monotonic() + timeout
    while "slots on" not in log.read_text(errors="replace"):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return proc
