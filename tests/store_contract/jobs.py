"""What the contract tests build on: jobs to create, waiting for a condition, worker
processes started together."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobdash.core.model import TaskStatus
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Claim, Claimant, NewJob, NewTask, Outcome
from tests.conftest import new_job

DEADLINE = 30.0  # generous: a condition not met by then is not coming


def commands(name: str, tasks: int = 1, **fields: Any) -> NewJob:
    """A job of `tasks` command tasks named name1, name2… (no backoff between attempts)."""
    return new_job(
        name,
        [NewTask(f"{name}{i}", f"{name}{i}", "command", None) for i in range(1, tasks + 1)],
        **({"backoff": 0.0} | fields),
    )


async def until(cond: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until `cond()` holds (no timed assertion: the deadline only ends a hang)."""
    end = time.monotonic() + DEADLINE
    while not await cond():
        assert time.monotonic() < end, f"still not {what} after {DEADLINE}s"
        await asyncio.sleep(0.01)


async def finish(store: Store, c: Claim, owner: str, ok: bool = True) -> bool:
    """Report an attempt's end as its owner."""
    status = TaskStatus.SUCCEEDED if ok else TaskStatus.FAILED
    return await store.complete(Outcome(c.task_id, c.attempt, owner, status))


async def run_all(store: Store, owner: str = "runner") -> None:
    """Admit and succeed every task until no job is left to run."""
    while True:
        await store.admit()
        claims = await store.claim(Claimant(owner, owner, 100, 600))
        if not claims:
            return
        for c in claims:
            assert await finish(store, c, owner)


@contextmanager
def workers(
    tmp_path: Path, location: str, role: str, n: int, *args: str
) -> Iterator[list[subprocess.Popen[str]]]:
    """`n` worker processes playing `role` on the store, started together; killed after."""
    go = tmp_path / f"go-{role}"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.store_contract.worker",
                role,
                location,
                str(go),
                f"{role}-{i}",
                *args,
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parent.parent.parent,
        )
        for i in range(n)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            assert json.loads(p.stdout.readline()) == ["ready"]
        go.touch()
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            if p.stdout:
                p.stdout.close()


def said(proc: subprocess.Popen[str]) -> list[list[Any]]:
    """Everything a worker said until it ended (it must end well)."""
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    return [json.loads(line) for line in out.splitlines()]
