"""The store itself: `db init [URL]` creates (or upgrades) its schema, idempotently; `db grant
USER [--admin|--engine]` lets a user (a PostgreSQL login role) use a shared store, or makes
the role an engine connects as; `db size` says what it takes (artifacts included); `db roles`
writes the config's permission groups into a PostgreSQL store. It opens the store
directly, before any service: there may be nothing to open a service on yet."""

from __future__ import annotations

import argparse

from jobdash.cli.parser import EXIT_OK, Commands


def declare(c: Commands) -> None:
    s = c.add(
        "db",
        "the store: `db init [URL]` creates its schema (idempotent); `db grant USER`; "
        "`db size`: what it takes, artifacts included; `db roles [URL]`: the config's roles "
        "into a PostgreSQL store's row-level security",
        c.as_json,
    )
    s.add_argument(
        "db_action", choices=["init", "grant", "size", "roles"], metavar="init|grant|size|roles"
    )
    s.add_argument(
        "url", nargs="?", metavar="URL|USER", help="init, size, roles: the store; grant: the user"
    )
    as_ = s.add_mutually_exclusive_group()
    as_.add_argument("--admin", action="store_true", help="grant: as an admin (sees all)")
    as_.add_argument(
        "--engine", action="store_true", help="grant: the role `jobdash serve` connects as"
    )


async def cmd_db(a: argparse.Namespace) -> int:
    from jobdash.core.service import db_command

    kind = "admin" if a.admin else "engine" if a.engine else "user"
    print(await db_command(a.db_action, a.url, a.db, kind, as_json=a.json, config=a.config))
    return EXIT_OK
