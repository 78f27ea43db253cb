"""The published catalogues: which job types (and their hashes) each agent runs.

- `catalogue`: one row per (agent, job type) that the agent runs, with the hash of the
  type's definition. Each agent replaces its own rows when it starts. Submitters read the
  rows of live agents (is this type, with this hash, run by anyone?); agents never read
  them to decide what to run: they hold their own catalogue in memory.
- A queued job whose hash no live agent holds is not admitted: it waits, and its info line
  says why (`jobdash.core.catalogue.unrunnable`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from jobdash.core.store.sql.dialect import Connection, Dialect, Reading, Statements

if TYPE_CHECKING:
    from jobdash.core.store.side_records import Published

Q = Statements(
    forget="DELETE FROM catalogue WHERE agent = ?",
    publish="INSERT INTO catalogue (agent, name, hash, spec, published) VALUES (?, ?, ?, ?, ?)",
    every="SELECT agent, name, hash, spec, published FROM catalogue "
    "ORDER BY published DESC, agent, name",
    # The types of live agents: an agent with no type at all is one row with an empty name.
    live="SELECT a.name, coalesce(c.name, ''), coalesce(c.hash, ''), coalesce(c.published, 0) "
    "FROM agents a LEFT JOIN catalogue c ON c.agent = a.name "
    "WHERE a.state != 'offline' AND a.heartbeat > ?",
)


class Catalogue:
    """The published catalogues."""

    db: Reading

    async def publish_catalogue(
        self, agent: str, types: dict[str, tuple[str, dict[str, Any]]]
    ) -> None:
        """Replace `agent`'s published types: name -> (hash, definition as data)."""
        d = self.db.dialect
        q = Q[d]

        def txn(con: Connection, rev: int, now: float) -> None:
            con.execute(q.forget, (agent,))
            d.many(
                con,
                q.publish,
                [(agent, n, h, json.dumps(spec), now) for n, (h, spec) in types.items()],
            )

        await self.db.write(txn)

    async def catalogue(self) -> list[Published]:
        """Every published type, the most recently published first."""
        rows = await self.db.fetchall(Q[self.db.dialect].every)
        if not rows:  # none published (no agent): `Published` need not be loaded
            return []
        from jobdash.core.store.side_records import Published  # loaded where one is made

        return [Published(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]


async def live_catalogue(db: Reading, live_after: float) -> list[Published]:
    """The types of agents that heart-beat after `live_after` and are not offline. A live
    agent that runs no type at all (an engine started without a config) is one row with an
    empty name and hash: it is live, and runs nothing (see `unrunnable`)."""
    return _published(await db.fetchall(Q[db.dialect].live, (live_after,)))


def live_catalogue_in(d: Dialect, con: Connection, live_after: float) -> list[Published]:
    """`live_catalogue`, read inside a write transaction."""
    return _published(con.execute(Q[d].live, (live_after,)).fetchall())


def _published(rows: Iterable[Any]) -> list[Published]:
    from jobdash.core.store.side_records import Published  # loaded where one is made

    return [Published(r[0], r[1], r[2], {}, r[3]) for r in rows]
