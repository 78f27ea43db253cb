"""A command's output: each pipe read in the event loop, split into lines, appended to the
store as data, with back-pressure when the store falls behind.

Why on the loop and not a thread: a thread per pipe costs more than a short command itself
(see the README's benchmarks); a line longer than READ_LIMIT is cut rather than failing.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobdash.core.processes import Poller
from jobdash.core.store.base import Store

if TYPE_CHECKING:
    from jobdash.core.runners.command import CommandRun

READ_LIMIT = 1 << 20  # a longer line is split rather than failing the read
LAST_LINE = 300  # bytes kept of the last line a command wrote to stderr, for its error
CHUNK = 1 << 16  # bytes read from a command's pipe at a time


@dataclass(eq=False)
class Output:
    """One output stream of a command, read in the event loop straight from its pipe and
    split into lines, which go to the store as data. A line longer than READ_LIMIT is cut.
    It reads from the moment it is made."""

    run: CommandRun
    poller: Poller
    fd: int
    stream: str  # "stdout" or "stderr"
    rest: bytes = b""  # a line begun, not yet ended
    open: bool = True
    last: bytes = b""  # the last non-blank line, if stderr: a failed command's error says it

    def __post_init__(self) -> None:
        self.poller.add(self.fd, self._readable)

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
        if self.stream == "stderr" and raw.strip():
            self.last = raw[:LAST_LINE]

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


def decode(raw: bytes) -> str:
    return raw.rstrip(b"\r\n").decode("utf-8", errors="replace")
