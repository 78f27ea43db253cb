"""A PostgreSQL writer stopped in the middle of a write transaction gives the store back.

A frozen process (SIGSTOP, a paused VM) or a host cut off from the network, stopped while
its transaction holds the store's lock, must not stop every other writer (and every feed,
held at the watermark) for good: the server ends that transaction once it has waited
`IDLE_IN_TRANSACTION` for the writer. The server starts that clock only once it has
answered every statement sent (a Sync of the protocol), so these tests stop the hot paths'
transactions, a claim and a batch of outcomes, in their middle, with statements sent and
answered, and time another process's write. Until 2026-12-02 both ran in pipeline mode,
which left the server waiting without that clock: the other write waited until the stopped
writer woke (a CI run saw an agent fail to register beside a SIGSTOPped one).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from jobdash.core.model import TaskStatus
from jobdash.core.store.base import Store, open_store
from jobdash.core.store.engine_records import Claimant, Outcome
from jobdash.core.store.faults import StoreError
from jobdash.core.store.postgres import claims as pg_claims
from jobdash.core.store.postgres import db as pg_db
from jobdash.core.store.sql import flush as sql_flush
from tests.pg import fresh_pg_store
from tests.store_contract.jobs import commands

STOPPED = 5.0  # seconds the writer stays stopped in its transaction
IDLE = "1s"  # the server's bound in these tests (IDLE_IN_TRANSACTION)

Stuck = tuple[Store, int]


@pytest.fixture
def location(request: pytest.FixtureRequest) -> str:
    return fresh_pg_store(request)


@pytest.fixture
async def stuck(location: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stuck]:
    """A store (the server's bound IDLE) with a job "stuck" of one task, admitted."""
    monkeypatch.setattr(pg_db, "IDLE_IN_TRANSACTION", IDLE)
    store = await open_store(location)
    try:
        job = await store.create_job(commands("stuck"))
        await store.admit()
        yield store, job.id
    finally:
        await store.close()


def stopping(real: Callable[..., Any], stopped: threading.Event) -> Callable[..., Any]:
    """`real`, after which the writer's thread stops for STOPPED seconds, as a frozen
    process would, its transaction open and the store's lock held."""

    def stop_after(*args: Any) -> Any:
        result = real(*args)
        stopped.set()
        time.sleep(STOPPED)
        return result

    return stop_after


async def stop_in(
    location: str, monkeypatch: pytest.MonkeyPatch, module: Any, name: str, write: Any
) -> None:
    """Run `write` (a store's coroutine), its writer stopped right after `module.name`;
    another process's write (a submission: it takes the store's lock exclusively), started
    once the writer has stopped, must not wait for it. The stopped write then ends (failed:
    the server ended its transaction), and the patch is undone."""
    stopped = threading.Event()
    monkeypatch.setattr(module, name, stopping(getattr(module, name), stopped))
    pending = asyncio.ensure_future(write)
    await asyncio.to_thread(stopped.wait, 30)
    assert stopped.is_set(), "the writer never reached the point where it stops"
    other = await open_store(location)
    try:
        t0 = time.monotonic()
        await other.create_job(commands("other"))
        waited = time.monotonic() - t0
    finally:
        await other.close()
    assert waited < STOPPED - 2, f"another write waited {waited:.1f} s for a stopped writer"
    with contextlib.suppress(StoreError):
        await pending
    monkeypatch.undo()


async def test_a_writer_stopped_in_a_claim_gives_the_store_back(
    stuck: Stuck, location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, job = stuck
    claim = store.claim(Claimant("a", "a", 1, 600))
    await stop_in(location, monkeypatch, pg_claims, "claim_in", claim)
    # The server ended the stopped claim's transaction: its task was never claimed.
    (again,) = await store.claim(Claimant("b", "b", 1, 600))
    (task,) = await store.tasks(job)
    assert (again.attempt, task.attempt, task.agent) == (1, 1, "b")


async def test_a_writer_stopped_in_a_batch_of_outcomes_gives_the_store_back(
    stuck: Stuck, location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, job = stuck
    (c,) = await store.claim(Claimant("a", "a", 1, 600))
    done = store.complete(Outcome(c.task_id, c.attempt, "a", TaskStatus.SUCCEEDED))
    await stop_in(location, monkeypatch, sql_flush, "complete_in", done)
    # Nothing of the stopped batch was kept: the task still runs, its outcome unwritten.
    (task,) = await store.tasks(job)
    assert (task.status, task.attempt) == (TaskStatus.RUNNING, 1)
