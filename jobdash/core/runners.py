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
from typing import Any

from jobdash.core.alarm import Alarm
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
from jobdash.core.store.base import Store
from jobdash.core.store.records import Claim, NewTask

STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL when a command is cancelled
READ_LIMIT = 1 << 20  # a longer line is split rather than failing the read
CHUNK = 1 << 16  # bytes read from a command's pipe at a time
WATCH_AFTER = 0.2  # a command still running after this long is watched for its end (pidfd)
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


class _Output:
    """One output stream of a command, read in the event loop straight from its pipe and
    split into lines, which go to the store as data. A line longer than READ_LIMIT is cut."""

    def __init__(self, run: CommandRun, poller: Poller, fd: int, stream: str) -> None:
        self.run = run
        self.poller = poller
        self.fd = fd
        self.stream = stream
        self.rest = b""
        self.open = True
        poller.add(fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            self.run.poke()
            return
        self._take(data)
        store = self.run.store
        if store.backlogged():  # back-pressure: read on once the store has caught up
            self.poller.remove(self.fd)
            self.run.later(self._resume(store))

    async def _resume(self, store: Store) -> None:
        await store.drained()
        if self.open:
            self.poller.add(self.fd, self._readable)

    def _take(self, data: bytes) -> None:
        lines = (self.rest + data).split(b"\n") if self.rest else data.split(b"\n")
        self.rest = lines.pop()
        for raw in lines:
            self._line(raw)
        while len(self.rest) > READ_LIMIT:  # cut as `_line` cuts, however the line arrives
            self._line(self.rest[:READ_LIMIT])
            self.rest = self.rest[READ_LIMIT:]

    def _line(self, raw: bytes) -> None:
        c = self.run.claim
        store = self.run.store
        while len(raw) > READ_LIMIT:
            store.append_log_nowait(
                c.job_id, c.task_id, self.stream, decode(raw[:READ_LIMIT]), c.attempt
            )
            raw = raw[READ_LIMIT:]
        store.append_log_nowait(c.job_id, c.task_id, self.stream, decode(raw), c.attempt)

    def close(self) -> None:
        """Stop reading, keeping what the pipe holds now."""
        if not self.open:
            return
        with contextlib.suppress(OSError):  # BlockingIOError: nothing more for now
            for _ in range(16):  # bounded: a writer outside the group may go on and on
                data = os.read(self.fd, CHUNK)
                if not data:
                    break
                self._take(data)
        if self.rest:
            self._line(self.rest)
            self.rest = b""
        self.open = False
        self.poller.remove(self.fd)
        os.close(self.fd)


class CommandRun(Run):
    """A command task: argv (no shell unless the user wrote one), own session and group."""

    def __init__(self, claim: Claim, store: Store, argv: list[str], env: Env | None = None) -> None:
        """`argv`: from the engine's catalogue (see `Catalogue.work`). `env`: the whole
        environment of the command (default: ours; see `encode_env`), to which the
        JOBDASH_JOB_ID, JOBDASH_TASK and JOBDASH_ATTEMPT variables are added."""
        self.claim = claim
        self.store = store
        self.argv = argv
        self.env = env
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
        try:
            pid, out_fd, err_fd = spawn(argv, env)
        except OSError as e:
            msg = f"cannot start {argv[0]!r}: {e.strerror or e}"
            await self.store.append_log(c.job_id, c.task_id, "system", msg, c.attempt)
            return Result(TaskStatus.FAILED, None, msg)
        self.pid = pid
        self.store.note_pgid(c.task_id, pid)  # its own session: pgid == pid
        poller = Poller.of(asyncio.get_running_loop())
        outputs = (_Output(self, poller, out_fd, "stdout"), _Output(self, poller, err_fd, "stderr"))
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

    def __init__(self, store: Store, claim: Claim, params: dict[str, str]) -> None:
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
            self._store.append_log_nowait(
                self.job_id, self._claim.task_id, stream, line, self.attempt
            )

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
        """Wait here while the job is paused; raise TaskCancelled when it is being cancelled.
        Also while the store holds as many log lines as it may (it cannot write: a full disk)."""
        if self._cancelled:
            raise TaskCancelled()
        await self._store.drained()
        await self._running.wait()
        if self._cancelled:
            raise TaskCancelled()


class TooManyTasks(Exception):
    """Raised by `add_task` past a bound (see `JobContext`): the job function fails, saying
    which bound and what to do."""


class JobContext(TaskContext):
    """What a Python job function receives: a TaskContext that can also add tasks.

    `add_task` is a plain call, so a loop of them never lets the engine's event loop run:
    no heartbeat, no cancel, no signal is handled until the job function awaits something.
    So tasks are buffered, and written in batches whenever the job function awaits
    (`checkpoint`, or any other await once WRITE_BATCH are waiting); `add_task` refuses
    (TooManyTasks) a task past MAX_UNWRITTEN added without an await — about 0.15 s of a
    blocked engine and 30 MB — and past MAX_JOB_TASKS in all (about 200 MB of store), and
    raises TaskCancelled once the job is being cancelled."""

    WRITE_BATCH = 1_000
    MAX_UNWRITTEN = 100_000
    MAX_JOB_TASKS = 1_000_000

    def __init__(
        self, store: Store, claim: Claim, params: dict[str, str], module: str = ""
    ) -> None:
        """`module`: the job function's, where the functions of the tasks it adds must be."""
        super().__init__(store, claim, params)
        self._module = module
        self._new: list[NewTask] = []
        self._added = 0
        self._writing: asyncio.Future[None] | None = None  # a batch written in the background
        self._write_lock = asyncio.Lock()

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
        `fn` must be reachable in the job function's module (defined or imported there):
        an engine runs only functions of the types of its own configuration.
        """
        if self._cancelled:
            raise TaskCancelled()
        if self._added >= self.MAX_JOB_TASKS:
            raise TooManyTasks(f"a job function adds at most {self.MAX_JOB_TASKS:,} tasks")
        if len(self._new) >= self.MAX_UNWRITTEN:
            raise TooManyTasks(
                f"{self.MAX_UNWRITTEN:,} tasks added without an await: the engine stands "
                "still meanwhile (no heartbeat, cancel or signal); await ctx.checkpoint() "
                "every few thousand tasks"
            )
        ref = function_ref(fn, self._module)
        label = name if name is not None else (str(item) if item is not None else fn.__name__)
        self._new.append(NewTask(key or label, label, "function", ref, item))
        self._added += 1
        if len(self._new) % self.WRITE_BATCH == 0 and (
            self._writing is None or self._writing.done()
        ):
            self._writing = asyncio.ensure_future(self._write_soon())

    def discard(self) -> None:
        """Drop the tasks not yet written (the job function ended without `flush`)."""
        self._new.clear()

    async def _write_soon(self) -> None:
        """Write a batch at the job function's next await. A failure (a full disk) is not
        lost: the tasks stay buffered, and `flush` (at the next checkpoint, at the end)
        raises it."""
        with contextlib.suppress(Exception):
            await self.flush()

    async def flush(self) -> None:
        """Write the tasks added so far (also done at every checkpoint and at the end)."""
        async with self._write_lock:
            while self._new:
                new, self._new = self._new, []
                try:
                    await self._store.add_tasks(self.job_id, new)
                except BaseException:
                    self._new[:0] = new
                    raise

    async def checkpoint(self) -> None:
        await self.flush()
        await super().checkpoint()


def function_ref(fn: Callable[..., Any], module: str = "") -> str:
    """'module:name' of `fn`, as found in `module` (default: its own module)."""
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"{fn!r} is not an async function")
    if "<locals>" in fn.__qualname__:
        raise TypeError(f"{fn.__qualname__} is not a module-level function")
    if not module or fn.__module__ == module:
        return f"{fn.__module__}:{fn.__qualname__}"
    names = [k for k, v in getattr(sys.modules.get(module), "__dict__", {}).items() if v is fn]
    if not names:
        raise TypeError(
            f"{fn.__module__}:{fn.__qualname__} is not in {module}, the job function's "
            f"module: define or import it there"
        )
    return f"{module}:{names[0]}"


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
    """A Python task (kind 'function': fn(ctx, item)) or job function (any other: fn(ctx))."""

    def __init__(self, claim: Claim, store: Store, ref: str, module: str) -> None:
        """`ref`: the function, from the engine's catalogue (see `Catalogue.work`);
        `module`: its type's job function's module."""
        self.claim = claim
        self.store = store
        self.ref = ref
        self.job = claim.kind != "function"
        self.ctx: TaskContext = (
            JobContext(store, claim, claim.params, module)
            if self.job
            else TaskContext(store, claim, claim.params)
        )
        self._task: asyncio.Task[Any] | None = None
        self._in_user_code = False

    async def wait(self) -> Result:
        c = self.claim
        try:
            fn = resolve(self.ref)
        except Exception as e:
            msg = f"cannot load {self.ref}: {e}"
            self.ctx.log(msg, "system")
            return Result(TaskStatus.FAILED, None, msg)
        coro = fn(self.ctx) if self.job else fn(self.ctx, c.item)
        try:
            return await self._run(coro)
        finally:
            if isinstance(self.ctx, JobContext):
                self.ctx.discard()  # tasks a failed job function added, not yet written

    async def _run(self, coro: Coroutine[Any, Any, Any]) -> Result:
        c = self.claim
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


class RefusedRun(Run):
    """A claimed task that the engine will not run (see `Unrunnable`): it fails, saying why."""

    def __init__(self, claim: Claim, store: Store, reason: str) -> None:
        self.claim = claim
        self.store = store
        self.reason = reason

    async def wait(self) -> Result:
        c = self.claim
        msg = f"not run: {self.reason}"
        await self.store.append_log(c.job_id, c.task_id, "system", msg, c.attempt)
        return Result(TaskStatus.FAILED, None, msg)

    async def stop(self, force: bool = False) -> None:
        self.stopping = True

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass
