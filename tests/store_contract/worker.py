"""A real process using a store, for the contract tests about several processes.

`python -m tests.store_contract.worker ROLE LOCATION GO NAME [ARG]` opens the store at
LOCATION, says `ready`, waits for the file GO to exist (so that all workers start together),
plays ROLE as owner NAME and prints one JSON line per thing it saw. Only the Store protocol
is used, as any process sharing the store would.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from jobdash.core.model import JobStatus, Refused, TaskStatus
from jobdash.core.store.base import Store, open_store
from jobdash.core.store.engine_records import Claimant, Outcome
from jobdash.core.store.records import JobFilter
from tests.store_contract.jobs import commands

DEADLINE = 60.0  # a worker that runs this long has hung: it says so and stops


def say(*what: object) -> None:
    print(json.dumps(what), flush=True)


async def wait_for_start(go: Path) -> None:
    say("ready")
    while not go.exists():
        await asyncio.sleep(0.005)


async def active(store: Store) -> list[int]:
    return [j.id for j in await store.list_jobs(JobFilter(active=True))]


async def claim(store: Store, me: str) -> None:
    """Claim and finish tasks until no job is left: fail each attempt before the third (the
    jobs have two retries, no backoff), so that every task comes back twice."""
    end = time.monotonic() + DEADLINE
    while await active(store) and time.monotonic() < end:
        for c in await store.claim(Claimant(me, me, 2, 600)):
            say("claimed", c.task_id, c.attempt)
            ended = TaskStatus.SUCCEEDED if c.attempt >= 3 else TaskStatus.FAILED
            say(
                "completed",
                c.task_id,
                c.attempt,
                await store.complete(Outcome(c.task_id, c.attempt, me, ended)),
            )


async def admit(store: Store, me: str) -> None:
    """Admit, look how many jobs run at once (they all share a lock), finish a task; until
    no job is left."""
    end = time.monotonic() + DEADLINE
    last: list[int] = []
    while await active(store) and time.monotonic() < end:
        await store.admit()
        running = await store.list_jobs(JobFilter(active=True))
        look = [j.id for j in running if j.status is JobStatus.RUNNING]
        if look != last:  # said when it changes (an unread pipe must not fill up)
            say("running", look)
            last = look
        for c in await store.claim(Claimant(me, me, 1, 600)):
            await store.complete(Outcome(c.task_id, c.attempt, me, TaskStatus.SUCCEEDED))


async def fire(store: Store, me: str, fire_time: str) -> None:
    """Start the job of schedule "nightly" for that fire time."""
    try:
        job = await store.create_job(
            commands("nightly", schedule_id="nightly", fire_time=float(fire_time))
        )
        say("created", job.id)
    except Refused as e:
        say("refused", str(e))


async def lease(store: Store, me: str) -> None:
    """Take the leader lease for a long time."""
    say("lease", await store.acquire_lease("leader", me, 3600))


async def submit(store: Store, me: str) -> None:
    """Submit a job, say its id, and hang there until killed (never closing the store)."""
    job = await store.create_job(commands("durable", tasks=3))
    say("created", job.id)
    await asyncio.sleep(3600)


async def feed(store: Store, me: str, count: str) -> None:
    """Submit `count` jobs, one write each."""
    for _ in range(int(count)):
        say("created", (await store.create_job(commands("fed"))).id)


ROLES: dict[str, Callable[..., Awaitable[None]]] = {
    "claim": claim,
    "admit": admit,
    "fire": fire,
    "lease": lease,
    "submit": submit,
    "feed": feed,
}


async def main(role: str, location: str, go: str, me: str, *args: str) -> None:
    store = await open_store(location)
    try:
        await wait_for_start(Path(go))
        await ROLES[role](store, me, *args)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
