"""What the two backends do the same way around their SQL: the writer connection's own
thread (`WriterThread`, the base of each backend's `Db`) and a store's batched writes and
end (`BufferedStore`, the base of each backend's store).

One writer connection per process is used by one transaction at a time, in its own thread
(a connection of either driver is not shared between threads), and a caller cancelled while
its transaction runs there still waits for it to end (`wait_out`): the write lock is held
until the transaction committed or rolled back, never open under the next one.

Nothing here imports asyncio until something runs on a loop: a store opened for a loop-free
read (`core.loopfree`) has no writer, no thread and no write lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from jobdash.core.store.faults import FaultLog, StoreError

if TYPE_CHECKING:
    import asyncio
    import logging
    from concurrent.futures import ThreadPoolExecutor

    from jobdash.core.store.engine_records import Refill
    from jobdash.core.store.sql.flush import Flusher

T = TypeVar("T")


class WriterThread:
    """The writer connection, its thread and the write lock (a backend's `Db` adds how it
    connects, writes and reads)."""

    THREAD_NAME = "jobdash-writer"
    # Opened for a read driven without the event loop (`core.loopfree`): no writer, no
    # thread, and what would need a thread (a large page's rows made jobs) is done inline.
    loop_free = False

    def __init__(self) -> None:
        self.writer: Any = None
        self.thread: ThreadPoolExecutor | None = None

    @cached_property
    def lock(self) -> asyncio.Lock:
        """The write lock (this process's writer), made at its first use, on a loop."""
        import asyncio

        return asyncio.Lock()

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` in the writer's thread (its connection is used there)."""
        import asyncio

        if self.thread is None:
            from concurrent.futures import ThreadPoolExecutor

            self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.THREAD_NAME)
        return await wait_out(asyncio.get_running_loop().run_in_executor(self.thread, fn, *args))

    async def close_writer(self) -> None:
        """Close the writer's connection and end its thread (a thread left behind would keep
        the process alive)."""
        if self.writer is not None:
            with contextlib.suppress(Exception):
                await self.in_thread(self.writer.close)
            self.writer = None
        if self.thread is not None:
            self.thread.shutdown(wait=False)
            self.thread = None

    async def close_connections(self) -> None:
        await self.close_writer()

    async def close(self) -> None:
        """Close the connections once no transaction is under way (none can be without a
        writer: a store opened to read)."""
        if self.writer is None and self.thread is None and "lock" not in self.__dict__:
            await self.close_connections()
            return
        async with self.lock:
            await self.close_connections()


async def wait_out(fut: asyncio.Future[T]) -> T:
    """Await `fut` (work in the writer's thread); a caller cancelled meanwhile still waits
    for it to end before CancelledError goes on, so that whatever it holds (the write lock)
    is held until the thread is done with the connection: the transaction committed or
    rolled back, never open under the next one."""
    import asyncio

    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        while not fut.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([fut])
        if not fut.cancelled():
            fut.exception()  # seen: a failure nobody waits for any more is not logged
        raise


class BufferedStore:
    """A store's batched writes (the flusher's own methods, with the contract's names and
    signatures, bound here so that none is written again), its state as opening left it,
    and its end."""

    def __init__(self, db: Any, flusher: Flusher[Any]) -> None:
        self.db = db
        self.created: str = db.created
        self.on_commit: list[Callable[[], None]] = db.on_commit
        self.faults: FaultLog = db.faults
        self.flusher = f = flusher
        self.flush = f.flush
        self.append_log = f.append_log
        self.append_log_nowait = f.append_log_nowait
        self.backlogged = f.backlogged
        self.drained = f.drained
        self.report_progress = f.report_progress
        self.note_pgid = f.note_pgid
        self.add_metric = f.add_metric
        self.add_warning = f.add_warning
        self.complete = f.complete
        self.complete_nowait = f.complete_nowait
        self.outcomes_held = f.outcomes_held

    @property
    def damaged(self) -> asyncio.Event:
        """Set when the store is found damaged: it is written no more (the `Db`'s)."""
        event: asyncio.Event = self.db.damaged
        return event

    @property
    def location(self) -> str:
        """Where the store is, as a person would name it (a path, a URL without password)."""
        return str(self.db.where)

    async def close(self) -> None:
        """Write what is buffered and close. The connections are closed whatever happens
        (their threads would keep the process alive); StoreError when buffered lines or
        results could not be written (they are lost: say so), or when the store was found
        damaged."""
        if self.flusher.closed:
            return
        lost: StoreError | None = None
        try:
            await self.flusher.flush()
        except StoreError as e:
            held = self.db.held()
            lost = StoreError(
                f"{self.location}: {e.fault}: {held} log line{'s' * (held != 1)} held in "
                "memory could not be written",
                e.fault,
            )
        finally:
            await self.flusher.stop()
            await self.db.close()
        if self.db.damage is not None:
            raise self.db.damage
        if lost is not None:
            raise lost

    @property
    def refill(self) -> Refill | None:
        return self.flusher.refill

    @refill.setter
    def refill(self, value: Refill | None) -> None:
        self.flusher.refill = value

    def report_failure(self, logger: logging.Logger, what: str, *args: Any) -> None:
        self.db.report_failure(logger, what, *args)
