"""A wake-up call with a time limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio


class Alarm:
    """`await alarm.wait(seconds)` returns when `ring()` is called or `seconds` have passed
    (None: no limit), whichever comes first. A ring while nobody waits is kept for the next
    wait, so a wake-up is never lost, and rings in between count once.

    What `asyncio.wait_for(event.wait(), seconds)` followed by `event.clear()` does, without
    a task and a timeout scope made per wait: the engine waits like this for every command
    it runs and every batch it writes."""

    __slots__ = ("_rung", "_waiter")

    def __init__(self) -> None:
        self._waiter: asyncio.Future[None] | None = None
        self._rung = False

    def ring(self) -> None:
        waiter = self._waiter
        if waiter is None:
            self._rung = True
        elif not waiter.done():
            waiter.set_result(None)

    async def wait(self, seconds: float | None = None) -> None:
        if self._rung:
            self._rung = False
            return
        import asyncio  # loaded: waits run on a loop (a loop-free read makes none)

        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(seconds, _end, waiter) if seconds is not None else None
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()


def _end(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
