"""Running a read without an event loop: the command line's read-only commands on a SQLite
store (`jobdash jobs`, `show`, …) drive the same `async def` coroutines of the service and
the store as every other command, to their end by `coro.send(None)`, over a store whose
reader's async methods return without awaiting anything (the embedded backend's
`PlainConnection`). Importing and starting asyncio costs more than such a read (a fifth
of `jobdash jobs` on an empty store).

Whatever would really need the loop (a coroutine that awaits a future: a thread's result, a
sleep) fails loudly here (`LoopNeeded`, a bug), never waits. What cannot be done without
the loop is said before anything is opened (`NeedsLoop`: a store to create or upgrade, a
server's store, one that cannot be written): the caller then runs the command on a loop.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class NeedsLoop(Exception):
    """What was asked cannot be done without the event loop; nothing was opened or said yet:
    run it on the loop instead."""


class LoopNeeded(RuntimeError):
    """A coroutine driven without the event loop awaited something only the loop can
    finish (a bug: the reads it makes never wait)."""


def run_loop_free(coro: Coroutine[Any, Any, T]) -> T:
    """`coro`'s result, run to its end without an event loop; its exception as it raised
    it. `LoopNeeded` when it awaits a future instead: thrown into it first, so that its own
    `finally`s run (the store it opened is closed), then raised."""
    try:
        waited = coro.send(None)
    except StopIteration as end:
        return end.value
    name = getattr(coro, "__qualname__", "a coroutine")
    error = LoopNeeded(f"{name} awaited {waited!r}, which needs the event loop")
    try:
        coro.throw(error)
    except StopIteration:
        pass  # it caught the error and ended: still a bug
    finally:
        coro.close()
    raise error
