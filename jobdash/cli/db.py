"""The store itself: `db init [URL]` creates (or upgrades) its schema, idempotently. It opens
the store directly, before any service: there may be nothing to open a service on yet."""

from __future__ import annotations

import argparse

from jobdash.cli.parser import EXIT_OK, Commands


def declare(c: Commands) -> None:
    s = c.add("db", "the store: `db init [URL]` creates its schema (idempotent)")
    s.add_argument("db_action", choices=["init"], metavar="init")
    s.add_argument("url", nargs="?", help="the store (default: --db, $JOBDASH_DB, the default)")


async def cmd_db(a: argparse.Namespace) -> int:
    from jobdash.core.service import init_store

    print(await init_store(a.url or a.db))
    return EXIT_OK
