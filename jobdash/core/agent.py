"""The agent: claims tasks from the store, runs them, heart-beats, obeys cancel and pause.

Every agent also does the store's housekeeping (admitting queued jobs past their locks,
recovering tasks whose agent died), so any live process keeps the whole store moving.
Those steps are transactions in the store and safe to run from many processes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass

from jobdash import __version__
from jobdash.core.model import AgentInfo, JobStatus, TaskStatus
from jobdash.core.runners import CommandRun, FunctionRun, Run
from jobdash.core.store.sqlite import Claim, Outcome, SqliteStore

log = logging.getLogger("jobdash.agent")

LEASE = 15.0  # seconds a claim lasts without renewal
HEARTBEAT = 3.0  # seconds between heartbeats (lease renewals)
RECOVER_EVERY = 2.0  # seconds between sweeps for tasks of dead agents
POLL = 0.1  # seconds between looks at the store when nothing woke us
# A dead agent's tasks are recovered within LEASE + RECOVER_EVERY (+ one poll): < 30 s.
STALE_AFTER = 3 * HEARTBEAT + 1  # an agent silent this long is shown stale
OFFLINE_AFTER = LEASE * 4


@dataclass
class AgentOptions:
    name: str | None = None
    slots: int = 4
    lease: float = LEASE
    heartbeat: float = HEARTBEAT
    housekeeping: bool = True


def agent_state(state: str, heartbeat: float, now: float | None = None) -> str:
    """The state to show: what the agent said, or stale/offline when it went silent."""
    if state == "offline":
        return state
    age = (now or time.time()) - heartbeat
    if age > OFFLINE_AFTER:
        return "offline"
    if age > STALE_AFTER:
        return "stale"
    return state


class Agent:
    def __init__(self, store: SqliteStore, options: AgentOptions | None = None) -> None:
        opts = options or AgentOptions()
        self.store = store
        self.opts = opts
        self.host = socket.gethostname()
        self.name = opts.name or f"{self.host}-{os.getpid()}"
        self.owner = f"{self.name}/{uuid.uuid4().hex[:12]}"
        self.slots = opts.slots
        self.runs: dict[int, Run] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._draining = False
        self._paused: set[int] = set()
        self._done = 0
        self._failed = 0
        self._loops: list[asyncio.Task[None]] = []
        self.stopped = asyncio.Event()

    # ----------------------------------------------------------------- life

    async def start(self) -> None:
        await self.store.register_agent(
            AgentInfo(self.name, self.host, os.getpid(), __version__, self.slots, 0, "idle",
                      time.time(), time.time()),
            self.owner,
        )
        self.store.on_commit.append(self.wake)
        loop = asyncio.get_running_loop()
        self._loops = [
            loop.create_task(self._claim_loop(), name="jobdash-claim"),
            loop.create_task(self._heartbeat_loop(), name="jobdash-heartbeat"),
            loop.create_task(self._watch_loop(), name="jobdash-watch"),
        ]
        if self.opts.housekeeping:
            self._loops.append(loop.create_task(self._housekeeping_loop(), name="jobdash-house"))

    def wake(self) -> None:
        self._wake.set()

    @property
    def state(self) -> str:
        if self._draining:
            return "draining"
        return "busy" if self.runs else "idle"

    async def shutdown(self, timeout: float = 30.0, now: bool = False) -> None:
        """Stop claiming; let running tasks finish within `timeout` (none when `now`), then
        stop the rest and release their claims so another agent takes them at once."""
        self._stopping = True
        self.wake()
        if self._tasks and not now:
            await asyncio.wait(list(self._tasks.values()), timeout=timeout)
        left = dict(self.runs)
        for run in left.values():
            run.fenced = True  # their outcome is not recorded: the claim is given back
        await asyncio.gather(*(r.stop(force=now) for r in left.values()), return_exceptions=True)
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=10)
        with contextlib.suppress(Exception):
            await self.store.release(self.owner, [r.claim.task_id for r in left.values()])
        for t in self._loops:
            t.cancel()
        for t in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        with contextlib.suppress(ValueError):
            self.store.on_commit.remove(self.wake)
        with contextlib.suppress(Exception):
            await self.store.flush()
            await self.store.agent_offline(self.name, self.owner)
        self.stopped.set()

    # ----------------------------------------------------------------- loops

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _claim_loop(self) -> None:
        while not self._stopping:
            free = self.slots - len(self.runs)
            if free > 0 and not self._draining and await self._claimable():
                try:
                    claims = await self.store.claim(self.owner, self.name, free, self.opts.lease)
                except Exception:
                    log.exception("claim failed")
                    claims = []
                for c in claims:
                    self._start(c)
                if claims:
                    continue
            await self._sleep(POLL)

    async def _claimable(self) -> bool:
        try:
            return await self.store.has_claimable()
        except Exception:
            log.exception("store read failed")
            return False

    def _start(self, claim: Claim) -> None:
        run: Run = (
            CommandRun(claim, self.store)
            if claim.kind == "command"
            else FunctionRun(claim, self.store)
        )
        self.runs[claim.task_id] = run
        self._tasks[claim.task_id] = asyncio.get_running_loop().create_task(
            self._supervise(run), name=f"jobdash-task-{claim.task_id}"
        )

    async def _supervise(self, run: Run) -> None:
        c = run.claim
        try:
            result = await run.wait()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug in a runner must not take the agent down
            log.exception("task %s crashed", c.task_id)
            from jobdash.core.runners import Result

            result = Result(TaskStatus.FAILED, None, f"internal error: {e}")
        finally:
            self.runs.pop(c.task_id, None)
            self._tasks.pop(c.task_id, None)
            self._paused.discard(c.task_id)
        if run.fenced:
            return
        ok = await self.store.complete(
            Outcome(c.task_id, c.attempt, self.owner, result.status, result.exit_code, result.error)
        )
        if not ok:
            log.warning("task %s attempt %s: result rejected (no longer held)", c.task_id, c.attempt)
        elif result.status is TaskStatus.SUCCEEDED:
            self._done += 1
        elif result.status is TaskStatus.FAILED:
            self._failed += 1
        self.wake()

    async def _heartbeat_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.opts.heartbeat)
            held_before = set(self.runs)
            done, failed = self._done, self._failed
            try:
                held, drain = await self.store.heartbeat(
                    self.name, self.owner, len(self.runs), self.state, self.opts.lease,
                    done, failed,
                )
            except Exception:
                log.exception("heartbeat failed")
                continue
            self._done -= done
            self._failed -= failed
            if drain and not self._draining:
                self._draining = True
            for task_id in held_before - held:
                run = self.runs.get(task_id)
                if run is not None and not run.fenced:
                    # Our claim was taken over (we were too slow): stop the work, drop the result.
                    log.warning("task %s: claim lost; stopping it", task_id)
                    run.fenced = True
                    asyncio.ensure_future(run.stop(force=True))

    async def _watch_loop(self) -> None:
        """Follow the jobs of our running tasks: cancel and pause act on the real work."""
        while not self._stopping:
            await asyncio.sleep(0.2)
            runs = list(self.runs.values())
            if not runs:
                continue
            try:
                statuses = await self.store.job_statuses(list({r.claim.job_id for r in runs}))
            except Exception:
                log.exception("watch failed")
                continue
            for run in runs:
                status, force = statuses.get(run.claim.job_id, (JobStatus.CANCELLING, True))
                tid = run.claim.task_id
                if status is JobStatus.CANCELLING:
                    if not run.stopping or force:
                        asyncio.ensure_future(run.stop(force=force))
                elif status is JobStatus.PAUSED and tid not in self._paused:
                    run.pause()
                    self._paused.add(tid)
                elif status is not JobStatus.PAUSED and tid in self._paused:
                    run.resume()
                    self._paused.discard(tid)

    async def _housekeeping_loop(self) -> None:
        last_recover = 0.0
        while not self._stopping:
            try:
                if await self.store.has_jobs_to_admit():
                    await self.store.admit()
                if time.monotonic() - last_recover > RECOVER_EVERY:
                    last_recover = time.monotonic()
                    if await self.store.has_lost_tasks():
                        await self.store.recover_lost()
            except Exception:
                log.exception("housekeeping failed")
            await asyncio.sleep(POLL)
