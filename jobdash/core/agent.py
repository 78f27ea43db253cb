"""The agent: claims tasks from the store, runs them, heart-beats, obeys cancel and pause.

Every agent also does the store's housekeeping (admitting queued jobs past their locks,
recovering tasks whose agent died), so any live process keeps the whole store moving.
Those steps are transactions in the store and safe to run from many processes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import socket
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobdash import __version__
from jobdash.core.alarm import Alarm
from jobdash.core.catalogue import Catalogue, Unrunnable
from jobdash.core.model import AgentInfo, JobStatus, TaskStatus
from jobdash.core.processes import encode_env, killpg
from jobdash.core.runners import CommandRun, FunctionRun, RefusedRun, Run
from jobdash.core.store.base import Store
from jobdash.core.store.records import Claim, Claimant, Outcome

if TYPE_CHECKING:
    from jobdash.core.reports import Reporter

log = logging.getLogger("jobdash.agent")


def env_seconds(name: str, default: float) -> float:
    """A duration from the environment (tests and tuning), else the default (also instead
    of infinity: a lease that never runs out would never recover a dead agent's tasks)."""
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if 0 < value < math.inf else default


# Recovery bound. An agent renews its claims every HEARTBEAT; a claim not renewed for LEASE
# runs out. Every live agent sweeps for run-out claims every RECOVER_EVERY and re-queues
# them; a free agent claims them within POLL. So a dead (or hung) agent's tasks run again
# at most LEASE + RECOVER_EVERY + POLL (+ one store transaction) after its last heartbeat:
# 15 + 2 + 0.1 ≈ 17 s by default, under the 30 s target. On the same host it is faster: a
# sweep also looks whether each agent's process still exists, and ends the leases of a
# killed one at once (so a restarted `jobdash serve` re-runs them within RECOVER_EVERY).
# JOBDASH_LEASE and JOBDASH_HEARTBEAT (or `serve --lease`) change the first two.
LEASE = env_seconds("JOBDASH_LEASE", 15.0)  # seconds a claim lasts without renewal
HEARTBEAT = env_seconds("JOBDASH_HEARTBEAT", min(3.0, LEASE / 5))  # between renewals
RECOVER_EVERY = 2.0  # seconds between sweeps for tasks of dead agents
WAITS_EVERY = 1.0  # seconds between looks at why running jobs run nothing
PRUNE_EVERY = 600.0  # seconds between retention sweeps (the first one at start)
POLL = 0.1  # seconds between looks at the store when nothing woke us
REPORT_EVERY = 1.0  # seconds between looks for execution reports to send
STALE_AFTER = 3 * HEARTBEAT + 1  # an agent silent this long is shown stale
OFFLINE_AFTER = LEASE * 4
HURRY_WAIT = 2.0  # after a second signal, seconds stopped tasks get to end before we exit


def pid_alive(pid: int) -> bool:
    """True while process `pid` exists on this host and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2 :][:1] != "Z"


def leftover_groups(owners: list[str]) -> set[int]:
    """Process groups of command attempts started by these (dead) agents, found by the
    JOBDASH_AGENT_OWNER variable each attempt gets (also when it was killed before the store
    recorded its group)."""
    wanted = {o.encode() for o in owners}
    groups: set[int] = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                env = Path(entry.path, "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            for kv in env:
                if kv.startswith(b"JOBDASH_AGENT_OWNER=") and kv[20:] in wanted:
                    with contextlib.suppress(OSError):
                        groups.add(os.getpgid(int(entry.name)))
                    break
    return groups


@dataclass
class AgentOptions:
    name: str | None = None
    slots: int = 4
    lease: float = LEASE
    heartbeat: float = HEARTBEAT
    housekeeping: bool = True
    # End the leases of dead agents of this host at once (JOBDASH_PID_CHECK=0: leases only).
    pid_check: bool = os.environ.get("JOBDASH_PID_CHECK", "1") != "0"
    reporter: Reporter | None = None  # sends execution reports (housekeeping)
    retention: float | None = None  # seconds finished jobs are kept (config `retention`)
    agent_retention: float = 86400.0  # seconds an agent that went silent stays listed


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
    def __init__(
        self,
        store: Store,
        options: AgentOptions | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        """`catalogue`: the job types this agent runs (its own configuration's); it claims
        only tasks of jobs whose type hash is among them (none without one)."""
        opts = options or AgentOptions()
        self.store = store
        self.opts = opts
        self.catalogue = catalogue or Catalogue({})
        self.host = socket.gethostname()
        self.name = opts.name or f"{self.host}-{os.getpid()}"
        self.owner = f"{self.name}/{uuid.uuid4().hex[:12]}"
        self.slots = opts.slots
        self.runs: dict[int, Run] = {}
        self._alone = 0  # running suspect tasks: nothing is claimed beside one
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._wake = Alarm()
        self._stopping = False
        self._draining = False
        self._paused: set[int] = set()
        self._lost: set[int] = set()  # claims taken over: their late result is still sent
        self._fenced: set[int] = set()  # stopped at shutdown: their claims are given back
        self._hurry = False
        self._bg: set[asyncio.Future[None]] = set()
        self._report_task: asyncio.Task[int] | None = None
        self._done = 0
        self._failed = 0
        self._loops: list[asyncio.Task[None]] = []
        self.stopped = asyncio.Event()
        # The environment of command tasks: ours when the agent was made (reading os.environ
        # costs more per command than the rest of starting it), and the variable by which a
        # restarted engine finds what a dead agent's commands left running.
        self._command_env = encode_env({**os.environ, "JOBDASH_AGENT_OWNER": self.owner})

    # ----------------------------------------------------------------- life

    async def start(self) -> None:
        if self.opts.pid_check:
            # A previous incarnation under our name (restart after kill -9): its claims go now.
            with contextlib.suppress(Exception):
                await self._expire_dead()
        await self.store.register_agent(
            AgentInfo(
                self.name,
                self.host,
                os.getpid(),
                __version__,
                self.slots,
                0,
                "idle",
                time.time(),
                time.time(),
            ),
            self.owner,
        )
        self.store.on_commit.append(self.wake)
        if self.store.refill is None:
            self.store.refill = self
        loop = asyncio.get_running_loop()
        self._loops = [
            loop.create_task(self._claim_loop(), name="jobdash-claim"),
            loop.create_task(self._heartbeat_loop(), name="jobdash-heartbeat"),
            loop.create_task(self._watch_loop(), name="jobdash-watch"),
        ]
        if self.opts.housekeeping:
            self._loops.append(loop.create_task(self._housekeeping_loop(), name="jobdash-house"))

    def wake(self) -> None:
        self._wake.ring()

    @property
    def state(self) -> str:
        """What the heartbeat reports; the store shows draining while the drain flag is
        set, whatever this says, so an undrain is not undone by a heartbeat."""
        if self._stopping:
            return "draining"
        return "busy" if self.runs else "idle"

    def hurry(self) -> None:
        """Stop at once (a second signal): kill every running task now; its claim is given
        back by `shutdown`, not recorded as a result."""
        self._hurry = True
        self._stopping = True
        self.wake()
        for run in list(self.runs.values()):
            run.fenced = True
            self._background(run.stop(force=True))

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` on its own, keeping a reference until it ends."""
        task = asyncio.ensure_future(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    async def shutdown(self, timeout: float = 30.0, now: bool = False) -> None:
        """Stop claiming; let running tasks finish within `timeout` (none when `now`), then
        stop the rest and release their claims so another agent takes them at once.
        Heartbeats go on meanwhile, so the claims of tasks still finishing stay ours.
        `hurry()` (a second signal) cuts the wait short."""
        self._stopping = True
        self.wake()
        if now:
            self.hurry()
        deadline = time.monotonic() + timeout
        while self._tasks and not self._hurry and time.monotonic() < deadline:
            await asyncio.wait(
                list(self._tasks.values()), timeout=min(0.1, max(0.0, deadline - time.monotonic()))
            )
        left = dict(self.runs)
        for run in left.values():
            run.fenced = True  # their outcome is not recorded: the claim is given back
        await asyncio.gather(
            *(r.stop(force=self._hurry) for r in left.values()), return_exceptions=True
        )
        if self._tasks:
            await asyncio.wait(
                list(self._tasks.values()), timeout=HURRY_WAIT if self._hurry else 10
            )
        give_back = self._fenced | {r.claim.task_id for r in left.values()}
        with contextlib.suppress(Exception):
            await self.store.release(self.owner, sorted(give_back))
        loops = [*self._loops, *([self._report_task] if self._report_task else [])]
        for t in loops:
            t.cancel()
        for t in loops:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        with contextlib.suppress(ValueError):
            self.store.on_commit.remove(self.wake)
        if self.store.refill is self:
            self.store.refill = None
        with contextlib.suppress(Exception):
            await self.store.flush()
            await self.store.agent_offline(self.name, self.owner, self._done, self._failed)
        self.stopped.set()

    # ----------------------------------------------------------------- loops

    async def _sleep(self, seconds: float) -> None:
        await self._wake.wait(seconds)

    def _free(self) -> int:
        """Slots to claim for now (counted inside the claim transaction)."""
        if self._stopping or self._draining or self._alone:
            return 0
        return self.slots - len(self.runs)

    def _idle(self) -> bool:
        return not self.runs

    def want(self) -> Claimant | None:
        """The store's flush recording our outcomes claims for the slots they freed (Refill):
        one transaction instead of a completion and then a claim."""
        free = self._free()
        if free <= 0:
            return None
        return Claimant(
            self.owner, self.name, free, self.opts.lease, self.catalogue.hashes, self._idle()
        )

    def started(self, claims: list[Claim]) -> None:
        for c in claims:
            self._start(c)

    async def _claim_loop(self) -> None:
        while not self._stopping:
            if self._free() > 0 and await self._claimable():
                try:
                    claims = await self.store.claim(
                        self.owner,
                        self.name,
                        self._free,
                        self.opts.lease,
                        self.catalogue.hashes,
                        self._idle,
                    )
                except Exception:
                    self.store.report_failure(log, "claim failed")
                    claims = []
                for c in claims:
                    self._start(c)
                if claims:
                    continue
            await self._sleep(POLL)

    async def _claimable(self) -> bool:
        try:
            return await self.store.has_claimable(self.catalogue.hashes, self._idle())
        except Exception:
            self.store.report_failure(log, "store read failed")
            return False

    def _start(self, claim: Claim) -> None:
        """Run a claim: what runs comes from our catalogue, never from the task's row."""
        run: Run
        try:
            work = self.catalogue.work(claim)
        except Unrunnable as e:
            run = RefusedRun(claim, self.store, str(e))
        else:
            if work.argv is not None:
                run = CommandRun(claim, self.store, work.argv, env=self._command_env)
            else:
                assert work.function is not None
                run = FunctionRun(claim, self.store, work.function, work.module)
        self.runs[claim.task_id] = run
        self._alone += claim.alone
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
            if self.runs.pop(c.task_id, None) is not None:
                self._alone -= c.alone
            self._tasks.pop(c.task_id, None)
            self._paused.discard(c.task_id)
        lost = c.task_id in self._lost
        self._lost.discard(c.task_id)
        if run.fenced and not lost:
            self._fenced.add(c.task_id)
            return
        # A claim taken over still sends its (late) result: the store's fencing rejects it.
        ok = await self._record(
            Outcome(c.task_id, c.attempt, self.owner, result.status, result.exit_code, result.error)
        )
        if not ok:
            log.warning("task %s attempt %s: late result rejected", c.task_id, c.attempt)
            self.store.append_log_nowait(
                c.job_id,
                c.task_id,
                "system",
                f"{c.name}: late result of attempt {c.attempt} from agent {self.name} "
                f"({result.status}) rejected: the claim was taken over",
                c.attempt,
            )
        elif result.status is TaskStatus.SUCCEEDED:
            self._done += 1
        elif result.status is TaskStatus.FAILED:
            self._failed += 1
        self.wake()

    async def _record(self, outcome: Outcome) -> bool:
        """Record an outcome, retrying while the store fails (a full disk, say): until it
        is recorded our heartbeat keeps the claim, so giving up would strand the task."""
        delay = 0.5
        while True:
            try:
                return await self.store.complete(outcome)
            except Exception:
                self.store.report_failure(
                    log, "recording task %s failed; retrying", outcome.task_id
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _heartbeat_loop(self) -> None:
        # Runs until shutdown cancels it: tasks finishing during a graceful stop keep their
        # claims alive.
        while True:
            await asyncio.sleep(self.opts.heartbeat)
            held_before = set(self.runs)
            done, failed = self._done, self._failed
            try:
                held, drain = await self.store.heartbeat(
                    self.name,
                    self.owner,
                    self.state,
                    self.opts.lease,
                    done,
                    failed,
                )
            except Exception:
                self.store.report_failure(log, "heartbeat failed")
                continue
            self._done -= done
            self._failed -= failed
            self._draining = drain  # an undrain (drain flag cleared) lets it claim again
            taken: list[tuple[int, int]] = []
            for task_id in held_before - held:
                run = self.runs.get(task_id)
                if run is not None and not run.fenced:
                    # Our claim was taken over (we were stopped or too slow): stop the work.
                    log.warning("task %s: claim lost; stopping it", task_id)
                    run.fenced = True
                    self._lost.add(task_id)
                    c = run.claim
                    self.store.append_log_nowait(
                        c.job_id,
                        task_id,
                        "system",
                        f"{c.name}: agent {self.name} lost the claim on attempt {c.attempt} "
                        "(taken over); stopping that attempt",
                        c.attempt,
                    )
                    self._background(run.stop(force=True))
                    taken.append((task_id, c.attempt))
            if taken:
                # We are alive: a death charged to those tasks for our loss was no death.
                try:
                    await self.store.withdraw_deaths(self.owner, self.name, taken)
                except Exception:
                    self.store.report_failure(log, "withdrawing charged deaths failed")

    async def _watch_loop(self) -> None:
        """Follow the jobs of our running tasks: cancel and pause act on the real work."""
        while True:  # also while a graceful stop lets tasks finish
            await asyncio.sleep(0.2)
            runs = list(self.runs.values())
            if not runs:
                continue
            try:
                statuses = await self.store.job_statuses(list({r.claim.job_id for r in runs}))
            except Exception:
                self.store.report_failure(log, "watch failed")
                continue
            for run in runs:
                status, force = statuses.get(run.claim.job_id, (JobStatus.CANCELLING, True))
                tid = run.claim.task_id
                if status is JobStatus.CANCELLING:
                    if not run.stopping or force:
                        self._background(run.stop(force=force))
                elif status is JobStatus.PAUSED and tid not in self._paused:
                    run.pause()
                    self._paused.add(tid)
                elif status is not JobStatus.PAUSED and tid in self._paused:
                    run.resume()
                    self._paused.discard(tid)

    async def _housekeeping_loop(self) -> None:
        last_recover = last_report = last_waits = 0.0
        last_prune = last_agents_prune = -PRUNE_EVERY
        while not self._stopping:
            try:
                live_after = time.time() - STALE_AFTER
                if await self.store.has_jobs_to_admit():
                    await self.store.admit(live_after)
                if time.monotonic() - last_recover > RECOVER_EVERY:
                    last_recover = time.monotonic()
                    if self.opts.pid_check:
                        await self._expire_dead()
                    if await self.store.has_lost_tasks():
                        await self.store.recover_lost()
                if time.monotonic() - last_waits > WAITS_EVERY:
                    last_waits = time.monotonic()
                    await self.store.note_waits(live_after)
                if self.opts.reporter is not None and time.monotonic() - last_report > REPORT_EVERY:
                    last_report = time.monotonic()
                    self._start_reports(self.opts.reporter)
                if self.opts.retention and time.monotonic() - last_prune > PRUNE_EVERY:
                    last_prune = time.monotonic()
                    pruned = await self.store.prune(time.time() - self.opts.retention)
                    if pruned:
                        log.info("retention: %d finished jobs removed", pruned)
                if time.monotonic() - last_agents_prune > PRUNE_EVERY:
                    last_agents_prune = time.monotonic()
                    await self.store.prune_agents(time.time() - self.opts.agent_retention)
            except Exception:
                self.store.report_failure(log, "housekeeping failed")
            await asyncio.sleep(POLL)

    async def _expire_dead(self) -> None:
        """Agents of this host whose process is gone: their claims end now, and what their
        command attempts left running is killed (it must not run beside the next attempt)."""
        dead, owners, pgids = await self.store.expire_dead_agents(self.host, pid_alive)
        if not dead:
            return
        log.warning("agents gone: %s; recovering their tasks", ", ".join(dead))
        for pgid in set(pgids) | leftover_groups(owners):
            if pgid != os.getpgrp():
                killpg(pgid, signal.SIGKILL)

    def _start_reports(self, reporter: Reporter) -> None:
        """Send due reports in the background: a slow mail server never holds up the loop."""
        if self._report_task is not None and not self._report_task.done():
            return

        async def send() -> int:
            try:
                if await self.store.has_due_reports():
                    return await reporter.run_due()
            except Exception:
                self.store.report_failure(log, "sending reports failed")
            return 0

        self._report_task = asyncio.get_running_loop().create_task(send(), name="jobdash-reports")
