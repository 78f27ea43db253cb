"""The store itself: `db init [URL]` creates (or upgrades) its schema, idempotently; `db grant
USER [--admin|--engine]` lets a user (a PostgreSQL login role) use a shared store, or makes
the role an engine connects as; `db size` says what it takes (artifacts included); `db roles`
writes the config's permission groups into a PostgreSQL store. It opens the store
directly, before any service: there may be nothing to open a service on yet."""

from __future__ import annotations

import argparse

from jobdash.cli.parser import EXIT_OK


async def cmd_db(a: argparse.Namespace) -> int:
    from jobdash.cli.render import tell
    from jobdash.core.service import db_command

    kind = "admin" if a.admin else "engine" if a.engine else "user"
    said = await db_command(
        a.db_action,
        a.url,
        a.db,
        kind,
        as_json=a.json,
        config=a.config,
        upgrading=lambda line: tell(f"jobdash: {line}"),
    )
    print(said)
    return EXIT_OK
