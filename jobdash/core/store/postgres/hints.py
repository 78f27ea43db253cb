"""Wake-up hints between the processes of a PostgreSQL store: LISTEN/NOTIFY.

A hint says only "look again": what changed is always read by revision (the change feed) or
by a claim, so a hint that comes late or never costs latency, never a change. Polling goes
on behind it, slower while the hints flow.

- **Sending.** A write transaction that commits notifies the store's channel (one per
  schema: `channel_of`), in the same transaction (`SELECT pg_notify` before the COMMIT, so
  a rolled-back write tells no one), but at most once per `COALESCE` per store object (a
  process): a commit inside that window owes a notification, sent when it ends (`Throttle`;
  the owed one goes out in a transaction of its own unless a write carries it first). The
  payload is tiny: empty for "something changed", `WORK` when a write may have made tasks
  claimable (a new or admitted job, released or recovered tasks, a retry or resume), which
  wakes agents too.
- **Receiving.** One connection per store object LISTENs (`Listener`), started by the first
  feed or agent that wants hints. A hint rings every feed's alarm; `WORK` also calls the
  agents' wake-ups. The connection is checked every `KEEPALIVE` seconds of silence
  (`SELECT 1`, with a time limit: a cut network answers nothing) and opened again when it
  broke or was killed; every (re)connection rings everyone, so what was committed while
  nobody listened is looked at then. While it is down, feeds poll at their own interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from jobdash.core.alarm import Alarm

log = logging.getLogger("jobdash.store")

COALESCE = 0.1  # seconds: at most one NOTIFY per this, per store object
POLL_BEHIND = 1.0  # seconds between a feed's looks while hints flow (a lost one costs this)
KEEPALIVE = 5.0  # seconds of silence after which the listener checks its connection
RECONNECT = 1.0  # seconds between attempts to LISTEN again
WORK = "w"  # the payload of a hint that tasks may be claimable
LISTENER_NAME = "jobdash listener"  # its application_name (pg_stat_activity)


def channel_of(con: psycopg.Connection[Any]) -> str:
    """The NOTIFY channel of the store this connection uses: one per schema, so stores side
    by side in one database do not wake each other (a channel name has at most 63 bytes)."""
    row = con.execute("SELECT current_schema()").fetchone()
    return channel_name(str(row[0] if row else ""))


def channel_name(schema: str) -> str:
    name = f"jobdash:{schema}"
    if len(name.encode()) > 63:
        name = "jobdash:" + hashlib.sha256(schema.encode()).hexdigest()[:40]
    return name


def merged(owed: str | None, work: bool) -> str:
    """The payload that announces what is owed and this write."""
    return WORK if work or owed == WORK else ""


class Throttle:
    """The sending side's coalescing: which commit notifies, which owes (see the module).
    Used under the store's write lock, on the event loop."""

    def __init__(self) -> None:
        self.last = -COALESCE  # monotonic time of the last NOTIFY committed
        self.owed: str | None = None  # the payload owed by commits since then, if any
        self.sent = 0  # NOTIFYs committed (for `jobdash` tests and curiosity)

    def payload(self, work: bool) -> str | None:
        """Before a write: its NOTIFY's payload, or None inside the window."""
        if time.monotonic() - self.last < COALESCE:
            return None
        return merged(self.owed, work)

    def committed(self, payload: str | None, work: bool) -> float | None:
        """After a write committed with `payload`: None when nothing is owed, else in how
        many seconds the owed NOTIFY is due."""
        if payload is not None:
            self.notified()
            return None
        self.owed = merged(self.owed, work)
        return max(0.0, self.last + COALESCE - time.monotonic())

    def notified(self) -> None:
        self.last = time.monotonic()
        self.owed = None
        self.sent += 1


class Listener:
    """The receiving side: one LISTEN connection, the feeds' alarms and the agents'
    wake-ups (see the module). `start` on the event loop; `close` when the store closes."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.listening = False  # LISTEN is in force on a live connection
        self.poll_behind = POLL_BEHIND  # a feed's polling while listening (tests slow it)
        self.connections = 0  # how many times it connected (tests: it came back)
        self.backend_pid = 0  # its server process (pg_stat_activity)
        self.alarms: set[Alarm] = set()
        self.wakes: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="jobdash-listen")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def ring(self, payload: str) -> None:
        for alarm in self.alarms:
            alarm.ring()
        if payload == WORK:
            for wake in list(self.wakes):
                wake()

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError, TimeoutError) as e:
                log.debug("listener: %s; listening again in %s s", e, RECONNECT)
            finally:
                self.listening = False
            self.ring(WORK)  # look now; feeds poll at their own pace until it is back
            await asyncio.sleep(RECONNECT)

    async def _listen(self) -> None:
        con = await psycopg.AsyncConnection.connect(
            self.conninfo, autocommit=True, connect_timeout=10, application_name=LISTENER_NAME
        )
        try:
            cur = await con.execute("SELECT current_schema()")
            row = await cur.fetchone()
            channel = channel_name(str(row[0] if row else ""))
            await con.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self.listening = True
            self.connections += 1
            self.backend_pid = con.info.backend_pid
            self.ring(WORK)  # what was committed while nobody listened is looked at now
            while True:
                heard = False
                async for n in con.notifies(timeout=KEEPALIVE):
                    heard = True
                    self.ring(n.payload)
                if not heard:  # silence: is the connection still there?
                    await asyncio.wait_for(con.execute("SELECT 1"), KEEPALIVE)
        finally:
            with contextlib.suppress(Exception):
                await con.close()
