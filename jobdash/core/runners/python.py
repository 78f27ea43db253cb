"""A Python task: an async function run on the engine's loop, and what it receives
(`TaskContext`, or `JobContext` for a job function, which can also add tasks).

Why on the loop: a no-op Python task must cost far less than a process; so a task's code
shares the loop with the agent, and the contexts bound what it may do without an await.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from jobdash.core.artifacts import INLINE_MAX, keep
from jobdash.core.lifecycle import FINALIZE_KIND
from jobdash.core.model import BadInput, Task, TaskStatus
from jobdash.core.runners.base import Result, Run
from jobdash.core.runners.finalize import Results, results_of
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Claim, NewTask
from jobdash.core.views import Artifact


class TaskCancelled(Exception):
    """Raised by `checkpoint()` when the job is being cancelled."""


class TaskContext:
    """What a Python task receives: log, progress, metrics, warnings and cancellation.

    Python tasks are `async def task(ctx: TaskContext, item) -> None`; they fail by raising.
    """

    def __init__(
        self, store: Store, claim: Claim, params: dict[str, str], inline_max: int = INLINE_MAX
    ) -> None:
        self._store = store
        self._claim = claim
        self._inline_max = inline_max
        self.params = params
        self.job_id = claim.job_id
        self.task_seq = claim.seq
        self.attempt = claim.attempt
        self.item = claim.item
        # Set while it may run, clear while paused; made at the first pause (most tasks
        # are never paused, and an Event a task is one more object for the collector).
        self._running: asyncio.Event | None = None
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

    async def artifact(
        self,
        name: str,
        content: bytes | str | os.PathLike[str],
        media_type: str | None = None,
    ) -> Artifact:
        """Keep a file this task produced with its job (a report, a PDF): `content` is its
        bytes or a file's path (read now, never through a link). `media_type` (`text/csv`)
        is guessed from the name when not given. Listed in the job's details and by
        `jobdash artifacts`; a name is unique in its job (a later one replaces it), kept
        whatever the task's end. ValueError (one line) for a bad name or media type, or a
        file that cannot be read or kept."""
        try:
            return await keep(
                self._store,
                self.job_id,
                self._claim.task_id,
                name,
                content,
                media_type,
                self._inline_max,
            )
        except BadInput as e:
            raise ValueError(str(e)) from None

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    async def checkpoint(self) -> None:
        """Wait here while the job is paused; raise TaskCancelled when it is being cancelled.
        Also while the store holds as many log lines as it may (it cannot write: a full disk)."""
        if self._cancelled:
            raise TaskCancelled()
        await self._store.drained()
        if self._running is not None:
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
        self,
        store: Store,
        claim: Claim,
        params: dict[str, str],
        module: str = "",
        inline_max: int = INLINE_MAX,
    ) -> None:
        """`module`: the job function's, where the functions of the tasks it adds must be."""
        super().__init__(store, claim, params, inline_max)
        self._module = module
        self._new: list[NewTask] = []
        self._added = 0
        self._writing: asyncio.Future[None] | None = None  # a batch written in the background
        self._write_lock: asyncio.Lock | None = None  # made by the first write (most add none)

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
        if not self._new and (self._write_lock is None or not self._write_lock.locked()):
            return  # nothing added, none being written (most job functions add none)
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
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


class FinalizeContext(TaskContext):
    """What a Python finalize step `async def finalize(ctx)` receives: a TaskContext (log
    lines, progress, metrics, warnings, `checkpoint` for cancellation) with the results of
    the job's tasks: `ctx.results` (counts, the outcome they came to, the job's metrics so
    far) and `await ctx.tasks()` (each task: name, item, status, attempt, error, exit code).
    It fails by raising: the job then fails with its error."""

    def __init__(
        self, store: Store, claim: Claim, params: dict[str, str], inline_max: int = INLINE_MAX
    ) -> None:
        super().__init__(store, claim, params, inline_max)
        self.results = Results("succeeded", 0, 0, 0, 0, 0)

    async def load(self) -> None:
        """Read the results (before the step's function is called)."""
        self.results = await results_of(self._store, self.job_id)

    async def tasks(self) -> list[Task]:
        """The job's tasks, in order, its finalize step left out."""
        return [t for t in await self._store.tasks(self.job_id) if t.id != self._claim.task_id]


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
    """A Python task (kind 'function': fn(ctx, item)), a job's finalize step (kind
    'finalize': fn(ctx), ctx a `FinalizeContext`) or job function (any other: fn(ctx))."""

    def __init__(
        self, claim: Claim, store: Store, ref: str, module: str, inline_max: int = INLINE_MAX
    ) -> None:
        """`ref`: the function, from the engine's catalogue (see `Catalogue.work`);
        `module`: its type's job function's module; `inline_max`: the artifacts kept in
        the store (bigger ones as files)."""
        self.claim = claim
        self.store = store
        self.ref = ref
        self.job = claim.kind != "function"
        self.ctx: TaskContext
        if claim.kind == FINALIZE_KIND:
            self.ctx = FinalizeContext(store, claim, claim.params, inline_max)
        elif self.job:
            self.ctx = JobContext(store, claim, claim.params, module, inline_max)
        else:
            self.ctx = TaskContext(store, claim, claim.params, inline_max)
        self._task: asyncio.Task[Any] | None = None
        self._in_user_code = False

    async def wait(self) -> Result:
        c = self.claim
        try:
            fn = resolve(self.ref)
            if isinstance(self.ctx, FinalizeContext):
                await self.ctx.load()  # the results of the job's tasks
        except Exception as e:
            # said once, by the attempt's failure line (as a command's "cannot start")
            return Result(TaskStatus.FAILED, None, f"cannot load {self.ref}: {e}")
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
                self._task = me = asyncio.current_task()
                self._in_user_code = True
                try:
                    await coro
                finally:
                    self._in_user_code = False
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
        if self.ctx._running is not None:
            self.ctx._running.set()
        if self._task is None or self._task.done():
            return
        if self.claim.timeout or self._in_user_code:
            self._task.cancel()

    def pause(self) -> None:
        if self.ctx._running is None:
            self.ctx._running = asyncio.Event()
        self.ctx._running.clear()

    def resume(self) -> None:
        if self.ctx._running is not None:
            self.ctx._running.set()
