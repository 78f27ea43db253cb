"""The agent: claims tasks from the store, runs them, heart-beats, obeys cancel and pause.

Its loops: claiming (for its free slots), one supervisor per running task (which records
the outcome, fenced), the heartbeat (which renews its claims and notices one taken over),
the watch of its jobs' statuses (cancel and pause act on the real work), and the lease loop
(an agent that cannot renew its claims stops their work before they run out: see
`lease_watch`). The store's housekeeping, which every agent also does, is
`housekeeping.Housekeeper`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any

from jobdash import __version__
from jobdash.core.agent.housekeeping import Housekeeper
from jobdash.core.agent.lease_watch import LeaseWatch
from jobdash.core.agent.options import HURRY_WAIT, POLL, AgentOptions
from jobdash.core.agent_info import AgentInfo
from jobdash.core.alarm import Alarm
from jobdash.core.catalogue import Catalogue, Unrunnable
from jobdash.core.heap import engine_started, engine_stopped
from jobdash.core.model import JobStatus, TaskStatus
from jobdash.core.processes import encode_env
from jobdash.core.runners import CommandRun, FunctionRun, RefusedRun, Result, Run
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Claim, Claimant, Outcome

log = logging.getLogger("jobdash.agent")


class Agent:
    """One agent of this process: `start` its loops, `shutdown` to stop (see the module)."""

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
        self.owner = f"{self.name}/{os.urandom(6).hex()}"
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
        # Stopped by the lease loop: the claim, and the result once the work has ended;
        # settled at the next heartbeat that gets through.
        self._forfeit: dict[int, tuple[Claim, Result | None]] = {}
        self._lease = LeaseWatch(opts.lease, opts.heartbeat)
        self._hurry = False
        self._bg: set[asyncio.Future[None]] = set()
        self._house = Housekeeper(store, opts, self.host)
        self._done = 0
        self._failed = 0
        self._loops: list[asyncio.Task[None]] = []
        self._young = False  # it raised the collector's young threshold (`engine_started`)
        self._unwatch: Callable[[], None] = lambda: None
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
                await self._house.expire_dead()
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
        self._unwatch = self.store.watch_work(self._work_hinted)
        if self.store.refill is None:
            self.store.refill = self
        loop = asyncio.get_running_loop()
        self._loops = [
            loop.create_task(self._claim_loop(), name="jobdash-claim"),
            loop.create_task(self._heartbeat_loop(), name="jobdash-heartbeat"),
            loop.create_task(self._watch_loop(), name="jobdash-watch"),
            loop.create_task(self._lease_loop(), name="jobdash-lease"),
        ]
        if self.opts.housekeeping:
            self._loops.append(
                loop.create_task(self._house.run(lambda: self._stopping), name="jobdash-house")
            )
        if not self._young:  # its batches' objects outlive no young pass (see core.heap)
            self._young = True
            engine_started()

    def wake(self) -> None:
        self._wake.ring()

    def _work_hinted(self) -> None:
        """Another process may have made work (store.watch_work): admit it and claim now,
        not at the next poll."""
        self._wake.ring()
        self._house.wake()

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
        give_back = self._fenced | set(self._forfeit) | {r.claim.task_id for r in left.values()}
        with contextlib.suppress(Exception):
            await self.store.release(self.owner, sorted(give_back))
        reports = self._house.report_task
        loops = [*self._loops, *([reports] if reports else [])]
        for t in loops:
            t.cancel()
        for t in loops:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        with contextlib.suppress(ValueError):
            self.store.on_commit.remove(self.wake)
        self._unwatch()
        if self.store.refill is self:
            self.store.refill = None
        with contextlib.suppress(Exception):
            await self.store.flush()
            await self.store.agent_offline(self.name, self.owner, self._done, self._failed)
        if self._young:
            self._young = False
            engine_stopped()
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

    def _refill_coming(self) -> bool:
        """Our outcomes wait to be written, and the write that records them claims for the
        slots they freed (we are the store's `refill`); its commit wakes this loop. Asking
        the store meanwhile would cost a read and a claim that waits for that write (one
        of each per batch of no-op tasks: ~5 % of the engine's time)."""
        return self.store.refill is self and self.store.outcomes_held() > 0

    async def _claim_loop(self) -> None:
        while not self._stopping:
            if self._free() > 0 and not self._refill_coming() and await self._claimable():
                try:
                    claims = await self.store.claim(self.want)
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
            inline_max = self.opts.artifact_inline_max
            if work.argv is not None:
                run = CommandRun(
                    claim,
                    self.store,
                    work.argv,
                    self._command_env,
                    work.artifacts,
                    inline_max,
                    finalize=work.finalize,
                )
            else:
                assert work.function is not None
                run = FunctionRun(claim, self.store, work.function, work.module, inline_max)
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
            result = Result(TaskStatus.FAILED, None, f"internal error: {e}")
        finally:
            if self.runs.pop(c.task_id, None) is not None:
                self._alone -= c.alone
            self._tasks.pop(c.task_id, None)
            self._paused.discard(c.task_id)
        if c.task_id in self._forfeit:
            self._forfeit[c.task_id] = (c, result)
            return
        lost = c.task_id in self._lost
        self._lost.discard(c.task_id)
        if run.fenced and not lost:
            self._fenced.add(c.task_id)
            return
        self._report(c, result)

    def _report(self, c: Claim, result: Result, delay: float = 0.5) -> None:
        """Send a task's result to the store; its answer comes to `_recorded`. The task's
        own asyncio task ends here: woken again for the answer, it cost a no-op task ~5 % of
        its engine's time. A claim taken over still sends its (late) result: the store's
        fencing rejects it, and the task's log says so, with the result's error (a task that
        could not start and lost its claim has it in no other line)."""
        outcome = Outcome(
            c.task_id, c.attempt, self.owner, result.status, result.exit_code, result.error
        )
        self.store.complete_nowait(outcome, lambda a: self._recorded(c, result, a, delay))

    def _recorded(
        self, c: Claim, result: Result, answer: bool | BaseException, delay: float
    ) -> None:
        """The store's answer to a result sent. A write that failed (a full disk, say) is
        sent again, after `delay` (doubling up to 10 s), until it is recorded: meanwhile our
        heartbeat keeps the claim, so giving up would strand the task."""
        if isinstance(answer, BaseException):
            if not isinstance(answer, Exception):
                return  # the store's flusher was stopped (cancelled) under it: not retried
            try:
                raise answer  # `report_failure` reads the failure being handled
            except Exception:
                self.store.report_failure(log, "recording task %s failed; retrying", c.task_id)
            asyncio.get_running_loop().call_later(
                delay, self._report, c, result, min(delay * 2, 10.0)
            )
            return
        if not answer:
            log.warning("task %s attempt %s: late result rejected", c.task_id, c.attempt)
            self.store.append_log_nowait(
                c.job_id,
                c.task_id,
                "system",
                f"{c.name}: late result of attempt {c.attempt} from agent {self.name} "
                f"({result.status}{f': {result.error}' if result.error else ''}) rejected: "
                "the claim was taken over",
                c.attempt,
            )
        elif result.status is TaskStatus.SUCCEEDED:
            self._done += 1
        elif result.status is TaskStatus.FAILED:
            self._failed += 1
        self.wake()

    async def _heartbeat_loop(self) -> None:
        # Runs until shutdown cancels it: tasks finishing during a graceful stop keep their
        # claims alive.
        while True:
            await asyncio.sleep(self.opts.heartbeat)
            held_before = set(self.runs)
            done, failed = self._done, self._failed
            sent = time.monotonic()
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
                self._lease.ended(sent, through=False)
                self.store.report_failure(log, "heartbeat failed")
                continue
            self._lease.ended(sent, through=True)
            self._done -= done
            self._failed -= failed
            self._draining = drain  # an undrain (drain flag cleared) lets it claim again
            try:  # the finished jobs' text, for the dashboard's free words: one batch a beat
                await self.store.index_text()
            except Exception:
                self.store.report_failure(log, "indexing finished jobs' text failed")
            taken = await self._settle_forfeit(held)
            for task_id in held_before - held:
                run = self.runs.get(task_id)
                if run is not None and not run.fenced:
                    # Our claim was taken over (we were stopped or too slow): stop the work.
                    log.warning("task %s: claim lost; stopping it", task_id)
                    run.fenced = True
                    self._lost.add(task_id)
                    self._say_taken(run.claim, "stopping that attempt")
                    self._background(run.stop(force=True))
                    taken.append((task_id, run.claim.attempt))
            if taken:
                # We are alive: a death charged to those tasks for our loss was no death.
                try:
                    await self.store.withdraw_deaths(self.owner, self.name, taken)
                except Exception:
                    self.store.report_failure(log, "withdrawing charged deaths failed")

    def _say_taken(self, c: Claim, then: str) -> None:
        self.store.append_log_nowait(
            c.job_id,
            c.task_id,
            "system",
            f"{c.name}: agent {self.name} lost the claim on attempt {c.attempt} "
            f"(taken over); {then}",
            c.attempt,
        )

    async def _lease_loop(self) -> None:
        """Stop the work of our claims just before they run out unrenewed (see
        `lease_watch`); `_settle_forfeit` gives them back once the store answers."""
        while True:
            await asyncio.sleep(self._lease.every)
            silent = self._lease.silent()
            if silent is None:
                continue
            for run in list(self.runs.values()):
                if run.fenced:
                    continue
                run.fenced = True
                c = run.claim
                self._forfeit[c.task_id] = (c, None)
                log.warning("task %s: no heartbeat for %.1f s; stopping it", c.task_id, silent)
                self.store.append_log_nowait(
                    c.job_id,
                    c.task_id,
                    "system",
                    f"{c.name}: agent {self.name} could not renew its claim for {silent:.1f} s "
                    f"(lease {self.opts.lease:g} s): attempt {c.attempt} stopped, so that it "
                    "never runs beside an attempt another agent starts",
                    c.attempt,
                )
                self._background(run.stop(force=True))

    async def _settle_forfeit(self, held: set[int]) -> list[tuple[int, int]]:
        """The store answers again: give back the stopped claims that are still ours (their
        task runs again, no attempt counted); of those taken over meanwhile, send the late
        result (rejected) as for any claim taken over. Returns the (task, attempt) taken."""
        ended = {t: (c, r) for t, (c, r) in self._forfeit.items() if r is not None}
        mine = sorted(t for t in ended if t in held)
        try:
            await self.store.release(self.owner, mine)
        except Exception:
            self.store.report_failure(log, "giving back stopped claims failed")
            return []
        taken: list[tuple[int, int]] = []
        for task_id, (c, result) in ended.items():
            del self._forfeit[task_id]
            if task_id not in held:
                self._say_taken(c, "that attempt was stopped")
                self._report(c, result)
                taken.append((task_id, c.attempt))
        return taken

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
