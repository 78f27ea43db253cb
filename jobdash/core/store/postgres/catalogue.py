"""The published catalogues of the PostgreSQL store: which job types (and their hashes) each
agent runs (see the SQLite backend's catalogue.py for how they are used).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from jobdash.core.store.postgres.counts import Con
from jobdash.core.store.postgres.db import Db
from jobdash.core.store.records import Published

# The types of live agents: an agent with no type at all is one row with an empty name.
_LIVE = (
    "SELECT a.name, coalesce(c.name, ''), coalesce(c.hash, ''), coalesce(c.published, 0) "
    "FROM agents a LEFT JOIN catalogue c ON c.agent = a.name "
    "WHERE a.state != 'offline' AND a.heartbeat > %s"
)


class Catalogue:
    db: Db

    async def publish_catalogue(
        self, agent: str, types: dict[str, tuple[str, dict[str, Any]]]
    ) -> None:
        def txn(con: Con, rev: int, now: float) -> None:
            con.execute("DELETE FROM catalogue WHERE agent = %s", (agent,))
            con.cursor().executemany(
                "INSERT INTO catalogue (agent, name, hash, spec, published) "
                "VALUES (%s, %s, %s, %s, %s)",
                [(agent, n, h, json.dumps(spec), now) for n, (h, spec) in types.items()],
            )

        await self.db.write(txn)

    async def catalogue(self) -> list[Published]:
        rows = await self.db.fetchall(
            "SELECT agent, name, hash, spec, published FROM catalogue "
            "ORDER BY published DESC, agent, name"
        )
        return [Published(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]


async def live_catalogue(db: Db, live_after: float) -> list[Published]:
    """The types of agents that heart-beat after `live_after` and are not offline."""
    return _published(await db.fetchall(_LIVE, (live_after,)))


def live_catalogue_in(con: Con, live_after: float) -> list[Published]:
    """`live_catalogue`, read inside a write transaction."""
    return _published(con.execute(_LIVE, (live_after,)).fetchall())


def _published(rows: Iterable[Any]) -> list[Published]:
    return [Published(r[0], r[1], r[2], {}, r[3]) for r in rows]
