"""How one task attempt runs: a command in its own process group, or a Python coroutine.

Both kinds offer the same handle (`Run`): `wait()` for the outcome, `stop(force)` to cancel,
`pause()`/`resume()`. Output is read line by line and appended to the store as data.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import inspect
import os
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobdash.core.model import TaskStatus
from jobdash.core.store.sqlite import Claim, NewTask, SqliteStore

STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL when a command is cancelled
READ_LIMIT = 1 << 20  # a longer line is split rather than failing the read
LEFTOVER_GRACE = 0.5  # after the main process exits, how long its children may keep the pipes


@dataclass
class Result:
    status: TaskStatus
    exit_code: int | None = None
    error: str = ""


class Run:
    """A running task attempt."""

    claim: Claim
    stopping: bool = False
    fenced: bool = False  # the store no longer gives us this attempt: drop its result

    async def wait(self) -> Result:
        raise NotImplementedError

    async def stop(self, force: bool = False) -> None:
        raise NotImplementedError

    def pause(self) -> None:
        raise NotImplementedError

    def resume(self) -> None:
        raise NotImplementedError


# --------------------------------------------------------------------------- commands


def group_alive(pgid: int) -> bool:
    """True while a process of group `pgid` that is not a zombie remains."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False  # the common case, without reading /proc
    except PermissionError:
        pass
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces and parentheses).
        rest = stat[stat.rfind(")") + 2 :].split()
        if len(rest) > 2 and int(rest[2]) == pgid and rest[0] != "Z":
            return True
    return False


class _PidfdWatcher(asyncio.AbstractChildWatcher):
    """Python 3.11's default child watcher starts a thread per subprocess (about half the
    cost of starting a short command); this one waits on a pidfd in the running loop, as
    Python 3.12 does by default. Unlike asyncio.PidfdChildWatcher it is not tied to one
    loop, so a process that runs several loops one after another (tests) keeps working."""

    def __init__(self) -> None:
        self._fds: dict[int, tuple[asyncio.AbstractEventLoop, int]] = {}

    def add_child_handler(  # type: ignore[override]
        self, pid: int, callback: Callable[..., object], *args: Any
    ) -> None:
        loop = asyncio.get_running_loop()
        pidfd = os.pidfd_open(pid)
        self._fds[pid] = (loop, pidfd)

        def exited() -> None:
            self._forget(pid)
            try:
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                code = 255  # reaped elsewhere
            callback(pid, code, *args)

        loop.add_reader(pidfd, exited)

    def _forget(self, pid: int) -> bool:
        entry = self._fds.pop(pid, None)
        if entry is None:
            return False
        loop, pidfd = entry
        if not loop.is_closed():
            loop.remove_reader(pidfd)
        os.close(pidfd)
        return True

    def remove_child_handler(self, pid: int) -> bool:
        return self._forget(pid)

    def attach_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        pass

    def close(self) -> None:
        for pid in list(self._fds):
            self._forget(pid)

    def is_active(self) -> bool:
        return True

    def __enter__(self) -> _PidfdWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def install_child_watcher() -> None:
    """Use pidfds to learn that a command ended (Linux ≥ 5.3 on Python 3.11; a no-op where
    the default already does, or where pidfds are missing)."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    policy = asyncio.get_event_loop_policy()
    if isinstance(getattr(policy, "_watcher", None), _PidfdWatcher):
        return
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return
    asyncio.set_child_watcher(_PidfdWatcher())


def killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class CommandRun(Run):
    """A command task: argv (no shell unless the user wrote one), own session and group."""

    def __init__(self, claim: Claim, store: SqliteStore, env: dict[str, str] | None = None) -> None:
        self.claim = claim
        self.store = store
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.timed_out = False
        self._stop_task: asyncio.Task[None] | None = None

    async def _pump(self, reader: asyncio.StreamReader, stream: str) -> None:
        c = self.claim
        while True:
            try:
                raw = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as e:
                raw = e.partial
                if raw:
                    await self.store.append_log(c.job_id, c.task_id, stream, decode(raw))
                return
            except asyncio.LimitOverrunError as e:
                raw = await reader.readexactly(e.consumed)
            await self.store.append_log(c.job_id, c.task_id, stream, decode(raw))

    async def wait(self) -> Result:
        c = self.claim
        argv = [str(a) for a in c.spec]
        env = dict(os.environ)
        env.update(self.env or {})
        env.update(
            JOBDASH_JOB_ID=str(c.job_id),
            JOBDASH_TASK=str(c.seq),
            JOBDASH_ATTEMPT=str(c.attempt),
        )
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                env=env,
                limit=READ_LIMIT,
            )
        except OSError as e:
            msg = f"cannot start {argv[0]!r}: {e.strerror or e}"
            await self.store.append_log(c.job_id, c.task_id, "system", msg)
            return Result(TaskStatus.FAILED, None, msg)
        proc = self.proc
        self.store.note_pgid(c.task_id, proc.pid)  # its own session: pgid == pid
        assert proc.stdout is not None and proc.stderr is not None
        pumps = asyncio.gather(self._pump(proc.stdout, "stdout"), self._pump(proc.stderr, "stderr"))
        # Python 3.11's proc.wait() also waits for the pipes, which children that outlive
        # the main process may hold open for ever: watch the output and the exit code here.
        deadline = time.monotonic() + c.timeout if c.timeout else None
        exited_at: float | None = None
        try:
            while not (await asyncio.wait([pumps], timeout=0.05))[0]:
                now = time.monotonic()
                if deadline is not None and now > deadline and not self.timed_out:
                    self.timed_out = True
                    await self.store.append_log(
                        c.job_id, c.task_id, "system", f"timed out after {c.timeout:g}s; stopping"
                    )
                    await self.stop()
                if proc.returncode is not None:
                    exited_at = exited_at or now
                    if now - exited_at > LEFTOVER_GRACE:
                        await self._kill_group(force=False)
            code = await proc.wait()
            if group_alive(proc.pid):  # children that closed their output but live on
                await self._kill_group(force=False)
        except asyncio.CancelledError:
            await self._kill_group(force=True)
            raise
        if self._stop_task:
            await self._stop_task
        if self.timed_out:
            return Result(TaskStatus.FAILED, code, f"timed out after {c.timeout:g}s")
        if self.stopping:
            return Result(TaskStatus.CANCELLED, code, "cancelled")
        if code == 0:
            return Result(TaskStatus.SUCCEEDED, 0)
        if code < 0:
            return Result(TaskStatus.FAILED, code, f"killed by {signal_name(-code)}")
        return Result(TaskStatus.FAILED, code, f"exit {code}")

    async def _kill_group(self, force: bool) -> None:
        """SIGTERM the whole group, SIGKILL after the grace period; return when none is left."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        killpg(pgid, signal.SIGCONT)  # a paused group must be able to act on SIGTERM
        killpg(pgid, signal.SIGKILL if force else signal.SIGTERM)
        deadline = time.monotonic() + (0 if force else STOP_GRACE)
        while group_alive(pgid):
            if time.monotonic() >= deadline:
                killpg(pgid, signal.SIGKILL)
            await asyncio.sleep(0.05)

    async def stop(self, force: bool = False) -> None:
        self.stopping = True
        if self.proc is None:
            return
        if self._stop_task is None or force:
            self._stop_task = asyncio.ensure_future(self._kill_group(force))
        await asyncio.shield(self._stop_task)

    def pause(self) -> None:
        if self.proc is not None:
            killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            killpg(self.proc.pid, signal.SIGCONT)


