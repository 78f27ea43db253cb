"""The catalogue SQL of the SQLite store (a mixin of `SqliteStore`).

- `catalogue`: one row per (agent, job type) that the agent runs, with the hash of the
  type's definition. Each agent replaces its own rows when it starts. Submitters read the
  rows of live agents (is this type, with this hash, run by anyone?); agents never read
  them to decide what to run: they hold their own catalogue in memory.
- A queued job whose hash no live agent holds is not admitted: it waits, and its info line
  says why (`jobdash.core.catalogue.unrunnable`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import aiosqlite

from jobdash.core.store.records import Published
from jobdash.core.store.sqlite_faults import Reads

T = TypeVar("T")


class CatalogueStore:
    """The published catalogues; mixed into `SqliteStore` (uses its writer and reader)."""

    if TYPE_CHECKING:

        async def write(
            self, fn: Callable[[aiosqlite.Connection, int, float], Awaitable[T]]
        ) -> T: ...

        @property
        def _reader(self) -> Reads: ...

    async def publish_catalogue(
        self, agent: str, types: dict[str, tuple[str, dict[str, Any]]]
    ) -> None:
        """Replace `agent`'s published types: name -> (hash, definition as data)."""

        async def txn(w: aiosqlite.Connection, rev: int, now: float) -> None:
            await w.execute("DELETE FROM catalogue WHERE agent = ?", (agent,))
            await w.executemany(
                "INSERT INTO catalogue (agent, name, hash, spec, published) VALUES (?, ?, ?, ?, ?)",
                [(agent, n, h, json.dumps(spec), now) for n, (h, spec) in types.items()],
            )

        await self.write(txn)

    async def catalogue(self) -> list[Published]:
        """Every published type, the most recently published first."""
        rows = await self._reader.execute_fetchall(
            "SELECT agent, name, hash, spec, published FROM catalogue ORDER BY published DESC"
        )
        return [Published(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]


async def live_catalogue(reads: aiosqlite.Connection | Reads, live_after: float) -> list[Published]:
    """The types of agents that heart-beat after `live_after` and are not offline. A live
    agent that runs no type at all (an engine started without a config) is one row with an
    empty name and hash: it is live, and runs nothing (see `unrunnable`)."""
    rows = await reads.execute_fetchall(
        "SELECT a.name, coalesce(c.name, ''), coalesce(c.hash, ''), coalesce(c.published, 0) "
        "FROM agents a LEFT JOIN catalogue c ON c.agent = a.name "
        "WHERE a.state != 'offline' AND a.heartbeat > ?",
        (live_after,),
    )
    return [Published(r[0], r[1], r[2], {}, r[3]) for r in rows]
