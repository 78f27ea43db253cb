"""A command task: argv (no shell unless the user wrote one) in its own session and process
group, watched for its end, its timeout, and the children it leaves behind.

Why a group: cancel, pause and timeout must reach every process the command started, and a
child that outlives it must not hold the task open for ever (see `LEFTOVER_GRACE`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from jobdash.core.alarm import Alarm
from jobdash.core.artifacts import INLINE_MAX, collect, keep, safe_name
from jobdash.core.fingerprint import as_shown
from jobdash.core.model import TaskStatus
from jobdash.core.processes import (
    Env,
    Poller,
    encode_env,
    group_alive,
    killpg,
    spawn,
    wait_status,
    watch_exit,
)
from jobdash.core.runners.base import Result, Run
from jobdash.core.runners.finalize import results_env, results_of
from jobdash.core.runners.output import Output, decode
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Claim
from jobdash.present.sizes import size_text
from jobdash.present.status import signal_name

STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL when a command is cancelled
WATCH_AFTER = 0.2  # a command still running after this long is watched for its end (pidfd)
LEFTOVER_GRACE = 0.5  # after the main process exits, how long its children may keep the pipes


class CommandRun(Run):
    """A command task: argv (no shell unless the user wrote one), own session and group."""

    def __init__(
        self,
        claim: Claim,
        store: Store,
        argv: list[str],
        env: Env | None = None,
        artifacts: Sequence[str] = (),
        inline_max: int = INLINE_MAX,
        finalize: bool = False,
    ) -> None:
        """`argv`: from the engine's catalogue (see `Catalogue.work`). `env`: the whole
        environment of the command (default: ours; see `encode_env`), to which the
        JOBDASH_JOB_ID, JOBDASH_TASK and JOBDASH_ATTEMPT variables are added, and for a
        job's finalize step (`finalize`) the results of its tasks (`results_env`).
        `artifacts`: the globs whose files are kept with the job when the command succeeds
        (bigger than `inline_max` bytes: as files beside the store)."""
        self.claim = claim
        self.store = store
        self.argv = argv
        self.env = env
        self.finalize = finalize
        self.artifacts = artifacts
        self.inline_max = inline_max
        self.pid: int | None = None
        self.returncode: int | None = None
        self.timed_out = False
        self._stop_task: asyncio.Task[None] | None = None
        self._alarm = Alarm()
        self._bg: set[asyncio.Task[None]] = set()

    def poke(self) -> None:
        """Something changed (output closed, process ended): `wait` looks again."""
        self._alarm.ring()

    def later(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    def _exited(self, code: int | None) -> None:
        self.returncode = 255 if code is None else code
        self.poke()

    async def wait(self) -> Result:
        c = self.claim
        argv = self.argv
        env = {
            **(self.env if self.env is not None else encode_env(os.environ)),
            b"JOBDASH_JOB_ID": b"%d" % c.job_id,
            b"JOBDASH_TASK": b"%d" % c.seq,
            b"JOBDASH_ATTEMPT": b"%d" % c.attempt,
        }
        if self.finalize:
            env.update(results_env(await results_of(self.store, c.job_id)))
        try:
            pid, out_fd, err_fd = spawn(argv, env)
        except OSError as e:
            # No line of its own: the attempt's failure line says it ("x: attempt 1 of 1
            # failed (cannot start …); no retries left"), once (`lifecycle.after_failure`).
            return Result(TaskStatus.FAILED, None, f"cannot start {argv[0]!r}: {e.strerror or e}")
        self.pid = pid
        self.store.note_pgid(c.task_id, pid)  # its own session: pgid == pid
        poller = Poller.of(asyncio.get_running_loop())
        outputs = (Output(self, poller, out_fd, "stdout"), Output(self, poller, err_fd, "stderr"))
        started = time.monotonic()
        deadline = started + c.timeout if c.timeout else None
        unwatch: Callable[[], None] | None = None
        exited_at: float | None = None
        leftovers_stopped = False
        try:
            # Until the process has ended and its output is closed, which children that
            # outlive it may delay for ever: those get LEFTOVER_GRACE, then are stopped.
            while True:
                now = time.monotonic()
                output_open = any(o.open for o in outputs)
                # Most commands have ended by the time their output closes: only one that
                # goes on is watched for its end.
                look = not output_open or now - started >= WATCH_AFTER
                if self.returncode is None and unwatch is None and look:
                    code = wait_status(pid, os.WNOHANG)
                    if code is None:
                        unwatch = watch_exit(pid, self._exited)
                    else:
                        self.returncode = code
                if self.returncode is not None and not output_open:
                    break
                nap: float | None = None
                if self.returncode is None and unwatch is None:
                    poller.soon(self.poke)  # look again a little later
                if deadline is not None and not self.timed_out:
                    if now >= deadline:
                        self.timed_out = True
                        await self.store.append_log(
                            c.job_id,
                            c.task_id,
                            "system",
                            f"timed out after {c.timeout:g}s; stopping",
                            c.attempt,
                        )
                        await self.stop()
                        continue
                    nap = min(nap, deadline - now) if nap is not None else deadline - now
                if self.returncode is not None:
                    exited_at = exited_at or now
                    if now - exited_at >= 2 * LEFTOVER_GRACE:
                        # Held by a process outside the group (it made a session of its
                        # own): what it writes from now on is not this task's log.
                        for o in outputs:
                            o.close()
                        continue
                    if now - exited_at >= LEFTOVER_GRACE and not leftovers_stopped:
                        leftovers_stopped = True
                        await self._kill_group(force=False)
                        continue
                    left = exited_at + LEFTOVER_GRACE * (2 if leftovers_stopped else 1) - now
                    nap = left if nap is None else min(nap, left)
                await self._alarm.wait(nap)
            if group_alive(pid):  # children that closed their output but live on
                await self._kill_group(force=False)
        except asyncio.CancelledError:
            await self._kill_group(force=True)
            if self.returncode is None:
                self.returncode = wait_status(pid, os.WNOHANG)  # no zombie left behind
            raise
        finally:
            if unwatch is not None:
                unwatch()
            for o in outputs:
                o.close()
        code = self.returncode
        said = as_shown(decode(outputs[1].last)).strip()
        if self._stop_task:
            await self._stop_task
        if self.timed_out:
            return Result(TaskStatus.FAILED, code, f"timed out after {c.timeout:g}s")
        if self.stopping:
            return Result(TaskStatus.CANCELLED, code, "cancelled")
        if code == 0:
            if self.artifacts:
                await self._collect()
            return Result(TaskStatus.SUCCEEDED, 0)
        # The error names the failure and what the command said last on stderr: the cause,
        # most often, and what failures are grouped by (`core.fingerprint`).
        error = f"killed by {signal_name(-code)}" if code < 0 else f"exit {code}"
        return Result(TaskStatus.FAILED, code, f"{error}: {said}" if said else error)

    async def _collect(self) -> None:
        """Keep the files the type's globs match, now that the command succeeded (a failed
        or cancelled command's files may be half-written: they are not collected). Each
        file kept, or not and why, is a line of the task's log; one not kept is a warning."""
        c = self.claim
        found, notes = await asyncio.to_thread(collect, list(self.artifacts))
        for path in found:
            try:
                kept = await keep(
                    self.store,
                    c.job_id,
                    c.task_id,
                    safe_name(path.name),
                    path,
                    None,
                    self.inline_max,
                )
            except Exception as e:  # a full disk, a file gone meanwhile: said, not fatal
                self.store.add_warning(c.job_id)
                notes.append(f"artifacts: {path} not kept: {e}")
            else:
                notes.append(f"artifact {kept.name} kept ({size_text(kept.size)})")
        for note in notes:
            await self.store.append_log(c.job_id, c.task_id, "system", note, c.attempt)

    async def _kill_group(self, force: bool) -> None:
        """SIGTERM the whole group, SIGKILL after the grace period; return when none is left."""
        if self.pid is None:
            return
        pgid = self.pid
        killpg(pgid, signal.SIGCONT)  # a paused group must be able to act on SIGTERM
        killpg(pgid, signal.SIGKILL if force else signal.SIGTERM)
        deadline = time.monotonic() + (0 if force else STOP_GRACE)
        while group_alive(pgid):
            if time.monotonic() >= deadline:
                killpg(pgid, signal.SIGKILL)
            await asyncio.sleep(0.05)

    async def stop(self, force: bool = False) -> None:
        self.stopping = True
        if self.pid is None:
            return
        if self._stop_task is None or force:
            self._stop_task = asyncio.ensure_future(self._kill_group(force))
        await asyncio.shield(self._stop_task)

    def pause(self) -> None:
        if self.pid is not None:
            killpg(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.pid is not None:
            killpg(self.pid, signal.SIGCONT)