def decode(raw: bytes) -> str:
    return raw.rstrip(b"\r\n").decode("utf-8", errors="replace")


def signal_name(n: int) -> str:
    try:
        return signal.Signals(n).name
    except ValueError:
        return f"signal {n}"


# --------------------------------------------------------------------------- Python


class TaskCancelled(Exception):
    """Raised by `checkpoint()` when the job is being cancelled."""


class TaskContext:
    """What a Python task receives: log, progress, metrics, warnings and cancellation.

    Python tasks are `async def task(ctx: TaskContext, item) -> None`; they fail by raising.
    """

    def __init__(self, store: SqliteStore, claim: Claim, params: dict[str, str]) -> None:
        self._store = store
        self._claim = claim
        self.params = params
        self.job_id = claim.job_id
        self.task_seq = claim.seq
        self.attempt = claim.attempt
        self.item = claim.item
        self._running = asyncio.Event()
        self._running.set()
        self._cancelled = False

    def log(self, text: str, stream: str = "stdout") -> None:
        """Write one log line (or several, split on newlines) of this task."""
        for line in str(text).splitlines() or [""]:
            self._store.append_log_nowait(self.job_id, self._claim.task_id, stream, line)

    def progress(self, fraction: float) -> None:
        """How far this task is, 0.0 to 1.0: it moves the job's progress bar."""
        self._store.report_progress(self._claim.task_id, fraction)

    def metric(self, name: str, value: float = 1) -> None:
        """Add to a result metric of the job (metrics of all tasks add up)."""
        self._store.add_metric(self.job_id, name, value)

    def warn(self, text: str) -> None:
        """A warning: logged on stderr and counted; the job ends `warning` if it succeeds."""
        self.log(f"warning: {text}", "stderr")
        self._store.add_warning(self.job_id)

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    async def checkpoint(self) -> None:
        """Wait here while the job is paused; raise TaskCancelled when it is being cancelled."""
        if self._cancelled:
            raise TaskCancelled()
        await self._running.wait()
        if self._cancelled:
            raise TaskCancelled()


class JobContext(TaskContext):
    """What a Python job function receives: a TaskContext that can also add tasks."""

    def __init__(self, store: SqliteStore, claim: Claim, params: dict[str, str]) -> None:
        super().__init__(store, claim, params)
        self._new: list[NewTask] = []

    def add_task(
        self,
        fn: Callable[..., Coroutine[Any, Any, Any]],
        item: Any = None,
        name: str | None = None,
        key: str | None = None,
    ) -> None:
        """Add a task running `await fn(ctx, item)`; `fn` must be a module-level async function.

        Tasks start as soon as they are added (within the job's `parallel`). The key
        (default: the name) makes adding idempotent when the job function runs again.
        """
        ref = function_ref(fn)
        label = name if name is not None else (str(item) if item is not None else fn.__name__)
        self._new.append(NewTask(key or label, label, "function", ref, item))

    async def flush(self) -> None:
        """Write the tasks added so far (also done at every checkpoint and at the end)."""
        new, self._new = self._new, []
        if new:
            await self._store.add_tasks(self.job_id, new)

    async def checkpoint(self) -> None:
        await self.flush()
        await super().checkpoint()


def function_ref(fn: Callable[..., Any]) -> str:
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"{fn!r} is not an async function")
    if "<locals>" in fn.__qualname__:
        raise TypeError(f"{fn.__qualname__} is not a module-level function")
    return f"{fn.__module__}:{fn.__qualname__}"


@functools.lru_cache(maxsize=1024)
def resolve(ref: str) -> Callable[..., Coroutine[Any, Any, Any]]:
    """'package.module:attr' -> the async function it names (cached: it runs per task)."""
    module_name, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not inspect.iscoroutinefunction(obj):
        raise TypeError(f"{ref} is not an async function")
    return obj


class FunctionRun(Run):
    """A Python task (kind 'function': fn(ctx, item)) or job function (kind 'job': fn(ctx))."""

    def __init__(self, claim: Claim, store: SqliteStore) -> None:
        self.claim = claim
        self.store = store
        cls = JobContext if claim.kind == "job" else TaskContext
        self.ctx = cls(store, claim, claim.params)
        self._task: asyncio.Task[Any] | None = None
        self._in_user_code = False

    async def wait(self) -> Result:
        c = self.claim
        try:
            fn = resolve(str(c.spec))
        except Exception as e:
            msg = f"cannot load {c.spec}: {e}"
            self.ctx.log(msg, "system")
            return Result(TaskStatus.FAILED, None, msg)
        coro = fn(self.ctx) if c.kind == "job" else fn(self.ctx, c.item)
        try:
            if c.timeout:
                self._task = asyncio.ensure_future(coro)
                await asyncio.wait_for(asyncio.shield(self._task), c.timeout)
            else:
                # No timeout: run it in this (the agent's) task rather than a task of its own,
                # which costs as much as a no-op task itself. `stop()` cancels this task only
                # while the user's code runs, never while the outcome is being recorded.
                self._task = asyncio.current_task()
                self._in_user_code = True
                try:
                    await coro
                finally:
                    self._in_user_code = False
                    me = asyncio.current_task()
                    if self.stopping and me is not None and me.cancelling():
                        me.uncancel()  # our stop() cancelled it: this task goes on to report
            if isinstance(self.ctx, JobContext):
                await self.ctx.flush()
            return Result(TaskStatus.SUCCEEDED)
        except TimeoutError as e:
            if not c.timeout or self._task is None or self._task.done():
                return self._failed(e)  # raised by the task's own code, not our time limit
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self.ctx.log(f"timed out after {c.timeout:g}s", "system")
            return Result(TaskStatus.FAILED, None, f"timed out after {c.timeout:g}s")
        except (asyncio.CancelledError, TaskCancelled):
            if not self.stopping:
                raise
            return Result(TaskStatus.CANCELLED, None, "cancelled")
        except Exception as e:
            return self._failed(e)

    def _failed(self, e: Exception) -> Result:
        if self.stopping:
            return Result(TaskStatus.CANCELLED, None, "cancelled")
        msg = f"{type(e).__name__}: {e}"
        self.ctx.log(msg, "stderr")
        return Result(TaskStatus.FAILED, None, msg)

    async def stop(self, force: bool = False) -> None:
        self.stopping = True
        self.ctx._cancelled = True
        self.ctx._running.set()
        if self._task is None or self._task.done():
            return
        if self.claim.timeout or self._in_user_code:
            self._task.cancel()

    def pause(self) -> None:
        self.ctx._running.clear()

    def resume(self) -> None:
        self.ctx._running.set()
